// TLS termination end to end: certificates chosen by SNI (exact, wildcard, default) on the Ingress HTTPS
// listener and on a Gateway HTTPS listener, Secrets rotated while clients keep connecting, TLS 1.0 and 1.1
// refused, and HTTPS requests through to a backend. Certificates come from a throw-away CA made at test time.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type SecureVersion } from 'node:tls';
import { startEcho } from '../src/cli/echo.ts';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import {
  gateway,
  gatewayClass,
  httpRoute,
  ingress,
  ingressClass,
  type Manifest,
  referenceGrant,
  service,
  tlsSecret,
  toYaml,
} from './helpers/manifests.ts';

const BACKEND = '127.0.70.1';
const CA = issueCertificate({ commonName: 'gatehouse tls test CA', isCA: true });
const leaf = (commonName: string, dnsNames: string[]): IssuedCertificate =>
  issueCertificate({ commonName, dnsNames, issuer: CA });
const CERTS = {
  a: leaf('a', ['a.tls.test']),
  b: leaf('b', ['b.tls.test']),
  c: leaf('c', ['c.tls.test']),
  wild: leaf('wild', ['*.wild.tls.test']),
  gatewayDefault: leaf('gateway default', ['default.tls.test']),
  rotated1: leaf('rotated 1', ['rot.tls.test']),
  rotated2: leaf('rotated 2', ['rot.tls.test']),
  gatewayDefault2: leaf('gateway default 2', ['default.tls.test']),
};
/** What selfSignedDefaultCertificate() issues: the built-in certificate for names nothing else claims. */
const BUILT_IN = { cn: 'gatehouse default certificate', san: 'DNS:gatehouse.invalid' };

let dir = '';
let gh: GatehouseProcess;
let gatewayPort = 0;
let closeEcho: () => Promise<void> = async () => {};

const secret = (name: string, cert: IssuedCertificate, ns = 'default'): Manifest =>
  tlsSecret(name, cert.certPem, cert.keyPem, ns);

/** Replaces a manifest file in one step, so the watcher never reads half a Secret. */
function writeAtomically(file: string, manifests: readonly Manifest[]): void {
  const tmp = join(tmpdir(), `gatehouse-tls-${process.pid}-${Date.now()}.tmp`);
  writeFileSync(tmp, toYaml(manifests));
  renameSync(tmp, join(dir, file));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  gatewayPort = await freeTcpPort();
  const echo = await startEcho({ name: 'tls-echo', listen: `${BACKEND}:8080` });
  closeEcho = () => echo.close();
  const rule = (host: string) => ({ host, paths: [{ path: '/', service: 'tls-echo', port: 8080 }] });
  writeFileSync(
    join(dir, 'base.yaml'),
    toYaml([
      ingressClass(),
      gatewayClass(),
      ...service({ name: 'tls-echo', clusterIP: BACKEND, port: 8080, targetPort: 8080, endpoints: [{ ip: BACKEND }] }),
      secret('a', CERTS.a),
      secret('b', CERTS.b),
      secret('wild', CERTS.wild),
      secret('b-cert', CERTS.b, 'certs'),
      secret('c-cert', CERTS.c, 'certs'),
      ingress({
        name: 'secure',
        tls: [
          { hosts: ['a.tls.test'], secretName: 'a' },
          { hosts: ['b.tls.test'], secretName: 'b' },
          { hosts: ['*.wild.tls.test'], secretName: 'wild' },
          { hosts: ['rot.tls.test'], secretName: 'rot' },
        ],
        rules: ['a.tls.test', 'b.tls.test', '*.wild.tls.test', 'rot.tls.test'].map(rule),
      }),
      gateway('gw', [
        { name: 'any', port: gatewayPort, protocol: 'HTTPS', certificateRefs: [{ name: 'gateway-default' }] },
        { name: 'a', port: gatewayPort, protocol: 'HTTPS', hostname: 'a.tls.test', certificateRefs: [{ name: 'a' }] },
        {
          name: 'b',
          port: gatewayPort,
          protocol: 'HTTPS',
          hostname: 'b.tls.test',
          certificateRefs: [{ name: 'b-cert', namespace: 'certs' }],
        },
        {
          name: 'wild',
          port: gatewayPort,
          protocol: 'HTTPS',
          hostname: '*.wild.tls.test',
          certificateRefs: [{ name: 'wild' }],
        },
        // Not granted: this listener is not served, and must not disturb the others on the port.
        {
          name: 'denied',
          port: gatewayPort,
          protocol: 'HTTPS',
          hostname: 'c.tls.test',
          certificateRefs: [{ name: 'c-cert', namespace: 'certs' }],
        },
      ]),
      referenceGrant(
        'gateways',
        'certs',
        { kind: 'Gateway', namespace: 'default' },
        { kind: 'Secret', name: 'b-cert' },
      ),
      httpRoute('site', { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'tls-echo', port: 8080 }] }] }),
    ]),
  );
  writeFileSync(join(dir, 'rot.yaml'), toYaml([secret('rot', CERTS.rotated1)]));
  writeFileSync(join(dir, 'gateway-default.yaml'), toYaml([secret('gateway-default', CERTS.gatewayDefault)]));
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  assert.equal(await gh.stop(), 0);
  await closeEcho();
  rmSync(dir, { recursive: true, force: true });
});

