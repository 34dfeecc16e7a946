// Writes the status translation computed (what /api/status shows) to the Kubernetes API, on the leader only.
// Each object is read, its new status built from what it has (other controllers' entries and unchanged
// lastTransitionTimes kept), and written to its /status subresource with the resourceVersion read — only when
// something other than a timestamp changed; a conflict reads again. What was written is remembered, so a
// configuration whose status did not change costs no API call at all. Passes run one at a time, never on the
// data plane's path: a batch handed over meanwhile replaces any older one still waiting.
import type { StatusEntry } from '../ir/types.ts';
import { objectKey } from '../model/objects.ts';
import { buildStatus, comparable, desiredPart, metaTime } from './build.ts';
import {
  asRecord,
  type KubeApi,
  requestWithin,
  StatusError,
  type StatusLogger,
  silentLogger,
  statusMessage,
} from './kube-api.ts';
import { addressesOfService, type PublishAddress, type PublishConfig } from './publish.ts';
import { isStatusKind, objectPath, RESOURCES, ROUTE_KINDS, type StatusKind, servicePath } from './resources.ts';

/** What one applied configuration says about status. */
export interface StatusBatch {
  /** Translation's status entries (Gateway API kinds; others are ignored). */
  readonly entries: readonly StatusEntry[];
  /** The Ingresses gatehouse serves (its class), whose `status.loadBalancer` it writes. */
  readonly ingresses: readonly { readonly namespace: string; readonly name: string }[];
  /** What the snapshot knows about the objects, by `objectKey(kind, namespace, name)`. */
  readonly objects?: ReadonlyMap<string, ObjectInfo>;
}

export interface ObjectInfo {
  /**
   * `metadata.uid`: an object that was deleted and created again is written again, and one replaced since
   * translation is left for the next batch.
   */
  readonly uid?: string;
  /** Its path in the API as the source read it (with the version the cluster serves); else the writer finds it. */
  readonly path?: string;
}

export type WriteResult = 'success' | 'unchanged' | 'conflict' | 'gone' | 'error';

export interface StatusWriterOptions {
  readonly api: KubeApi;
  /** Gateway API controllerName: whose route parents and policy ancestors are ours. */
  readonly controllerName: string;
  /** What Ingress (and Gateway) status publishes; absent: Ingress status is not written. */
  readonly publish?: PublishConfig;
  readonly logger?: StatusLogger;
  /** Every read-and-write of one object, for metrics. */
  readonly onResult?: (kind: string, result: WriteResult) => void;
  /** Bound on each API request (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** How often the --publish-service Service is read again (default 30 s). */
  readonly publishServiceRefreshMs?: number;
  /** First retry after a failed write (default 5 s), doubling up to 5 min while failures go on. */
  readonly retryMs?: number;
  /** Every so often everything is read again, repairing status someone else changed (default 10 min; 0: never). */
  readonly resyncMs?: number;
  /** Objects read and written at once (default 4). */
  readonly concurrency?: number;
  /** Conflicting writes retried per object and pass (default 3). */
  readonly maxConflictRetries?: number;
  /** API versions to try per kind, most preferred first (defaults in resources.ts). */
  readonly apiVersions?: Partial<Record<StatusKind, readonly string[]>>;
}

/** An object whose status we wrote (or checked), and the desired part that was then current. */
interface Written {
  readonly kind: StatusKind;
  readonly namespace: string;
  readonly name: string;
  readonly path: string | undefined;
  /** null: must be read again before trusting it (new leadership term, resync). */
  fingerprint: string | null;
}

interface Task {
  readonly key: string;
  readonly kind: StatusKind;
  readonly namespace: string;
  readonly name: string;
  /** null: nothing of ours any more (a route or policy we answered for before; or an Ingress). */
  readonly entry: StatusEntry | null;
  /** What to remember once done; null: forget the object (our entries removed). */
  readonly fingerprint: string | null;
  readonly uid: string | undefined;
  readonly path: string | undefined;
}

