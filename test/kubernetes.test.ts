// `gatehouse serve --kubernetes` end to end, against the fake API server of test/helpers/fake-apiserver.ts: real
// gatehouse processes reading Services, EndpointSlices, Ingresses, Secrets and Gateway API objects through
// list/watch, real echo backends on 127.0.140.x, real requests. Live changes, broken and expired watches, a CRD
// group installed late, the API server going away, status write-back through /status, and leader election
// between two replicas (told apart in the request log by their bearer tokens).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { startEcho } from '../src/cli/echo.ts';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import {
  type ApiRequest,
  type FakeApiServer,
  GATEWAY_GROUP,
  type KObject,
  startFakeApiServer,
} from './helpers/fake-apiserver.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import {
  gateway,
  gatewayClass,
  httpRoute,
  ingress,
  ingressClass,
  type Manifest,
  namespace,
  service,
  tlsSecret,
} from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const CONTROLLER = 'gatehouse.dev/gateway-controller';
const OTHER_CONTROLLER = 'example.com/other-controller';
const PUBLISH = '203.0.113.10';
const BACKENDS = ['web', 'api', 'v1', 'v2', 'tls-echo', 'extra'].map((name, i) => ({ name, ip: `127.0.140.${i + 1}` }));
const CA = issueCertificate({ commonName: 'gatehouse kubernetes test CA', isCA: true });
const leaf = (commonName: string, host: string): IssuedCertificate =>
  issueCertificate({ commonName, dnsNames: [host], issuer: CA });
const CERT1 = leaf('secure 1', 'secure.k8s.test');
const CERT2 = leaf('secure 2', 'secure.k8s.test');

const closers: { close(): Promise<void> }[] = [];
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-k8s-'));
  for (const b of BACKENDS) closers.push(await startEcho({ name: b.name, listen: `${b.ip}:8080` }));
});

