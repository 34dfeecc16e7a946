import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend, TranslateResult } from '../../ir/types.ts';
import type { KubeObject } from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { issueCertificate } from '../../tls/certificates.ts';
import { ingress, path, service, serviceBackend, servicePort, tlsSecret } from '../test-objects.ts';
import { INGRESS_CONTROLLER_NAME, translateIngresses } from './translate-ingress.ts';

const P = 'nginx.ingress.kubernetes.io/';

function translate(objects: KubeObject[]): TranslateResult {
  return translateIngresses(new Snapshot(objects), {
    ingressClass: 'gatehouse',
    controllerName: INGRESS_CONTROLLER_NAME,
    upstream: 'service',
    httpPort: 8080,
    httpsPort: 8443,
  });
}

const app = service({ name: 'app', clusterIP: '127.0.10.1', ports: [servicePort('https', 443)] });

function ing(name: string, annotations: Record<string, string>, svc = 'app', port = 443) {
  return ingress({
    name,
    className: 'gatehouse',
    annotations,
    rules: [
      {
        host: `${name}.example.com`,
        paths: [path('/', serviceBackend(svc, port)), path('/again', serviceBackend(svc, port))],
      },
    ],
  });
}

function backend(r: TranslateResult, name: string): Backend {
  const b = r.ir.backends.find((x) => x.name === name);
  assert.ok(b, `backend ${name} in ${r.ir.backends.map((x) => x.name).join(', ')}`);
  return b;
}

const ca = issueCertificate({ commonName: 'unit test CA', isCA: true });
const client = issueCertificate({ commonName: 'unit test client', issuer: ca });

describe('backend-protocol', () => {
  it('reads the value case-insensitively and trimmed, for every backend of the Ingress', () => {
    const r = translate([app, ing('a', { [`${P}backend-protocol`]: ' gRpC ' })]);
    assert.deepEqual(
      r.ir.backends.map((b) => [b.name, b.protocol, b.tls]),
      [['default/app:443+h2c', 'h2', undefined]],
    );
    assert.deepEqual(r.diagnostics, []);
  });

  it('treats an empty value as unset, as ingress-nginx does', () => {
    const r = translate([app, ing('a', { [`${P}backend-protocol`]: '  ' })]);
    assert.deepEqual(
      r.ir.backends.map((b) => b.name),
      ['default/app:443'],
    );
    assert.deepEqual(r.diagnostics, []);
  });

  it('keeps a value it cannot speak out of everything but a warning', () => {
    const value = 'HTTP"; rm -rf / #\nAJP';
    const r = translate([app, ing('a', { [`${P}backend-protocol`]: value })]);
    assert.deepEqual(
      r.ir.backends.map((b) => b.name),
      ['default/app:443'],
    );
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0]?.severity, 'warning');
    assert.ok(r.diagnostics[0]?.message.includes(JSON.stringify(value)));
  });

  it('GRPCS is HTTP/2 over TLS without verification by default', () => {
    const r = translate([app, ing('a', { [`${P}backend-protocol`]: 'GRPCS' })]);
    const b = backend(r, 'default/app:443+h2+tls');
    assert.equal(b.protocol, 'h2');
    assert.deepEqual(b.tls, { verify: false });
  });
});

