// List-then-watch for one collection, the way client-go's reflector does it:
//   LIST (paginated) → replace everything, remember the list's resourceVersion
//   WATCH from that resourceVersion (bookmarks on, server timeout ~5 min with jitter) → apply each event and remember
//     its resourceVersion, BOOKMARKs included
//   the server ends the watch → watch again from the last resourceVersion seen, so nothing is lost or replayed
//   410 Gone (as the HTTP status or as an ERROR event) → the resourceVersion is too old: LIST again and replace
//   any other failure → back off exponentially with jitter (0.5 s doubling to 30 s by default) and retry forever:
//     a failed watch resumes from the last resourceVersion, a failed list lists again
//   404 on every version → the resource is not installed (a CRD): report it once, look again every minute
import type { KubeRequestOptions, KubeResponse, WatchEvent } from './api-client.ts';
import { KUBE_API_STATUS, KubeApiError, statusDetails } from './api-client.ts';

/** What a list/watch needs of the client: KubeClient satisfies it, and so can a test double. */
export interface ListWatchClient {
  request(method: 'GET', path: string, options?: KubeRequestOptions): Promise<KubeResponse>;
  watch(path: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

/** One served version of the collection to try; the first whose LIST does not answer 404 is used. */
export interface ListWatchVersion {
  readonly path: string;
  readonly apiVersion: string;
}

export interface ListWatchHandlers {
  /** A complete LIST: these items are now everything there is. */
  replace(items: readonly unknown[], apiVersion: string): void;
  /** One ADDED, MODIFIED or DELETED event, in order. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown, apiVersion: string): void;
  /** None of the versions is served (404): called when that becomes true, not on every look. */
  missing(): void;
  /** A failure, retried after `retryInMs`; `failures` counts them since the last success. */
  error(err: unknown, phase: 'list' | 'watch', failures: number, retryInMs: number): void;
  /** Listed or watched again after failures, or found after being missing: for "recovered" logs. */
  recovered?(wasMissing: boolean): void;
}

export interface ListWatchTiming {
  /** First retry delay; doubles per consecutive failure. Default 500 ms. */
  readonly backoffInitialMs?: number;
  /** Longest retry delay. Default 30 s. */
  readonly backoffMaxMs?: number;
  /** Server-side watch timeout; each watch asks for this ±10 %. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /** How often to look again for a resource that is not installed. Default 60 s. */
  readonly missingRecheckMs?: number;
  /** LIST page size (`limit`). Default 500. */
  readonly pageSize?: number;
  /** Random source for jitter; tests pass a fixed one. */
  readonly random?: () => number;
}

export interface ListWatchOptions extends ListWatchTiming {
  readonly versions: readonly ListWatchVersion[];
  /** e.g. `metadata.name=web` to follow one object. */
  readonly fieldSelector?: string;
  /** Also count the first failure as "settled" (for objects that must not hold readiness hostage). */
  readonly settleOnError?: boolean;
}

export type ListWatchState = 'starting' | 'synced' | 'missing' | 'failing';

/** The resourceVersion given is too old for the server (410 Gone): list again. */
class Gone extends Error {}

function resourceVersionOf(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const rv = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function withQuery(path: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${s}`;
}

export class ListWatch {
  readonly #client: ListWatchClient;
  readonly #options: ListWatchOptions;
  readonly #handlers: ListWatchHandlers;
  readonly #abort = new AbortController();
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #watchTimeoutSeconds: number;
  readonly #missingRecheckMs: number;
  readonly #pageSize: number;
  readonly #random: () => number;
  #state: ListWatchState = 'starting';
  #resourceVersion: string | undefined;
  #running: Promise<void> | undefined;
  /** Events the current (or last) watch applied. */
  #watchApplied = 0;
  #settle: () => void = () => {};
  /** Resolves once the first LIST completed or the resource was found missing (or, with settleOnError, failed). */
  readonly settled: Promise<void>;

  constructor(client: ListWatchClient, options: ListWatchOptions, handlers: ListWatchHandlers) {
    if (options.versions.length === 0) throw new Error('ListWatch needs at least one version');
    this.#client = client;
    this.#options = options;
    this.#handlers = handlers;
    this.#backoffInitialMs = options.backoffInitialMs ?? 500;
    this.#backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.#missingRecheckMs = options.missingRecheckMs ?? 60_000;
    this.#pageSize = options.pageSize ?? 500;
    this.#random = options.random ?? Math.random;
    this.settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get state(): ListWatchState {
    return this.#state;
  }

  /** The last resourceVersion seen (list, event or bookmark): where the next watch starts. */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops the watch and any retry wait; resolves when the loop has ended. No handler is called after. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  get #closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Exponential, capped, with "equal jitter": half fixed, half random, so replicas do not retry in step. */
  #delay(failures: number): number {
    const d = Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(d / 2 + (this.#random() * d) / 2);
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#closed) return;
    const signal = this.#abort.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        // The signal lives as long as the watch: a listener left behind per sleep would pile up.
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    let version: ListWatchVersion | undefined;
    /** 410s in a row with nothing applied in between: a server that keeps answering so is backed off from. */
    let goneInARow = 0;
    let phase: 'list' | 'watch' = 'list';
    /** A LIST is due: at the start, after 410 Gone, and after a watch answered 404. */
    let relist = true;
    while (!this.#closed) {
      try {
        if (relist || version === undefined) {
          phase = 'list';
          const listed = await this.#list();
          if (this.#closed) return;
          if (listed === 'missing') {
            version = undefined;
            if (this.#state !== 'missing') {
              this.#state = 'missing';
              this.#handlers.missing();
            }
            failures = 0;
            this.#settle();
            await this.#sleep(this.#missingRecheckMs);
            continue;
          }
          const wasMissing = this.#state === 'missing';
          const wasRecovering = wasMissing || failures > 0;
          version = listed.version;
          this.#handlers.replace(listed.items, version.apiVersion);
          this.#resourceVersion = listed.resourceVersion;
          relist = false;
          this.#state = 'synced';
          this.#settle();
          if (wasRecovering) this.#handlers.recovered?.(wasMissing);
          failures = 0;
        }
        phase = 'watch';
        const started = Date.now();
        const applied = await this.#watch(version);
        if (applied > 0) goneInARow = 0;
        if (applied === 0 && Date.now() - started < 1000) {
          // Ended at once with nothing in it: not an error, but not a reason to spin either.
          await this.#sleep(this.#delay(1));
        } else if (failures > 0) {
          failures = 0;
          this.#state = 'synced';
          this.#handlers.recovered?.(false);
        }
      } catch (err) {
        if (this.#closed || isAbort(err)) return;
        // 410: the resourceVersion is too old. 404 under a watch: the resource went away (a CRD deleted, or the
        // version no longer served). Either way, list again.
        if (err instanceof Gone || (phase === 'watch' && err instanceof KubeApiError && err.status === 404)) {
          this.#resourceVersion = undefined;
          relist = true;
          if (this.#watchApplied > 0) goneInARow = 0;
          goneInARow++;
          if (goneInARow > 2) await this.#sleep(this.#delay(goneInARow - 2));
          continue;
        }
        // A watch that applied events before it broke was working: its failure starts a fresh backoff.
        if (phase === 'watch' && this.#watchApplied > 0) failures = 0;
        failures++;
        if (this.#state !== 'missing') this.#state = this.#state === 'starting' ? 'starting' : 'failing';
        // A server that says how long to wait (429/503 Retry-After) is obeyed, within the longest backoff.
        const asked = err instanceof KubeApiError ? Math.min(err.retryAfterMs, this.#backoffMaxMs) : 0;
        const wait = Math.max(this.#delay(failures), asked);
        this.#handlers.error(err, phase, failures, wait);
        if (this.#options.settleOnError === true) this.#settle();
        await this.#sleep(wait);
      }
    }
  }

  /** A complete LIST of the first served version, all pages; 'missing' when every version answers 404. */
  async #list(): Promise<
    { version: ListWatchVersion; items: unknown[]; resourceVersion: string | undefined } | 'missing'
  > {
    for (const version of this.#options.versions) {
      const result = await this.#listVersion(version);
      if (result !== 'missing') return { version, ...result };
    }
    return 'missing';
  }

  async #listVersion(
    version: ListWatchVersion,
  ): Promise<{ items: unknown[]; resourceVersion: string | undefined } | 'missing'> {
    let items: unknown[] = [];
    let continueToken: string | undefined;
    let restarts = 0;
    for (;;) {
      const path = withQuery(version.path, {
        limit: String(this.#pageSize),
        continue: continueToken,
        fieldSelector: this.#options.fieldSelector,
      });
      const res = await this.#client.request('GET', path, { signal: this.#abort.signal });
      if (res.status === 404 && continueToken === undefined) return 'missing';
      if (res.status === 410 && continueToken !== undefined && restarts < 3) {
        // The continue token expired between pages: start the list over.
        restarts++;
        items = [];
        continueToken = undefined;
        continue;
      }
      if (res.status !== 200) {
        const d = statusDetails(res.body);
        throw new KubeApiError(
          KUBE_API_STATUS,
          res.status,
          d.reason,
          `list ${version.path}: HTTP ${res.status}${d.message !== '' ? `: ${d.message}` : ''}`,
          d.retryAfterMs,
        );
      }
      const body = res.body as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
      if (typeof body !== 'object' || body === null || !(Array.isArray(body.items) || body.items === null)) {
        throw new KubeApiError(KUBE_API_STATUS, res.status, '', `list ${version.path}: the answer is not a list`);
      }
      for (const item of body.items ?? []) items.push(item);
      const next = body.metadata?.continue;
      if (typeof next === 'string' && next !== '') {
        continueToken = next;
        continue;
      }
      const rv = body.metadata?.resourceVersion;
      return { items, resourceVersion: typeof rv === 'string' && rv !== '' ? rv : undefined };
    }
  }

  /** One watch from the current resourceVersion; resolves with how many events it applied when the server ends it. */
  async #watch(version: ListWatchVersion): Promise<number> {
    const timeout = Math.max(1, Math.round(this.#watchTimeoutSeconds * (0.9 + 0.2 * this.#random())));
    const path = withQuery(version.path, {
      watch: '1',
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeout),
      fieldSelector: this.#options.fieldSelector,
    });
    this.#watchApplied = 0;
    try {
      await this.#client.watch(
        path,
        (e) => {
          if (this.#closed) return;
          switch (e.type) {
            case 'ADDED':
            case 'MODIFIED':
            case 'DELETED': {
              this.#handlers.event(e.type, e.object, version.apiVersion);
              this.#watchApplied++;
              const rv = resourceVersionOf(e.object);
              if (rv !== undefined) this.#resourceVersion = rv;
              break;
            }
            case 'BOOKMARK': {
              const rv = resourceVersionOf(e.object);
              if (rv !== undefined) this.#resourceVersion = rv;
              break;
            }
            case 'ERROR': {
              const d = statusDetails(e.object);
              if (d.code === 410 || d.reason === 'Expired' || d.reason === 'Gone') throw new Gone();
              throw new KubeApiError(
                KUBE_API_STATUS,
                d.code,
                d.reason,
                `watch ${version.path}: error event${d.code !== 0 ? ` ${d.code}` : ''}${d.message !== '' ? `: ${d.message}` : ''}`,
              );
            }
            default:
              // Unknown event types are skipped, as client-go does.
              break;
          }
        },
        this.#abort.signal,
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 410) throw new Gone();
      throw err;
    }
    return this.#watchApplied;
  }
}