after(async () => {
  await Promise.all(closers.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Services (cluster IP = the echo's address) with their EndpointSlices, the classes, gatehouse's namespace. */
function basics(): Manifest[] {
  return [
    namespace('gatehouse'),
    ingressClass(),
    ...BACKENDS.flatMap((b) =>
      service({ name: b.name, clusterIP: b.ip, port: 8080, targetPort: 8080, endpoints: [{ ip: b.ip }] }),
    ),
  ];
}

const route = (host: string, svc: string, name = host.split('.')[0] ?? host): Manifest =>
  ingress({ name, rules: [{ host, paths: [{ path: '/', service: svc, port: 8080 }] }] });

let kubeconfigs = 0;
async function startFor(
  fake: FakeApiServer,
  options: { token?: string; podName?: string; args?: readonly string[]; readyTimeoutMs?: number } = {},
): Promise<GatehouseProcess> {
  const file = join(dir, `kubeconfig-${++kubeconfigs}.yaml`);
  fake.writeKubeconfig(file, options.token === undefined ? {} : { token: options.token });
  return startGatehouse({
    args: ['--kubernetes', '--kubeconfig', file, '--access-log', 'off', ...(options.args ?? [])],
    env: { POD_NAME: options.podName ?? 'gatehouse-test-0', POD_NAMESPACE: 'gatehouse' },
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
  });
}

/** Which echo answered host+path on port (its name), or the status code as text. */
async function answer(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<string> {
  try {
    const res = await httpRequest({ host: '127.0.0.1', port, path, headers: { host, ...headers }, timeoutMs: 5_000 });
    if (res.status !== 200) return String(res.status);
    return String((JSON.parse(res.body.toString('utf8')) as { service?: string }).service);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/** Polls until check() returns true; fails with the last value describe() gives. */
async function eventually(
  label: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
  describe?: () => Promise<string> | string,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs)
      assert.fail(`${label}: not true within ${timeoutMs} ms${describe ? `; last: ${await describe()}` : ''}`);
    await sleep(50);
  }
}

async function routesTo(port: number, host: string, expected: string, timeoutMs: number, path = '/'): Promise<number> {
  let last = '';
  return eventually(
    `${host}${path} → ${expected}`,
    timeoutMs,
    async () => {
      last = await answer(port, host, path);
      return last === expected;
    },
    () => last,
  );
}

/** Waits until host is answered by v1 or v2 (the weighted split). */
async function servesSplit(port: number, host: string, timeoutMs: number): Promise<void> {
  let last = '';
  await eventually(
    `${host} → v1|v2`,
    timeoutMs,
    async () => {
      last = await answer(port, host);
      return last === 'v1' || last === 'v2';
    },
    () => last,
  );
}

/** The certificate CN served for an SNI name, and the echo that answered. */
function tlsGet(port: number, servername: string): Promise<{ cn: string; service: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername,
        path: '/',
        headers: { host: servername },
        ca: CA.certPem,
        agent: false,
        timeout: 5_000,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let service = String(res.statusCode);
          try {
            service = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { service: string }).service);
          } catch {
            // not an echo answer
          }
          resolve({ cn: String(cert.subject?.CN ?? ''), service });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const STATUS_VERBS = new Set(['update', 'patch']);
const isStatusWriteAttempt = (r: ApiRequest): boolean => r.subresource === 'status' && STATUS_VERBS.has(r.verb);
/** A status write the server took (2xx). */
const isStatusWrite = (r: ApiRequest): boolean => isStatusWriteAttempt(r) && r.status >= 200 && r.status < 300;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

const conditionKey = (c: Condition): string => `${c.type}=${c.status}/${c.reason}`;
const md = (o: KObject | undefined): KObject => (o?.['metadata'] ?? {}) as KObject;
const statusOf = (o: KObject | undefined): KObject => (o?.['status'] ?? {}) as KObject;

describe('routing from the Kubernetes API', () => {
  let fake: FakeApiServer;
  let gh: GatehouseProcess;
  let gwPort = 0;

  before(async () => {
    gwPort = await freeTcpPort();
    fake = await startFakeApiServer({ bookmarkIntervalMs: 500 });
    fake.applyAll([
      ...basics(),
      gatewayClass(),
      ingress({
        name: 'site',
        rules: [
          {
            host: 'site.k8s.test',
            paths: [
              { path: '/', service: 'web', port: 8080 },
              { path: '/api', service: 'api', port: 8080 },
            ],
          },
        ],
      }),
      tlsSecret('secure-cert', CERT1.certPem, CERT1.keyPem),
      ingress({
        name: 'secure',
        tls: [{ hosts: ['secure.k8s.test'], secretName: 'secure-cert' }],
        rules: [{ host: 'secure.k8s.test', paths: [{ path: '/', service: 'tls-echo', port: 8080 }] }],
      }),
      gateway('gw', [{ name: 'http', port: gwPort }]),
      httpRoute('split', {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['split.k8s.test'],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'X-Canary', value: 'yes' }] }],
            backendRefs: [{ name: 'v2', port: 8080 }],
          },
          {
            backendRefs: [
              { name: 'v1', port: 8080, weight: 80 },
              { name: 'v2', port: 8080, weight: 20 },
            ],
          },
        ],
      }),
      route('d1.k8s.test', 'web'),
      route('d3.k8s.test', 'web'),
      route('e1.k8s.test', 'web'),
      route('e2.k8s.test', 'web'),
    ]);
    gh = await startFor(fake);
  });

  after(async () => {
    if (gh !== undefined) assert.equal(await gh.stop(), 0);
    await fake?.stop();
  });

  test('Ingress host and path rules route as from a manifest folder', async () => {
    await routesTo(gh.httpPort, 'site.k8s.test', 'web', 5_000);
    assert.equal(await answer(gh.httpPort, 'site.k8s.test', '/api/users'), 'api');
    assert.equal(await answer(gh.httpPort, 'site.k8s.test', '/apix'), 'web');
    assert.equal(await answer(gh.httpPort, 'nothing.k8s.test', '/'), '404');
  });

  test('a TLS Ingress serves the certificate from its Secret', async () => {
    const got = await tlsGet(gh.httpsPort, 'secure.k8s.test');
    assert.deepEqual(got, { cn: 'secure 1', service: 'tls-echo' });
  });

  test('an HTTPRoute with a header match and an 80/20 weighted split', async () => {
    const port = gwPort;
    await servesSplit(port, 'split.k8s.test', 10_000);
    for (let i = 0; i < 5; i++) assert.equal(await answer(port, 'split.k8s.test', '/', { 'x-canary': 'yes' }), 'v2');
    const counts = new Map<string, number>();
    const n = 300;
    for (let i = 0; i < n; i += 30) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => answer(port, 'split.k8s.test', '/')));
      for (const s of batch) counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    const v1 = counts.get('v1') ?? 0;
    const v2 = counts.get('v2') ?? 0;
    assert.equal(v1 + v2, n, JSON.stringify([...counts]));
    // binomial n=300, p=0.8: sd ≈ 6.9; ±7 sd
    assert.ok(Math.abs(v1 - 0.8 * n) < 49, JSON.stringify([...counts]));
  });

  test('live changes: an Ingress created, changed and deleted in the API is followed within 5 s', async () => {
    fake.apply(route('late.k8s.test', 'extra'));
    await routesTo(gh.httpPort, 'late.k8s.test', 'extra', 5_000);
    fake.apply(route('late.k8s.test', 'api'));
    await routesTo(gh.httpPort, 'late.k8s.test', 'api', 5_000);
    fake.delete(route('late.k8s.test', 'api'));
    await routesTo(gh.httpPort, 'late.k8s.test', '404', 5_000);
    // An HTTPRoute rule changed in place.
    const split = fake.get(`${GATEWAY_GROUP}/v1`, 'HTTPRoute', 'default', 'split');
    assert.ok(split);
    fake.apply({ ...split, spec: { ...(split['spec'] as KObject), hostnames: ['split2.k8s.test'] } });
    await servesSplit(gwPort, 'split2.k8s.test', 5_000);
    await routesTo(gwPort, 'split.k8s.test', '404', 5_000);
    fake.apply(split);
    await servesSplit(gwPort, 'split.k8s.test', 5_000);
    await routesTo(gwPort, 'split2.k8s.test', '404', 5_000);
  });

  test('a rotated Secret is served within 5 s', async () => {
    fake.apply(tlsSecret('secure-cert', CERT2.certPem, CERT2.keyPem));
    let last = '';
    await eventually(
      'rotated certificate',
      5_000,
      async () => {
        last = (await tlsGet(gh.httpsPort, 'secure.k8s.test')).cn;
        return last === 'secure 2';
      },
      () => last,
    );
  });

  test('watches cut mid-stream: changes made while disconnected all arrive (change, create, delete)', async (t) => {
    await eventually('watches open', 10_000, () => fake.watchCount('ingresses') > 0);
    const mark = fake.requests.length;
    // Synchronously: nothing can reconnect before all three changes are stored.
    assert.ok(fake.dropWatches() > 0);
    fake.apply(route('d1.k8s.test', 'api'));
    fake.apply(route('d2.k8s.test', 'web'));
    fake.delete(route('d3.k8s.test', 'web'));
    await routesTo(gh.httpPort, 'd1.k8s.test', 'api', 10_000);
    await routesTo(gh.httpPort, 'd2.k8s.test', 'web', 10_000);
    await routesTo(gh.httpPort, 'd3.k8s.test', '404', 10_000);
    await eventually('watches re-established', 10_000, () => fake.watchCount('ingresses') > 0);
    const since = fake.requests.slice(mark).filter((r) => r.resource === 'ingresses');
    assert.ok(since.some((r) => r.verb === 'watch'));
    t.diagnostic(
      `ingresses after the drop: ${since.map((r) => `${r.verb}(rv=${r.query['resourceVersion'] ?? '-'})`).join(' ')}`,
    );
  });

  test('410 Expired after a broken watch forces a relist; a deletion made meanwhile is seen', async (t) => {
    await eventually('watches open', 10_000, () => fake.watchCount('ingresses') > 0);
    const mark = fake.requests.length;
    fake.dropWatches();
    fake.apply(route('e1.k8s.test', 'api'));
    fake.delete(route('e2.k8s.test', 'web'));
    fake.apply(route('e3.k8s.test', 'extra'));
    // The history the watches would resume from is gone: resuming gets ERROR 410 Expired.
    fake.compact();
    await routesTo(gh.httpPort, 'e1.k8s.test', 'api', 15_000);
    await routesTo(gh.httpPort, 'e2.k8s.test', '404', 15_000);
    await routesTo(gh.httpPort, 'e3.k8s.test', 'extra', 15_000);
    const since = fake.requests.slice(mark);
    t.diagnostic(
      `ingresses after the drop: ${since
        .filter((r) => r.resource === 'ingresses')
        .map((r) => `${r.verb}(rv=${r.query['resourceVersion'] ?? '-'})→${r.status}`)
        .join(' ')}`,
    );
    assert.ok(
      since.some((r) => r.resource === 'ingresses' && r.verb === 'list'),
      `no relist of ingresses:\n${fake.describeRequests(since)}`,
    );
    // And an expiry announced on open watches (the server's own 410 event) is recovered from the same way.
    await eventually('watches open', 10_000, () => fake.watchCount('ingresses') > 0);
    fake.apply(route('e4.k8s.test', 'web'));
    fake.expireWatches();
    fake.compact();
    fake.apply(route('e4.k8s.test', 'v1'));
    await routesTo(gh.httpPort, 'e4.k8s.test', 'v1', 15_000);
    // Everything else still routes.
    assert.equal(await answer(gh.httpPort, 'site.k8s.test', '/api'), 'api');
    assert.equal(await answer(gh.httpPort, 'd1.k8s.test', '/'), 'api');
  });

  test('watches ended cleanly by the server (as at their timeout) are started again', async () => {
    await eventually('watches open', 10_000, () => fake.watchCount('ingresses') > 0);
    assert.ok(fake.endWatches() > 0);
    fake.apply(route('f1.k8s.test', 'v2'));
    await routesTo(gh.httpPort, 'f1.k8s.test', 'v2', 10_000);
    await eventually('watches re-established', 10_000, () => fake.watchCount('ingresses') > 0);
  });

  test('429 Too Many Requests with Retry-After while reconnecting: retried, nothing lost, still ready', async () => {
    await eventually('watches open', 10_000, () => fake.watchCount('ingresses') > 0);
    const refuseUntil = Date.now() + 2_000;
    let refused = 0;
    fake.intercept = (r) => {
      if (Date.now() > refuseUntil || (r.verb !== 'list' && r.verb !== 'watch')) return null;
      refused++;
      return { code: 429, reason: 'TooManyRequests', message: 'too many requests', retryAfterSeconds: 1 };
    };
    try {
      fake.dropWatches();
      fake.apply(route('g1.k8s.test', 'extra'));
      assert.equal((await gh.admin('/readyz')).status, 200);
      await routesTo(gh.httpPort, 'g1.k8s.test', 'extra', 15_000);
      assert.ok(refused > 0, 'no request was refused: the test did not test anything');
      assert.equal((await gh.admin('/readyz')).status, 200);
      assert.equal(await answer(gh.httpPort, 'site.k8s.test', '/api'), 'api');
    } finally {
      fake.intercept = null;
    }
  });

  test('Secrets are never listed or watched cluster-wide, only by namespace and name', async () => {
    const secrets = fake.requests.filter((r) => r.resource === 'secrets');
    assert.ok(secrets.length > 0, 'Secrets were never read');
    const wide = secrets.filter(
      (r) =>
        r.namespace === null ||
        ((r.verb === 'list' || r.verb === 'watch') &&
          r.name === null &&
          !/(^|,)metadata\.name==?[^,]+/.test(r.query['fieldSelector'] ?? '')),
    );
    assert.deepEqual(fake.describeRequests(wide), '', 'Secret reads not narrowed to one object');
  });

  test('the API server going away: the last config keeps serving, /readyz stays 200; changes flow when it is back', async (t) => {
    await fake.stop();
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      assert.equal(await answer(gh.httpPort, 'site.k8s.test', '/'), 'web');
      assert.equal((await gh.admin('/readyz')).status, 200);
      await sleep(250);
    }
    // Changed while this replica could not see it (another API server replica took the write).
    fake.apply(route('back.k8s.test', 'extra'));
    await fake.start();
    const took = await routesTo(gh.httpPort, 'back.k8s.test', 'extra', 30_000);
    t.diagnostic(`change made while away seen ${took} ms after the API server came back`);
    fake.apply(route('back.k8s.test', 'v2'));
    await routesTo(gh.httpPort, 'back.k8s.test', 'v2', 5_000);
    assert.equal((await gh.admin('/readyz')).status, 200);
    // Watches back off to at most 30 s between attempts; the change must arrive within one such retry.
    assert.ok(took < 30_000, `change seen ${took} ms after the API server came back`);
  });
});

