// Gateway API end to end: a real gatehouse process serving Gateways and HTTPRoutes from a folder, real echo
// backends on loopback addresses, real requests: precedence, hostname intersection, filters, weights, mirroring,
// timeouts, and Gateway listeners opened and closed while traffic flows on another one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../src/cli/echo.ts';
import { startRecordingBackend } from './helpers/backends.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { gateway, gatewayClass, httpRoute, type Manifest, service, toYaml } from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const SVC = ['v1', 'v2', 'v3'].map((name, i) => ({ name, ip: `127.0.60.${i + 1}` }));
let dir = '';
let gh: GatehouseProcess;
let port = 0;
const closers: { close(): Promise<void> }[] = [];
let mirror: Awaited<ReturnType<typeof startRecordingBackend>>;

const ref = (name: string, weight?: number) => ({ name, port: 8080, ...(weight === undefined ? {} : { weight }) });
const prefix = (value: string) => ({ path: { type: 'PathPrefix', value } });

function routes(): Manifest[] {
  const parentRefs = [{ name: 'gw' }];
  return [
    httpRoute('precedence', {
      parentRefs,
      hostnames: ['prec.test'],
      rules: [
        { matches: [{ path: { type: 'Exact', value: '/exact' } }], backendRefs: [ref('v1')] },
        { matches: [prefix('/exact')], backendRefs: [ref('v2')] },
        { matches: [prefix('/p')], backendRefs: [ref('v2')] },
        { matches: [prefix('/p/longer')], backendRefs: [ref('v3')] },
        { matches: [prefix('/h')], backendRefs: [ref('v1')] },
        { matches: [{ ...prefix('/h'), headers: [{ name: 'X-Version', value: '2' }] }], backendRefs: [ref('v2')] },
        { matches: [prefix('/m')], backendRefs: [ref('v1')] },
        { matches: [{ ...prefix('/m'), method: 'POST' }], backendRefs: [ref('v2')] },
        { matches: [{ ...prefix('/q'), queryParams: [{ name: 'q', value: '1' }] }], backendRefs: [ref('v3')] },
        { matches: [prefix('/q')], backendRefs: [ref('v1')] },
      ],
    }),
    httpRoute('wild-exact', {
      parentRefs: [{ name: 'gw', sectionName: 'wild' }],
      hostnames: ['a.wild.test'],
      rules: [{ backendRefs: [ref('v1')] }],
    }),
    httpRoute('wild-any', {
      parentRefs: [{ name: 'gw', sectionName: 'wild' }],
      hostnames: ['*.test'],
      rules: [{ backendRefs: [ref('v2')] }],
    }),
    httpRoute('filters', {
      parentRefs,
      hostnames: ['filters.test'],
      rules: [
        {
          matches: [prefix('/hdr')],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: {
                set: [{ name: 'X-Set', value: 'set' }],
                add: [{ name: 'X-Add', value: 'added' }],
                remove: ['X-Remove'],
              },
            },
            { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Resp', value: 'r' }] } },
          ],
          backendRefs: [ref('v1')],
        },
        {
          matches: [prefix('/redir')],
          filters: [
            { type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'example.org', statusCode: 301 } },
          ],
        },
        {
          matches: [prefix('/moved')],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } },
            },
          ],
        },
        {
          matches: [prefix('/rw')],
          filters: [
            {
              type: 'URLRewrite',
              urlRewrite: {
                hostname: 'rewritten.test',
                path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/inner' },
              },
            },
          ],
          backendRefs: [ref('v2')],
        },
        {
          matches: [prefix('/mirror')],
          filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'mirror', port: 8080 } } }],
          backendRefs: [ref('v1')],
        },
        { matches: [prefix('/weights')], backendRefs: [ref('v1', 70), ref('v2', 30), ref('v3', 0)] },
        { matches: [prefix('/slow')], timeouts: { request: '500ms' }, backendRefs: [ref('v3')] },
        { matches: [prefix('/backend-slow')], timeouts: { backendRequest: '400ms' }, backendRefs: [ref('v3')] },
        { matches: [prefix('/missing')], backendRefs: [ref('nope')] },
      ],
    }),
  ];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-gwapi-'));
  port = await freeTcpPort();
  const objects: Manifest[] = [gatewayClass()];
  for (const s of SVC) {
    closers.push(await startEcho({ name: s.name, listen: `${s.ip}:8080` }));
    objects.push(
      ...service({ name: s.name, clusterIP: s.ip, port: 8080, targetPort: 8080, endpoints: [{ ip: s.ip }] }),
    );
  }
  mirror = await startRecordingBackend({ name: 'mirror', host: '127.0.60.9', port: 8080 });
  closers.push(mirror);
  objects.push(
    ...service({
      name: 'mirror',
      clusterIP: '127.0.60.9',
      port: 8080,
      targetPort: 8080,
      endpoints: [{ ip: '127.0.60.9' }],
    }),
  );
  objects.push(
    gateway('gw', [
      { name: 'http', port },
      { name: 'wild', port, hostname: '*.wild.test' },
    ]),
  );
  objects.push(...routes());
  writeFileSync(join(dir, 'all.yaml'), toYaml(objects));
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  if (gh !== undefined) assert.equal(await gh.stop(), 0);
  await Promise.all(closers.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface Seen {
  status: number;
  service: string | null;
  path: string | null;
  headers: Record<string, string | string[]>;
  responseHeaders: Record<string, string | string[] | undefined>;
}

async function send(
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; to?: number } = {},
): Promise<Seen> {
  const res = await httpRequest({
    host: '127.0.0.1',
    port: opts.to ?? port,
    path,
    method: opts.method ?? 'GET',
    headers: { host, ...(opts.headers ?? {}) },
  });
  let body: { service?: string; path?: string; headers?: Record<string, string | string[]> } = {};
  try {
    body = JSON.parse(res.body.toString('utf8')) as typeof body;
  } catch {
    // not an echo answer
  }
  return {
    status: res.status,
    service: res.status === 200 ? (body.service ?? null) : null,
    path: body.path ?? null,
    headers: body.headers ?? {},
    responseHeaders: res.headers,
  };
}

