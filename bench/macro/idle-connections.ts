// Many idle keep-alive client connections, for memory figures: each connection sends one GET, reads the whole
// response and then stays open without sending anything. Connections come from several loopback source addresses
// (each has its own ephemeral port range) and are opened a bounded number at a time; everything is bounded in time.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface HoldOptions {
  readonly port: number;
  readonly count: number;
  /** Local addresses to connect from, used in turn (127.x addresses are all loopback on Linux). */
  readonly sourceAddresses: readonly string[];
  /** Connections being opened or waiting for their response at once. */
  readonly concurrency: number;
  /** Give up on connections not answered by then. */
  readonly timeoutMs: number;
  readonly path: string;
}

export interface HeldConnections {
  /** Connections that got a complete 2xx response and are held open. */
  readonly held: number;
  /** Connections that failed to open, got no or a non-2xx response, or were not answered in time. */
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Time to open and answer all of them. */
  readonly elapsedMs: number;
  /** Held connections the server has closed since (call before close()). */
  closedByServer(): number;
  /** Closes every connection. */
  close(): void;
}

/** One connection: request sent on connect, response read until its Content-Length is complete. */
class Held {
  readonly socket: Socket;
  #buffered = '';
  #expected = -1;
  #settled = false;
  answered = false;
  closed = false;
  readonly done: Promise<string | null>;
  #resolve: (failure: string | null) => void = () => {};

  constructor(o: HoldOptions, source: string) {
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.socket = connect({ host: '127.0.0.1', port: o.port, localAddress: source });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('connect', () => {
      this.socket.write(`GET ${o.path} HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: gatehouse-bench\r\n\r\n`);
    });
    this.socket.on('data', (chunk: string) => this.#onData(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.#settle(err.code ?? err.name));
    this.socket.on('close', () => {
      this.closed = true;
      this.#settle('closed before the response');
    });
  }

  #onData(chunk: string): void {
    if (this.#settled) return;
    this.#buffered += chunk;
    const end = this.#buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    if (this.#expected < 0) {
      const head = this.#buffered.slice(0, end);
      const status = Number(head.slice(9, 12));
      if (!(status >= 200 && status < 300)) {
        this.#settle(String(status));
        return;
      }
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (m === null) {
        this.#settle('no content-length');
        return;
      }
      this.#expected = end + 4 + Number(m[1]);
    }
    if (this.#buffered.length >= this.#expected) {
      this.answered = true;
      this.#buffered = '';
      this.#settle(null);
    }
  }

  #settle(failure: string | null): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(failure);
  }

  timeout(): void {
    this.#settle('timeout');
  }
}

export async function holdConnections(o: HoldOptions): Promise<HeldConnections> {
  const started = performance.now();
  const all: Held[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const h of all) h.timeout();
  }, o.timeoutMs);
  const lane = async (): Promise<void> => {
    while (next < o.count && !timedOut) {
      const i = next++;
      const h = new Held(o, o.sourceAddresses[i % o.sourceAddresses.length] as string);
      all.push(h);
      const failure = await h.done;
      if (failure !== null) {
        failures.set(failure, (failures.get(failure) ?? 0) + 1);
        h.socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, lane));
  clearTimeout(timer);
  const elapsedMs = performance.now() - started;
  const held = all.filter((h) => h.answered && !h.closed);
  return {
    held: held.length,
    failed: o.count - held.length,
    failures: Object.fromEntries(failures),
    elapsedMs,
    closedByServer: () => held.filter((h) => h.closed).length,
    close: () => {
      for (const h of all) h.socket.destroy();
    },
  };
}
