// The primary's side of `--workers N` (N > 1): N worker processes run the data plane; this process keeps the
// sources, store, translators, status writing and the admin server, and sends each new IR to every worker.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { ListenerError } from '../dataplane/dataplane.ts';
import type { Diagnostic, IR } from '../ir/types.ts';
import type { LogFormat, Logger, LogLevel } from '../observe/logger.ts';
import { aggregateMetrics, type Metrics, type MetricsSnapshot } from '../observe/metrics.ts';
import type { ApplyOutcome, DataPlaneSettings, Serving, WorkerInfo } from './serving.ts';
import { type FromWorker, isFromWorker, type ToWorker, type WorkerInit } from './worker-protocol.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface ClusterOptions {
  readonly workers: number;
  readonly settings: DataPlaneSettings;
  readonly drainTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** A worker that has not applied a configuration within this is killed and replaced (default 60 s). */
  readonly applyTimeoutMs?: number;
}

/** Restart backoff: 100 ms after the first unexpected exit in a minute, doubling with each further one, ≤ 10 s. */
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10_000;
const RESTART_WINDOW_MS = 60_000;
/** How long /metrics waits for a worker's figures before leaving that worker out. */
const METRICS_TIMEOUT_MS = 2_000;
/** After the drain timeout, how long workers get to exit before they are killed. */
const EXIT_GRACE_MS = 5_000;

interface Config {
  readonly seq: number;
  readonly hash: string;
  readonly ir: IR;
}

class WorkerState {
  readonly worker: Worker;
  readonly restarts: number;
  /** Said hello: it takes messages. */
  hello = false;
  seq = 0;
  hash: string | null = null;
  exited = false;
  draining = false;
  constructor(worker: Worker, restarts: number) {
    this.worker = worker;
    this.restarts = restarts;
  }
  get id(): number {
    return this.worker.id;
  }
  send(message: ToWorker): void {
    if (!this.exited && this.worker.isConnected()) this.worker.send(message);
  }
}

interface PendingApply {
  readonly config: Config;
  /** Workers that must still report on this configuration. */
  readonly waiting: Set<number>;
  readonly outcomes: ApplyOutcome[];
  readonly failures: string[];
  readonly timer: NodeJS.Timeout;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (err: Error) => void;
}

interface PendingMetrics {
  readonly worker: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (m: MetricsSnapshot | null) => void;
}

