import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { LeaderElector, microTime } from './leader-election.ts';
import { FakeKubeApi } from './test-kube-api.ts';

const START = Date.parse('2025-06-01T12:00:00Z');
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/gatehouse/leases';
const LEASE = `${LEASES}/gatehouse-leader`;

/** Lets fake API answers (promises) and the callbacks they trigger run; real setImmediate is not mocked. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function advance(ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    await flush();
  }
}

function elector(api: FakeKubeApi, identity: string): { e: LeaderElector; changes: boolean[] } {
  const e = new LeaderElector({ api, namespace: 'gatehouse', name: 'gatehouse-leader', identity });
  const changes: boolean[] = [];
  e.onChange((leader) => changes.push(leader));
  return { e, changes };
}

function spec(api: FakeKubeApi): Record<string, unknown> {
  return (api.get(LEASE)?.['spec'] ?? {}) as Record<string, unknown>;
}

function lease(holder: string, renewMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'gatehouse-leader', namespace: 'gatehouse' },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: microTime(renewMs),
      renewTime: microTime(renewMs),
      leaseTransitions: 3,
      ...extra,
    },
  };
}

describe('LeaderElector', () => {
  const running: LeaderElector[] = [];
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: START });
  });
  afterEach(async () => {
    for (const e of running.splice(0)) await e.stop();
    mock.timers.reset();
  });
  const start = (e: LeaderElector): void => {
    running.push(e);
    e.start();
  };

  test('microTime writes RFC 3339 with microseconds', () => {
    assert.equal(microTime(Date.parse('2025-06-01T12:00:00.123Z')), '2025-06-01T12:00:00.123000Z');
  });

  test('creates the Lease when it is missing and leads', async () => {
    const api = new FakeKubeApi();
    const { e, changes } = elector(api, 'pod-a');
    start(e);
    await flush();
    assert.equal(e.isLeader, true);
    assert.deepEqual(changes, [true]);
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`GET ${LEASE}`, `POST ${LEASES}`],
    );
    assert.deepEqual(spec(api), {
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: microTime(START),
      renewTime: microTime(START),
      leaseTransitions: 0,
    });
  });

  test('renews every 5 s with a PUT carrying the resourceVersion, without reading first', async () => {
    const api = new FakeKubeApi();
    const { e } = elector(api, 'pod-a');
    start(e);
    await flush();
    api.calls.length = 0;
    await advance(5000);
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`PUT ${LEASE}`],
    );
    assert.equal(spec(api)['renewTime'], microTime(START + 5000));
    assert.equal(spec(api)['acquireTime'], microTime(START), 'acquireTime stays');
    await advance(10_000);
    assert.equal(spec(api)['renewTime'], microTime(START + 15_000));
    assert.equal(e.isLeader, true);
    assert.equal(spec(api)['leaseTransitions'], 0);
  });

  test('a Lease held and renewed by another replica is left alone', async () => {
    const api = new FakeKubeApi();
    const a = elector(api, 'pod-a');
    const b = elector(api, 'pod-b');
    start(a.e);
    await flush();
    start(b.e);
    await advance(30_000);
    assert.equal(a.e.isLeader, true);
    assert.equal(b.e.isLeader, false);
    assert.deepEqual(b.changes, []);
    assert.equal(spec(api)['holderIdentity'], 'pod-a');
    const byB = api
      .writes()
      .filter((c) => (c.body as { spec?: { holderIdentity?: string } }).spec?.holderIdentity === 'pod-b');
    assert.deepEqual(byB, [], 'pod-b never tried to write the Lease');
  });

  test('takes over a Lease its holder stopped renewing, once it expired, counting the transition', async () => {
    const api = new FakeKubeApi();
    api.put(LEASE, lease('pod-gone', START));
    const { e, changes } = elector(api, 'pod-b');
    start(e);
    await flush();
    await advance(14_000);
    assert.equal(e.isLeader, false, 'not before renewTime + 15 s');
    await advance(1000);
    assert.equal(e.isLeader, true, 'taken on the try at 15 s');
    assert.deepEqual(changes, [true]);
    assert.equal(spec(api)['holderIdentity'], 'pod-b');
    assert.equal(spec(api)['leaseTransitions'], 4);
    assert.equal(spec(api)['acquireTime'], spec(api)['renewTime'], 'acquired just now');
    assert.notEqual(spec(api)['acquireTime'], microTime(START));
  });

  test('a Lease whose renewTime is past by more than the lease and any clock skew is taken at once', async () => {
    const api = new FakeKubeApi();
    api.put(LEASE, lease('pod-gone', START - 10 * 60_000));
    const { e } = elector(api, 'pod-b');
    start(e);
    await flush();
    assert.equal(e.isLeader, true);
  });

  test('a Lease we already hold (same identity) is ours again at once', async () => {
    const api = new FakeKubeApi();
    api.put(LEASE, lease('pod-a', START - 1000));
    const { e } = elector(api, 'pod-a');
    start(e);
    await flush();
    assert.equal(e.isLeader, true);
    assert.equal(spec(api)['leaseTransitions'], 3, 'not a transition');
    assert.equal(spec(api)['acquireTime'], microTime(START - 1000));
  });

  test('a renewTime that looks expired by less than the skew allowance is not trusted: the lease is waited out', async () => {
    const api = new FakeKubeApi();
    // Our clock may simply run 30 s ahead of the holder's, which is still renewing.
    api.put(LEASE, lease('pod-a', START - 30_000));
    const { e } = elector(api, 'pod-b');
    start(e);
    await flush();
    assert.equal(e.isLeader, false);
  });

  test('expiry also counts from when we first saw the record, whatever the clocks say', async () => {
    const api = new FakeKubeApi();
    // The holder's clock runs a minute ahead: its renewTime looks fresh for a long time.
    api.put(LEASE, lease('pod-skewed', START + 60_000));
    const { e } = elector(api, 'pod-b');
    start(e);
    await advance(10_000);
    assert.equal(e.isLeader, false);
    await advance(10_000);
    assert.equal(e.isLeader, true, 'the record did not change for 15 s of our time');
  });

  test('a stolen Lease: the renewal conflicts, the re-read shows another holder, leadership ends', async () => {
    const api = new FakeKubeApi();
    const { e, changes } = elector(api, 'pod-a');
    start(e);
    await flush();
    assert.equal(e.isLeader, true);
    // Someone else writes the Lease (its resourceVersion moves on).
    const current = api.get(LEASE)!;
    api.put(LEASE, { ...current, spec: { ...(current['spec'] as object), holderIdentity: 'pod-x' } });
    await advance(5000);
    assert.equal(e.isLeader, false);
    assert.deepEqual(changes, [true, false]);
    assert.equal(spec(api)['holderIdentity'], 'pod-x', 'not overwritten');
  });

  test('a conflict on a Lease that is still ours: read again, renew', async () => {
    const api = new FakeKubeApi();
    const { e, changes } = elector(api, 'pod-a');
    start(e);
    await flush();
    // Something bumps the resourceVersion without changing the holder (e.g. a label edit).
    api.put(LEASE, api.get(LEASE)!);
    api.calls.length = 0;
    await advance(5000);
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`PUT ${LEASE}`, `GET ${LEASE}`, `PUT ${LEASE}`],
    );
    assert.equal(e.isLeader, true);
    assert.deepEqual(changes, [true]);
    assert.equal(spec(api)['renewTime'], microTime(START + 5000));
  });

  test('two replicas creating the Lease at once: one leads, the other follows', async () => {
    const api = new FakeKubeApi();
    const a = elector(api, 'pod-a');
    const b = elector(api, 'pod-b');
    start(a.e);
    start(b.e);
    await flush();
    assert.equal([a.e.isLeader, b.e.isLeader].filter(Boolean).length, 1);
    await advance(20_000);
    assert.equal([a.e.isLeader, b.e.isLeader].filter(Boolean).length, 1);
  });

  test('renewals failing past the renew deadline (10 s) end leadership before the Lease expires', async () => {
    const api = new FakeKubeApi();
    const { e, changes } = elector(api, 'pod-a');
    start(e);
    await flush();
    let failing = true;
    api.hooks.push(() => (failing ? { status: 500, body: { message: 'etcd unavailable' } } : undefined));
    await advance(9000);
    assert.equal(e.isLeader, true, 'still within the deadline');
    await advance(1000);
    assert.equal(e.isLeader, false);
    assert.deepEqual(changes, [true, false]);
    // The API comes back: the Lease (still ours, renewed 10+ s ago) is taken again.
    failing = false;
    await advance(5000);
    assert.equal(e.isLeader, true);
    assert.deepEqual(changes, [true, false, true]);
  });

  test('a renewal that hangs does not keep a replica leading past the deadline', async () => {
    const api = new FakeKubeApi();
    const { e } = elector(api, 'pod-a');
    start(e);
    await flush();
    const never = new Promise<never>(() => {});
    api.request = async () => never;
    await advance(10_000);
    assert.equal(e.isLeader, false);
  });

  test('stop() releases the Lease; the next replica takes it on its next try', async () => {
    const api = new FakeKubeApi();
    const a = elector(api, 'pod-a');
    const b = elector(api, 'pod-b');
    start(a.e);
    await flush();
    start(b.e);
    await flush();
    assert.equal(b.e.isLeader, false);
    await a.e.stop();
    assert.deepEqual(a.changes, [true, false]);
    assert.equal(spec(api)['holderIdentity'], '');
    assert.equal(spec(api)['leaseDurationSeconds'], 1);
    await advance(5000);
    assert.equal(b.e.isLeader, true);
    assert.equal(spec(api)['holderIdentity'], 'pod-b');
    assert.equal(spec(api)['leaseTransitions'], 1);
  });

  test('stop() of a follower writes nothing', async () => {
    const api = new FakeKubeApi();
    api.put(LEASE, lease('pod-a', START));
    const { e } = elector(api, 'pod-b');
    start(e);
    await flush();
    api.calls.length = 0;
    await e.stop();
    assert.deepEqual(api.writes(), []);
  });

  test('rejects timings that could let two replicas lead at once', () => {
    const api = new FakeKubeApi();
    assert.throws(
      () => new LeaderElector({ api, namespace: 'n', name: 'l', identity: 'i', leaseDurationMs: 10_000 }),
      RangeError,
    );
  });
});
