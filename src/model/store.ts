// The current objects from every source, keyed by kind/namespace/name. Sources replace their whole set on each
// update; the store drops updates that change nothing a translator reads and coalesces bursts, so a folder
// rewritten by `git checkout` or an API relist turns into one snapshot rather than hundreds.
import type { KubeObject } from './objects.ts';
import { keyOf } from './objects.ts';
import { Snapshot } from './snapshot.ts';

export interface ObjectStoreOptions {
  /** Called with a new snapshot once a burst of changes has settled. */
  readonly onChange: (snapshot: Snapshot) => void;
  /** Quiet time after the last change before emitting. Default 50 ms. */
  readonly debounceMs?: number;
  /** Longest wait after the first change of a burst, so a steady trickle of changes cannot starve translation. Default 250 ms. */
  readonly maxDelayMs?: number;
}

const contentCache = new WeakMap<KubeObject, string>();

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What a translator can see of an object. `origin` only says where it was read from, so moving an object to
 * another file is not a change. Typed objects already leave out status, managedFields and resourceVersion.
 */
export function objectContent(o: KubeObject): string {
  let s = contentCache.get(o);
  if (s === undefined) {
    const { origin: _origin, ...rest } = o;
    s = canonical(rest);
    contentCache.set(o, s);
  }
  return s;
}

export class ObjectStore {
  readonly #onChange: (snapshot: Snapshot) => void;
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #sources = new Map<string, ReadonlyMap<string, KubeObject>>();
  #effective: ReadonlyMap<string, KubeObject> = new Map();
  /** The objects of the last emitted snapshot, to skip bursts that end where they started. */
  #emitted: ReadonlyMap<string, KubeObject> = new Map();
  #snapshot: Snapshot | undefined;
  #pending = false;
  #debounceTimer: ReturnType<typeof setTimeout> | undefined;
  #maxTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: ObjectStoreOptions) {
    this.#onChange = options.onChange;
    this.#debounceMs = options.debounceMs ?? 50;
    this.#maxDelayMs = options.maxDelayMs ?? 250;
  }

  /**
   * Replaces everything `sourceId` holds. Returns whether the objects translators see changed.
   * When two sources hold the same object, the source whose id sorts first wins.
   */
  set(sourceId: string, objects: Iterable<KubeObject>): boolean {
    if (this.#closed) return false;
    const own = new Map<string, KubeObject>();
    for (const o of objects) {
      const key = keyOf(o);
      // Within one source the first occurrence wins, as it does across files of a folder.
      if (!own.has(key)) own.set(key, o);
    }
    if (own.size === 0) this.#sources.delete(sourceId);
    else this.#sources.set(sourceId, own);

    const next = new Map<string, KubeObject>();
    for (const id of [...this.#sources.keys()].sort()) {
      for (const [key, o] of this.#sources.get(id) ?? []) {
        if (!next.has(key)) next.set(key, o);
      }
    }
    const prev = this.#effective;
    let changed = next.size !== prev.size;
    let replaced = changed;
    if (!changed) {
      for (const [key, o] of next) {
        const old = prev.get(key);
        if (old === o) continue;
        replaced = true;
        if (old === undefined || objectContent(old) !== objectContent(o)) {
          changed = true;
          break;
        }
      }
    }
    // Unchanged content from a new origin is still taken, so later diagnostics point at the right file.
    if (replaced) {
      this.#effective = next;
      this.#snapshot = undefined;
    }
    if (changed) this.#schedule();
    return changed;
  }

  /** The current objects, whether or not a change is still waiting to be emitted. */
  snapshot(): Snapshot {
    this.#snapshot ??= new Snapshot(this.#effective.values());
    return this.#snapshot;
  }

  /** Emits a pending change now instead of waiting for the burst to settle. */
  flush(): void {
    if (this.#pending) this.#emit();
  }

  close(): void {
    this.#closed = true;
    this.#clearTimers();
    this.#pending = false;
  }

  #schedule(): void {
    if (this.#debounceTimer !== undefined) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => this.#emit(), this.#debounceMs);
    if (!this.#pending) {
      this.#pending = true;
      this.#maxTimer = setTimeout(() => this.#emit(), this.#maxDelayMs);
    }
  }

  #clearTimers(): void {
    if (this.#debounceTimer !== undefined) clearTimeout(this.#debounceTimer);
    if (this.#maxTimer !== undefined) clearTimeout(this.#maxTimer);
    this.#debounceTimer = undefined;
    this.#maxTimer = undefined;
  }

  #emit(): void {
    this.#clearTimers();
    this.#pending = false;
    if (this.#closed) return;
    if (sameContent(this.#effective, this.#emitted)) return;
    this.#emitted = this.#effective;
    this.#onChange(this.snapshot());
  }
}

/** Whether two sets of objects look the same to translators; only objects that were replaced are compared by content. */
function sameContent(a: ReadonlyMap<string, KubeObject>, b: ReadonlyMap<string, KubeObject>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, o] of a) {
    const old = b.get(k);
    if (old === o) continue;
    if (old === undefined || objectContent(old) !== objectContent(o)) return false;
  }
  return true;
}