/** The cluster ids of workers live now, for log lines. */
function ids(states: Iterable<WorkerState>): number[] {
  return [...states].map((s) => s.id);
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.severity}|${d.object?.kind}/${d.object?.namespace}/${d.object?.name}|${d.message}`;
}

/** Node flags for a worker: a CPU profile's file name gets the worker's id, so workers do not overwrite each other. */
function workerExecArgv(execArgv: readonly string[], id: number): string[] {
  return execArgv.map((a) => (a.startsWith('--cpu-prof-name=') ? a.replace(/(\.cpuprofile)?$/, `-worker-${id}$1`) : a));
}

export class ClusterServing implements Serving {
  readonly #options: ClusterOptions;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #workers = new Map<number, WorkerState>();
  #draining = false;
  #seq = 0;
  /** The last configuration every worker applied (or was sent, for those started since); null before the first. */
  #good: Config | null = null;
  #pending: PendingApply | null = null;
  readonly #metricsRequests = new Map<number, PendingMetrics>();
  #metricsRequest = 0;
  /** Times of unexpected worker exits in the last minute, for the restart backoff. */
  #crashes: number[] = [];
  readonly #restartTimers = new Set<NodeJS.Timeout>();
  #restartCount = 0;
  #exitWaiters: (() => void)[] = [];
  /** cluster ids run 1, 2, … per primary; predicted to name a worker's CPU profile before it is forked. */
  #nextId = 1;

  constructor(options: ClusterOptions, logger: Logger, metrics: Metrics) {
    this.#options = options;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Forks the workers; they get the configuration once `apply` has one. */
  start(): void {
    // The kernel balances connections over the workers (each accepts on the shared socket) rather than this
    // process accepting every connection and passing it on over IPC (node's default, SCHED_RR): measured with
    // `npm run bench -- --macro --workers 2`, round-robin nearly doubled the CPU per request with a new connection
    // per request (~2,900 → ~1,600 requests per CPU-second), and the workers still got even shares without it
    // (README, "Worker processes").
    // NODE_CLUSTER_SCHED_POLICY=rr|none still decides when set.
    if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    this.#logger.info(
      {
        workers: this.#options.workers,
        schedulingPolicy: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none',
      },
      'starting worker processes',
    );
    for (let i = 0; i < this.#options.workers; i++) this.#fork(0);
  }

  #fork(restarts: number): void {
    cluster.setupPrimary({
      exec: WORKER_ENTRY,
      args: [],
      execArgv: workerExecArgv(process.execArgv, this.#nextId),
      serialization: 'advanced',
      silent: false,
    });
    const worker = cluster.fork();
    this.#nextId = worker.id + 1;
    const state = new WorkerState(worker, restarts);
    this.#workers.set(worker.id, state);
    this.#updateGauges();
    worker.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.#onMessage(state, m);
    });
    worker.on('exit', (code: number | null, signal: string | null) => this.#onExit(state, code, signal));
    // An IPC write to a worker that just died: its exit is handled on 'exit'.
    worker.on('error', () => {});
    if (restarts > 0) this.#logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker started');
  }

  #init(): WorkerInit {
    const o = this.#options;
    return { settings: o.settings, drainTimeoutMs: o.drainTimeoutMs, logLevel: o.logLevel, logFormat: o.logFormat };
  }

  #onMessage(state: WorkerState, m: FromWorker): void {
    switch (m.type) {
      case 'gatehouse:hello': {
        state.hello = true;
        state.send({ type: 'gatehouse:init', init: this.#init() });
        // The last configuration that applied everywhere, then the one being applied (if any): in order, so a
        // worker that cannot compile the new one still serves the good one, as the others do.
        const good = this.#good;
        if (good !== null) state.send({ type: 'gatehouse:config', ...good });
        const pending = this.#pending?.config;
        if (pending !== undefined && pending.seq !== good?.seq) state.send({ type: 'gatehouse:config', ...pending });
        return;
      }
      case 'gatehouse:applied':
      case 'gatehouse:rejected': {
        if (m.type === 'gatehouse:applied') {
          const first = state.hash === null;
          state.seq = m.seq;
          state.hash = m.hash;
          this.#updateGauges();
          if (first && state.restarts > 0) {
            this.#logger.info({ worker: state.id, hash: m.hash.slice(0, 12) }, 'restarted worker is serving');
          }
        }
        const p = this.#pending;
        if (p === null || m.seq !== p.config.seq || !p.waiting.has(state.id)) return;
        p.waiting.delete(state.id);
        if (m.type === 'gatehouse:applied')
          p.outcomes.push({ diagnostics: m.diagnostics, listenerErrors: m.listenerErrors });
        else p.failures.push(`worker ${state.id}: ${m.error}`);
        this.#settle();
        return;
      }
      case 'gatehouse:metrics': {
        const r = this.#metricsRequests.get(m.request);
        if (r === undefined) return;
        this.#metricsRequests.delete(m.request);
        clearTimeout(r.timer);
        r.resolve(m.metrics);
        return;
      }
    }
  }

  #onExit(state: WorkerState, code: number | null, signal: string | null): void {
    state.exited = true;
    this.#workers.delete(state.id);
    this.#updateGauges();
    for (const [request, r] of this.#metricsRequests) {
      if (r.worker !== state.id) continue;
      this.#metricsRequests.delete(request);
      clearTimeout(r.timer);
      r.resolve(null);
    }
    if (this.#pending?.waiting.delete(state.id) === true) this.#settle();
    if (this.#draining) {
      this.#logger.debug({ worker: state.id, code, signal }, 'worker exited');
      if (this.#workers.size === 0) for (const w of this.#exitWaiters.splice(0)) w();
      return;
    }
    const now = Date.now();
    this.#crashes = this.#crashes.filter((t) => now - t < RESTART_WINDOW_MS);
    this.#crashes.push(now);
    const delay = Math.min(RESTART_BASE_MS * 2 ** (this.#crashes.length - 1), RESTART_MAX_MS);
    this.#logger.error(
      { worker: state.id, pid: state.worker.process.pid, code, signal, restartInMs: delay },
      'worker exited unexpectedly; starting a new one',
    );
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (this.#draining) return;
      this.#restartCount++;
      this.#metrics.workerRestarts.inc();
      this.#fork(state.restarts + 1);
    }, delay);
    this.#restartTimers.add(timer);
  }

  #updateGauges(): void {
    let starting = 0;
    let serving = 0;
    for (const s of this.#workers.values()) {
      if (s.hash === null) starting++;
      else serving++;
    }
    this.#metrics.workers.labels('starting').set(starting);
    this.#metrics.workers.labels('serving').set(serving);
  }

  apply(ir: IR, hash: string): Promise<ApplyOutcome> {
    if (this.#pending !== null) return Promise.reject(new Error('a configuration is already being applied'));
    const config: Config = { seq: ++this.#seq, hash, ir };
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const waiting = new Set<number>();
      for (const s of this.#workers.values()) {
        waiting.add(s.id);
        // Workers that have not said hello get it with their init.
        if (s.hello) s.send({ type: 'gatehouse:config', ...config });
      }
      const timeoutMs = this.#options.applyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        const p = this.#pending;
        if (p === null || p.config !== config) return;
        for (const id of p.waiting) {
          this.#logger.error({ worker: id, timeoutMs }, 'worker did not apply the configuration in time; replacing it');
          this.#workers.get(id)?.worker.process.kill('SIGKILL');
        }
      }, timeoutMs);
      timer.unref();
      this.#pending = { config, waiting, outcomes: [], failures: [], timer, resolve, reject };
      this.#settle();
    });
  }

  /** Ends the pending apply once every worker it waits for has reported or exited. */
  #settle(): void {
    const p = this.#pending;
    if (p === null || p.waiting.size > 0) return;
    this.#pending = null;
    clearTimeout(p.timer);
    if (p.failures.length > 0) {
      p.reject(new Error(p.failures[0]));
      return;
    }
    this.#good = p.config;
    // Compiling is deterministic: every worker finds the same problems; list each once.
    const diagnostics = new Map<string, Diagnostic>();
    const listenerErrors = new Map<string, ListenerError>();
    for (const o of p.outcomes) {
      for (const d of o.diagnostics) diagnostics.set(diagnosticKey(d), d);
      for (const e of o.listenerErrors) listenerErrors.set(`${e.listener}|${e.port}|${e.message}`, e);
    }
    p.resolve({ diagnostics: [...diagnostics.values()], listenerErrors: [...listenerErrors.values()] });
  }

  /** Some worker serves a configuration and draining has not started (workers that do not serve get no traffic). */
  serving(): boolean {
    if (this.#draining) return false;
    for (const s of this.#workers.values()) if (s.hash !== null) return true;
    return false;
  }

  workers(): readonly WorkerInfo[] {
    return [...this.#workers.values()].map((s) => ({
      id: s.id,
      pid: s.worker.process.pid ?? 0,
      state: s.draining ? 'draining' : s.hash === null ? 'starting' : 'serving',
      hash: s.hash,
      restarts: s.restarts,
    }));
  }

  async metricsText(): Promise<string> {
    const own = await this.#metrics.registry.getMetricsAsJSON();
    const theirs = await Promise.all([...this.#workers.values()].filter((s) => s.hello).map((s) => this.#ask(s)));
    return aggregateMetrics([own, ...theirs.filter((m): m is MetricsSnapshot => m !== null)]);
  }

  #ask(state: WorkerState): Promise<MetricsSnapshot | null> {
    return new Promise((resolve) => {
      const request = ++this.#metricsRequest;
      const timer = setTimeout(() => {
        this.#metricsRequests.delete(request);
        this.#logger.warn({ worker: state.id }, 'worker did not send its metrics in time; left out');
        resolve(null);
      }, METRICS_TIMEOUT_MS);
      this.#metricsRequests.set(request, { worker: state.id, timer, resolve });
      state.send({ type: 'gatehouse:metrics', request });
    });
  }

  /**
   * SIGTERM to every worker (each stops accepting and lets its requests finish, up to the drain timeout), then
   * waits for all of them to exit; one still there after the drain timeout and a grace period is killed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    for (const t of this.#restartTimers) clearTimeout(t);
    this.#restartTimers.clear();
    if (this.#workers.size === 0) return;
    const exited = new Promise<void>((resolve) => this.#exitWaiters.push(resolve));
    for (const s of this.#workers.values()) {
      s.draining = true;
      s.worker.process.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs + EXIT_GRACE_MS);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      this.#logger.error(
        { workers: ids(this.#workers.values()) },
        'workers still running after the drain; killing them',
      );
      for (const s of this.#workers.values()) s.worker.process.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  get restarts(): number {
    return this.#restartCount;
  }
}
