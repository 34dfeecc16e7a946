// Ingress path and host rules end to end: real gatehouse process, real echo backends on their own loopback
// addresses (a cluster IP and a pod IP per Service), real HTTP requests, in both upstream modes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEcho } from '../src/cli/echo.ts';
import { type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { type IngressSpec, ingress, ingressClass, type Manifest, service, toYaml } from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

type Row = {
  readonly paths: readonly (readonly ['Exact' | 'Prefix', string])[];
  readonly request: string;
  readonly expect: number | null;
};

// The Prefix-matching examples table of the Kubernetes Ingress documentation: expect is the index of the path
// that must answer, or null for no match (404).
const ROWS: readonly Row[] = [
  { paths: [['Prefix', '/']], request: '/', expect: 0 },
  { paths: [['Prefix', '/']], request: '/any/path', expect: 0 },
  { paths: [['Exact', '/foo']], request: '/foo', expect: 0 },
  { paths: [['Exact', '/foo']], request: '/bar', expect: null },
  { paths: [['Exact', '/foo']], request: '/foo/', expect: null },
  { paths: [['Exact', '/foo/']], request: '/foo', expect: null },
  { paths: [['Prefix', '/foo']], request: '/foo', expect: 0 },
  { paths: [['Prefix', '/foo']], request: '/foo/', expect: 0 },
  { paths: [['Prefix', '/foo/']], request: '/foo', expect: 0 },
  { paths: [['Prefix', '/foo/']], request: '/foo/', expect: 0 },
  { paths: [['Prefix', '/aaa/bb']], request: '/aaa/bbb', expect: null },
  { paths: [['Prefix', '/aaa/bbb']], request: '/aaa/bbb', expect: 0 },
  { paths: [['Prefix', '/aaa/bbb/']], request: '/aaa/bbb', expect: 0 },
  { paths: [['Prefix', '/aaa/bbb']], request: '/aaa/bbb/', expect: 0 },
  { paths: [['Prefix', '/aaa/bbb']], request: '/aaa/bbb/ccc', expect: 0 },
  { paths: [['Prefix', '/aaa/bbb']], request: '/aaa/bbbxyz', expect: null },
  {
    paths: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
    ],
    request: '/aaa/ccc',
    expect: 1,
  },
  {
    paths: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    request: '/aaa/bbb',
    expect: 2,
  },
  {
    paths: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    request: '/ccc',
    expect: 0,
  },
  { paths: [['Prefix', '/aaa']], request: '/ccc', expect: null },
  {
    paths: [
      ['Prefix', '/foo'],
      ['Exact', '/foo'],
    ],
    request: '/foo',
    expect: 1,
  },
];

interface Svc {
  readonly name: string;
  readonly clusterIP: string;
  readonly podIP: string;
}

const services: Svc[] = [];
const ingresses: IngressSpec[] = [];
ROWS.forEach((row, r) => {
  ingresses.push({
    name: `row-${r}`,
    rules: [
      {
        host: `row${r}.table.test`,
        paths: row.paths.map(([type, path], i) => {
          const svc = {
            name: `r${r}-p${i}`,
            clusterIP: `127.0.30.${services.length + 1}`,
            podIP: `127.0.31.${services.length + 1}`,
          };
          services.push(svc);
          return { path, pathType: type, service: svc.name, port: 8080 };
        }),
      },
    ],
  });
});
// Hosts: exact, wildcard of exactly one label, exact preferred over wildcard, and a host-less rule.
const hostSvc = (name: string): Svc => {
  const svc = { name, clusterIP: `127.0.30.${services.length + 1}`, podIP: `127.0.31.${services.length + 1}` };
  services.push(svc);
  return svc;
};
const wild = hostSvc('wildcard');
const exactHost = hostSvc('exact-host');
const fallback = hostSvc('any-host');
ingresses.push({
  name: 'hosts',
  rules: [
    { host: '*.foo.com', paths: [{ path: '/', service: wild.name, port: 8080 }] },
    { host: 'exact.foo.com', paths: [{ path: '/', service: exactHost.name, port: 'http' }] },
  ],
});
ingresses.push({
  name: 'hostless',
  rules: [{ paths: [{ path: '/only-here', pathType: 'Exact', service: fallback.name, port: 8080 }] }],
});