describe('a CRD group installed after the start', () => {
  let fake: FakeApiServer;
  let gh: GatehouseProcess;

  before(async () => {
    fake = await startFakeApiServer({ notInstalled: [GATEWAY_GROUP] });
    fake.applyAll([...basics(), route('crd.k8s.test', 'web')]);
    gh = await startFor(fake);
  });

  after(async () => {
    if (gh !== undefined) assert.equal(await gh.stop(), 0);
    await fake?.stop();
  });

  const gatewayWarnings = (): Record<string, unknown>[] =>
    gh.logs.filter(
      (l) =>
        (l['level'] === 40 || l['level'] === 'warn') &&
        /gateway\.networking\.k8s\.io|Gateway API|HTTPRoute|GatewayClass/i.test(JSON.stringify(l)),
    );

  test('without the Gateway API CRDs: Ingress is served and one warning is logged', async () => {
    await routesTo(gh.httpPort, 'crd.k8s.test', 'web', 5_000);
    await sleep(3_000);
    assert.equal((await gh.admin('/readyz')).status, 200);
    assert.equal(gatewayWarnings().length, 1, JSON.stringify(gatewayWarnings(), null, 1));
  });

  test('CRDs installed later, then a Gateway and an HTTPRoute created: they are picked up', async (t) => {
    const port = await freeTcpPort();
    const warned = gatewayWarnings().length;
    fake.installGroup(GATEWAY_GROUP);
    fake.applyAll([
      gatewayClass(),
      gateway('late', [{ name: 'http', port }]),
      httpRoute('late', { parentRefs: [{ name: 'late' }], rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }] }),
    ]);
    // Discovery is looked at again periodically (gatehouse: every 60 s), so allow a little more than that.
    const took = await routesTo(port, 'any.k8s.test', 'v1', 75_000);
    t.diagnostic(`Gateway API picked up ${took} ms after the CRDs were installed`);
    assert.equal(await answer(gh.httpPort, 'crd.k8s.test', '/'), 'web');
    assert.equal(gatewayWarnings().length, warned, 'warned again after the CRDs were installed');
  });
});