test('precedence: exact over prefix, longest prefix, header, method and query matches', async () => {
  assert.equal((await send('prec.test', '/exact')).service, 'v1');
  assert.equal((await send('prec.test', '/exact/x')).service, 'v2');
  assert.equal((await send('prec.test', '/p/x')).service, 'v2');
  assert.equal((await send('prec.test', '/p/longer/x')).service, 'v3');
  assert.equal((await send('prec.test', '/h', { headers: { 'x-version': '2' } })).service, 'v2');
  assert.equal((await send('prec.test', '/h')).service, 'v1');
  assert.equal((await send('prec.test', '/m', { method: 'POST' })).service, 'v2');
  assert.equal((await send('prec.test', '/m')).service, 'v1');
  assert.equal((await send('prec.test', '/q?q=1')).service, 'v3');
  assert.equal((await send('prec.test', '/q?q=2')).service, 'v1');
  assert.equal((await send('other.test', '/exact')).status, 404);
});

test('hostname intersection: exact route name inside a wildcard listener; wildcard narrowed to the listener', async () => {
  assert.equal((await send('a.wild.test', '/')).service, 'v1');
  assert.equal((await send('b.wild.test', '/')).service, 'v2');
  assert.equal((await send('c.b.wild.test', '/')).service, 'v2');
  // *.test narrowed to *.wild.test: another .test host is not served by that route
  assert.equal((await send('x.other.test', '/')).status, 404);
});

test('filters: request and response header modifiers', async () => {
  const r = await send('filters.test', '/hdr', {
    headers: { 'x-set': 'client', 'x-add': 'client', 'x-remove': 'gone' },
  });
  assert.equal(r.service, 'v1');
  assert.equal(r.headers['x-set'], 'set');
  assert.deepEqual([r.headers['x-add']].flat().join(','), 'client,added');
  assert.equal(r.headers['x-remove'], undefined);
  assert.equal(r.responseHeaders['x-resp'], 'r');
});

test('filters: redirects (scheme and host; prefix replacement keeps the listener port)', async () => {
  const a = await send('filters.test', '/redir/x?y=1');
  assert.equal(a.status, 301);
  assert.equal(a.responseHeaders['location'], 'https://example.org/redir/x?y=1');
  const b = await send('filters.test', '/moved/page');
  assert.equal(b.status, 302);
  assert.equal(b.responseHeaders['location'], `http://filters.test:${port}/new/page`);
});

