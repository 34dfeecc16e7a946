// TLS origination end to end: a real gatehouse process and real node:https backends on 127.0.100.x whose
// certificates come from throw-away CAs made at test time. Ingress `backend-protocol: HTTPS` with the
// ingress-nginx proxy-ssl-* annotations (verification off by default; CA, name and SNI; client certificates for
// a backend that demands one), and Gateway API BackendTLSPolicy (CA from a ConfigMap, hostname as SNI and the
// name checked; a wrong hostname; a missing ConfigMap and its status).
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { closeServer, listenOn } from '../src/cli/echo.ts';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import {
  backendTLSPolicy,
  configMap,
  gateway,
  gatewayClass,
  httpRoute,
  ingress,
  ingressClass,
  type Manifest,
  namespace,
  secret,
  service,
  toYaml,
} from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const ADDR = {
  secure: '127.0.100.1',
  mtls: '127.0.100.2',
  gwOk: '127.0.100.3',
  gwMismatch: '127.0.100.4',
  gwMissing: '127.0.100.5',
} as const;
const PORT = 8443;
const BACKEND_NAME = 'secure-backend.internal';

/** Signs the backends' certificates and the client certificate they accept. */
const BACKEND_CA = issueCertificate({ commonName: 'gatehouse backend-tls test CA', isCA: true });
/** Signs nothing the backends know. */
const WRONG_CA = issueCertificate({ commonName: 'gatehouse backend-tls unrelated CA', isCA: true });
const BACKEND_CERT = issueCertificate({ commonName: BACKEND_NAME, dnsNames: [BACKEND_NAME], issuer: BACKEND_CA });
const CLIENT_CERT = issueCertificate({ commonName: 'gatehouse-client', issuer: BACKEND_CA });
const UNTRUSTED_CLIENT_CERT = issueCertificate({ commonName: 'untrusted-client', issuer: WRONG_CA });

/** What an https backend saw of one request. */
interface Seen {
  readonly backend: string;
  readonly path: string;
  readonly host: string;
  /** SNI the client sent; null when it sent none. */
  readonly sni: string | null;
  /** Common name of the client certificate; null when none was presented. */
  readonly clientCN: string | null;
  readonly httpVersion: string;
}

interface HttpsBackend {
  readonly seen: Seen[];
  close(): Promise<void>;
}

async function startHttpsBackend(
  name: string,
  host: string,
  options: { readonly requireClientCertFrom?: IssuedCertificate } = {},
): Promise<HttpsBackend> {
  const seen: Seen[] = [];
  const ca = options.requireClientCertFrom;
  const server: Server = createServer(
    {
      cert: BACKEND_CERT.certPem,
      key: BACKEND_CERT.keyPem,
      ...(ca === undefined ? {} : { requestCert: true, rejectUnauthorized: true, ca: ca.certPem }),
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = ca === undefined ? null : socket.getPeerCertificate();
      const entry: Seen = {
        backend: name,
        path: req.url ?? '',
        host: req.headers.host ?? '',
        sni: typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : null,
        clientCN: peer === null || peer.subject === undefined ? null : String(peer.subject.CN),
        httpVersion: req.httpVersion,
      };
      seen.push(entry);
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify(entry);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    },
  );
  // A refused client certificate is the test's point, not an error worth printing.
  server.on('tlsClientError', () => {});
  await listenOn(server, host, PORT);
  return { seen, close: () => closeServer(server as unknown as Parameters<typeof closeServer>[0], 0) };
}

let dir = '';
let gh: GatehouseProcess;
let gwPort = 0;
const backends: HttpsBackend[] = [];