/** Objects for the status tests: a Gateway of ours, one of another controller, routes, an Ingress. */
function statusObjects(gwPort: number): Manifest[] {
  return [
    ...basics(),
    gatewayClass(),
    gatewayClass('other', OTHER_CONTROLLER),
    gateway('gw', [{ name: 'http', port: gwPort }]),
    gateway('other-gw', [{ name: 'http', port: 1 }], 'default', 'other'),
    httpRoute('mine', {
      parentRefs: [{ name: 'gw' }],
      hostnames: ['mine.k8s.test'],
      rules: [{ backendRefs: [{ name: 'web', port: 8080 }] }],
    }),
    httpRoute('shared', {
      parentRefs: [{ name: 'gw' }, { name: 'other-gw' }],
      hostnames: ['shared.k8s.test'],
      rules: [{ backendRefs: [{ name: 'api', port: 8080 }] }],
    }),
    route('status.k8s.test', 'web', 'status-ing'),
  ];
}

const OTHER_ENTRY = {
  parentRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace: 'default', name: 'other-gw' },
  controllerName: OTHER_CONTROLLER,
  conditions: [
    {
      type: 'Accepted',
      status: 'True',
      reason: 'Accepted',
      message: 'accepted by the other controller',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    },
  ],
};

const STATUS_ARGS = ['--publish-address', PUBLISH, '--lease-namespace', 'gatehouse', '--lease-name', 'gatehouse'];