test('filters: URL rewrite of host and path prefix', async () => {
  const r = await send('filters.test', '/rw/deep/path?k=v');
  assert.equal(r.service, 'v2');
  assert.equal(r.path, '/inner/deep/path');
  assert.equal(r.headers['host'], 'rewritten.test');
});

test('filters: a mirror gets a copy; the client gets the main backend', async () => {
  const mark = mirror.requests.length;
  const r = await send('filters.test', '/mirror/one');
  assert.equal(r.service, 'v1');
  await mirror.waitFor((list) => list.slice(mark).some((x) => x.url === '/mirror/one'), 3_000);
});

test('weights: 70/30 split within a tolerance that cannot flake; weight 0 gets nothing', async () => {
  const n = 600;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => send('filters.test', '/weights')));
    for (const r of batch) counts.set(String(r.service), (counts.get(String(r.service)) ?? 0) + 1);
  }
  const v1 = counts.get('v1') ?? 0;
  const v2 = counts.get('v2') ?? 0;
  assert.equal(v1 + v2, n, JSON.stringify([...counts]));
  // binomial n=600, p=0.7: sd ≈ 11.2; ±7 sd ≈ ±78 fails with probability below 1e-11
  assert.ok(Math.abs(v1 - 0.7 * n) < 78, JSON.stringify([...counts]));
  assert.equal(counts.get('v3') ?? 0, 0);
});

test('timeouts.request and timeouts.backendRequest answer 504 when the backend is too slow; an invalid backend answers 500', async () => {
  const start = Date.now();
  const slow = await send('filters.test', '/slow/delay/3000');
  assert.equal(slow.status, 504);
  assert.ok(Date.now() - start < 2_000);
  const backendSlow = await send('filters.test', '/backend-slow/delay/3000');
  assert.equal(backendSlow.status, 504);
  assert.equal((await send('filters.test', '/backend-slow/delay/10')).status, 200);
  assert.equal((await send('filters.test', '/missing')).status, 500);
});

test('a Gateway added and removed while traffic flows on another: no failed request, port opened and closed', async () => {
  const port2 = await freeTcpPort();
  let stop = false;
  const outcomes = new Map<string, number>();
  const loop = async (): Promise<void> => {
    while (!stop) {
      let k: string;
      try {
        k = String((await send('prec.test', '/p/x')).status);
      } catch (err) {
        k = (err as Error).message;
      }
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    }
  };
  const loops = [loop(), loop(), loop()];
  const file = join(dir, 'second.yaml');
  writeFileSync(
    file,
    toYaml([
      gateway('gw2', [{ name: 'http', port: port2 }]),
      httpRoute('second', { parentRefs: [{ name: 'gw2' }], rules: [{ backendRefs: [ref('v3')] }] }),
    ]),
  );
  const end = Date.now() + 5_000;
  let served = '';
  while (Date.now() < end) {
    served = String((await send('any.test', '/', { to: port2 }).catch(() => ({ service: 'down' }))).service);
    if (served === 'v3') break;
    await sleep(25);
  }
  assert.equal(served, 'v3');
  unlinkSync(file);
  const closed = await (async () => {
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port2, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      if (refused) return true;
      await sleep(25);
    }
    return false;
  })();
  assert.ok(closed, 'the removed Gateway listener still accepts connections');
  await sleep(200);
  stop = true;
  await Promise.all(loops);
  assert.deepEqual([...outcomes.keys()], ['200'], JSON.stringify([...outcomes]));
});

test('/api/status reports the GatewayClass, the Gateway with its listeners, and the routes', async () => {
  const status = JSON.parse((await gh.admin('/api/status')).body) as {
    kind: string;
    name: string;
    conditions: { type: string; status: string }[];
    listeners?: { name: string; attachedRoutes: number }[];
  }[];
  const find = (kind: string, name: string) => status.find((s) => s.kind === kind && s.name === name);
  assert.ok(find('GatewayClass', 'gatehouse')?.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'));
  const gw = find('Gateway', 'gw');
  assert.ok(gw?.conditions.some((c) => c.type === 'Programmed' && c.status === 'True'));
  assert.equal(gw?.listeners?.find((l) => l.name === 'wild')?.attachedRoutes, 2);
  assert.ok(find('HTTPRoute', 'filters')?.conditions.some((c) => c.type === 'ResolvedRefs' && c.status === 'False'));
  assert.ok(find('HTTPRoute', 'precedence')?.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'));
});
