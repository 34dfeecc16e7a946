// Reads the configuration from the Kubernetes API instead of a folder: one list/watch per resource (list-watch.ts)
// feeding a cache of decoded objects, and one list/watch per Secret or ConfigMap that the current objects reference
// (references.ts), started and stopped as references come and go, so no Secret is read that nothing uses.
//
// Objects go through the same decoders as manifest files; an object that fails to decode is a diagnostic naming it
// (keeping its last good version, as the file source does) and never stops the source. Updates have the file
// source's shape, everything at once, so the ObjectStore debounces and diffs them the same way. A burst of events
// (a relist, a rollout touching many EndpointSlices) becomes one update.
//
// `start` resolves after the first complete sync: every installed resource listed (a resource whose CRD is not
// installed counts as synced, empty) and the Secrets and ConfigMaps those objects reference fetched. After that the
// source never blocks anything: if the API server goes away, the caches keep what they had and every watch
// reconnects by itself with backoff.
import type { Diagnostic } from '../../ir/types.ts';
import { decodeObject } from '../../model/decode.ts';
import type { Kind, KubeObject } from '../../model/objects.ts';
import type { Logger } from '../../observe/logger.ts';
import type { ListWatchClient, ListWatchTiming } from './list-watch.ts';
import { ListWatch } from './list-watch.ts';
import type { ReferencedObject, ReferenceScope } from './references.ts';
import { referencedObjects, referenceKey } from './references.ts';
import type { ResourceType } from './resources.ts';
import { apiVersionOf, collectionPath, configMaps, objectPath, secrets, watchedResources } from './resources.ts';

export interface KubernetesSourceUpdate {
  /** Every object currently read, resources in a fixed order and objects by namespace/name. */
  readonly objects: KubeObject[];
  /** Everything currently wrong with the objects read (each naming its object), not only what changed. */
  readonly diagnostics: Diagnostic[];
}

export interface KubernetesSourceOptions extends ListWatchTiming {
  readonly client: ListWatchClient;
  /** Restricts namespaced resources to this namespace; cluster-scoped ones are still read cluster-wide. */
  readonly watchNamespace?: string;
  /** Which objects are ours, for choosing the Secrets and ConfigMaps to read. */
  readonly references: Omit<ReferenceScope, 'watchNamespace'>;
  readonly logger?: Logger;
  /** Quiet time that gathers a burst of events into one update. Default 10 ms. */
  readonly coalesceMs?: number;
  /** How long an update waits for Secrets/ConfigMaps it has just started to reference. Default 2 s. */
  readonly referenceWaitMs?: number;
  /** The resources to watch (tests narrow it). Default: every kind gatehouse reads. */
  readonly resources?: readonly ResourceType[];
}

/** Kinds whose changes can change which Secrets and ConfigMaps are referenced. */
const referringKinds: ReadonlySet<Kind> = new Set([
  'Ingress',
  'IngressClass',
  'Gateway',
  'GatewayClass',
  'ReferenceGrant',
  'BackendTLSPolicy',
]);

