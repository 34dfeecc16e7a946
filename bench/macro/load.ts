// A closed-loop HTTP/1.1 load generator on undici: N connections, one request in flight on each (no pipelining),
// each sending its next request as soon as the last response ends. A warm-up phase is discarded; the measured
// window counts responses that complete inside it. Everything stops at a fixed deadline.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, Pool } from 'undici';
import { percentileSorted } from '../lib/stats.ts';

export interface LoadOptions {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly path: string;
  /**
   * Requests to cycle through instead of `path` alone: connection i starts at target i and steps by the number of
   * connections, so together they send every target in turn (e.g. one per virtual host).
   */
  readonly targets?: readonly LoadTarget[];
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Send `Connection: close` and open a new connection for every request. */
  readonly newConnectionPerRequest: boolean;
  /** Called when the measured window starts and ends, for CPU snapshots of the other processes. */
  readonly onWindowStart?: () => void;
  readonly onWindowEnd?: () => void;
}

export interface LoadTarget {
  readonly path: string;
  /** Host header; the origin's when absent. */
  readonly host?: string;
}

export interface LoadResult {
  /** Responses completed in the measured window. */
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Response body bytes received in the window. */
  readonly bytes: number;
  /** Over the whole run, warm-up included: responses that were not 2xx, and requests that got no response. */
  readonly non2xx: number;
  readonly errors: number;
  /** Status or error code → count, for the failures above. */
  readonly failures: Readonly<Record<string, number>>;
  /** CPU used by this process (the load generator) during the window, as a share of one core. */
  readonly clientCpu: number;
}

/** Latency samples in milliseconds; bounded so a very long run cannot grow memory without limit. */
class Samples {
  static readonly MAX = 4_000_000;
  #data = new Float64Array(65_536);
  #length = 0;
  dropped = 0;
  push(v: number): void {
    if (this.#length === this.#data.length) {
      if (this.#length >= Samples.MAX) {
        this.dropped++;
        return;
      }
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = v;
  }
  sorted(): Float64Array {
    return this.#data.subarray(0, this.#length).sort();
  }
}

/** Shared by every connection's loop: phase, counters, samples. */
class Run {
  measuring = false;
  stopping = false;
  requests = 0;
  bytes = 0;
  non2xx = 0;
  errors = 0;
  readonly failures = new Map<string, number>();
  readonly samples = new Samples();
  fail(key: string): void {
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }
}

/** One connection's request loop; also the undici handler, so the loop allocates nothing per request. */
class Worker implements Dispatcher.DispatchHandler {
  readonly #pool: Pool;
  readonly #run: Run;
  readonly #options: readonly Dispatcher.DispatchOptions[];
  readonly #step: number;
  #next: number;
  #start = 0;
  #status = 0;
  #bytes = 0;
  #done: (() => void) | null = null;
  readonly finished: Promise<void>;

  constructor(pool: Pool, run: Run, options: readonly Dispatcher.DispatchOptions[], first: number, step: number) {
    this.#pool = pool;
    this.#run = run;
    this.#options = options;
    this.#next = first % options.length;
    this.#step = step;
    this.finished = new Promise((resolve) => {
      this.#done = resolve;
    });
  }

  next(): void {
    if (this.#run.stopping) {
      this.#done?.();
      return;
    }
    this.#start = performance.now();
    this.#status = 0;
    this.#bytes = 0;
    const options = this.#options[this.#next] as Dispatcher.DispatchOptions;
    this.#next = (this.#next + this.#step) % this.#options.length;
    this.#pool.dispatch(options, this);
  }

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
  }

  onResponseEnd(): void {
    const run = this.#run;
    if (this.#status < 200 || this.#status >= 300) {
      run.non2xx++;
      run.fail(String(this.#status));
    }
    if (run.measuring) {
      run.requests++;
      run.bytes += this.#bytes;
      run.samples.push(performance.now() - this.#start);
    }
    this.next();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const run = this.#run;
    run.errors++;
    run.fail((err as { code?: string }).code ?? err.name);
    // A refused or reset connection fails at once: back off a little rather than spin.
    setTimeout(() => this.next(), 10);
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    connect: { timeout: 5_000 },
  });
  const run = new Run();
  const dispatchOptions: Dispatcher.DispatchOptions[] = (o.targets ?? [{ path: o.path }]).map((t) => ({
    path: t.path,
    method: 'GET',
    headers:
      t.host === undefined
        ? { 'user-agent': 'gatehouse-bench', accept: '*/*' }
        : { host: t.host, 'user-agent': 'gatehouse-bench', accept: '*/*' },
    ...(o.newConnectionPerRequest ? { reset: true } : {}),
  }));
  const workers: Worker[] = [];
  for (let i = 0; i < o.connections; i++) {
    workers.push(new Worker(pool, run, dispatchOptions, i, o.connections));
  }
  for (const w of workers) w.next();

  await sleep(o.warmupMs);
  o.onWindowStart?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  run.measuring = true;
  await sleep(o.durationMs);
  run.measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  o.onWindowEnd?.();
  run.stopping = true;
  // In-flight requests get a bounded time to finish; the pool is destroyed after that either way.
  await Promise.race([Promise.all(workers.map((w) => w.finished)), sleep(5_000)]);
  await pool.destroy().catch(() => {});

  const sorted = run.samples.sorted();
  return {
    requests: run.requests,
    seconds,
    requestsPerSecond: run.requests / seconds,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    bytes: run.bytes,
    non2xx: run.non2xx,
    errors: run.errors,
    failures: Object.fromEntries(run.failures),
    clientCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}
