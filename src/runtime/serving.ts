import { compileTable } from '../compile/compile-table.ts';
import { type KeyPair, SecureContextCache } from '../compile/tls-contexts.ts';
import { TrustedProxies } from '../dataplane/client-address.ts';
import { DataPlane, type ListenerError, type ServerLimits } from '../dataplane/dataplane.ts';
import type { Diagnostic, IR } from '../ir/types.ts';
import type { Logger } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import { PoolRegistry, type UpstreamOptions } from '../upstream/pools.ts';

/** What the data plane needs besides the route table: plain data, so it can be sent to worker processes. */
export interface DataPlaneSettings {
  readonly listenAddress: string;
  readonly limits: ServerLimits;
  readonly upstream: UpstreamOptions;
  readonly trustedProxies: readonly string[];
  readonly accessLog: boolean;
  /** Cleartext HTTP/1.1 on the fast path (default on). */
  readonly http1FastPath?: boolean;
  /** The certificate served when no configured one matches; one for every process, so clients see one. */
  readonly defaultCertificate: KeyPair;
}

/** What applying one IR gave: problems compile found, and listeners that could not be opened. */
export interface ApplyOutcome {
  readonly diagnostics: readonly Diagnostic[];
  readonly listenerErrors: readonly ListenerError[];
}

/** One process serving traffic, as `/api/workers` lists it. */
export interface WorkerInfo {
  /** 0 for the in-process data plane (`--workers 1`); cluster worker ids from 1. */
  readonly id: number;
  readonly pid: number;
  readonly state: 'starting' | 'serving' | 'draining';
  /** Hash of the IR it serves; null before the first one. */
  readonly hash: string | null;
  /** How many times a worker in this slot was started again after exiting. */
  readonly restarts: number;
}

/**
 * Where the runtime sends each new IR: the data plane in this process (`--workers 1`), or the worker processes
 * (`--workers N`). Either way the IR is compiled where it serves and swapped in atomically there.
 */
export interface Serving {
  /** Compiles and serves `ir`; rejects when it cannot be compiled (the previous table keeps serving). */
  apply(ir: IR, hash: string): Promise<ApplyOutcome>;
  /** A configuration is serving and draining has not started. */
  serving(): boolean;
  readonly draining: boolean;
  /** Stops accepting, lets requests in flight finish (up to timeoutMs), closes everything. */
  drain(timeoutMs: number): Promise<void>;
  workers(): readonly WorkerInfo[];
  /** The Prometheus text of every process serving traffic (and this one). */
  metricsText(): Promise<string>;
}

/** The data plane in this process: compile, swap, and keep upstream pools and TLS contexts across changes. */
export class LocalServing implements Serving {
  readonly #metrics: Metrics;
  readonly #pools: PoolRegistry;
  readonly #secureContexts = new SecureContextCache();
  readonly #defaultCertificate: KeyPair;
  readonly #dataplane: DataPlane;
  readonly #id: number;
  #hash: string | null = null;

  /**
   * `id`: the worker id in logs and `/api/workers` (0 in a single process); `accessLogger`: where access-log lines
   * go, when not through `logger`.
   */
  constructor(settings: DataPlaneSettings, logger: Logger, metrics: Metrics, id = 0, accessLogger?: Logger) {
    this.#metrics = metrics;
    this.#id = id;
    this.#pools = new PoolRegistry(settings.upstream);
    this.#defaultCertificate = settings.defaultCertificate;
    this.#dataplane = new DataPlane(
      {
        listenAddress: settings.listenAddress,
        limits: settings.limits,
        trustedProxies: new TrustedProxies(settings.trustedProxies),
        accessLog: settings.accessLog,
        upstreamConnectTimeoutMs: settings.upstream.connectTimeoutMs,
        upstreamTimeoutMs: settings.upstream.timeoutMs,
        http1FastPath: settings.http1FastPath !== false,
        ...(accessLogger !== undefined ? { accessLogger } : {}),
      },
      logger,
      metrics,
    );
  }

  get draining(): boolean {
    return this.#dataplane.draining;
  }

  get inflight(): number {
    return this.#dataplane.inflight;
  }

  async apply(ir: IR, hash: string): Promise<ApplyOutcome> {
    const compiled = compileTable(
      ir,
      { pools: this.#pools, secureContexts: this.#secureContexts, defaultCertificate: this.#defaultCertificate },
      hash,
    );
    const listenerErrors = await this.#dataplane.apply(compiled.table);
    this.#pools.retainOnly(compiled.table.origins);
    this.#hash = hash;
    return { diagnostics: compiled.diagnostics, listenerErrors };
  }

  serving(): boolean {
    return this.#hash !== null && !this.#dataplane.draining;
  }

  async drain(timeoutMs: number): Promise<void> {
    await this.#dataplane.drain(timeoutMs);
    await this.#pools.close();
  }

  workers(): readonly WorkerInfo[] {
    return [
      {
        id: this.#id,
        pid: process.pid,
        state: this.#dataplane.draining ? 'draining' : this.#hash === null ? 'starting' : 'serving',
        hash: this.#hash,
        restarts: 0,
      },
    ];
  }

  metricsText(): Promise<string> {
    return this.#metrics.metricsText();
  }
}
