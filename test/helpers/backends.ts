import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, formatUrl, handleEchoRequest, listenOn } from '../../src/cli/echo.ts';

/** What a recording backend saw of one request; fields after `remoteAddress` change as the exchange goes on. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly receivedAt: number;
  /** Body bytes received so far. */
  readonly bodyBytes: number;
  /** The whole request body has arrived. */
  readonly bodyComplete: boolean;
  /** The status sent, once the response head is written; 0 before. */
  readonly status: number;
  /** The whole response was handed to the connection. */
  readonly finished: boolean;
  /** The connection closed before the response finished: the client or proxy went away. */
  readonly aborted: boolean;
  /** No further change will happen to this record. */
  readonly closed: boolean;
}

export interface RecordingBackend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Every request received, oldest first; records update in place. */
  readonly requests: readonly RecordedRequest[];
  /**
   * Resolves with `requests` once predicate holds for them, checked now and after every change to any record;
   * rejects after timeoutMs (default 5 s) listing what was recorded.
   */
  waitFor(
    predicate: (requests: readonly RecordedRequest[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly RecordedRequest[]>;
  /** Forgets the requests recorded so far. */
  clear(): void;
  /** Closes the server and every connection at once. */
  close(): Promise<void>;
}

export interface RecordingBackendOptions {
  readonly name: string;
  readonly host: string;
  /** Default 0: a free port. */
  readonly port?: number;
}

class Recorded implements RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly receivedAt: number;
  bodyBytes = 0;
  bodyComplete = false;
  status = 0;
  finished = false;
  aborted = false;
  closed = false;

  constructor(req: IncomingMessage) {
    this.method = req.method ?? '';
    this.url = req.url ?? '';
    this.headers = req.headers;
    this.httpVersion = req.httpVersion;
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.receivedAt = Date.now();
  }
}

const STREAM_SLOW_PATH = /\/stream-slow\/(\d{1,6})$/;
const SLOW_CHUNK = Buffer.alloc(1024, 0x73);
const SLOW_INTERVAL_MS = 50;

/** n chunks of 1 KiB, the first at once and then one every 50 ms, so a test can abort in the middle. */
function streamSlow(res: ServerResponse, chunks: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': chunks * SLOW_CHUNK.length });
  let sent = 0;
  const tick = (): void => {
    if (sent >= chunks) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(SLOW_CHUNK);
    sent++;
  };
  const timer = setInterval(tick, SLOW_INTERVAL_MS);
  res.once('close', () => clearInterval(timer));
  tick();
}

/**
 * An HTTP backend that answers like `gatehouse echo` (JSON, and the /bytes/N, /delay/MS, /status/CODE path
 * endings) and records every request, including whether the proxy cancelled it. A path ending in
 * /stream-slow/N streams N KiB slowly.
 */
export async function startRecordingBackend(options: RecordingBackendOptions): Promise<RecordingBackend> {
  const { name, host } = options;
  let requests: Recorded[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const check of [...waiters]) check();
  };

  const server = createServer((req, res) => {
    const rec = new Recorded(req);
    requests.push(rec);
    req.on('data', (chunk: Buffer) => {
      rec.bodyBytes += chunk.length;
    });
    req.on('error', () => {});
    req.on('end', () => {
      rec.bodyComplete = true;
      notify();
    });
    res.on('finish', () => {
      rec.finished = true;
      rec.status = res.statusCode;
      notify();
    });
    res.on('close', () => {
      if (!rec.finished) rec.aborted = true;
      rec.status = res.headersSent ? res.statusCode : rec.status;
      rec.closed = true;
      notify();
    });
    const slow = STREAM_SLOW_PATH.exec(rec.url.split('?', 1)[0] ?? '');
    if (slow === null) handleEchoRequest(name, req, res);
    else req.on('end', () => streamSlow(res, Number(slow[1])));
    notify();
  });

  const bound = await listenOn(server, host, options.port ?? 0);
  let closing: Promise<void> | null = null;

  return {
    name,
    host,
    port: bound.port,
    url: formatUrl(bound.address, bound.port),
    get requests() {
      return requests;
    },
    waitFor(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const done = (): void => {
          waiters.delete(check);
          clearTimeout(timer);
        };
        const check = (): void => {
          let ok: boolean;
          try {
            ok = predicate(requests);
          } catch (err) {
            done();
            reject(err);
            return;
          }
          if (ok) {
            done();
            resolve(requests);
          }
        };
        const timer = setTimeout(() => {
          done();
          const seen = requests.map((r) => `${r.method} ${r.url} status=${r.status} aborted=${r.aborted}`);
          reject(
            new Error(`${name}: condition not met within ${timeoutMs} ms; recorded: ${seen.join(', ') || 'none'}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    clear() {
      requests = [];
    },
    close() {
      closing ??= closeServer(server, 0);
      return closing;
    },
  };
}