describe('proxy-ssl', () => {
  const mtls = tlsSecret('mtls', { 'ca.crt': ca.certPem, 'tls.crt': client.certPem, 'tls.key': client.keyPem });

  it('gives each Ingress with settings of its own its own backend, and shares the defaults', () => {
    const r = translate([
      app,
      mtls,
      ing('verify', {
        [`${P}backend-protocol`]: 'HTTPS',
        [`${P}proxy-ssl-secret`]: 'default/mtls',
        [`${P}proxy-ssl-verify`]: 'on',
      }),
      ing('client-only', { [`${P}backend-protocol`]: 'HTTPS', [`${P}proxy-ssl-secret`]: 'mtls' }),
      ing('plain-a', { [`${P}backend-protocol`]: 'HTTPS' }),
      ing('plain-b', { [`${P}backend-protocol`]: 'https' }),
    ]);
    assert.deepEqual(
      r.ir.backends.map((b) => b.name),
      [
        'default/app:443+tls',
        'default/app:443+tls(ingress default/client-only)',
        'default/app:443+tls(ingress default/verify)',
      ],
    );
    assert.deepEqual(backend(r, 'default/app:443+tls(ingress default/verify)').tls, {
      serverName: 'app.default.svc',
      verify: true,
      caPem: ca.certPem,
      clientCertPem: client.certPem,
      clientKeyPem: client.keyPem,
    });
    assert.deepEqual(backend(r, 'default/app:443+tls(ingress default/client-only)').tls, {
      verify: false,
      clientCertPem: client.certPem,
      clientKeyPem: client.keyPem,
    });
    assert.deepEqual(r.diagnostics, []);
  });

  it('verifies against the system CAs when verification is on without a Secret', () => {
    const r = translate([app, ing('a', { [`${P}backend-protocol`]: 'HTTPS', [`${P}proxy-ssl-verify`]: 'on' })]);
    assert.deepEqual(backend(r, 'default/app:443+tls(ingress default/a)').tls, {
      serverName: 'app.default.svc',
      verify: true,
    });
  });

  it('refuses a Secret of another namespace before looking it up', () => {
    const elsewhere = tlsSecret('mtls', { 'ca.crt': ca.certPem }, 'other');
    for (const objects of [[app, elsewhere], [app]]) {
      const r = translate([
        ...objects,
        ing('a', { [`${P}backend-protocol`]: 'HTTPS', [`${P}proxy-ssl-secret`]: 'other/mtls' }),
      ]);
      const b = backend(r, 'default/app:443+tls(ingress default/a)');
      assert.equal(b.target.kind, 'unavailable');
      assert.equal(b.target.kind === 'unavailable' ? b.target.status : 0, 500);
      assert.equal(b.tls, undefined);
      assert.deepEqual(
        r.diagnostics.map((d) => [d.severity, d.message]),
        [
          [
            'error',
            `annotation ${P}proxy-ssl-secret: Secret other/mtls is in another namespace; only Secrets in the Ingress's namespace (default) may be used; the Ingress's backends answer 500`,
          ],
        ],
      );
    }
  });

  it('takes odd Secret references as data: an error and 500, never a crash', () => {
    for (const value of ['../../etc/passwd', '/mtls', 'default/', '$(cat /etc/shadow)', 'default/mtls/x']) {
      const r = translate([
        app,
        mtls,
        ing('a', { [`${P}backend-protocol`]: 'HTTPS', [`${P}proxy-ssl-secret`]: value }),
      ]);
      const b = backend(r, 'default/app:443+tls(ingress default/a)');
      assert.equal(b.target.kind, 'unavailable', value);
      assert.equal(r.diagnostics.length, 1, value);
      assert.equal(r.diagnostics[0]?.severity, 'error', value);
    }
  });

  it('fails closed on a proxy-ssl-verify value that is neither on nor off', () => {
    const r = translate([
      app,
      mtls,
      ing('a', {
        [`${P}backend-protocol`]: 'HTTPS',
        [`${P}proxy-ssl-secret`]: 'default/mtls',
        [`${P}proxy-ssl-verify`]: 'yes',
      }),
    ]);
    assert.equal(backend(r, 'default/app:443+tls(ingress default/a)').target.kind, 'unavailable');
  });

  it('reports a broken Secret once per Ingress, whatever the number of backends', () => {
    const broken = tlsSecret('mtls', { 'tls.crt': client.certPem, 'tls.key': ca.keyPem });
    const r = translate([
      app,
      broken,
      ing('a', { [`${P}backend-protocol`]: 'HTTPS', [`${P}proxy-ssl-secret`]: 'default/mtls' }),
    ]);
    assert.equal(r.diagnostics.length, 1);
    assert.match(r.diagnostics[0]?.message ?? '', /does not belong to the certificate/);
  });

  it('uses proxy-ssl-name for SNI and the name check, lower-cased', () => {
    const r = translate([
      app,
      ing('a', {
        [`${P}backend-protocol`]: 'HTTPS',
        [`${P}proxy-ssl-server-name`]: 'on',
        [`${P}proxy-ssl-name`]: 'Backend.Internal',
      }),
    ]);
    assert.deepEqual(backend(r, 'default/app:443+tls(ingress default/a)').tls, {
      serverName: 'backend.internal',
      verify: false,
    });
  });

  it('ignores proxy-ssl annotations with a cleartext protocol, without reading the Secret', () => {
    const r = translate([app, ing('a', { [`${P}proxy-ssl-secret`]: 'other/x', [`${P}proxy-ssl-verify`]: 'on' })]);
    assert.deepEqual(
      r.ir.backends.map((b) => [b.name, b.target.kind]),
      [['default/app:443', 'static']],
    );
    assert.deepEqual(
      r.diagnostics.map((d) => d.severity),
      ['warning'],
    );
  });
});
