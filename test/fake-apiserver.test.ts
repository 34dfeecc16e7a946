// The fake Kubernetes API server used by the Kubernetes-mode end-to-end tests, checked against the API's real
// behaviour: discovery and CRD groups, resourceVersions, paginated lists, selectors, watches (resume, bookmarks,
// timeouts, 410 Expired, selector transitions), optimistic concurrency, status subresources, patches, Leases,
// and the test controls (drop, pause, stop and start again).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FakeApiServer, GATEWAY_GROUP, type KObject, startFakeApiServer } from './helpers/fake-apiserver.ts';

const TOKEN = 'fake-token';

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly json: KObject;
}

async function call(
  fake: FakeApiServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'user-agent': 'fake-test/1.0',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: KObject = {};
  try {
    json = JSON.parse(text) as KObject;
  } catch {
    // not JSON
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

interface WatchEvent {
  readonly type: string;
  readonly object: KObject;
}

interface OpenWatch {
  readonly status: number;
  readonly events: WatchEvent[];
  /** 'end' when the server finished the chunked stream, 'aborted' when the connection was cut. */
  readonly done: Promise<'end' | 'aborted'>;
  waitFor(n: number, timeoutMs?: number): Promise<WatchEvent[]>;
  close(): void;
}

function watch(fake: FakeApiServer, path: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const events: WatchEvent[] = [];
    let buffered = '';
    let settle: (v: 'end' | 'aborted') => void = () => {};
    const done = new Promise<'end' | 'aborted'>((r) => {
      settle = r;
    });
    const req = request(
      `${fake.url}${path}`,
      { headers: { authorization: `Bearer ${TOKEN}`, 'user-agent': 'fake-test-watch/1.0' }, agent: false },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl = buffered.indexOf('\n');
          while (nl >= 0) {
            events.push(JSON.parse(buffered.slice(0, nl)) as WatchEvent);
            buffered = buffered.slice(nl + 1);
            nl = buffered.indexOf('\n');
          }
        });
        res.on('end', () => settle('end'));
        res.on('aborted', () => settle('aborted'));
        res.on('error', () => settle('aborted'));
        resolve({
          status: res.statusCode ?? 0,
          events,
          done,
          async waitFor(n, timeoutMs = 3_000) {
            const end = Date.now() + timeoutMs;
            while (events.length < n) {
              if (Date.now() > end)
                throw new Error(`expected ${n} watch events, got ${events.length}: ${JSON.stringify(events)}`);
              await sleep(10);
            }
            return events;
          },
          close() {
            req.destroy();
          },
        });
      },
    );
    req.on('error', (err) => {
      settle('aborted');
      reject(err);
    });
    req.end();
  });
}

const svc = (name: string, ns = 'default', labels: Record<string, string> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns, labels },
  spec: { clusterIP: '127.0.140.1', ports: [{ name: 'http', port: 80 }] },
});

const route = (name: string, extra: KObject = {}): KObject => ({
  apiVersion: `${GATEWAY_GROUP}/v1`,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'default' },
  spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }], ...extra },
});

const md = (o: KObject): KObject => o['metadata'] as KObject;
const rvOf = (o: KObject): number => Number(md(o)['resourceVersion']);