interface Handshake {
  readonly cn: string;
  readonly san: string;
  readonly protocol: string | null;
}

interface HandshakeOptions {
  /** Sent as SNI; none when absent (the target is an IP address, so node sends none of its own). */
  readonly servername?: string;
  /** Verify the chain against the test CA, and the name against `servername` when there is one. */
  readonly verify?: boolean;
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  readonly ciphers?: string;
}

function handshake(port: number, options: HandshakeOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const verify = options.verify ?? true;
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: CA.certPem,
      rejectUnauthorized: verify,
      ...(options.servername === undefined ? { checkServerIdentity: () => undefined } : {}),
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
      ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
      ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no TLS handshake within 5 s'));
    }, 5_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate();
      resolve({ cn: String(cert.subject.CN), san: cert.subjectaltname ?? '', protocol: socket.getProtocol() });
      socket.destroy();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

async function served(port: number, servername: string | undefined, verify = true): Promise<string> {
  return (await handshake(port, { verify, ...(servername === undefined ? {} : { servername }) })).cn;
}

function httpsGet(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: host, ca: CA.certPem, path: '/hello', headers: { host }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('no response within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

describe('Ingress spec.tls', () => {
  test('SNI picks the exact and wildcard certificates, verified against the CA', async () => {
    const port = gh.httpsPort;
    assert.equal(await served(port, 'a.tls.test'), 'a');
    assert.equal(await served(port, 'b.tls.test'), 'b');
    assert.equal(await served(port, 'x.wild.tls.test'), 'wild');
    assert.equal(await served(port, 'B.TLS.TEST'), 'b', 'SNI names compare case-insensitively');
  });

  test('no SNI, an unknown name or a name two labels below a wildcard get the built-in default', async () => {
    const port = gh.httpsPort;
    for (const servername of [undefined, 'unknown.tls.test', 'y.x.wild.tls.test']) {
      const hs = await handshake(port, { verify: false, ...(servername === undefined ? {} : { servername }) });
      assert.deepEqual({ cn: hs.cn, san: hs.san }, BUILT_IN, `servername ${servername ?? '(none)'}`);
    }
  });

  test('an HTTPS request reaches the backend', async () => {
    const res = await httpsGet(gh.httpsPort, 'a.tls.test');
    assert.equal(res.status, 200);
    const reply = JSON.parse(res.body) as { service: string; host: string; headers: Record<string, string> };
    assert.equal(reply.service, 'tls-echo');
    assert.equal(reply.host, 'a.tls.test');
    assert.equal(reply.headers['x-forwarded-proto'], 'https');
  });
});

describe('Gateway HTTPS listener', () => {
  test('SNI picks the listener certificates, one of them from another namespace by ReferenceGrant', async () => {
    assert.equal(await served(gatewayPort, 'a.tls.test'), 'a');
    assert.equal(await served(gatewayPort, 'b.tls.test'), 'b');
    assert.equal(await served(gatewayPort, 'x.wild.tls.test'), 'wild');
  });

  test("no SNI or a name no listener claims gets the hostname-less listener's certificate", async () => {
    for (const servername of [undefined, 'unknown.tls.test', 'y.x.wild.tls.test', 'c.tls.test']) {
      const hs = await handshake(gatewayPort, { verify: false, ...(servername === undefined ? {} : { servername }) });
      assert.deepEqual(
        { cn: hs.cn, san: hs.san },
        { cn: 'gateway default', san: 'DNS:default.tls.test' },
        `servername ${servername ?? '(none)'}`,
      );
    }
    // The default chains to the CA too: only the name differs.
    assert.equal(await served(gatewayPort, 'default.tls.test'), 'gateway default');
  });

  test('the listener whose Secret is not granted reports RefNotPermitted and is not programmed', async () => {
    const status = JSON.parse((await gh.admin('/api/status')).body) as {
      kind: string;
      name: string;
      listeners?: { name: string; conditions: { type: string; status: string; reason: string }[] }[];
    }[];
    const gw = status.find((s) => s.kind === 'Gateway' && s.name === 'gw');
    const byName = new Map((gw?.listeners ?? []).map((l) => [l.name, l.conditions]));
    const cond = (listener: string, type: string) => byName.get(listener)?.find((c) => c.type === type);
    assert.equal(cond('denied', 'ResolvedRefs')?.reason, 'RefNotPermitted');
    assert.equal(cond('denied', 'Programmed')?.status, 'False');
    for (const name of ['any', 'a', 'b', 'wild']) assert.equal(cond(name, 'Programmed')?.status, 'True', name);
  });

  test('an HTTPS request reaches the backend through an HTTPRoute', async () => {
    const res = await httpsGet(gatewayPort, 'b.tls.test');
    assert.equal(res.status, 200);
    const reply = JSON.parse(res.body) as { service: string; headers: Record<string, string> };
    assert.equal(reply.service, 'tls-echo');
    assert.equal(reply.headers['x-forwarded-proto'], 'https');
  });
});

test('TLS 1.0 and 1.1 are refused on both listeners; TLS 1.2 is accepted', async () => {
  for (const port of [gh.httpsPort, gatewayPort]) {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      // SECLEVEL=0 lets the client offer the old versions at all, so the refusal is the server's.
      await assert.rejects(
        handshake(port, {
          servername: 'a.tls.test',
          minVersion: 'TLSv1',
          maxVersion: version,
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
        `${version} on port ${port}`,
      );
    }
    const hs = await handshake(port, { servername: 'a.tls.test', maxVersion: 'TLSv1.2' });
    assert.equal(hs.protocol, 'TLSv1.2');
  }
});

/**
 * Handshakes in a loop until `done()`: every one must succeed, and once the new certificate shows up the old one
 * must never come back.
 */
async function handshakeLoop(
  port: number,
  options: HandshakeOptions,
  oldCN: string,
  newCN: string,
  done: () => boolean,
): Promise<{ counts: Map<string, number>; failures: string[] }> {
  const counts = new Map<string, number>();
  const failures: string[] = [];
  let rotated = false;
  while (!done()) {
    try {
      const { cn } = await handshake(port, options);
      if (cn === newCN) rotated = true;
      else if (cn !== oldCN || rotated) failures.push(`served ${cn}${rotated ? ' after the new certificate' : ''}`);
      counts.set(cn, (counts.get(cn) ?? 0) + 1);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return { counts, failures };
}

async function rotateUnderLoad(
  port: number,
  options: HandshakeOptions,
  [oldCN, newCN]: readonly [string, string],
  rotate: () => void,
): Promise<void> {
  let stop = false;
  const loops = [1, 2, 3].map(() => handshakeLoop(port, options, oldCN, newCN, () => stop));
  await sleep(300);
  rotate();
  const deadline = Date.now() + 10_000;
  let seen = '';
  while (Date.now() < deadline && seen !== newCN) {
    seen = (await handshake(port, options)).cn;
    if (seen !== newCN) await sleep(25);
  }
  await sleep(300);
  stop = true;
  const results = await Promise.all(loops);
  assert.equal(seen, newCN, 'the rotated certificate was never served');
  for (const r of results) {
    assert.deepEqual(r.failures, []);
    assert.ok((r.counts.get(oldCN) ?? 0) > 0, 'each loop saw the old certificate');
    assert.ok((r.counts.get(newCN) ?? 0) > 0, 'each loop saw the new certificate');
  }
}

test('a Secret rewritten while clients connect: new connections get the new certificate, none fail', async () => {
  await rotateUnderLoad(gh.httpsPort, { servername: 'rot.tls.test' }, ['rotated 1', 'rotated 2'], () =>
    writeAtomically('rot.yaml', [secret('rot', CERTS.rotated2)]),
  );
});

test("the Gateway's default certificate rotated while clients without SNI connect", async () => {
  await rotateUnderLoad(gatewayPort, {}, ['gateway default', 'gateway default 2'], () =>
    writeAtomically('gateway-default.yaml', [secret('gateway-default', CERTS.gatewayDefault2)]),
  );
});