const HTTPS = { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' };
const verified = (secretName: string, name = BACKEND_NAME, secretNamespace = 'default'): Record<string, string> => ({
  ...HTTPS,
  'nginx.ingress.kubernetes.io/proxy-ssl-secret': `${secretNamespace}/${secretName}`,
  'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
  'nginx.ingress.kubernetes.io/proxy-ssl-name': name,
  'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'on',
});
const withClientCert = (secretName: string): Record<string, string> => ({
  ...HTTPS,
  'nginx.ingress.kubernetes.io/proxy-ssl-secret': `default/${secretName}`,
});

function manifests(): Manifest[] {
  const svc = (name: string, ip: string): Manifest[] =>
    service({ name, clusterIP: ip, port: PORT, portName: 'https', targetPort: PORT, endpoints: [{ ip }] });
  const viaIngress = (name: string, target: string, annotations: Record<string, string>): Manifest =>
    ingress({
      name,
      annotations,
      rules: [{ host: `${name}.btls.test`, paths: [{ path: '/', service: target, port: PORT }] }],
    });
  const route = (name: string): Manifest =>
    httpRoute(name, {
      parentRefs: [{ name: 'btls-gw' }],
      hostnames: [`${name}.btls.test`],
      rules: [{ backendRefs: [{ name, port: PORT }] }],
    });
  return [
    ingressClass(),
    gatewayClass(),
    ...svc('secure', ADDR.secure),
    ...svc('mtls', ADDR.mtls),
    ...svc('gw-ok', ADDR.gwOk),
    ...svc('gw-mismatch', ADDR.gwMismatch),
    ...svc('gw-missing', ADDR.gwMissing),
    secret('backend-ca', { 'ca.crt': BACKEND_CA.certPem }),
    secret(
      'client-cert',
      { 'tls.crt': CLIENT_CERT.certPem, 'tls.key': CLIENT_CERT.keyPem, 'ca.crt': BACKEND_CA.certPem },
      'default',
      'kubernetes.io/tls',
    ),
    secret(
      'untrusted-client-cert',
      { 'tls.crt': UNTRUSTED_CLIENT_CERT.certPem, 'tls.key': UNTRUSTED_CLIENT_CERT.keyPem },
      'default',
      'kubernetes.io/tls',
    ),
    viaIngress('noverify', 'secure', HTTPS),
    viaIngress('verify', 'secure', verified('backend-ca')),
    viaIngress('wrongca', 'secure', verified('wrong-ca')),
    viaIngress('wrongname', 'secure', verified('backend-ca', 'other-name.internal')),
    namespace('other'),
    secret('backend-ca', { 'ca.crt': BACKEND_CA.certPem }, 'other'),
    viaIngress('crossns', 'secure', verified('backend-ca', BACKEND_NAME, 'other')),
    viaIngress('nosecret', 'secure', verified('no-such-secret')),
    viaIngress('mtls-none', 'mtls', HTTPS),
    viaIngress('mtls-client', 'mtls', withClientCert('client-cert')),
    viaIngress('mtls-untrusted', 'mtls', withClientCert('untrusted-client-cert')),
    gateway('btls-gw', [{ name: 'http', port: gwPort }]),
    route('gw-ok'),
    route('gw-mismatch'),
    route('gw-missing'),
    configMap('backend-ca', { 'ca.crt': BACKEND_CA.certPem }),
    backendTLSPolicy('ok', { services: ['gw-ok'], caConfigMaps: ['backend-ca'], hostname: BACKEND_NAME }),
    backendTLSPolicy('mismatch', {
      services: ['gw-mismatch'],
      caConfigMaps: ['backend-ca'],
      hostname: 'other-name.internal',
    }),
    backendTLSPolicy('missing', {
      services: ['gw-missing'],
      caConfigMaps: ['no-such-configmap'],
      hostname: BACKEND_NAME,
    }),
  ];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-btls-'));
  gwPort = await freeTcpPort();
  backends.push(
    await startHttpsBackend('secure', ADDR.secure),
    await startHttpsBackend('mtls', ADDR.mtls, { requireClientCertFrom: BACKEND_CA }),
    await startHttpsBackend('gw-ok', ADDR.gwOk),
    await startHttpsBackend('gw-mismatch', ADDR.gwMismatch),
    await startHttpsBackend('gw-missing', ADDR.gwMissing),
  );
  writeFileSync(join(dir, 'all.yaml'), toYaml(manifests()));
  // Rewritten by the tests that change them while gatehouse runs.
  writeFileSync(join(dir, 'wrong-ca.yaml'), toYaml([secret('wrong-ca', { 'ca.crt': WRONG_CA.certPem })]));
  writeFileSync(join(dir, 'late-configmap.yaml'), '');
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  const code = gh === undefined ? 0 : await gh.stop();
  // Backends close whatever gatehouse did, or they would keep this process alive.
  await Promise.all(backends.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
  assertCleanExit(code);
});

/** gatehouse exited 0 (after SIGTERM and draining); otherwise fails with its last log lines. */
function assertCleanExit(code: number | null): void {
  assert.equal(
    code,
    0,
    `gatehouse exited with ${String(code)}; last log lines:\n${JSON.stringify(gh?.logs.slice(-15), null, 1)}`,
  );
}

/** Replaces a manifest file in one step, so the watcher never reads half of it. */
function writeAtomically(file: string, objects: readonly Manifest[]): void {
  const tmp = join(tmpdir(), `gatehouse-btls-${process.pid}-${Date.now()}.tmp`);
  writeFileSync(tmp, toYaml(objects));
  renameSync(tmp, join(dir, file));
}

/** Repeats a request until it gets `status` (a configuration change takes a moment); returns the last answer. */
async function eventually(host: string, status: number, port = gh.httpPort, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await get(host, port);
    if (res.status === status || Date.now() > end) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let seq = 0;
const unique = (): string => `/id-${process.pid}-${++seq}`;

async function get(host: string, port = gh.httpPort): Promise<{ status: number; seen: Seen | null; path: string }> {
  const path = unique();
  const res = await httpRequest({ host: '127.0.0.1', port, path, headers: { host } });
  let seen: Seen | null = null;
  if (res.status === 200) seen = JSON.parse(res.body.toString('utf8')) as Seen;
  return { status: res.status, seen, path };
}

/** The warning gatehouse logs when a request through the Ingress `name` fails at the upstream. */
function failureLog(ingressName: string): Promise<Record<string, unknown>> {
  return gh.waitForLog(
    (l) => String(l['route'] ?? '').startsWith(`ingress/default/${ingressName}/`) && Number(l['level']) >= 40,
    5_000,
  );
}

const reached = (path: string): boolean => backends.some((b) => b.seen.some((s) => s.path === path));

describe('Ingress backend-protocol: HTTPS', () => {
  test('proxy-ssl-verify off (the default): the request reaches the https backend', async () => {
    const res = await get('noverify.btls.test');
    assert.equal(res.status, 200);
    assert.equal(res.seen?.backend, 'secure');
    assert.equal(res.seen?.host, 'noverify.btls.test', 'Host is forwarded unchanged');
  });

  test('proxy-ssl-secret (right ca.crt) + proxy-ssl-verify on + proxy-ssl-name: works, SNI = proxy-ssl-name', async () => {
    const res = await get('verify.btls.test');
    assert.equal(res.status, 200);
    assert.equal(res.seen?.backend, 'secure');
    assert.equal(res.seen?.sni, BACKEND_NAME);
  });

  test('a CA that did not sign the backend certificate: 502, and a log line that says why', async () => {
    const res = await get('wrongca.btls.test');
    assert.equal(res.status, 502);
    assert.equal(reached(res.path), false, 'the request reached the backend');
    const line = await failureLog('wrongca');
    assert.ok(Number(line['level']) >= 40, `logged at level ${String(line['level'])}: ${JSON.stringify(line)}`);
    assert.match(String(line['backend']), /default\/secure:8443/, 'names the backend');
    assert.match(String(line['code']), /^GH_ERR_UPSTREAM/, 'a stable error code');
    // The OpenSSL verification result, and a message that says it is about the certificate.
    assert.match(
      String(line['cause']),
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|CERT_)/,
      JSON.stringify(line),
    );
    assert.match(String(line['err']), /certificate|verify/i);
  });

  test('proxy-ssl-name that the backend certificate does not carry: 502, logged as a name mismatch', async () => {
    const res = await get('wrongname.btls.test');
    assert.equal(res.status, 502);
    assert.equal(reached(res.path), false);
    const line = await failureLog('wrongname');
    assert.match(
      `${String(line['cause'])} ${String(line['err'])}`,
      /ALTNAME|other-name\.internal/i,
      JSON.stringify(line),
    );
  });

  test('a proxy-ssl-secret in another namespace, or missing: 500, never an unverified connection', async () => {
    for (const host of ['crossns.btls.test', 'nosecret.btls.test']) {
      const res = await get(host);
      assert.equal(res.status, 500, host);
      assert.equal(reached(res.path), false, `${host}: the request reached the backend`);
    }
  });

  test('a backend that requires a client certificate: 502 without one', async () => {
    const res = await get('mtls-none.btls.test');
    assert.equal(res.status, 502);
    assert.equal(reached(res.path), false);
  });

  test('with proxy-ssl-secret holding tls.crt/tls.key signed by its CA: 200, the backend saw the subject', async () => {
    const res = await get('mtls-client.btls.test');
    assert.equal(res.status, 200);
    assert.equal(res.seen?.backend, 'mtls');
    assert.equal(res.seen?.clientCN, 'gatehouse-client');
  });

  test('a client certificate from a CA the backend does not trust: 502', async () => {
    const res = await get('mtls-untrusted.btls.test');
    assert.equal(res.status, 502);
    assert.equal(reached(res.path), false);
  });

  test('the proxy-ssl-secret rewritten with the right CA: the Ingress works without a restart', async () => {
    assert.equal((await get('wrongca.btls.test')).status, 502);
    writeAtomically('wrong-ca.yaml', [secret('wrong-ca', { 'ca.crt': BACKEND_CA.certPem })]);
    const res = await eventually('wrongca.btls.test', 200);
    assert.equal(res.status, 200, 'still failing 10 s after the Secret changed: the old TLS settings stayed');
    assert.equal(res.seen?.sni, BACKEND_NAME);
    // And back: new connections are verified against the new bundle again, not a pooled connection's.
    writeAtomically('wrong-ca.yaml', [secret('wrong-ca', { 'ca.crt': WRONG_CA.certPem })]);
    assert.equal((await eventually('wrongca.btls.test', 502)).status, 502, 'the old CA is still trusted');
  });
});

interface StatusEntry {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly [key: string]: unknown;
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message?: string;
}

/** Every condition anywhere in a status entry (top level, or under ancestors/parents). */
function allConditions(value: unknown): Condition[] {
  if (Array.isArray(value)) return value.flatMap(allConditions);
  if (value === null || typeof value !== 'object') return [];
  const out: Condition[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === 'conditions' && Array.isArray(v)) out.push(...(v as Condition[]));
    else out.push(...allConditions(v));
  }
  return out;
}

