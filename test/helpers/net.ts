import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port that was free on host a moment ago (another process may still take it before it is used). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Resolves once host:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tryConnect(host, port)) return;
    if (Date.now() >= deadline)
      throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(25);
  }
}

export interface HttpRequestOptions {
  readonly host: string;
  readonly port: number;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Uint8Array;
  /** Whole exchange; default 10 s, so a hung server fails the test instead of stalling it. */
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on its own connection (agent: false), so no test shares or keeps a socket alive. */
export function httpRequest(options: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    const req = request(
      {
        host: options.host,
        port: options.port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        // A connection reset after the head arrives surfaces here, not on req.
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    const timer = setTimeout(() => {
      fail(new Error(`${options.method ?? 'GET'} ${options.path ?? '/'}: no complete response in ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);
    req.on('error', fail);
    req.end(options.body);
  });
}

// One /24 per test process, chosen by pid, so test files running side by side rarely share addresses; kept
// clear of the low 127.0.x.0 blocks that tests and examples write by hand.
const LOOPBACK_BLOCK = 128 + (process.pid % 120);

/** A distinct loopback address (127.0.x.n) for n in 1–254; on Linux all of 127/8 reaches this machine. */
export function loopbackAddress(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 254) throw new RangeError(`loopbackAddress: ${n} is not in 1-254`);
  return `127.0.${LOOPBACK_BLOCK}.${n}`;
}

/** Starts a GET, and closes the connection as soon as the first response bytes arrive (a client going away). */
export function abortAfterFirstChunk(options: {
  host: string;
  port: number;
  path: string;
  headers?: Record<string, string>;
}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = request({ ...options, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    setTimeout(() => reject(new Error('no response data within 5 s')), 5_000).unref();
    req.end();
  });
}
