import { AdminServer, type AdminState } from '../admin/admin-server.ts';
import { hashIR } from '../compile/compile-table.ts';
import type { ServerLimits } from '../dataplane/dataplane.ts';
import type { Diagnostic, IR, StatusEntry } from '../ir/types.ts';
import type { KubeObject } from '../model/objects.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { ObjectStore } from '../model/store.ts';
import type { LogFormat, Logger, LogLevel } from '../observe/logger.ts';
import { Metrics } from '../observe/metrics.ts';
import { FileSource } from '../sources/file/file-source.ts';
import { KubeClient } from '../sources/kubernetes/api-client.ts';
import type { KubeConfig } from '../sources/kubernetes/kube-config.ts';
import { KubernetesSource } from '../sources/kubernetes/kubernetes-source.ts';
import { selfSignedDefaultCertificate } from '../tls/certificates.ts';
import type { UpstreamOptions } from '../upstream/pools.ts';
import { ClusterServing } from './cluster-serving.ts';
import { defaultLeaderElection, KubernetesStatus, type StatusOptions } from './kubernetes-status.ts';
import { type DataPlaneSettings, LocalServing, type Serving, type WorkerInfo } from './serving.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER, type TranslateOptions, translateAll } from './translate-all.ts';

export interface GatewayOptions {
  /** Folders/files of manifests; ignored when `kubernetes` is set. */
  readonly manifests: readonly string[];
  /** Watch the Kubernetes API instead of manifest files (`--kubernetes`). */
  readonly kubernetes?: {
    readonly config: KubeConfig;
    /** `--watch-namespace`: namespaced resources only from this namespace. */
    readonly watchNamespace?: string;
    /** Status write-back; absent: written, with leader election on the default Lease and nothing published. */
    readonly status?: StatusOptions;
  };
  readonly translate: TranslateOptions;
  readonly adminPort: number;
  readonly adminAddress: string;
  readonly listenAddress: string;
  readonly limits: ServerLimits;
  readonly upstream: UpstreamOptions;
  readonly trustedProxies: readonly string[];
  readonly accessLog: boolean;
  /** Cleartext HTTP/1.1 on the fast path (default on). */
  readonly http1FastPath?: boolean;
  readonly drainTimeoutMs: number;
  /** Debounce of source events: quiet period and longest wait. */
  readonly debounceMs: number;
  readonly maxDebounceMs: number;
  /**
   * Processes running the data plane (`--workers`). 1: in this process, as a single process always did. More:
   * that many worker processes sharing the listening sockets (node:cluster), this one keeping the sources,
   * translation, status and the admin server.
   */
  readonly workers?: number;
  /** How worker processes log (they write to the same stdout). */
  readonly logLevel?: LogLevel;
  readonly logFormat?: LogFormat;
  /**
   * Makes the logger access-log lines go to when this process serves traffic itself (the CLI's batched one); by
   * default they go through `logger`. Worker processes make their own.
   */
  readonly accessLogger?: () => Logger;
}