let dir = '';
const echoes: { close(): Promise<void> }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-routing-'));
  const objects: Manifest[] = [ingressClass()];
  for (const s of services) {
    objects.push(
      ...service({ name: s.name, clusterIP: s.clusterIP, port: 8080, targetPort: 9090, endpoints: [{ ip: s.podIP }] }),
    );
    echoes.push(await startEcho({ name: `${s.name}@service`, listen: `${s.clusterIP}:8080` }));
    echoes.push(await startEcho({ name: `${s.name}@pod`, listen: `${s.podIP}:9090` }));
  }
  objects.push(...ingresses.map(ingress));
  writeFileSync(join(dir, 'all.yaml'), toYaml(objects));
});

after(async () => {
  await Promise.all(echoes.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function get(
  gh: GatehouseProcess,
  host: string,
  path: string,
): Promise<{ status: number; service: string | null; path: string | null }> {
  const res = await httpRequest({ host: '127.0.0.1', port: gh.httpPort, path, headers: { host } });
  if (res.status !== 200) return { status: res.status, service: null, path: null };
  const body = JSON.parse(res.body.toString('utf8')) as { service: string; path: string };
  return { status: res.status, service: body.service, path: body.path };
}

for (const mode of ['service', 'endpoints'] as const) {
  describe(`Ingress routing with --upstream ${mode}`, () => {
    let gh: GatehouseProcess;
    before(async () => {
      gh = await startGatehouse({ manifests: dir, upstream: mode, args: ['--access-log', 'off'] });
    });
    after(async () => {
      assert.equal(await gh.stop(), 0);
    });

    test('every row of the Kubernetes Prefix-matching table', async () => {
      for (const [r, row] of ROWS.entries()) {
        const got = await get(gh, `row${r}.table.test`, row.request);
        const label = `row ${r}: ${JSON.stringify(row.paths)} ← ${row.request}`;
        if (row.expect === null) {
          assert.equal(got.status, 404, label);
        } else {
          assert.equal(got.status, 200, label);
          assert.equal(got.service, `r${r}-p${row.expect}@${mode === 'service' ? 'service' : 'pod'}`, label);
          assert.equal(got.path, row.request, label);
        }
      }
    });

    test('hosts: exact, one-label wildcard, case-insensitive, port ignored, host-less rule', async () => {
      const suffix = mode === 'service' ? 'service' : 'pod';
      assert.equal((await get(gh, 'bar.foo.com', '/x')).service, `wildcard@${suffix}`);
      assert.equal((await get(gh, 'BAR.Foo.COM:8080', '/x')).service, `wildcard@${suffix}`);
      assert.equal((await get(gh, 'exact.foo.com', '/x')).service, `exact-host@${suffix}`);
      assert.equal((await get(gh, 'baz.bar.foo.com', '/x')).status, 404);
      assert.equal((await get(gh, 'foo.com', '/x')).status, 404);
      assert.equal((await get(gh, 'unknown.test', '/only-here')).service, `any-host@${suffix}`);
      assert.equal((await get(gh, 'unknown.test', '/only-here/x')).status, 404);
    });

    test('query strings are forwarded unchanged', async () => {
      const res = await httpRequest({
        host: '127.0.0.1',
        port: gh.httpPort,
        path: '/aaa/bbb/x?x=1&y=%2F',
        headers: { host: 'row14.table.test' },
      });
      const body = JSON.parse(res.body.toString('utf8')) as { path: string; query: unknown };
      assert.equal(res.status, 200);
      assert.equal(body.path, '/aaa/bbb/x');
      assert.match(JSON.stringify(body.query), /x=1&y=%2F|"x":"1"/);
    });
  });
}
