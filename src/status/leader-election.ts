// Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it: every replica
// serves traffic; only the one holding the Lease writes status. The holder renews it every retry period; a Lease
// not renewed for its duration may be taken over; a renewal that keeps failing past the renew deadline (shorter
// than the duration, so two replicas never both believe they lead) gives leadership up; stop() hands the Lease
// back so the next replica takes over at once.
import {
  asRecord,
  asString,
  type KubeApi,
  requestWithin,
  type StatusLogger,
  silentLogger,
  statusMessage,
} from './kube-api.ts';

/** How far replicas' clocks may disagree before a stale renewTime is believed without waiting a lease out. */
const MAX_CLOCK_SKEW_MS = 60_000;

export interface LeaderElectorOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: the pod name, or host name and process id. */
  readonly identity: string;
  /** How long a Lease is valid after its last renewal (default 15 s). */
  readonly leaseDurationMs?: number;
  /** Leadership is given up when no renewal succeeded for this long (default 10 s; less than the duration). */
  readonly renewDeadlineMs?: number;
  /** How often the holder renews and the others try to acquire (default 5 s). */
  readonly retryPeriodMs?: number;
  readonly logger?: StatusLogger;
}

export type LeadershipListener = (leader: boolean) => void;

interface LeaseSpec {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number | undefined;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly leaseTransitions: number;
}

/** A Lease as read: the object (for PUT, with its resourceVersion) and its spec. */
interface Lease {
  readonly object: Record<string, unknown>;
  readonly spec: LeaseSpec;
}

