import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import type { Condition, StatusEntry } from '../ir/types.ts';
import type { PublishConfig } from './publish.ts';
import { type StatusBatch, StatusWriter, type StatusWriterOptions, type WriteResult } from './status-writer.ts';
import { FakeKubeApi } from './test-kube-api.ts';

const CONTROLLER = 'gatehouse.dev/gateway-controller';
const START = Date.parse('2025-06-01T12:00:00Z');
const T0 = '2025-06-01T12:00:00Z';
const GWAPI = '/apis/gateway.networking.k8s.io/v1';
const CLASS = `${GWAPI}/gatewayclasses/gatehouse`;
const GW = `${GWAPI}/namespaces/infra/gateways/gw`;
const ROUTE = `${GWAPI}/namespaces/apps/httproutes/web`;
const POLICY = `${GWAPI}/namespaces/apps/backendtlspolicies/tls`;
const ING = '/apis/networking.k8s.io/v1/namespaces/apps/ingresses/site';
const SVC = '/api/v1/namespaces/gatehouse/services/gatehouse';

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function cond(type: string, status: Condition['status'], reason: string, message: string, gen = 1): Condition {
  return { type, status, reason, message, observedGeneration: gen };
}

const gwRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'gw' };

function routeEntry(conditions: readonly Condition[], sectionName = 'web'): StatusEntry {
  return {
    kind: 'HTTPRoute',
    namespace: 'apps',
    name: 'web',
    conditions,
    parents: [{ parentRef: { ...gwRef, sectionName }, controllerName: CONTROLLER, conditions }],
  };
}

const routeAccepted = [
  cond('Accepted', 'True', 'Accepted', 'Route is accepted'),
  cond('ResolvedRefs', 'True', 'ResolvedRefs', 'All references are resolved'),
];

function gatewayEntry(gen = 1): StatusEntry {
  const conditions = [
    cond('Accepted', 'True', 'Accepted', 'Gateway is accepted', gen),
    cond('Programmed', 'True', 'Programmed', 'Gateway is programmed', gen),
  ];
  return {
    kind: 'Gateway',
    namespace: 'infra',
    name: 'gw',
    conditions,
    listeners: [
      {
        name: 'web',
        attachedRoutes: 1,
        supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
        conditions: [cond('Accepted', 'True', 'Accepted', 'Listener is accepted', gen)],
      },
    ],
  };
}

const classEntry: StatusEntry = {
  kind: 'GatewayClass',
  namespace: '',
  name: 'gatehouse',
  conditions: [cond('Accepted', 'True', 'Accepted', 'GatewayClass is accepted')],
};

function object(kind: string, namespace: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: kind === 'Ingress' ? 'networking.k8s.io/v1' : 'gateway.networking.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace === '' ? {} : { namespace }), generation: 1 },
    spec: {},
    ...extra,
  };
}

function seed(api: FakeKubeApi): void {
  api.put(CLASS, object('GatewayClass', '', 'gatehouse'));
  api.put(GW, object('Gateway', 'infra', 'gw'));
  api.put(ROUTE, object('HTTPRoute', 'apps', 'web'));
  api.put(ING, object('Ingress', 'apps', 'site'));
}

function statusOf(api: FakeKubeApi, path: string): Record<string, unknown> {
  return (api.get(path)?.['status'] ?? {}) as Record<string, unknown>;
}

function batch(entries: readonly StatusEntry[], ingresses: StatusBatch['ingresses'] = []): StatusBatch {
  return { entries, ingresses };
}