describe('status write-back', () => {
  let fake: FakeApiServer;
  let gh: GatehouseProcess;
  let gwPort = 0;

  before(async () => {
    gwPort = await freeTcpPort();
    fake = await startFakeApiServer();
    fake.applyAll(statusObjects(gwPort));
    fake.setStatus(`${GATEWAY_GROUP}/v1`, 'HTTPRoute', 'default', 'shared', { parents: [OTHER_ENTRY] }, 'other');
    gh = await startFor(fake, { podName: 'gatehouse-status-0', args: STATUS_ARGS });
  });

  after(async () => {
    if (gh !== undefined) assert.equal(await gh.stop(), 0);
    await fake?.stop();
  });

  const get = (kind: string, name: string, apiVersion = `${GATEWAY_GROUP}/v1`): KObject | undefined =>
    fake.get(apiVersion, kind, kind === 'GatewayClass' ? '' : 'default', name);
  const ourParent = (o: KObject | undefined): KObject | undefined =>
    ((statusOf(o)['parents'] ?? []) as KObject[]).find((p) => p['controllerName'] === CONTROLLER);

  test('Gateway and HTTPRoute status is written via /status with the conditions of /api/status', async () => {
    await eventually(
      'status written',
      15_000,
      () =>
        ((statusOf(get('Gateway', 'gw'))['conditions'] ?? []) as Condition[]).some((c) => c.type === 'Programmed') &&
        ourParent(get('HTTPRoute', 'mine')) !== undefined,
      () => fake.describeRequests(fake.writes()),
    );
    const api = JSON.parse((await gh.admin('/api/status')).body) as {
      kind: string;
      namespace?: string;
      name: string;
      conditions: Condition[];
    }[];
    const fromAdmin = (kind: string, name: string): string[] =>
      (api.find((s) => s.kind === kind && s.name === name)?.conditions ?? []).map(conditionKey).sort();

    const gw = get('Gateway', 'gw');
    const gwConds = (statusOf(gw)['conditions'] ?? []) as Condition[];
    assert.deepEqual(gwConds.map(conditionKey).sort(), fromAdmin('Gateway', 'gw'));
    assert.ok(gwConds.some((c) => conditionKey(c) === 'Accepted=True/Accepted'));
    for (const c of gwConds) assert.equal(c.observedGeneration, md(gw)['generation'], JSON.stringify(c));
    const listeners = (statusOf(gw)['listeners'] ?? []) as { name: string; attachedRoutes: number }[];
    assert.equal(listeners.find((l) => l.name === 'http')?.attachedRoutes, 2);

    const mine = get('HTTPRoute', 'mine');
    const parent = ourParent(mine);
    const routeConds = (parent?.['conditions'] ?? []) as Condition[];
    assert.deepEqual(routeConds.map(conditionKey).sort(), fromAdmin('HTTPRoute', 'mine'));
    assert.ok(routeConds.some((c) => conditionKey(c) === 'Accepted=True/Accepted'));
    for (const c of routeConds) assert.equal(c.observedGeneration, md(mine)['generation']);
    assert.equal((parent?.['parentRef'] as KObject | undefined)?.['name'], 'gw');

    const gc = get('GatewayClass', 'gatehouse');
    assert.ok(
      ((statusOf(gc)['conditions'] ?? []) as Condition[]).some((c) => conditionKey(c).startsWith('Accepted=True')),
    );
    // The other controller's GatewayClass and Gateway are not ours to write.
    assert.equal(statusOf(get('GatewayClass', 'other'))['conditions'], undefined);
    assert.equal(statusOf(get('Gateway', 'other-gw'))['conditions'], undefined);

    // Every write gatehouse made to these objects went through the status subresource.
    const writes = fake.writes().filter((r) => r.group === GATEWAY_GROUP || r.resource === 'ingresses');
    assert.ok(writes.length > 0);
    assert.deepEqual(
      writes.filter((r) => r.subresource !== 'status').map((r) => `${r.method} ${r.path}`),
      [],
      'writes outside /status',
    );
  });

  test("another controller's status.parents entries are preserved", async () => {
    await eventually('our entry on shared', 15_000, () => ourParent(get('HTTPRoute', 'shared')) !== undefined);
    const parents = (statusOf(get('HTTPRoute', 'shared'))['parents'] ?? []) as KObject[];
    assert.equal(parents.length, 2, JSON.stringify(parents));
    assert.deepEqual(
      parents.find((p) => p['controllerName'] === OTHER_CONTROLLER),
      OTHER_ENTRY,
    );
  });

  test(`Ingress status.loadBalancer.ingress is ${PUBLISH} (--publish-address), written via /status`, async () => {
    await eventually(
      'ingress status',
      15_000,
      () => {
        const lb = statusOf(get('Ingress', 'status-ing', 'networking.k8s.io/v1'))['loadBalancer'] as
          | KObject
          | undefined;
        return Array.isArray(lb?.['ingress']) && lb['ingress'].length > 0;
      },
      () => fake.describeRequests(fake.writes({ resource: 'ingresses' })),
    );
    const lb = statusOf(get('Ingress', 'status-ing', 'networking.k8s.io/v1'))['loadBalancer'] as KObject;
    assert.deepEqual(lb['ingress'], [{ ip: PUBLISH }]);
    const writes = fake.writes({ resource: 'ingresses' });
    assert.ok(writes.every((w) => w.subresource === 'status'));
  });

  test('only changes are written: identical apply, label change, another controller writing: nothing; spec change: a write', async () => {
    // Quiet first: no status write for 2 s.
    let count = -1;
    await eventually('status writes settle', 20_000, async () => {
      const before = fake.requests.filter(isStatusWrite).length;
      await sleep(2_000);
      const now = fake.requests.filter(isStatusWrite).length;
      count = now;
      return before === now;
    });
    const mark = fake.requests.length;
    // 1. The same objects again (a no-op for the API server: no new resourceVersion, no event).
    fake.applyAll(statusObjects(gwPort));
    // 2. Metadata only: a new resourceVersion and a MODIFIED event, same generation.
    const mine = get('HTTPRoute', 'mine');
    assert.ok(mine);
    fake.apply({ ...mine, metadata: { ...md(mine), labels: { touched: 'yes' } } });
    // 3. Another controller rewrites its own entry.
    const shared = get('HTTPRoute', 'shared');
    const otherUpdated = { ...OTHER_ENTRY, conditions: [{ ...OTHER_ENTRY.conditions[0], message: 'still accepted' }] };
    fake.setStatus(
      `${GATEWAY_GROUP}/v1`,
      'HTTPRoute',
      'default',
      'shared',
      {
        parents: ((statusOf(shared)['parents'] ?? []) as KObject[]).map((p) =>
          p['controllerName'] === OTHER_CONTROLLER ? otherUpdated : p,
        ),
      },
      'other',
    );
    await sleep(3_000);
    const unexpected = fake.requests.slice(mark).filter(isStatusWrite);
    assert.deepEqual(fake.describeRequests(unexpected), '', 'status written although nothing of ours changed');
    assert.equal(fake.requests.filter(isStatusWrite).length, count);
    const parents = (statusOf(get('HTTPRoute', 'shared'))['parents'] ?? []) as KObject[];
    assert.equal(parents.length, 2);
    assert.deepEqual(
      parents.find((p) => p['controllerName'] === OTHER_CONTROLLER),
      otherUpdated,
    );

    // 4. A spec change: generation 2, and the status follows with observedGeneration 2.
    const current = get('HTTPRoute', 'mine');
    assert.ok(current);
    fake.apply({
      ...current,
      spec: { ...(current['spec'] as KObject), hostnames: ['mine.k8s.test', 'mine2.k8s.test'] },
    });
    assert.equal(md(get('HTTPRoute', 'mine'))['generation'], 2);
    await eventually(
      'observedGeneration 2',
      10_000,
      () =>
        ((ourParent(get('HTTPRoute', 'mine'))?.['conditions'] ?? []) as Condition[]).every(
          (c) => c.observedGeneration === 2,
        ),
      () => JSON.stringify(ourParent(get('HTTPRoute', 'mine'))),
    );
    await routesTo(gwPort, 'mine2.k8s.test', 'web', 5_000);
  });

  test("a status write racing another controller's: the newer entry of the other survives (409 retried on fresh data)", async (t) => {
    const shared = get('HTTPRoute', 'shared');
    assert.ok(shared);
    const raced = {
      ...OTHER_ENTRY,
      conditions: [{ ...OTHER_ENTRY.conditions[0], message: 'written while gatehouse was writing' }],
    };
    let injected = false;
    fake.intercept = (r) => {
      if (!injected && isStatusWriteAttempt(r) && r.resource === 'httproutes' && r.name === 'shared') {
        injected = true;
        const now = get('HTTPRoute', 'shared');
        fake.setStatus(
          `${GATEWAY_GROUP}/v1`,
          'HTTPRoute',
          'default',
          'shared',
          {
            parents: ((statusOf(now)['parents'] ?? []) as KObject[]).map((p) =>
              p['controllerName'] === OTHER_CONTROLLER ? raced : p,
            ),
          },
          'other',
        );
      }
      return null;
    };
    try {
      fake.apply({
        ...shared,
        spec: { ...(shared['spec'] as KObject), hostnames: ['shared.k8s.test', 'shared2.k8s.test'] },
      });
      const generation = md(get('HTTPRoute', 'shared'))['generation'];
      await eventually(
        'our entry at the new generation',
        15_000,
        () =>
          ((ourParent(get('HTTPRoute', 'shared'))?.['conditions'] ?? []) as Condition[]).every(
            (c) => c.observedGeneration === generation,
          ) && injected,
        () => JSON.stringify(statusOf(get('HTTPRoute', 'shared'))),
      );
      await sleep(1_000);
      const parents = (statusOf(get('HTTPRoute', 'shared'))['parents'] ?? []) as KObject[];
      assert.deepEqual(
        parents.find((p) => p['controllerName'] === OTHER_CONTROLLER),
        raced,
        JSON.stringify(parents),
      );
      assert.equal(parents.length, 2);
      t.diagnostic(
        `status writes on shared: ${fake.requests
          .filter((r) => isStatusWriteAttempt(r) && r.name === 'shared')
          .map(
            (r) =>
              `${r.method}(${r.contentType}, rv=${String(md(r.body as KObject)['resourceVersion'] ?? '-')})→${r.status}`,
          )
          .join(' ')}`,
      );
    } finally {
      fake.intercept = null;
    }
  });
});