/** RFC 3339 with microseconds, as Kubernetes writes MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function parseLease(body: unknown): Lease | null {
  const object = asRecord(body);
  if (object === null) return null;
  const spec = asRecord(object['spec']) ?? {};
  const duration = spec['leaseDurationSeconds'];
  const transitions = spec['leaseTransitions'];
  return {
    object,
    spec: {
      holderIdentity: asString(spec['holderIdentity']) ?? '',
      leaseDurationSeconds: typeof duration === 'number' && duration > 0 ? duration : undefined,
      acquireTime: asString(spec['acquireTime']),
      renewTime: asString(spec['renewTime']),
      leaseTransitions: typeof transitions === 'number' ? transitions : 0,
    },
  };
}

type Attempt = 'ours' | 'theirs' | 'failed';

export class LeaderElector {
  readonly identity: string;
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #name: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #logger: StatusLogger;
  readonly #listeners = new Set<LeadershipListener>();
  #leader = false;
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #deadline: NodeJS.Timeout | null = null;
  #cycle: Promise<void> | null = null;
  #abort = new AbortController();
  /** The Lease as we last wrote it while leading: renewals PUT over it without reading first. */
  #lease: Lease | null = null;
  /** The other holder's record as last seen, and when (local clock) it was first seen unchanged. */
  #observed = '';
  #observedAt = 0;
  #lastError = '';

  constructor(options: LeaderElectorOptions) {
    this.#api = options.api;
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.identity = options.identity;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 5_000;
    this.#logger = options.logger ?? silentLogger;
    if (this.#renewDeadlineMs >= this.#leaseDurationMs) {
      throw new RangeError('the renew deadline must be shorter than the lease duration');
    }
    if (this.#retryPeriodMs >= this.#renewDeadlineMs) {
      throw new RangeError('the retry period must be shorter than the renew deadline');
    }
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Called with `true` on becoming leader and `false` on losing (or giving up) leadership. */
  onChange(listener: LeadershipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts trying at once; returns without waiting for the outcome. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#run();
  }

  /** Stops trying; a leader hands the Lease back (bounded by the retry period) and reports `false`. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#abort.abort();
    await this.#cycle;
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#deadline = null;
    // #lease is only ever a Lease we hold (and not past the renew deadline).
    const lease = this.#lease;
    this.#setLeader(false);
    if (lease !== null) await this.#release(lease);
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#namespace)}/leases`;
  }

  get #leasePath(): string {
    return `${this.#path}/${encodeURIComponent(this.#name)}`;
  }

  #run(): void {
    if (this.#stopped) return;
    this.#cycle = this.#tryAcquireOrRenew().then(
      (result) => this.#settle(result),
      (err: Error) => {
        this.#problem(err.message);
        this.#settle('failed');
      },
    );
    void this.#cycle.then(() => {
      this.#cycle = null;
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#run(), this.#retryPeriodMs);
      this.#timer.unref?.();
    });
  }

  #settle(result: Attempt): void {
    if (this.#stopped) return;
    if (result === 'ours') {
      this.#lastError = '';
      this.#armDeadline();
      this.#setLeader(true);
    } else if (result === 'theirs') {
      this.#lease = null;
      this.#setLeader(false);
    }
    // 'failed': a leader keeps leading until the renew deadline fires; a follower tries again next period.
  }

  #armDeadline(): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => {
      this.#deadline = null;
      if (!this.#leader) return;
      this.#logger.warn(
        { lease: `${this.#namespace}/${this.#name}`, deadlineMs: this.#renewDeadlineMs },
        'could not renew the leader lease in time; giving up leadership',
      );
      this.#lease = null;
      this.#setLeader(false);
    }, this.#renewDeadlineMs);
    this.#deadline.unref?.();
  }

  #setLeader(leader: boolean): void {
    if (this.#leader === leader) return;
    this.#leader = leader;
    if (!leader && this.#deadline !== null) {
      clearTimeout(this.#deadline);
      this.#deadline = null;
    }
    this.#logger.info(
      { lease: `${this.#namespace}/${this.#name}`, identity: this.identity },
      leader ? 'became leader: writing status' : 'no longer leader: not writing status',
    );
    for (const listener of this.#listeners) {
      try {
        listener(leader);
      } catch (err) {
        this.#logger.error({ err: (err as Error).message }, 'leadership listener failed');
      }
    }
  }

  #problem(message: string): void {
    // The same failure every period is logged once, not every 5 s.
    if (message === this.#lastError) return;
    this.#lastError = message;
    this.#logger.warn({ lease: `${this.#namespace}/${this.#name}`, err: message }, 'leader election');
  }

  #request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
    return requestWithin(this.#api, method, path, {
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.#retryPeriodMs,
      signal: this.#abort.signal,
    });
  }

  /** Whether another holder's Lease may be taken: nobody holds it, or it was not renewed for its duration. */
  #expired(spec: LeaseSpec, now: number): boolean {
    if (spec.holderIdentity === '') return true;
    const durationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    // By how long we have seen the very same record on our own clock (a holder still renewing changes its
    // renewTime), as client-go does. The holder's renewTime, stamped by its clock, only shortcuts that when it is
    // older than the lease by more than any plausible clock skew (a holder that died long ago).
    const record = `${spec.holderIdentity}|${spec.renewTime ?? ''}`;
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = now;
    }
    const renewed = spec.renewTime === undefined ? Number.NaN : Date.parse(spec.renewTime);
    if (!Number.isNaN(renewed) && renewed + durationMs + MAX_CLOCK_SKEW_MS < now) return true;
    return this.#observedAt + durationMs <= now;
  }

  #nextSpec(previous: LeaseSpec | null, now: number): Record<string, unknown> {
    const ours = previous !== null && previous.holderIdentity === this.identity;
    const stamp = microTime(now);
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: ours ? (previous.acquireTime ?? stamp) : stamp,
      renewTime: stamp,
      leaseTransitions: previous === null ? 0 : previous.leaseTransitions + (ours ? 0 : 1),
    };
  }

  async #tryAcquireOrRenew(): Promise<Attempt> {
    // A conflict means someone wrote the Lease since we read it: read it again and decide again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.#stopped) return 'failed';
      let lease = this.#leader ? this.#lease : null;
      if (lease === null) {
        const got = await this.#request('GET', this.#leasePath);
        if (got.status === 404) return await this.#create();
        if (got.status !== 200) {
          this.#problem(`GET lease: HTTP ${got.status} ${statusMessage(got.body)}`);
          return 'failed';
        }
        lease = parseLease(got.body);
        if (lease === null) {
          this.#problem('GET lease: not an object');
          return 'failed';
        }
        const holder = lease.spec.holderIdentity;
        if (holder !== this.identity && !this.#expired(lease.spec, Date.now())) return 'theirs';
      }
      const object = {
        ...lease.object,
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        spec: { ...(asRecord(lease.object['spec']) ?? {}), ...this.#nextSpec(lease.spec, Date.now()) },
      };
      const put = await this.#request('PUT', this.#leasePath, object);
      if (put.status === 200 || put.status === 201) {
        this.#lease = parseLease(put.body) ?? parseLease(object);
        return 'ours';
      }
      if (put.status === 409) {
        this.#lease = null;
        if (this.#leader) {
          // Our copy was stale: read it again, it may still be ours.
          const got = await this.#request('GET', this.#leasePath);
          const fresh = got.status === 200 ? parseLease(got.body) : null;
          if (fresh === null) return 'failed';
          if (fresh.spec.holderIdentity !== this.identity) return 'theirs';
          this.#lease = fresh;
        }
        continue;
      }
      if (put.status === 404) {
        this.#lease = null;
        continue;
      }
      this.#problem(`PUT lease: HTTP ${put.status} ${statusMessage(put.body)}`);
      return 'failed';
    }
    return 'failed';
  }

  async #create(): Promise<Attempt> {
    const object = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.#name, namespace: this.#namespace },
      spec: this.#nextSpec(null, Date.now()),
    };
    const created = await this.#request('POST', this.#path, object);
    if (created.status === 200 || created.status === 201) {
      this.#lease = parseLease(created.body) ?? parseLease(object);
      return 'ours';
    }
    // 409: another replica created it first; it leads.
    if (created.status === 409) return 'theirs';
    this.#problem(`create lease: HTTP ${created.status} ${statusMessage(created.body)}`);
    return 'failed';
  }

  /** Hands the Lease back: no holder, a one-second duration, so a follower acquires it on its next try. */
  async #release(lease: Lease): Promise<void> {
    const abort = new AbortController();
    let current: Lease | null = lease;
    for (let attempt = 0; attempt < 2 && current !== null; attempt++) {
      if (current.spec.holderIdentity !== this.identity) return;
      const now = microTime(Date.now());
      const object = {
        ...current.object,
        spec: {
          ...(asRecord(current.object['spec']) ?? {}),
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.spec.leaseTransitions,
        },
      };
      try {
        const put = await requestWithin(this.#api, 'PUT', this.#leasePath, {
          body: object,
          timeoutMs: this.#retryPeriodMs,
          signal: abort.signal,
        });
        if (put.status === 200 || put.status === 201) {
          this.#lease = null;
          this.#logger.info({ lease: `${this.#namespace}/${this.#name}` }, 'released the leader lease');
          return;
        }
        if (put.status !== 409) {
          this.#logger.warn(
            { lease: `${this.#namespace}/${this.#name}`, status: put.status },
            'could not release the leader lease; it expires on its own',
          );
          return;
        }
        const got = await requestWithin(this.#api, 'GET', this.#leasePath, {
          timeoutMs: this.#retryPeriodMs,
          signal: abort.signal,
        });
        current = got.status === 200 ? parseLease(got.body) : null;
      } catch (err) {
        this.#logger.warn(
          { lease: `${this.#namespace}/${this.#name}`, err: (err as Error).message },
          'could not release the leader lease; it expires on its own',
        );
        return;
      }
    }
  }
}