async function policyStatus(name: string): Promise<Condition[]> {
  const entries = JSON.parse((await gh.admin('/api/status')).body) as StatusEntry[];
  const entry = entries.find((e) => e.kind === 'BackendTLSPolicy' && e.name === name);
  assert.ok(entry !== undefined, `no status entry for BackendTLSPolicy ${name}`);
  return allConditions(entry);
}

describe('Gateway API BackendTLSPolicy', () => {
  test('CA from a ConfigMap and a hostname the certificate carries: 200, SNI = hostname', async () => {
    const res = await get('gw-ok.btls.test', gwPort);
    assert.equal(res.status, 200);
    assert.equal(res.seen?.backend, 'gw-ok');
    assert.equal(res.seen?.sni, BACKEND_NAME);
    assert.equal(res.seen?.host, 'gw-ok.btls.test');
    const conditions = await policyStatus('ok');
    const accepted = conditions.find((c) => c.type === 'Accepted');
    assert.equal(accepted?.status, 'True', JSON.stringify(conditions));
  });

  test('a hostname the backend certificate does not carry: 502', async () => {
    const res = await get('gw-mismatch.btls.test', gwPort);
    assert.equal(res.status, 502);
    assert.equal(reached(res.path), false);
  });

  test('a missing CA ConfigMap: 500, never an unverified connection; ResolvedRefs False on the policy', async () => {
    const res = await get('gw-missing.btls.test', gwPort);
    assert.equal(res.status, 500);
    assert.equal(reached(res.path), false);
    const conditions = await policyStatus('missing');
    const resolved = conditions.find((c) => c.type === 'ResolvedRefs');
    assert.equal(resolved?.status, 'False', JSON.stringify(conditions));
    assert.equal(resolved?.reason, 'InvalidCACertificateRef', 'the reason Gateway API defines for this');
  });

  test('the missing ConfigMap created later: the route starts working and the policy resolves', async () => {
    writeAtomically('late-configmap.yaml', [configMap('no-such-configmap', { 'ca.crt': BACKEND_CA.certPem })]);
    const res = await eventually('gw-missing.btls.test', 200, gwPort);
    assert.equal(res.status, 200);
    assert.equal(res.seen?.sni, BACKEND_NAME);
    const resolved = (await policyStatus('missing')).find((c) => c.type === 'ResolvedRefs');
    assert.equal(resolved?.status, 'True');
  });
});