const MAX_RETRY_MS = 300_000;

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class StatusWriter {
  readonly #api: KubeApi;
  readonly #controllerName: string;
  readonly #publish: PublishConfig | undefined;
  readonly #logger: StatusLogger;
  readonly #onResult: (kind: string, result: WriteResult) => void;
  readonly #timeoutMs: number;
  readonly #serviceRefreshMs: number;
  readonly #retryMs: number;
  readonly #resyncMs: number;
  readonly #concurrency: number;
  readonly #maxConflicts: number;
  readonly #candidates: Readonly<Record<StatusKind, readonly string[]>>;
  /** The API version that answered, per kind. */
  readonly #versions = new Map<StatusKind, string>();
  readonly #written = new Map<string, Written>();
  #leader = false;
  #stopped = false;
  #latest: StatusBatch | null = null;
  #running: Promise<void> | null = null;
  #dirty = false;
  #abort = new AbortController();
  #failures = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #serviceTimer: NodeJS.Timeout | null = null;
  #resyncTimer: NodeJS.Timeout | null = null;
  /** --publish-service: the Service's addresses as last read; null until read (or when it does not exist). */
  #serviceAddresses: readonly PublishAddress[] | null = null;
  #serviceProblem = '';

  constructor(options: StatusWriterOptions) {
    this.#api = options.api;
    this.#controllerName = options.controllerName;
    this.#publish = options.publish;
    this.#logger = options.logger ?? silentLogger;
    this.#onResult = options.onResult ?? (() => {});
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#serviceRefreshMs = options.publishServiceRefreshMs ?? 30_000;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#resyncMs = options.resyncMs ?? 600_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#maxConflicts = options.maxConflictRetries ?? 3;
    const candidates = { ...Object.fromEntries(Object.entries(RESOURCES).map(([k, r]) => [k, r.versions])) };
    for (const [kind, versions] of Object.entries(options.apiVersions ?? {})) {
      if (versions !== undefined && versions.length > 0) candidates[kind] = versions;
    }
    this.#candidates = candidates as Record<StatusKind, readonly string[]>;
    if (this.#publish === undefined) {
      this.#logger.info(
        {},
        'Ingress status is not written: give --publish-address or --publish-service to publish an address',
      );
    }
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Hands over the status of a newly applied configuration. Returns at once; written on the leader only. */
  update(batch: StatusBatch): void {
    if (this.#stopped) return;
    this.#latest = batch;
    this.#kick();
  }

  /**
   * Leadership changes. Becoming leader reads everything once (another replica, or anyone, may have written since
   * we last did); losing it cancels the writes in flight.
   */
  setLeader(leader: boolean): void {
    if (this.#stopped || leader === this.#leader) return;
    this.#leader = leader;
    this.#clearTimers();
    if (leader) {
      this.#abort = new AbortController();
      this.#failures = 0;
      this.#serviceAddresses = null;
      for (const w of this.#written.values()) w.fingerprint = null;
      this.#startTimers();
      this.#kick();
    } else {
      this.#abort.abort();
    }
  }

  /** Resolves once no pass is running or waiting (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Stops writing: cancels what is in flight and waits for it to unwind. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#leader = false;
    this.#clearTimers();
    this.#abort.abort();
    await this.settled();
  }

  #clearTimers(): void {
    for (const t of [this.#retryTimer, this.#serviceTimer, this.#resyncTimer]) if (t !== null) clearTimeout(t);
    this.#retryTimer = null;
    this.#serviceTimer = null;
    this.#resyncTimer = null;
  }

  #startTimers(): void {
    if (this.#publish?.kind === 'service') {
      this.#serviceTimer = setInterval(() => {
        void this.#refreshService(this.#abort.signal).then((changed) => {
          if (changed) this.#kick();
        });
      }, this.#serviceRefreshMs);
      this.#serviceTimer.unref?.();
    }
    if (this.#resyncMs > 0) {
      this.#resyncTimer = setInterval(() => {
        for (const w of this.#written.values()) w.fingerprint = null;
        this.#kick();
      }, this.#resyncMs);
      this.#resyncTimer.unref?.();
    }
  }

  #kick(): void {
    if (!this.#leader || this.#stopped || this.#latest === null) return;
    if (this.#running !== null) {
      this.#dirty = true;
      return;
    }
    this.#dirty = false;
    const batch = this.#latest;
    const signal = this.#abort.signal;
    this.#running = (async () => {
      let ok = false;
      try {
        ok = await this.#pass(batch, signal);
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'status pass failed');
      }
      this.#running = null;
      if (ok) this.#failures = 0;
      else if (!signal.aborted) this.#scheduleRetry();
      if (this.#dirty) this.#kick();
    })();
  }

  #scheduleRetry(): void {
    if (!this.#leader || this.#stopped) return;
    this.#failures++;
    const delay = Math.min(this.#retryMs * 2 ** (this.#failures - 1), MAX_RETRY_MS);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#kick();
    }, delay);
    this.#retryTimer.unref?.();
  }

  /** One pass over a batch: true when everything that needed writing was written. */
  async #pass(batch: StatusBatch, signal: AbortSignal): Promise<boolean> {
    const addresses = await this.#publishAddresses(signal);
    const tasks: Task[] = [];
    const present = new Set<string>();
    const consider = (
      kind: StatusKind,
      namespace: string,
      name: string,
      entry: StatusEntry | null,
      part: unknown,
    ): void => {
      const key = objectKey(kind, namespace, name);
      if (present.has(key)) return;
      present.add(key);
      const info = batch.objects?.get(key);
      const uid = info?.uid === '' ? undefined : info?.uid;
      const fingerprint = `${uid ?? ''}|${comparable(part)}`;
      if (this.#written.get(key)?.fingerprint === fingerprint) return;
      tasks.push({ key, kind, namespace, name, entry, fingerprint, uid, path: info?.path });
    };
    for (const e of batch.entries) {
      if (!isStatusKind(e.kind) || e.kind === 'Ingress') continue;
      consider(e.kind, e.namespace, e.name, e, desiredPart(e, e.kind === 'Gateway' ? addresses : null));
    }
    if (addresses !== null) {
      for (const i of batch.ingresses) consider('Ingress', i.namespace, i.name, null, desiredPart(null, addresses));
    }
    // Routes and policies we answered for before but not now (detached, or their Gateway is gone): our entries
    // are taken off. Anything else no longer in the batch is simply forgotten.
    for (const [key, w] of this.#written) {
      if (present.has(key)) continue;
      if (ROUTE_KINDS.has(w.kind) || w.kind === 'BackendTLSPolicy') {
        tasks.push({
          key,
          kind: w.kind,
          namespace: w.namespace,
          name: w.name,
          entry: null,
          fingerprint: null,
          uid: undefined,
          path: w.path,
        });
      } else {
        this.#written.delete(key);
      }
    }
    if (tasks.length === 0) return true;
    let ok = true;
    await eachLimited(tasks, this.#concurrency, async (task) => {
      if (signal.aborted) {
        ok = false;
        return;
      }
      try {
        if (!(await this.#write(task, addresses, signal))) ok = false;
      } catch (err) {
        ok = false;
        if (signal.aborted) return;
        this.#onResult(task.kind, 'error');
        this.#logger.warn(
          { object: `${task.kind} ${task.namespace}/${task.name}`, err: (err as Error).message },
          'could not write status',
        );
      }
    });
    return ok;
  }

  #remember(task: Task): void {
    if (task.fingerprint === null) this.#written.delete(task.key);
    else
      this.#written.set(task.key, {
        kind: task.kind,
        namespace: task.namespace,
        name: task.name,
        path: task.path,
        fingerprint: task.fingerprint,
      });
  }

  /** Reads one object, builds its status and writes it when it changed. False: try again later. */
  async #write(task: Task, addresses: readonly PublishAddress[] | null, signal: AbortSignal): Promise<boolean> {
    const what = `${task.kind} ${task.namespace === '' ? '' : `${task.namespace}/`}${task.name}`;
    for (let attempt = 0; ; attempt++) {
      const got = await this.#get(task, signal);
      if (got === null) {
        // Deleted since translation: nothing to write; the next batch will not have it.
        this.#written.delete(task.key);
        this.#onResult(task.kind, 'gone');
        return true;
      }
      const metadata = asRecord(got.object['metadata']) ?? {};
      if (task.uid !== undefined && metadata['uid'] !== undefined && metadata['uid'] !== task.uid) {
        // Replaced by a new object of the same name since translation: the next batch has its status.
        this.#onResult(task.kind, 'gone');
        return true;
      }
      const generation = metadata['generation'];
      const current = asRecord(got.object['status']) ?? {};
      const next = buildStatus(task.kind, task.entry, current, task.namespace, {
        controllerName: this.#controllerName,
        generation: typeof generation === 'number' ? generation : undefined,
        now: metaTime(Date.now()),
        addresses,
      });
      if (comparable(current) === comparable(next)) {
        this.#remember(task);
        this.#onResult(task.kind, 'unchanged');
        return true;
      }
      if (signal.aborted) return false;
      const path = `${got.path}/status`;
      const put = await requestWithin(this.#api, 'PUT', path, {
        body: { ...got.object, status: next },
        timeoutMs: this.#timeoutMs,
        signal,
      });
      if (put.status === 200 || put.status === 201) {
        this.#remember(task);
        this.#onResult(task.kind, 'success');
        this.#logger.debug({ object: what }, 'status written');
        return true;
      }
      if (put.status === 404) {
        this.#written.delete(task.key);
        this.#onResult(task.kind, 'gone');
        return true;
      }
      if (put.status === 409) {
        this.#onResult(task.kind, 'conflict');
        if (attempt < this.#maxConflicts) continue;
        this.#logger.warn({ object: what, attempts: attempt + 1 }, 'status write kept conflicting; trying later');
        return false;
      }
      this.#onResult(task.kind, 'error');
      this.#logger.warn({ object: what, status: put.status, err: statusMessage(put.body) }, 'could not write status');
      return false;
    }
  }

  /**
   * GET an object: at the path the source read it from, else trying the kind's API versions until one answers.
   * Null when it does not exist.
   */
  async #get(task: Task, signal: AbortSignal): Promise<{ path: string; object: Record<string, unknown> } | null> {
    const resource = RESOURCES[task.kind];
    const known = this.#versions.get(task.kind);
    const paths =
      task.path !== undefined
        ? [{ path: task.path, version: undefined }]
        : (known === undefined ? this.#candidates[task.kind] : [known]).map((version) => ({
            path: objectPath(resource, version, task.namespace, task.name),
            version,
          }));
    for (const { path, version } of paths) {
      const got = await requestWithin(this.#api, 'GET', path, { timeoutMs: this.#timeoutMs, signal });
      if (got.status === 404) continue;
      const object = asRecord(got.body);
      if (got.status !== 200 || object === null) {
        throw new StatusError('GH_ERR_KUBE_ANSWER', `GET ${path}: HTTP ${got.status} ${statusMessage(got.body)}`);
      }
      if (version !== undefined) this.#versions.set(task.kind, version);
      return { path, object };
    }
    return null;
  }

  async #publishAddresses(signal: AbortSignal): Promise<readonly PublishAddress[] | null> {
    const p = this.#publish;
    if (p === undefined) return null;
    if (p.kind === 'addresses') return p.addresses;
    if (this.#serviceAddresses === null) await this.#refreshService(signal);
    return this.#serviceAddresses;
  }

  /** Reads the --publish-service Service; true when its addresses changed. */
  async #refreshService(signal: AbortSignal): Promise<boolean> {
    const p = this.#publish;
    if (p?.kind !== 'service' || !this.#leader) return false;
    const service = `${p.namespace}/${p.name}`;
    let next: readonly PublishAddress[] | null = this.#serviceAddresses;
    let problem = '';
    try {
      const got = await requestWithin(this.#api, 'GET', servicePath(p.namespace, p.name), {
        timeoutMs: this.#timeoutMs,
        signal,
      });
      if (got.status === 200) next = addressesOfService(got.body);
      else if (got.status === 404) {
        next = null;
        problem = `Service ${service} (--publish-service) does not exist; Ingress status is not written`;
      } else problem = `reading Service ${service}: HTTP ${got.status} ${statusMessage(got.body)}`;
    } catch (err) {
      if (signal.aborted) return false;
      problem = `reading Service ${service}: ${(err as Error).message}`;
    }
    if (problem !== '' && problem !== this.#serviceProblem) this.#logger.warn({ service }, problem);
    this.#serviceProblem = problem;
    const changed = comparable(next) !== comparable(this.#serviceAddresses);
    if (changed) {
      this.#logger.info(
        { service, addresses: (next ?? []).map((a) => ('ip' in a ? a.ip : a.hostname)) },
        'published addresses',
      );
    }
    this.#serviceAddresses = next;
    return changed;
  }
}