describe('leader election: only the Lease holder writes status', () => {
  let fake: FakeApiServer;
  const replicas = new Map<string, GatehouseProcess>();
  const users = { 'pod-a': 'gatehouse-a', 'pod-b': 'gatehouse-b' } as const;

  before(async () => {
    fake = await startFakeApiServer({ tokens: { 'token-a': 'gatehouse-a', 'token-b': 'gatehouse-b' } });
    fake.applyAll(statusObjects(await freeTcpPort()));
    const [a, b] = await Promise.all([
      startFor(fake, { token: 'token-a', podName: 'pod-a', args: STATUS_ARGS }),
      startFor(fake, { token: 'token-b', podName: 'pod-b', args: STATUS_ARGS }),
    ]);
    replicas.set('pod-a', a);
    replicas.set('pod-b', b);
  });

  after(async () => {
    for (const gh of replicas.values()) await gh.stop();
    await fake?.stop();
  });

  const holder = (): string =>
    String(
      ((fake.get('coordination.k8s.io/v1', 'Lease', 'gatehouse', 'gatehouse')?.['spec'] ?? {}) as KObject)[
        'holderIdentity'
      ] ?? '',
    );

  let leader = '';
  let follower = '';

  test('exactly one replica holds the Lease and only it sends status writes', async () => {
    await eventually(
      'a Lease holder',
      20_000,
      () => holder() === 'pod-a' || holder() === 'pod-b',
      () => fake.describeRequests(fake.requests.filter((r) => r.resource === 'leases')),
    );
    leader = holder();
    follower = leader === 'pod-a' ? 'pod-b' : 'pod-a';
    await eventually('status written by the leader', 20_000, () =>
      fake.requests.some((r) => isStatusWrite(r) && r.resource === 'httproutes'),
    );
    await sleep(3_000);
    assert.equal(holder(), leader, 'the Lease changed hands while both were running');
    const statusWriters = new Set(fake.requests.filter(isStatusWrite).map((r) => r.user));
    assert.deepEqual([...statusWriters], [users[leader as keyof typeof users]]);
    const attempted = fake.requests.filter(
      (r) => isStatusWriteAttempt(r) && r.user === users[follower as keyof typeof users],
    );
    assert.deepEqual(fake.describeRequests(attempted), '', 'the follower sent status requests');
  });

  test('the leader stopped (SIGTERM): the other takes the Lease and writes status', async (t) => {
    assert.ok(leader !== '', 'no leader from the previous test');
    const mark = fake.requests.length;
    const stopping = replicas.get(leader);
    assert.equal(await stopping?.stop(), 0);
    replicas.delete(leader);
    const took = await eventually('the follower holds the Lease', 30_000, () => holder() === follower);
    t.diagnostic(`takeover ${took} ms after the leader exited`);
    // The leader hands the Lease back on SIGTERM, so the follower takes it within one retry period (5 s), not after
    // waiting out the 15 s lease.
    assert.ok(took < 8_000, `takeover took ${took} ms`);
    // Credentials never reach the logs.
    for (const g of [...replicas.values(), stopping]) {
      const text = JSON.stringify(g?.logs ?? []);
      assert.ok(!text.includes('token-a') && !text.includes('token-b'), 'a bearer token appears in the logs');
    }
    const mine = fake.get(`${GATEWAY_GROUP}/v1`, 'HTTPRoute', 'default', 'mine');
    assert.ok(mine);
    fake.apply({ ...mine, spec: { ...(mine['spec'] as KObject), hostnames: ['mine.k8s.test', 'new.k8s.test'] } });
    await eventually(
      'a status write by the new leader',
      15_000,
      () =>
        fake.requests
          .slice(mark)
          .some(
            (r) => isStatusWrite(r) && r.resource === 'httproutes' && r.user === users[follower as keyof typeof users],
          ),
      () => fake.describeRequests(fake.requests.slice(mark).filter((r) => r.verb !== 'watch' && r.verb !== 'list')),
    );
    const parent = (
      (statusOf(fake.get(`${GATEWAY_GROUP}/v1`, 'HTTPRoute', 'default', 'mine'))['parents'] ?? []) as KObject[]
    ).find((p) => p['controllerName'] === CONTROLLER);
    assert.ok(((parent?.['conditions'] ?? []) as Condition[]).every((c) => c.observedGeneration === 2));
  });
});