describe('StatusWriter', () => {
  const writers: StatusWriter[] = [];
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: START });
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.stop();
    mock.timers.reset();
  });

  function writer(
    api: FakeKubeApi,
    extra: Partial<StatusWriterOptions> = {},
  ): { w: StatusWriter; results: [string, WriteResult][] } {
    const results: [string, WriteResult][] = [];
    const w = new StatusWriter({
      api,
      controllerName: CONTROLLER,
      onResult: (kind, result) => results.push([kind, result]),
      ...extra,
    });
    writers.push(w);
    return { w, results };
  }

  async function run(w: StatusWriter, b: StatusBatch): Promise<void> {
    w.update(b);
    await flush();
    await w.settled();
  }

  test('writes nothing while not the leader; becoming leader writes the latest batch', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.update(batch([classEntry]));
    w.update(batch([classEntry, gatewayEntry()]));
    await flush();
    assert.deepEqual(api.calls, []);
    w.setLeader(true);
    await flush();
    await w.settled();
    assert.deepEqual(
      api.writes().map((c) => `${c.method} ${c.path}`),
      [`PUT ${CLASS}/status`, `PUT ${GW}/status`],
    );
  });

  test('GatewayClass and Gateway: conditions with observedGeneration and lastTransitionTime, listeners', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([classEntry, gatewayEntry()]));
    assert.deepEqual(statusOf(api, CLASS), {
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: T0,
          reason: 'Accepted',
          message: 'GatewayClass is accepted',
        },
      ],
    });
    const gw = statusOf(api, GW);
    assert.deepEqual(
      (gw['conditions'] as { type: string }[]).map((c) => c.type),
      ['Accepted', 'Programmed'],
    );
    assert.deepEqual(gw['listeners'], [
      {
        name: 'web',
        supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
        attachedRoutes: 1,
        conditions: [
          {
            type: 'Accepted',
            status: 'True',
            observedGeneration: 1,
            lastTransitionTime: T0,
            reason: 'Accepted',
            message: 'Listener is accepted',
          },
        ],
      },
    ]);
    assert.equal(gw['addresses'], undefined, 'no publish configuration: addresses untouched');
  });

  test('the PUT goes to /status and carries the resourceVersion that was read', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const rv = (api.get(CLASS)!['metadata'] as { resourceVersion: string }).resourceVersion;
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([classEntry]));
    const put = api.writes()[0];
    assert.equal(put?.path, `${CLASS}/status`);
    assert.equal((put!.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion, rv);
  });

  test('an unchanged configuration costs no API call; a changed one reads and writes only what changed', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([classEntry, gatewayEntry(), routeEntry(routeAccepted)]));
    api.calls.length = 0;
    await run(w, batch([classEntry, gatewayEntry(), routeEntry(routeAccepted)]));
    assert.equal(api.calls.length, 0);
    const refused = [cond('Accepted', 'False', 'NotAllowedByListeners', 'No listener allows it'), routeAccepted[1]!];
    await run(w, batch([classEntry, gatewayEntry(), routeEntry(refused)]));
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`GET ${ROUTE}`, `PUT ${ROUTE}/status`],
    );
  });

  test('status already as desired (apart from timestamps): read, not written', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w: first } = writer(api);
    first.setLeader(true);
    await run(first, batch([gatewayEntry()]));
    await first.stop();
    mock.timers.tick(60_000);
    // A new leader (empty cache) sees the same status there.
    api.calls.length = 0;
    const { w, results } = writer(api);
    w.setLeader(true);
    await run(w, batch([gatewayEntry()]));
    assert.deepEqual(
      api.calls.map((c) => c.method),
      ['GET'],
    );
    assert.deepEqual(results, [['Gateway', 'unchanged']]);
  });

  test('lastTransitionTime is kept for unchanged conditions and set for changed ones; observedGeneration follows', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([routeEntry(routeAccepted)]));
    mock.timers.tick(60_000);
    const later = '2025-06-01T12:01:00Z';
    const next = [
      cond('Accepted', 'True', 'Accepted', 'Route is accepted', 2),
      cond('ResolvedRefs', 'False', 'BackendNotFound', 'Service apps/nope not found', 2),
    ];
    await run(w, batch([routeEntry(next)]));
    const parents = statusOf(api, ROUTE)['parents'] as { conditions: Record<string, unknown>[] }[];
    assert.deepEqual(parents[0]?.conditions, [
      {
        type: 'Accepted',
        status: 'True',
        observedGeneration: 2,
        lastTransitionTime: T0,
        reason: 'Accepted',
        message: 'Route is accepted',
      },
      {
        type: 'ResolvedRefs',
        status: 'False',
        observedGeneration: 2,
        lastTransitionTime: later,
        reason: 'BackendNotFound',
        message: 'Service apps/nope not found',
      },
    ]);
  });

  test("observedGeneration falls back to the object's metadata.generation", async () => {
    const api = new FakeKubeApi();
    api.put(GW, { ...object('Gateway', 'infra', 'gw'), metadata: { name: 'gw', namespace: 'infra', generation: 7 } });
    const { w } = writer(api);
    w.setLeader(true);
    const entry = gatewayEntry();
    const unstamped = entry.conditions.map(({ observedGeneration: _, ...c }) => c);
    await run(w, batch([{ ...entry, conditions: unstamped }]));
    const conditions = statusOf(api, GW)['conditions'] as { observedGeneration: number }[];
    assert.deepEqual(
      conditions.map((c) => c.observedGeneration),
      [7, 7],
    );
  });

  test("routes: other controllers' parents are kept, ours replaced, mesh parents never written", async () => {
    const api = new FakeKubeApi();
    const theirs = {
      parentRef: { group: '', kind: 'Service', name: 'app', namespace: 'apps' },
      controllerName: 'linkerd.io/gateway-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'mesh', lastTransitionTime: T0 }],
    };
    const oursStale = {
      parentRef: {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        namespace: 'infra',
        name: 'gw',
        sectionName: 'old',
      },
      controllerName: CONTROLLER,
      conditions: [],
    };
    api.put(ROUTE, { ...object('HTTPRoute', 'apps', 'web'), status: { parents: [theirs, oursStale] } });
    const { w } = writer(api);
    w.setLeader(true);
    const entry = routeEntry(routeAccepted);
    const withMesh: StatusEntry = {
      ...entry,
      parents: [
        ...(entry.parents ?? []),
        {
          parentRef: { group: '', kind: 'Service', namespace: 'apps', name: 'app' },
          controllerName: CONTROLLER,
          conditions: routeAccepted,
        },
      ],
    };
    await run(w, batch([withMesh]));
    const parents = statusOf(api, ROUTE)['parents'] as Record<string, unknown>[];
    assert.equal(parents.length, 2);
    assert.deepEqual(parents[0], theirs);
    assert.deepEqual(parents[1]?.['parentRef'], { ...gwRef, sectionName: 'web' });
    assert.equal(parents[1]?.['controllerName'], CONTROLLER);
  });

  test('a route we no longer answer for loses our parent entry, and only ours', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([routeEntry(routeAccepted)]));
    // Another controller adds its entry meanwhile.
    const current = api.get(ROUTE)!;
    const other = { parentRef: { ...gwRef, name: 'other' }, controllerName: 'example.com/other', conditions: [] };
    api.put(ROUTE, {
      ...current,
      status: { parents: [...((current['status'] as { parents: unknown[] }).parents ?? []), other] },
    });
    await run(w, batch([]));
    assert.deepEqual(statusOf(api, ROUTE)['parents'], [other]);
    // Forgotten afterwards: nothing more to do.
    api.calls.length = 0;
    await run(w, batch([]));
    assert.deepEqual(api.calls, []);
  });

  test('BackendTLSPolicy: only our ancestors entries', async () => {
    const api = new FakeKubeApi();
    const other = {
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'x', name: 'y' },
      controllerName: 'example.com/other',
      conditions: [],
    };
    api.put(POLICY, { ...object('BackendTLSPolicy', 'apps', 'tls'), status: { ancestors: [other] } });
    const { w } = writer(api);
    w.setLeader(true);
    const conditions = [cond('Accepted', 'True', 'Accepted', 'Policy is accepted')];
    await run(
      w,
      batch([
        {
          kind: 'BackendTLSPolicy',
          namespace: 'apps',
          name: 'tls',
          conditions,
          ancestors: [{ ancestorRef: gwRef, controllerName: CONTROLLER, conditions }],
        },
      ]),
    );
    const ancestors = statusOf(api, POLICY)['ancestors'] as Record<string, unknown>[];
    assert.deepEqual(ancestors[0], other);
    assert.deepEqual(ancestors[1]?.['ancestorRef'], gwRef);
  });

  test('a conflict (409) reads again and retries', async () => {
    const api = new FakeKubeApi();
    seed(api);
    let conflicts = 1;
    api.hooks.push((call) => {
      if (call.method === 'PUT' && conflicts > 0) {
        conflicts--;
        return { status: 409, body: { reason: 'Conflict', message: 'modified' } };
      }
      return undefined;
    });
    const { w, results } = writer(api);
    w.setLeader(true);
    await run(w, batch([classEntry]));
    assert.deepEqual(
      api.calls.map((c) => c.method),
      ['GET', 'PUT', 'GET', 'PUT'],
    );
    assert.deepEqual(results, [
      ['GatewayClass', 'conflict'],
      ['GatewayClass', 'success'],
    ]);
    assert.ok(statusOf(api, CLASS)['conditions']);
  });

  test('conflicts without end give up for this pass and try again later (with back-off)', async () => {
    const api = new FakeKubeApi();
    seed(api);
    let conflicting = true;
    api.hooks.push((call) =>
      call.method === 'PUT' && conflicting ? { status: 409, body: { message: 'modified' } } : undefined,
    );
    const { w } = writer(api, { retryMs: 5000 });
    w.setLeader(true);
    await run(w, batch([classEntry]));
    assert.equal(api.writes().length, 4, 'first try and 3 retries');
    conflicting = false;
    mock.timers.tick(5000);
    await flush();
    await w.settled();
    assert.ok(statusOf(api, CLASS)['conditions'], 'written on the retry');
  });

  test('server errors are retried later; other objects are still written', async () => {
    const api = new FakeKubeApi();
    seed(api);
    let failing = true;
    api.hooks.push((call) =>
      call.path === `${GW}/status` && failing ? { status: 500, body: { message: 'boom' } } : undefined,
    );
    const { w } = writer(api, { retryMs: 1000 });
    w.setLeader(true);
    await run(w, batch([classEntry, gatewayEntry()]));
    assert.ok(statusOf(api, CLASS)['conditions']);
    assert.equal(statusOf(api, GW)['conditions'], undefined);
    failing = false;
    api.calls.length = 0;
    mock.timers.tick(1000);
    await flush();
    await w.settled();
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`GET ${GW}`, `PUT ${GW}/status`],
      'only the failed object again',
    );
  });

  test('an object that disappeared is skipped', async () => {
    const api = new FakeKubeApi();
    const { w, results } = writer(api);
    w.setLeader(true);
    await run(w, batch([routeEntry(routeAccepted)]));
    assert.deepEqual(api.writes(), []);
    assert.deepEqual(results, [['HTTPRoute', 'gone']]);
  });

  test('an object replaced since translation (another uid) is left for the next batch', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, {
      entries: [classEntry],
      ingresses: [],
      objects: new Map([['GatewayClass/gatehouse', { uid: 'old-uid' }]]),
    });
    assert.deepEqual(api.writes(), []);
  });

  test('a recreated object (new uid, same status) is written again', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    const uid = (p: string) => (api.get(p)!['metadata'] as { uid: string }).uid;
    await run(w, {
      entries: [classEntry],
      ingresses: [],
      objects: new Map([['GatewayClass/gatehouse', { uid: uid(CLASS) }]]),
    });
    api.objects.delete(CLASS);
    api.put(CLASS, { ...object('GatewayClass', '', 'gatehouse'), metadata: { name: 'gatehouse', uid: 'new' } });
    api.calls.length = 0;
    await run(w, {
      entries: [classEntry],
      ingresses: [],
      objects: new Map([['GatewayClass/gatehouse', { uid: 'new' }]]),
    });
    assert.deepEqual(
      api.writes().map((c) => c.path),
      [`${CLASS}/status`],
    );
  });

  test('kinds served under another version are found (TLSRoute v1alpha2) and the version remembered', async () => {
    const api = new FakeKubeApi();
    api.served.add(GWAPI);
    api.served.add(`/apis/gateway.networking.k8s.io/v1alpha2`);
    const path = '/apis/gateway.networking.k8s.io/v1alpha2/namespaces/apps/tlsroutes/sni';
    api.put(path, object('TLSRoute', 'apps', 'sni'));
    const { w } = writer(api);
    w.setLeader(true);
    const entry: StatusEntry = {
      kind: 'TLSRoute',
      namespace: 'apps',
      name: 'sni',
      conditions: routeAccepted,
      parents: [{ parentRef: gwRef, controllerName: CONTROLLER, conditions: routeAccepted }],
    };
    await run(w, batch([entry]));
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path.replace('/apis/gateway.networking.k8s.io/', '')}`),
      [
        'GET v1/namespaces/apps/tlsroutes/sni',
        'GET v1alpha3/namespaces/apps/tlsroutes/sni',
        'GET v1alpha2/namespaces/apps/tlsroutes/sni',
        'PUT v1alpha2/namespaces/apps/tlsroutes/sni/status',
      ],
    );
    w.setLeader(false);
    w.setLeader(true);
    api.calls.length = 0;
    await flush();
    await w.settled();
    assert.deepEqual(
      api.calls.map((c) => c.path),
      [path],
    );
  });

  test("an object's API path from the source is used as it is", async () => {
    const api = new FakeKubeApi();
    const path = '/apis/gateway.networking.k8s.io/v1beta1/namespaces/apps/httproutes/web';
    api.put(path, object('HTTPRoute', 'apps', 'web'));
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, {
      entries: [routeEntry(routeAccepted)],
      ingresses: [],
      objects: new Map([['HTTPRoute/apps/web', { path }]]),
    });
    assert.deepEqual(
      api.calls.map((c) => `${c.method} ${c.path}`),
      [`GET ${path}`, `PUT ${path}/status`],
    );
  });

  test('batches handed over during a pass are coalesced: one more pass, with the latest', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    w.update(batch([routeEntry(routeAccepted, 'a')]));
    w.update(batch([routeEntry(routeAccepted, 'b')]));
    w.update(batch([routeEntry(routeAccepted, 'c')]));
    await flush();
    await w.settled();
    assert.equal(api.writes().length, 2, 'the first batch, then only the last');
    const parents = statusOf(api, ROUTE)['parents'] as { parentRef: { sectionName: string } }[];
    assert.deepEqual(
      parents.map((p) => p.parentRef.sectionName),
      ['c'],
    );
  });

  test('losing leadership stops writing', async () => {
    const api = new FakeKubeApi();
    seed(api);
    const { w } = writer(api);
    w.setLeader(true);
    await run(w, batch([classEntry]));
    w.setLeader(false);
    api.calls.length = 0;
    await run(w, batch([classEntry, gatewayEntry()]));
    assert.deepEqual(api.calls, []);
  });

  describe('published addresses', () => {
    const loadBalancer = (api: FakeKubeApi) => statusOf(api, ING)['loadBalancer'];

    test('--publish-address: IPs as ip, names as hostname, on Ingresses and Gateways', async () => {
      const api = new FakeKubeApi();
      seed(api);
      const publish: PublishConfig = {
        kind: 'addresses',
        addresses: [{ ip: '203.0.113.7' }, { hostname: 'lb.example.com' }],
      };
      const { w } = writer(api, { publish });
      w.setLeader(true);
      await run(w, batch([gatewayEntry()], [{ namespace: 'apps', name: 'site' }]));
      assert.deepEqual(loadBalancer(api), { ingress: [{ ip: '203.0.113.7' }, { hostname: 'lb.example.com' }] });
      assert.deepEqual(statusOf(api, GW)['addresses'], [
        { type: 'IPAddress', value: '203.0.113.7' },
        { type: 'Hostname', value: 'lb.example.com' },
      ]);
      api.calls.length = 0;
      await run(w, batch([gatewayEntry()], [{ namespace: 'apps', name: 'site' }]));
      assert.deepEqual(api.calls, [], 'written only when changed');
    });

    test('--publish-service: the Service load balancer, read when writing and re-checked every 30 s', async () => {
      const api = new FakeKubeApi();
      seed(api);
      api.put(SVC, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'gatehouse', namespace: 'gatehouse' },
        spec: { type: 'LoadBalancer' },
        status: { loadBalancer: {} },
      });
      const { w } = writer(api, { publish: { kind: 'service', namespace: 'gatehouse', name: 'gatehouse' } });
      w.setLeader(true);
      await run(w, batch([], [{ namespace: 'apps', name: 'site' }]));
      assert.deepEqual(loadBalancer(api), {}, 'no address yet');
      // The cloud provisions the load balancer.
      const svc = api.get(SVC)!;
      api.put(SVC, { ...svc, status: { loadBalancer: { ingress: [{ ip: '198.51.100.4', ipMode: 'VIP' }] } } });
      api.calls.length = 0;
      mock.timers.tick(30_000);
      await flush();
      await w.settled();
      assert.deepEqual(loadBalancer(api), { ingress: [{ ip: '198.51.100.4' }] });
      assert.deepEqual(
        api.calls.map((c) => `${c.method} ${c.path}`),
        [`GET ${SVC}`, `GET ${ING}`, `PUT ${ING}/status`],
      );
      // Unchanged Service: one GET per period and nothing else.
      api.calls.length = 0;
      mock.timers.tick(30_000);
      await flush();
      await w.settled();
      assert.deepEqual(
        api.calls.map((c) => `${c.method} ${c.path}`),
        [`GET ${SVC}`],
      );
    });

    test('--publish-service naming a missing Service: Ingress status is not written', async () => {
      const api = new FakeKubeApi();
      seed(api);
      const { w } = writer(api, { publish: { kind: 'service', namespace: 'gatehouse', name: 'gatehouse' } });
      w.setLeader(true);
      await run(w, batch([], [{ namespace: 'apps', name: 'site' }]));
      assert.deepEqual(api.writes(), []);
    });

    test('neither flag: Ingress status is not written (and that is logged once)', async () => {
      const api = new FakeKubeApi();
      seed(api);
      const logged: string[] = [];
      const log = (_: object, m: string) => logged.push(m);
      const { w } = writer(api, { logger: { debug: log, info: log, warn: log, error: log } });
      w.setLeader(true);
      await run(w, batch([], [{ namespace: 'apps', name: 'site' }]));
      await run(w, batch([classEntry], [{ namespace: 'apps', name: 'site' }]));
      assert.deepEqual(
        api.writes().map((c) => c.path),
        [`${CLASS}/status`],
      );
      assert.equal(logged.filter((m) => m.startsWith('Ingress status is not written')).length, 1);
    });
  });
});