describe('fake API server', () => {
  let fake: FakeApiServer;
  before(async () => {
    fake = await startFakeApiServer({ bookmarkIntervalMs: 200, notInstalled: [GATEWAY_GROUP] });
  });
  after(async () => {
    await fake.stop();
  });

  test('a bearer token is required; requests are recorded with user and User-Agent', async () => {
    const res = await fetch(`${fake.url}/api/v1/services`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as KObject)['reason'], 'Unauthorized');
    assert.equal(
      (await call(fake, 'GET', '/api/v1/services', undefined, { authorization: 'Bearer nope' })).status,
      401,
    );
    const ok = await call(fake, 'GET', '/api/v1/services');
    assert.equal(ok.status, 200);
    const last = fake.requests.at(-1);
    assert.equal(last?.user, 'admin');
    assert.equal(last?.userAgent, 'fake-test/1.0');
    assert.equal(last?.verb, 'list');
    assert.equal(last?.resource, 'services');
  });

  test('discovery; a CRD group that is not installed answers 404 until installed', async () => {
    const core = await call(fake, 'GET', '/api/v1');
    assert.equal(core.json['kind'], 'APIResourceList');
    const groups = (await call(fake, 'GET', '/apis')).json['groups'] as { name: string }[];
    assert.ok(groups.some((g) => g.name === 'networking.k8s.io'));
    assert.ok(!groups.some((g) => g.name === GATEWAY_GROUP));
    const missing = await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1/httproutes`);
    assert.equal(missing.status, 404);
    assert.match(missing.contentType, /text\/plain/);
    assert.equal((await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1`)).status, 404);
    // A known group/version without that resource: a JSON Status.
    const unknown = await call(fake, 'GET', '/apis/networking.k8s.io/v1/nothings');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json['kind'], 'Status');

    fake.installGroup(GATEWAY_GROUP);
    const gv = await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1`);
    const names = (gv.json['resources'] as { name: string }[]).map((r) => r.name);
    assert.ok(names.includes('httproutes') && names.includes('httproutes/status') && names.includes('gateways'));
    const group = await call(fake, 'GET', `/apis/${GATEWAY_GROUP}`);
    assert.deepEqual(group.json['preferredVersion'], { groupVersion: `${GATEWAY_GROUP}/v1`, version: 'v1' });
    assert.equal((await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1/httproutes`)).status, 200);
    const crds = await call(fake, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
    const crdNames = (crds.json['items'] as KObject[]).map((i) => md(i)['name']);
    assert.ok(crdNames.includes(`httproutes.${GATEWAY_GROUP}`));
  });

  test('create stamps uid, creationTimestamp, resourceVersion and generation; conflicts and missing namespaces', async () => {
    const created = await call(fake, 'POST', `/apis/${GATEWAY_GROUP}/v1/namespaces/default/httproutes`, route('r1'));
    assert.equal(created.status, 201);
    const m = md(created.json);
    assert.match(String(m['uid']), /^[0-9a-f-]{36}$/);
    assert.match(String(m['creationTimestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(m['generation'], 1);
    assert.equal(rvOf(created.json), Number(fake.resourceVersion));
    const again = await call(fake, 'POST', `/apis/${GATEWAY_GROUP}/v1/namespaces/default/httproutes`, route('r1'));
    assert.equal(again.status, 409);
    assert.equal(again.json['reason'], 'AlreadyExists');
    const noNs = await call(fake, 'POST', '/api/v1/namespaces/nowhere/services', svc('x', 'nowhere'));
    assert.equal(noNs.status, 404);
    const wrongNs = await call(fake, 'POST', '/api/v1/namespaces/default/services', svc('x', 'kube-system'));
    assert.equal(wrongNs.status, 400);
  });

  test('lists: built-in items carry no kind/apiVersion, custom resources do; selectors', async () => {
    fake.create(svc('s-a', 'default', { app: 'a', tier: 'web' }));
    fake.create(svc('s-b', 'default', { app: 'b' }));
    fake.create(svc('s-c', 'kube-system', { app: 'a' }));
    const all = await call(fake, 'GET', '/api/v1/services');
    assert.equal(all.json['kind'], 'ServiceList');
    assert.equal(all.json['apiVersion'], 'v1');
    const items = all.json['items'] as KObject[];
    assert.deepEqual(
      items.map((i) => `${md(i)['namespace']}/${md(i)['name']}`),
      ['default/s-a', 'default/s-b', 'kube-system/s-c'],
    );
    assert.equal(items[0]?.['kind'], undefined);
    assert.equal(items[0]?.['apiVersion'], undefined);
    assert.equal(String((all.json['metadata'] as KObject)['resourceVersion']), fake.resourceVersion);
    const routes = await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1/httproutes`);
    assert.equal((routes.json['items'] as KObject[])[0]?.['kind'], 'HTTPRoute');
    const v1beta1 = await call(fake, 'GET', `/apis/${GATEWAY_GROUP}/v1beta1/namespaces/default/httproutes/r1`);
    assert.equal(v1beta1.json['apiVersion'], `${GATEWAY_GROUP}/v1beta1`);

    const names = async (q: string): Promise<string[]> =>
      ((await call(fake, 'GET', `/api/v1/${q}`)).json['items'] as KObject[]).map((i) => String(md(i)['name']));
    assert.deepEqual(await names('namespaces/default/services'), ['s-a', 's-b']);
    assert.deepEqual(await names('services?labelSelector=app%3Da'), ['s-a', 's-c']);
    assert.deepEqual(await names('services?labelSelector=app%3Da,tier'), ['s-a']);
    assert.deepEqual(await names('services?labelSelector=app%20in%20(a,b),!tier'), ['s-b', 's-c']);
    assert.deepEqual(await names('services?labelSelector=app!%3Da'), ['s-b']);
    assert.deepEqual(await names('namespaces/default/services?fieldSelector=metadata.name%3Ds-b'), ['s-b']);
    assert.equal((await call(fake, 'GET', '/api/v1/services?fieldSelector=spec.foo%3Dx')).status, 400);
  });

  test('pagination: limit/continue is a consistent snapshot; an expired continue token answers 410', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) fake.create(svc(n, 'kube-public'));
    const first = await call(fake, 'GET', '/api/v1/namespaces/kube-public/services?limit=2');
    const fm = first.json['metadata'] as KObject;
    assert.deepEqual(
      (first.json['items'] as KObject[]).map((i) => md(i)['name']),
      ['p1', 'p2'],
    );
    assert.equal(fm['remainingItemCount'], 3);
    // Changes after the first page are not seen by the rest of that list.
    fake.delete(svc('p3', 'kube-public'));
    fake.create(svc('p6', 'kube-public'));
    const names: unknown[] = [];
    let cont = String(fm['continue']);
    while (cont !== '') {
      const page = await call(fake, 'GET', `/api/v1/namespaces/kube-public/services?limit=2&continue=${cont}`);
      assert.equal(page.status, 200);
      assert.equal((page.json['metadata'] as KObject)['resourceVersion'], fm['resourceVersion']);
      names.push(...(page.json['items'] as KObject[]).map((i) => md(i)['name']));
      cont = String((page.json['metadata'] as KObject)['continue'] ?? '');
    }
    assert.deepEqual(names, ['p3', 'p4', 'p5']);
    const again = await call(fake, 'GET', '/api/v1/namespaces/kube-public/services?limit=2');
    fake.create(svc('p7', 'kube-public'));
    fake.compact();
    const token = String((again.json['metadata'] as KObject)['continue']);
    const expired = await call(fake, 'GET', `/api/v1/namespaces/kube-public/services?limit=2&continue=${token}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.json['reason'], 'Expired');
  });

  test('watch from a resourceVersion replays what came after it, then streams; objects carry kind/apiVersion', async () => {
    const list = await call(fake, 'GET', '/api/v1/namespaces/default/services');
    const rv = String((list.json['metadata'] as KObject)['resourceVersion']);
    fake.create(svc('w1'));
    const w = await watch(fake, `/api/v1/namespaces/default/services?watch=1&resourceVersion=${rv}`);
    assert.equal(w.status, 200);
    fake.apply({ ...svc('w1'), spec: { clusterIP: '127.0.140.2', ports: [{ name: 'http', port: 81 }] } });
    fake.delete(svc('w1'));
    fake.create(svc('elsewhere', 'kube-system'));
    const events = await w.waitFor(3);
    assert.deepEqual(
      events.map((e) => `${e.type} ${md(e.object)['name']}`),
      ['ADDED w1', 'MODIFIED w1', 'DELETED w1'],
    );
    assert.equal(events[0]?.object['kind'], 'Service');
    assert.equal(events[0]?.object['apiVersion'], 'v1');
    const rvs = events.map((e) => rvOf(e.object));
    assert.ok(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, JSON.stringify(rvs));
    await sleep(100);
    assert.equal(w.events.length, 3, 'no event of another namespace');
    w.close();
  });

  test('watch without a resourceVersion starts with ADDED for what exists; label selector transitions', async () => {
    const w = await watch(fake, '/api/v1/services?watch=true&labelSelector=app%3Da');
    const initial = await w.waitFor(2);
    assert.deepEqual(
      initial.map((e) => `${e.type} ${md(e.object)['name']}`),
      ['ADDED s-a', 'ADDED s-c'],
    );
    fake.apply(svc('s-b', 'default', { app: 'a' }));
    fake.apply(svc('s-a', 'default', { app: 'z' }));
    const events = await w.waitFor(4);
    assert.deepEqual(
      events.slice(2).map((e) => `${e.type} ${md(e.object)['name']}`),
      ['ADDED s-b', 'DELETED s-a'],
    );
    w.close();
  });

  test('bookmarks carry only the resourceVersion; timeoutSeconds ends the stream cleanly', async () => {
    const w = await watch(
      fake,
      `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    const [bookmark] = await w.waitFor(1, 2_000);
    assert.equal(bookmark?.type, 'BOOKMARK');
    assert.equal(bookmark?.object['kind'], 'Service');
    assert.deepEqual(Object.keys(md(bookmark?.object ?? {})), ['resourceVersion']);
    assert.equal(md(bookmark?.object ?? {})['resourceVersion'], fake.resourceVersion);
    assert.equal(await w.done, 'end');
  });

  test('sendInitialEvents: ADDED for each object, then a BOOKMARK marking the end of the initial events', async () => {
    const w = await watch(
      fake,
      '/api/v1/namespaces/default/services?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=&allowWatchBookmarks=true',
    );
    const events = await w.waitFor(3);
    assert.deepEqual(
      events.map((e) => e.type),
      ['ADDED', 'ADDED', 'BOOKMARK'],
    );
    assert.deepEqual((md(events[2]!.object)['annotations'] as KObject)['k8s.io/initial-events-end'], 'true');
    w.close();
  });

  test('410: a watch from a compacted resourceVersion gets 200 and one ERROR Expired event; expireWatches()', async () => {
    const old = Number(fake.resourceVersion);
    fake.create(svc('c1'));
    fake.compact();
    const w = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${old}`);
    assert.equal(w.status, 200);
    const [ev] = await w.waitFor(1);
    assert.equal(ev?.type, 'ERROR');
    assert.equal(ev?.object['kind'], 'Status');
    assert.equal(ev?.object['code'], 410);
    assert.equal(ev?.object['reason'], 'Expired');
    assert.equal(await w.done, 'end');

    const open = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}`);
    await sleep(50);
    assert.equal(fake.expireWatches(), 1);
    const [err] = await open.waitFor(1);
    assert.equal(err?.object['code'], 410);
    assert.equal(await open.done, 'end');
  });

  test('dropWatches cuts the stream; pauseEvents holds events back until resumeEvents', async () => {
    const a = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}`);
    await sleep(50);
    assert.equal(fake.watchCount('services'), 1);
    assert.equal(fake.dropWatches(), 1);
    assert.equal(await a.done, 'aborted');
    assert.equal(fake.watchCount(), 0);

    const b = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}`);
    fake.pauseEvents();
    fake.create(svc('paused'));
    await sleep(200);
    assert.equal(b.events.length, 0);
    fake.resumeEvents();
    const [ev] = await b.waitFor(1);
    assert.equal(`${ev?.type} ${md(ev?.object ?? {})['name']}`, 'ADDED paused');
    b.close();
  });

  test('PUT: stale resourceVersion → 409 Conflict; custom resources need a resourceVersion; no-op writes', async () => {
    const path = `/apis/${GATEWAY_GROUP}/v1/namespaces/default/httproutes/r1`;
    const current = (await call(fake, 'GET', path)).json;
    const changed = structuredClone(current);
    (changed['spec'] as KObject)['hostnames'] = ['a.test'];
    const ok = await call(fake, 'PUT', path, changed);
    assert.equal(ok.status, 200);
    assert.equal(md(ok.json)['generation'], 2);
    const stale = await call(fake, 'PUT', path, changed);
    assert.equal(stale.status, 409);
    assert.equal(stale.json['reason'], 'Conflict');
    const noRv = structuredClone(ok.json);
    delete md(noRv)['resourceVersion'];
    assert.equal((await call(fake, 'PUT', path, noRv)).status, 422);
    // The same object again: nothing changes, not even the resourceVersion.
    const same = await call(fake, 'PUT', path, ok.json);
    assert.equal(same.status, 200);
    assert.equal(md(same.json)['resourceVersion'], md(ok.json)['resourceVersion']);
    // Built-ins accept an unconditional update.
    const s = structuredClone(fake.get('v1', 'Service', 'default', 's-b')!);
    delete md(s)['resourceVersion'];
    (s['spec'] as KObject)['clusterIP'] = '127.0.140.9';
    assert.equal((await call(fake, 'PUT', '/api/v1/namespaces/default/services/s-b', s)).status, 200);
  });

  test('/status: only the status changes (no generation bump); the main resource keeps the old status', async () => {
    const path = `/apis/${GATEWAY_GROUP}/v1/namespaces/default/httproutes/r1`;
    const current = (await call(fake, 'GET', path)).json;
    const cond = {
      type: 'Accepted',
      status: 'True',
      reason: 'Accepted',
      message: '',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const withStatus = {
      ...structuredClone(current),
      spec: { sneaky: true },
      status: {
        parents: [
          { parentRef: { name: 'gw' }, controllerName: 'gatehouse.dev/gateway-controller', conditions: [cond] },
        ],
      },
    };
    const res = await call(fake, 'PUT', `${path}/status`, withStatus);
    assert.equal(res.status, 200, res.text);
    assert.equal(md(res.json)['generation'], 2);
    assert.equal((res.json['spec'] as KObject)['sneaky'], undefined);
    assert.equal(((res.json['status'] as KObject)['parents'] as unknown[]).length, 1);
    const main = { ...structuredClone(res.json), status: { parents: [] } };
    const mainRes = await call(fake, 'PUT', path, main);
    assert.equal(((mainRes.json['status'] as KObject)['parents'] as unknown[]).length, 1);
    // Invalid status (a condition without lastTransitionTime) → 422.
    const bad = await call(
      fake,
      'PATCH',
      `${path}/status`,
      {
        status: {
          parents: [
            {
              parentRef: { name: 'gw' },
              controllerName: 'gatehouse.dev/x',
              conditions: [{ ...cond, lastTransitionTime: undefined }],
            },
          ],
        },
      },
      { 'content-type': 'application/merge-patch+json' },
    );
    assert.equal(bad.status, 422, bad.text);
    const writes = fake.writes({ resource: 'httproutes', subresource: 'status' });
    assert.ok(writes.length >= 2);
    assert.equal(writes[0]?.user, 'admin');
  });

  test('PATCH: merge patch, JSON patch, strategic merge refused on custom resources, resourceVersion precondition', async () => {
    const path = '/api/v1/namespaces/default/services/s-b';
    const merged = await call(
      fake,
      'PATCH',
      path,
      { metadata: { labels: { extra: 'x' } } },
      {
        'content-type': 'application/merge-patch+json',
      },
    );
    assert.equal(merged.status, 200);
    assert.equal((md(merged.json)['labels'] as KObject)['extra'], 'x');
    const jp = await call(fake, 'PATCH', path, [{ op: 'remove', path: '/metadata/labels/extra' }], {
      'content-type': 'application/json-patch+json',
    });
    assert.equal((md(jp.json)['labels'] as KObject)['extra'], undefined);
    const smp = await call(
      fake,
      'PATCH',
      `/apis/${GATEWAY_GROUP}/v1/namespaces/default/httproutes/r1`,
      { spec: {} },
      {
        'content-type': 'application/strategic-merge-patch+json',
      },
    );
    assert.equal(smp.status, 415);
    const stale = await call(
      fake,
      'PATCH',
      path,
      { metadata: { resourceVersion: '1', labels: { y: 'y' } } },
      {
        'content-type': 'application/merge-patch+json',
      },
    );
    assert.equal(stale.status, 409);
  });

  test('Leases: MicroTime with six fractional digits; optimistic concurrency decides between two writers', async () => {
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gatehouse' } });
    const lease = (holder: string, time: string): KObject => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'leader', namespace: 'gatehouse' },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: time, renewTime: time },
    });
    const base = '/apis/coordination.k8s.io/v1/namespaces/gatehouse/leases';
    const ms = await call(fake, 'POST', base, lease('a', '2026-01-01T00:00:00.123Z'));
    assert.equal(ms.status, 400, 'milliseconds are not a MicroTime');
    const created = await call(fake, 'POST', base, lease('a', '2026-01-01T00:00:00.123456Z'));
    assert.equal(created.status, 201);
    const takeA = { ...lease('a', '2026-01-01T00:00:01.000000Z'), metadata: md(created.json) };
    const takeB = { ...lease('b', '2026-01-01T00:00:01.000000Z'), metadata: md(created.json) };
    assert.equal((await call(fake, 'PUT', `${base}/leader`, takeA)).status, 200);
    assert.equal((await call(fake, 'PUT', `${base}/leader`, takeB)).status, 409);
    const stored = fake.get('coordination.k8s.io/v1', 'Lease', 'gatehouse', 'leader');
    assert.ok(stored);
    assert.equal((stored['spec'] as KObject)['holderIdentity'], 'a');
  });

  test('endWatches ends streams cleanly; intercept refuses requests with a Status (429 + Retry-After)', async () => {
    const w = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}`);
    await sleep(50);
    assert.equal(fake.endWatches(), 1);
    assert.equal(await w.done, 'end');
    fake.intercept = (r) =>
      r.verb === 'list' ? { code: 429, reason: 'TooManyRequests', message: 'slow down', retryAfterSeconds: 1 } : null;
    try {
      const res = await fetch(`${fake.url}/api/v1/services`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(((await res.json()) as KObject)['reason'], 'TooManyRequests');
    } finally {
      fake.intercept = null;
    }
  });

  test('server-side apply needs a fieldManager; it creates a missing object; managedFields name the manager', async () => {
    const path = '/api/v1/namespaces/default/configmaps/applied';
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { a: '1' } };
    const headers = { 'content-type': 'application/apply-patch+yaml' };
    assert.equal((await call(fake, 'PATCH', path, body, headers)).status, 422);
    const created = await call(fake, 'PATCH', `${path}?fieldManager=tester`, body, headers);
    assert.equal(created.status, 201);
    const managers = (md(created.json)['managedFields'] as KObject[]).map((m) => m['manager']);
    assert.ok(managers.includes('tester'), JSON.stringify(managers));
  });

  test('stop() cuts everything and refuses connections; start() serves the same state on the same port', async () => {
    const port = fake.port;
    const w = await watch(fake, `/api/v1/services?watch=1&resourceVersion=${fake.resourceVersion}`);
    await fake.stop();
    assert.equal(await w.done, 'aborted');
    await assert.rejects(fetch(`${fake.url}/api/v1/services`));
    await fake.start();
    assert.equal(fake.port, port);
    const list = await call(fake, 'GET', '/api/v1/namespaces/default/services');
    assert.ok((list.json['items'] as KObject[]).length >= 2);
  });
});
