// 421 Misdirected Request on Gateway HTTPS listeners that share a port (and one certificate): a request whose
// Host belongs to another listener than the one its TLS connection's SNI chose is refused, over HTTP/1.1 and
// HTTP/2 alike; a Host that belongs to no other listener is routed (404 when no route has it). The cases follow
// the Gateway API's HTTPRouteHTTPSListenerDetectMisdirectedRequests. Backends on 127.0.150.x.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { type RecordingBackend, startRecordingBackend } from './helpers/backends.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { h2Connect, h2Request } from './helpers/h2.ts';
import { gateway, gatewayClass, httpRoute, type Manifest, service, tlsSecret, toYaml } from './helpers/manifests.ts';

const ADDR = { v1: '127.0.150.1', v2: '127.0.150.2', v3: '127.0.150.3' };
const PATH = '/detect-misdirected-requests';

let dir: string;
let gh: GatehouseProcess;
let port: number;
let ca: IssuedCertificate;
const backends: RecordingBackend[] = [];

before(async () => {
  port = await freeTcpPort();
  ca = issueCertificate({ commonName: 'misdirected test CA', isCA: true });
  // One certificate for every listener, as in the conformance test: a certificate difference cannot be the signal.
  const cert = issueCertificate({
    commonName: 'shared',
    dnsNames: ['example.org', 'second-example.org', '*.wildcard.org', 'unknown-example.org'],
    issuer: ca,
  });
  for (const [name, host] of Object.entries(ADDR)) {
    backends.push(await startRecordingBackend({ name, host, port: 8080 }));
  }
  const https = (name: string, hostname?: string) => ({
    name,
    port,
    protocol: 'HTTPS',
    ...(hostname === undefined ? {} : { hostname }),
    certificateRefs: [{ name: 'shared-cert' }],
  });
  const route = (name: string, spec: Record<string, unknown>, backend: string): Manifest =>
    httpRoute(name, {
      ...spec,
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: PATH } }], backendRefs: [{ name: backend, port: 8080 }] },
      ],
    });
  const objects: Manifest[] = [
    gatewayClass(),
    tlsSecret('shared-cert', cert.certPem, cert.keyPem),
    gateway('gw', [
      https('https'),
      https('https-with-hostname', 'second-example.org'),
      https('https-with-wildcard-hostname', '*.wildcard.org'),
      https('https-with-hostname-matching-wildcard', 'fourth-example.wildcard.org'),
    ]),
    route('r1', { parentRefs: [{ name: 'gw' }], hostnames: ['example.org'] }, 'v1'),
    route('r2', { parentRefs: [{ name: 'gw', sectionName: 'https-with-hostname' }] }, 'v2'),
    route(
      'r3',
      {
        parentRefs: [{ name: 'gw', sectionName: 'https-with-wildcard-hostname' }],
        hostnames: ['third-example.wildcard.org', 'fifth-example.wildcard.org'],
      },
      'v3',
    ),
    route(
      'r4',
      {
        parentRefs: [{ name: 'gw', sectionName: 'https-with-hostname-matching-wildcard' }],
        hostnames: ['fourth-example.wildcard.org'],
      },
      'v1',
    ),
    ...Object.entries(ADDR).flatMap(([name, host]) =>
      service({ name, clusterIP: host, port: 8080, targetPort: 8080, endpoints: [{ ip: host }] }),
    ),
  ];
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-misdirected-'));
  writeFileSync(join(dir, 'all.yaml'), toYaml(objects));
  gh = await startGatehouse({ manifests: dir });
});

after(async () => {
  if (gh !== undefined) await gh.stop();
  await Promise.all(backends.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** [SNI, Host, status, backend that must answer] */
const CASES: readonly (readonly [string, string, number, string | null])[] = [
  ['example.org', 'example.org', 200, 'v1'],
  ['example.org', 'second-example.org', 421, null],
  ['example.org', 'unknown-example.org', 404, null],
  ['second-example.org', 'second-example.org', 200, 'v2'],
  ['second-example.org', 'example.org', 421, null],
  ['second-example.org', 'unknown-example.org', 421, null],
  ['third-example.wildcard.org', 'third-example.wildcard.org', 200, 'v3'],
  ['third-example.wildcard.org', 'fifth-example.wildcard.org', 200, 'v3'],
  ['third-example.wildcard.org', 'fourth-example.wildcard.org', 421, null],
  ['third-example.wildcard.org', 'second-example.org', 421, null],
  ['third-example.wildcard.org', 'unknown-example.org', 421, null],
  ['fourth-example.wildcard.org', 'fourth-example.wildcard.org', 200, 'v1'],
  ['fourth-example.wildcard.org', 'fifth-example.wildcard.org', 421, null],
  ['unknown-example.org', 'example.org', 200, 'v1'],
  ['unknown-example.org', 'unknown-example.org', 404, null],
];

function http1(sni: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: PATH,
        servername: sni,
        headers: { host },
        ca: ca.certPem,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function servedBy(body: string): string | null {
  try {
    return (JSON.parse(body) as { service?: string }).service ?? null;
  } catch {
    return null;
  }
}

test('HTTP/1.1: Host of another listener than the SNI one → 421; of none → routed', async () => {
  for (const [sni, host, status, backend] of CASES) {
    const res = await http1(sni, host);
    assert.equal(res.status, status, `SNI ${sni}, Host ${host}`);
    if (backend !== null) assert.equal(servedBy(res.body), backend, `SNI ${sni}, Host ${host}: backend`);
  }
});

test('HTTP/2: the same rule on one connection per SNI name', async () => {
  for (const [sni, host, status, backend] of CASES) {
    const session = await h2Connect(`https://127.0.0.1:${port}`, { servername: sni, ca: ca.certPem });
    try {
      const res = await h2Request(session, { ':path': PATH, ':authority': host });
      assert.equal(res.status, status, `SNI ${sni}, :authority ${host}`);
      if (backend !== null) assert.equal(servedBy(res.body.toString('utf8')), backend, `SNI ${sni}: backend`);
    } finally {
      session.close();
    }
  }
});