describe('--watch-namespace with --upstream endpoints: EndpointSlices followed', () => {
  let fake: FakeApiServer;
  let gh: GatehouseProcess;
  const POD_A = '127.0.140.21';
  const POD_B = '127.0.140.22';

  const slice = (ready: Record<string, boolean>): Manifest => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'pods-abc', namespace: 'team-a', labels: { 'kubernetes.io/service-name': 'pods' } },
    addressType: 'IPv4',
    endpoints: Object.entries(ready).map(([ip, r]) => ({ addresses: [ip], conditions: { ready: r } })),
    ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
  });

  before(async () => {
    closers.push(await startEcho({ name: 'pod-a', listen: `${POD_A}:9090` }));
    closers.push(await startEcho({ name: 'pod-b', listen: `${POD_B}:9090` }));
    fake = await startFakeApiServer();
    fake.applyAll([
      namespace('gatehouse'),
      namespace('team-a'),
      namespace('team-b'),
      ingressClass(),
      // No backend listens on the cluster IP: in endpoints mode only the pods are reached.
      ...service({
        name: 'pods',
        namespace: 'team-a',
        clusterIP: '127.0.140.20',
        port: 80,
        targetPort: 9090,
        endpoints: [{ ip: POD_A }],
      }).map((o) => (o['kind'] === 'EndpointSlice' ? slice({ [POD_A]: true }) : o)),
      ...service({
        name: 'web',
        namespace: 'team-b',
        clusterIP: BACKENDS[0]!.ip,
        port: 8080,
        targetPort: 8080,
        endpoints: [{ ip: BACKENDS[0]!.ip }],
      }),
      ingress({
        name: 'a',
        namespace: 'team-a',
        rules: [{ host: 'a.k8s.test', paths: [{ path: '/', service: 'pods', port: 80 }] }],
      }),
      ingress({
        name: 'b',
        namespace: 'team-b',
        rules: [{ host: 'b.k8s.test', paths: [{ path: '/', service: 'web', port: 8080 }] }],
      }),
    ]);
    const file = join(dir, 'kubeconfig-ns.yaml');
    fake.writeKubeconfig(file);
    gh = await startGatehouse({
      upstream: 'endpoints',
      args: ['--kubernetes', '--kubeconfig', file, '--watch-namespace', 'team-a', '--access-log', 'off'],
      env: { POD_NAME: 'gatehouse-ns-0', POD_NAMESPACE: 'gatehouse' },
      readyTimeoutMs: 30_000,
    });
  });

  after(async () => {
    if (gh !== undefined) assert.equal(await gh.stop(), 0);
    await fake?.stop();
  });

  test('only the watched namespace is served and read', async () => {
    await routesTo(gh.httpPort, 'a.k8s.test', 'pod-a', 5_000);
    assert.equal(await answer(gh.httpPort, 'b.k8s.test'), '404');
    const namespacedReads = fake.requests.filter(
      (r) =>
        (r.verb === 'list' || r.verb === 'watch') &&
        ['ingresses', 'services', 'endpointslices', 'secrets', 'configmaps'].includes(r.resource ?? ''),
    );
    assert.ok(namespacedReads.length > 0);
    assert.deepEqual(
      fake.describeRequests(namespacedReads.filter((r) => r.namespace !== 'team-a')),
      '',
      'namespaced resources read outside team-a',
    );
  });

  test('endpoint churn: a new ready pod, a pod no longer ready, no ready pod (503)', async () => {
    fake.apply(slice({ [POD_A]: true, [POD_B]: true }));
    const seen = new Set<string>();
    await eventually('both pods answer', 5_000, async () => {
      seen.add(await answer(gh.httpPort, 'a.k8s.test'));
      return seen.has('pod-a') && seen.has('pod-b');
    });
    fake.apply(slice({ [POD_A]: false, [POD_B]: true }));
    await eventually('only pod-b', 5_000, async () => {
      const got = await Promise.all(Array.from({ length: 10 }, () => answer(gh.httpPort, 'a.k8s.test')));
      return got.every((g) => g === 'pod-b');
    });
    fake.apply(slice({ [POD_A]: false, [POD_B]: false }));
    await routesTo(gh.httpPort, 'a.k8s.test', '503', 5_000);
  });
});