/** What both sources offer: a first complete read, then updates of everything they hold. */
interface ConfigSource {
  start(
    onUpdate: (u: { readonly objects: readonly KubeObject[]; readonly diagnostics: Diagnostic[] }) => void,
  ): Promise<void>;
  close(): Promise<void>;
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.severity}|${d.file ?? ''}|${d.object?.kind ?? ''}/${d.object?.namespace ?? ''}/${d.object?.name ?? ''}|${d.message}`;
}

/**
 * Wires sources → store → translate → compile → data plane. Owns the one piece of mutable configuration state:
 * which table is live. Changes are applied one at a time; a burst that arrives meanwhile is applied once, after.
 */
export class Gateway implements AdminState {
  readonly metrics: Metrics;
  readonly #options: GatewayOptions;
  readonly #logger: Logger;
  /** The data plane: in this process, or the worker processes. */
  readonly #serving: Serving;
  readonly #cluster: ClusterServing | null;
  readonly #admin: AdminServer;
  readonly #store: ObjectStore;
  readonly #kubeClient: KubeClient | null;
  /** Leader election and status write-back in `--kubernetes` mode, else null. */
  readonly #kubeStatus: KubernetesStatus | null;
  #source: ConfigSource | null = null;
  #stopping = false;
  /** The IR serving now and its hash. */
  #live: { readonly ir: IR; readonly hash: string } | null = null;
  #status: readonly StatusEntry[] = [];
  #sourceDiagnostics: readonly Diagnostic[] = [];
  #translateDiagnostics: readonly Diagnostic[] = [];
  #reported = new Set<string>();
  #ready = false;
  #applying: Promise<void> | null = null;
  #pending: Snapshot | null = null;

  constructor(options: GatewayOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    const workers = options.workers ?? 1;
    this.metrics = new Metrics(workers > 1 ? 'control' : 'all');
    const { certPem, keyPem } = selfSignedDefaultCertificate();
    const settings: DataPlaneSettings = {
      listenAddress: options.listenAddress,
      limits: options.limits,
      upstream: options.upstream,
      trustedProxies: options.trustedProxies,
      accessLog: options.accessLog,
      http1FastPath: options.http1FastPath !== false,
      defaultCertificate: { certPem, keyPem },
    };
    this.#cluster =
      workers > 1
        ? new ClusterServing(
            {
              workers,
              settings,
              drainTimeoutMs: options.drainTimeoutMs,
              logLevel: options.logLevel ?? 'info',
              logFormat: options.logFormat ?? 'json',
            },
            logger,
            this.metrics,
          )
        : null;
    this.#serving = this.#cluster ?? new LocalServing(settings, logger, this.metrics, 0, options.accessLogger?.());
    const serving = this.#serving;
    this.#admin = new AdminServer(this, {
      metricsText: () => serving.metricsText(),
      contentType: this.metrics.contentType,
    });
    // One client for the whole process: the source's watches and whatever writes status share its connections.
    this.#kubeClient = options.kubernetes === undefined ? null : new KubeClient(options.kubernetes.config);
    this.#kubeStatus =
      options.kubernetes === undefined || this.#kubeClient === null
        ? null
        : new KubernetesStatus(
            this.#kubeClient,
            options.kubernetes.status ?? { leaderElection: defaultLeaderElection(process.env) },
            options.translate,
            logger,
            this.metrics,
          );
    this.#store = new ObjectStore({
      debounceMs: options.debounceMs,
      maxDelayMs: options.maxDebounceMs,
      onChange: (snapshot) => this.#enqueue(snapshot),
    });
  }

  ready(): boolean {
    return this.#ready && !this.#stopping && this.#serving.serving();
  }

  workers(): readonly WorkerInfo[] {
    return this.#serving.workers();
  }

  config(): IR | null {
    return this.#live?.ir ?? null;
  }

  status(): readonly StatusEntry[] {
    return this.#status;
  }

  diagnostics(): readonly Diagnostic[] {
    return [...this.#sourceDiagnostics, ...this.#translateDiagnostics];
  }

  /** The Kubernetes API client in `--kubernetes` mode (for the status writer and leader election), else null. */
  get kubeClient(): KubeClient | null {
    return this.#kubeClient;
  }

  get adminPort(): number {
    return this.#admin.address().port;
  }

  async start(): Promise<void> {
    await this.#admin.listen(this.#options.adminPort, this.#options.adminAddress);
    this.#cluster?.start();
    const kube = this.#options.kubernetes;
    const source: ConfigSource =
      kube === undefined || this.#kubeClient === null
        ? new FileSource(this.#options.manifests)
        : new KubernetesSource({
            client: this.#kubeClient,
            ...(kube.watchNamespace !== undefined ? { watchNamespace: kube.watchNamespace } : {}),
            references: {
              ingressClass: this.#options.translate.ingressClass,
              ingressController: INGRESS_CONTROLLER,
              gatewayController: GATEWAY_CONTROLLER,
              ...(this.#options.translate.tcpServicesConfigMap !== undefined
                ? { tcpServicesConfigMap: this.#options.translate.tcpServicesConfigMap }
                : {}),
            },
            logger: this.#logger,
          });
    const sourceId = kube === undefined ? 'files' : 'kubernetes';
    this.#source = source;
    this.#kubeStatus?.start();
    // In cluster mode this waits for the first complete sync (readiness stays 503 until then, however long the API
    // server takes); afterwards nothing waits on the API server: the last configuration keeps serving.
    await source.start((update) => {
      this.#report(update.diagnostics);
      this.#sourceDiagnostics = update.diagnostics;
      this.#store.set(sourceId, update.objects);
    });
    if (this.#stopping) return;
    // The first configuration is applied at once, not after the debounce, so the gateway is ready sooner; the store
    // counts it as emitted, so the debounce does not hand the same objects over again once ready.
    this.#store.flush();
    await this.#apply(this.#store.snapshot());
    this.#ready = true;
    this.#logger.info({ adminPort: this.adminPort }, 'ready');
    // A change the store emitted while the first configuration was being applied waits in #pending.
    const missed = this.#pending;
    this.#pending = null;
    if (missed !== null) this.#enqueue(missed);
  }

  #report(diagnostics: readonly Diagnostic[]): void {
    for (const d of diagnostics) {
      const key = diagnosticKey(d);
      if (this.#reported.has(key)) continue;
      const fields = {
        ...(d.file === undefined ? {} : { file: d.file }),
        ...(d.object === undefined ? {} : { object: `${d.object.kind} ${d.object.namespace}/${d.object.name}` }),
      };
      if (d.severity === 'error') this.#logger.error(fields, d.message);
      else this.#logger.warn(fields, d.message);
    }
    this.#reported = new Set([
      ...[...this.#sourceDiagnostics, ...this.#translateDiagnostics].map(diagnosticKey),
      ...diagnostics.map(diagnosticKey),
    ]);
  }

  #enqueue(snapshot: Snapshot): void {
    if (!this.#ready || this.#applying !== null) {
      this.#pending = snapshot;
      return;
    }
    this.#applying = this.#apply(snapshot).finally(() => {
      this.#applying = null;
      const next = this.#pending;
      this.#pending = null;
      if (next !== null) this.#enqueue(next);
    });
  }

  async #apply(snapshot: Snapshot): Promise<void> {
    try {
      const result = translateAll(snapshot, this.#options.translate);
      this.#status = result.status;
      const hash = hashIR(result.ir);
      if (this.#live !== null && this.#live.hash === hash) {
        this.#translateDiagnostics = result.diagnostics;
        this.#report(result.diagnostics);
        this.#kubeStatus?.publish(snapshot, result);
        return;
      }
      const outcome = await this.#serving.apply(result.ir, hash);
      const diagnostics = [...result.diagnostics, ...outcome.diagnostics];
      this.#report(diagnostics);
      this.#translateDiagnostics = diagnostics;
      for (const e of outcome.listenerErrors)
        this.#logger.error({ listener: e.listener, port: e.port }, `cannot listen: ${e.message}`);
      this.#live = { ir: result.ir, hash };
      this.#kubeStatus?.publish(snapshot, result);
      this.metrics.configReloads.labels('success').inc();
      this.metrics.configLastReloadSuccess.set(1);
      const counts = { error: 0, warning: 0 };
      for (const d of this.diagnostics()) counts[d.severity]++;
      this.metrics.configDiagnostics.labels('error').set(counts.error);
      this.metrics.configDiagnostics.labels('warning').set(counts.warning);
      this.#logger.info(
        {
          listeners: result.ir.listeners.length,
          backends: result.ir.backends.length,
          hash: hash.slice(0, 12),
        },
        'configuration applied',
      );
    } catch (err) {
      this.metrics.configReloads.labels('failure').inc();
      this.metrics.configLastReloadSuccess.set(0);
      this.#logger.error(
        { err: (err as Error).message },
        'configuration change rejected; the previous one keeps serving',
      );
    }
  }

  /** Graceful stop: not ready, stop accepting, let requests finish (bounded), close everything. */
  async stop(): Promise<void> {
    this.#logger.info(
      this.#serving instanceof LocalServing ? { inflight: this.#serving.inflight } : { workers: this.workers().length },
      'draining',
    );
    this.#stopping = true;
    // Status first: writes in flight are cancelled and the Lease handed back, so another replica leads at once.
    await this.#kubeStatus?.stop();
    await this.#source?.close();
    await this.#kubeClient?.close();
    this.#store.close();
    await this.#serving.drain(this.#options.drainTimeoutMs);
    await this.#admin.close();
    this.#logger.info('stopped');
  }
}