function describe(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Entry {
  /** The decoded object, or its last good version when the current one does not decode. */
  readonly object: KubeObject | undefined;
  readonly diagnostic: Diagnostic | undefined;
}

/** The decoded objects of one resource (or of one referenced object), keyed by namespace/name. */
class ResourceCache {
  readonly type: ResourceType;
  readonly #onChange: () => void;
  #entries = new Map<string, Entry>();
  #objects: KubeObject[] | undefined;
  #diagnostics: Diagnostic[] | undefined;

  constructor(type: ResourceType, onChange: () => void) {
    this.type = type;
    this.#onChange = onChange;
  }

  get objects(): readonly KubeObject[] {
    if (this.#objects === undefined) {
      const keys = [...this.#entries.keys()].sort();
      this.#objects = [];
      for (const k of keys) {
        const o = this.#entries.get(k)?.object;
        if (o !== undefined) this.#objects.push(o);
      }
    }
    return this.#objects;
  }

  get diagnostics(): readonly Diagnostic[] {
    if (this.#diagnostics === undefined) {
      const keys = [...this.#entries.keys()].sort();
      this.#diagnostics = [];
      for (const k of keys) {
        const d = this.#entries.get(k)?.diagnostic;
        if (d !== undefined) this.#diagnostics.push(d);
      }
    }
    return this.#diagnostics;
  }

  replace(items: readonly unknown[], apiVersion: string): void {
    const next = new Map<string, Entry>();
    for (const raw of items) {
      const key = this.#key(raw);
      if (key === undefined || next.has(key)) continue;
      next.set(key, this.#decode(raw, apiVersion, this.#entries.get(key)));
    }
    this.#entries = next;
    this.#changed();
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: unknown, apiVersion: string): void {
    const key = this.#key(raw);
    if (key === undefined) return;
    if (type === 'DELETED') {
      if (!this.#entries.delete(key)) return;
    } else {
      this.#entries.set(key, this.#decode(raw, apiVersion, this.#entries.get(key)));
    }
    this.#changed();
  }

  clear(): void {
    if (this.#entries.size === 0) return;
    this.#entries = new Map();
    this.#changed();
  }

  #changed(): void {
    this.#objects = undefined;
    this.#diagnostics = undefined;
    this.#onChange();
  }

  #meta(raw: unknown): { namespace: string; name: string } | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const m = (raw as { metadata?: unknown }).metadata;
    if (typeof m !== 'object' || m === null) return undefined;
    const { name, namespace } = m as { name?: unknown; namespace?: unknown };
    if (typeof name !== 'string' || name === '') return undefined;
    return { name, namespace: this.type.namespaced && typeof namespace === 'string' ? namespace : '' };
  }

  #key(raw: unknown): string | undefined {
    const m = this.#meta(raw);
    return m === undefined ? undefined : `${m.namespace}/${m.name}`;
  }

  #decode(raw: unknown, apiVersion: string, prev: Entry | undefined): Entry {
    const r = raw as Record<string, unknown>;
    // List items come without kind and apiVersion: they are those of the collection that was read.
    const typed =
      r['kind'] === this.type.kind && r['apiVersion'] === apiVersion ? r : { ...r, apiVersion, kind: this.type.kind };
    const meta = this.#meta(raw) ?? { namespace: '', name: '' };
    const version = apiVersion.slice(apiVersion.lastIndexOf('/') + 1);
    const api = objectPath(this.type, version, meta.namespace, meta.name);
    const result = decodeObject(typed, { api });
    if (result.kind === 'object') return { object: result.object, diagnostic: undefined };
    const kept = prev?.object;
    const what = describe(this.type.kind, meta.namespace, meta.name);
    const reason = result.kind === 'invalid' ? result.reason : `apiVersion ${result.apiVersion} is not read`;
    return {
      object: kept,
      diagnostic: {
        severity: 'error',
        object: { kind: this.type.kind, namespace: meta.namespace, name: meta.name },
        message: `${what}: ${reason}${kept !== undefined ? '; keeping the previous version' : ''}`,
      },
    };
  }
}

interface Watched {
  readonly type: ResourceType;
  readonly cache: ResourceCache;
  readonly watch: ListWatch;
}

interface ReferenceWatch extends Watched {
  readonly ref: ReferencedObject;
}

export class KubernetesSource {
  readonly #options: KubernetesSourceOptions;
  readonly #logger: Logger | undefined;
  readonly #resources: Watched[] = [];
  readonly #references = new Map<string, ReferenceWatch>();
  readonly #stopping = new Set<Promise<void>>();
  #onUpdate: ((u: KubernetesSourceUpdate) => void) | undefined;
  #synced = false;
  #dirty = false;
  #referencesDirty = true;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #closedSignal = new AbortController();
  /** Resources found not served and not yet logged, so a group of CRDs that is not installed is one warning. */
  readonly #missingToLog = new Set<ResourceType>();
  #missingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: KubernetesSourceOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  /** True once the first complete sync has been handed to onUpdate. */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Lists everything, fetches what it references, calls onUpdate once with the result and resolves; then keeps
   * watching and calls onUpdate again after each burst of changes. Resolves without an update if closed first.
   */
  async start(onUpdate: (u: KubernetesSourceUpdate) => void): Promise<void> {
    if (this.#onUpdate !== undefined) throw new Error('KubernetesSource already started');
    this.#onUpdate = onUpdate;
    const ns = this.#options.watchNamespace;
    for (const type of this.#options.resources ?? watchedResources) {
      const versions = type.versions.map((v) => ({
        path: collectionPath(type, v, type.namespaced ? ns : undefined),
        apiVersion: apiVersionOf(type, v),
      }));
      const watched = this.#watch(type, versions, describeResource(type, ns), undefined, referringKinds.has(type.kind));
      this.#resources.push(watched);
    }
    await this.#untilClosedOr(Promise.all(this.#resources.map((r) => r.watch.settled)));
    if (this.#closed) return;
    this.#logMissing();
    this.#referencesDirty = false;
    const started = this.#syncReferences();
    await this.#untilClosedOr(Promise.all(started.map((r) => r.watch.settled)));
    if (this.#closed) return;
    this.#dirty = false;
    this.#synced = true;
    this.#emit();
    this.#logMissing(); // any found missing while references were being read
    const counts = this.#resources
      .filter((r) => r.watch.state !== 'missing')
      .map((r) => `${r.type.plural}=${r.cache.objects.length}`);
    this.#logger?.info(
      { resources: counts.join(' '), references: this.#references.size },
      'Kubernetes API: initial sync complete',
    );
    // Changes that arrived while references were being fetched.
    if (this.#referencesDirty) this.#schedule();
  }

  /** Stops every watch; no onUpdate call starts after this. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedSignal.abort();
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    if (this.#missingTimer !== undefined) clearTimeout(this.#missingTimer);
    this.#flushTimer = undefined;
    this.#missingTimer = undefined;
    const all = [...this.#resources, ...this.#references.values()].map((w) => w.watch.close());
    await Promise.all([...all, ...this.#stopping]);
    await this.#flushing;
  }

  /** Waits for `p`, but no longer than the source stays open, nor than `timeoutMs` when given. */
  async #untilClosedOr(p: Promise<unknown>, timeoutMs?: number): Promise<void> {
    if (this.#closed) return;
    const signal = this.#closedSignal.signal;
    let done = (): void => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      done = resolve;
      signal.addEventListener('abort', done, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
      p.then(done, done);
    });
    signal.removeEventListener('abort', done);
    if (timer !== undefined) clearTimeout(timer);
  }

  #watch(
    type: ResourceType,
    versions: readonly { path: string; apiVersion: string }[],
    label: string,
    fieldSelector: string | undefined,
    refers: boolean,
  ): Watched {
    const cache = new ResourceCache(type, () => this.#changed(refers));
    const logger = this.#logger;
    const isReference = fieldSelector !== undefined;
    const watch = new ListWatch(
      this.#options.client,
      {
        ...timing(this.#options),
        versions,
        ...(fieldSelector !== undefined ? { fieldSelector } : {}),
        ...(isReference ? { settleOnError: true } : {}),
      },
      {
        replace: (items, apiVersion) => cache.replace(items, apiVersion),
        event: (t, object, apiVersion) => cache.event(t, object, apiVersion),
        missing: () => {
          cache.clear();
          if (!isReference) this.#reportMissing(type);
        },
        error: (err, phase, failures, retryInMs) => {
          const fields = { resource: label, phase, failures, retryInMs, err: errorMessage(err) };
          // The first failure, then every tenth: an outage stays visible without a line per retry.
          if (failures === 1 || failures % 10 === 0)
            logger?.warn(fields, `Kubernetes API: cannot ${phase} ${label}; retrying`);
          else logger?.debug(fields, `Kubernetes API: cannot ${phase} ${label}; retrying`);
        },
        recovered: (wasMissing) =>
          logger?.info(
            { resource: label },
            wasMissing
              ? `Kubernetes API: ${label} is now served; watching it`
              : `Kubernetes API: watching ${label} again`,
          ),
      },
    );
    watch.start();
    return { type, cache, watch };
  }

  #reportMissing(type: ResourceType): void {
    this.#missingToLog.add(type);
    // Before the first sync completes, start() logs them all at once; later, a moment gathers a group's resources.
    if (this.#synced && this.#missingTimer === undefined) {
      this.#missingTimer = setTimeout(() => {
        this.#missingTimer = undefined;
        this.#logMissing();
      }, 200);
    }
  }

  /** One warning per API group for the resources it does not serve. */
  #logMissing(): void {
    if (this.#missingToLog.size === 0 || this.#closed) return;
    const byGroup = new Map<string, string[]>();
    const order = this.#options.resources ?? watchedResources;
    for (const type of order) {
      if (!this.#missingToLog.has(type)) continue;
      const list = byGroup.get(type.group) ?? [];
      list.push(type.plural);
      byGroup.set(type.group, list);
    }
    this.#missingToLog.clear();
    const every = Math.round((this.#options.missingRecheckMs ?? 60_000) / 1000);
    for (const [group, plurals] of byGroup) {
      const api = group === '' ? 'the core API' : group;
      this.#logger?.warn(
        { group: group === '' ? 'core' : group, resources: plurals.join(',') },
        `Kubernetes API: ${plurals.join(', ')} (${api}) not served${group === '' ? '' : ' (CRDs not installed?)'}; skipped, looking again every ${every} s`,
      );
    }
  }

  #changed(refers: boolean): void {
    this.#dirty = true;
    if (refers) this.#referencesDirty = true;
    if (this.#synced) this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#flushing !== undefined) {
      this.#again = true;
      return;
    }
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule();
        }
      });
    }, this.#options.coalesceMs ?? 10);
  }

  async #flush(): Promise<void> {
    if (this.#referencesDirty) {
      this.#referencesDirty = false;
      const started = this.#syncReferences();
      if (started.length > 0) {
        // Hold the update briefly so a new Ingress or listener is not first served without its certificate.
        await this.#untilClosedOr(
          Promise.all(started.map((r) => r.watch.settled)),
          this.#options.referenceWaitMs ?? 2000,
        );
      }
    }
    if (this.#closed || !this.#dirty) return;
    this.#dirty = false;
    this.#emit();
  }

  /** Starts watches for newly referenced objects and stops those no longer referenced; returns the new ones. */
  #syncReferences(): ReferenceWatch[] {
    const objects: KubeObject[] = [];
    for (const r of this.#resources) if (referringKinds.has(r.type.kind)) objects.push(...r.cache.objects);
    const wanted = referencedObjects(objects, {
      ...this.#options.references,
      ...(this.#options.watchNamespace !== undefined ? { watchNamespace: this.#options.watchNamespace } : {}),
    });
    const keys = new Set(wanted.map(referenceKey));
    for (const [key, w] of this.#references) {
      if (keys.has(key)) continue;
      this.#references.delete(key);
      const p = w.watch.close().finally(() => this.#stopping.delete(p));
      this.#stopping.add(p);
      if (w.cache.objects.length > 0 || w.cache.diagnostics.length > 0) this.#dirty = true;
    }
    const started: ReferenceWatch[] = [];
    for (const ref of wanted) {
      const key = referenceKey(ref);
      if (this.#references.has(key)) continue;
      const type = ref.kind === 'Secret' ? secrets : configMaps;
      const w = this.#watch(
        type,
        [{ path: collectionPath(type, 'v1', ref.namespace), apiVersion: 'v1' }],
        describe(ref.kind, ref.namespace, ref.name),
        `metadata.name=${ref.name}`,
        false,
      );
      const rw = { ...w, ref };
      this.#references.set(key, rw);
      started.push(rw);
    }
    return started;
  }

  #emit(): void {
    if (this.#closed) return;
    const objects: KubeObject[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const r of this.#resources) {
      objects.push(...r.cache.objects);
      diagnostics.push(...r.cache.diagnostics);
    }
    for (const key of [...this.#references.keys()].sort()) {
      const r = this.#references.get(key);
      if (r === undefined) continue;
      objects.push(...r.cache.objects);
      diagnostics.push(...r.cache.diagnostics);
    }
    this.#onUpdate?.({ objects, diagnostics });
  }
}

function describeResource(type: ResourceType, namespace: string | undefined): string {
  const group = type.group === '' ? type.plural : `${type.plural}.${type.group}`;
  return type.namespaced && namespace !== undefined && namespace !== '' ? `${group} in ${namespace}` : group;
}

function timing(o: ListWatchTiming): ListWatchTiming {
  return {
    ...(o.backoffInitialMs !== undefined ? { backoffInitialMs: o.backoffInitialMs } : {}),
    ...(o.backoffMaxMs !== undefined ? { backoffMaxMs: o.backoffMaxMs } : {}),
    ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
    ...(o.missingRecheckMs !== undefined ? { missingRecheckMs: o.missingRecheckMs } : {}),
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
    ...(o.random !== undefined ? { random: o.random } : {}),
  };
}
