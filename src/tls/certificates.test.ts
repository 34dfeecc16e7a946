import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect, createServer, type TLSSocket, type TlsOptions } from 'node:tls';
import {
  CERTIFICATE_INVALID,
  CertificateError,
  der,
  type IssuedCertificate,
  issueCertificate,
  selfSignedDefaultCertificate,
} from './certificates.ts';

const hex = (b: Buffer) => b.toString('hex');

test('DER lengths use the short form below 128 and minimal long forms above', () => {
  assert.equal(hex(der.length(0)), '00');
  assert.equal(hex(der.length(127)), '7f');
  assert.equal(hex(der.length(128)), '8180');
  assert.equal(hex(der.length(255)), '81ff');
  assert.equal(hex(der.length(256)), '820100');
  assert.equal(hex(der.length(70000)), '83011170');
});

test('DER object identifiers, integers, booleans and named bits match X.690 examples', () => {
  assert.equal(hex(der.oid('1.2.840.113549.1.1.11')), '06092a864886f70d01010b');
  assert.equal(hex(der.oid('2.5.29.17')), '0603551d11');
  assert.equal(hex(der.oid('2.999.3')), '0603883703');
  assert.throws(() => der.oid('1.40'), CertificateError);
  assert.throws(() => der.oid('1.x.3'), CertificateError);
  assert.equal(hex(der.unsignedInteger(Buffer.of(0))), '020100');
  assert.equal(hex(der.unsignedInteger(Buffer.of(0x7f))), '02017f');
  assert.equal(hex(der.unsignedInteger(Buffer.of(0x80))), '02020080');
  assert.equal(hex(der.unsignedInteger(Buffer.of(0, 0, 1))), '020101');
  assert.equal(hex(der.boolean(true)), '0101ff');
  assert.equal(hex(der.null()), '0500');
  // keyUsage digitalSignature + keyCertSign + cRLSign: bits 0, 5, 6 → 0x86 with one unused bit.
  assert.equal(hex(der.namedBits([0, 5, 6])), '03020186');
  assert.equal(hex(der.namedBits([0])), '03020780');
  assert.equal(hex(der.namedBits([8])), '0303070080');
  assert.equal(hex(der.time(new Date('2049-12-31T23:59:59.999Z'))), '170d3439313233313233353935395a');
  assert.equal(hex(der.time(new Date('2050-01-01T00:00:00Z'))), '180f32303530303130313030303030305a');
});

test('a self-signed certificate parses, verifies with its own key and carries its names', () => {
  const { certPem, keyPem } = issueCertificate({
    commonName: 'api.example.com',
    dnsNames: ['api.example.com', '*.api.example.com'],
    ipAddresses: ['127.0.10.1', '::1', '2001:db8::8:1', '::ffff:10.1.2.3'],
  });
  const cert = new X509Certificate(certPem);
  assert.equal(cert.subject, 'CN=api.example.com');
  assert.equal(cert.issuer, 'CN=api.example.com');
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(cert.signatureAlgorithmOid, '1.2.840.10045.4.3.2');
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  assert.equal(createPrivateKey(keyPem).asymmetricKeyType, 'ec');
  assert.equal(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(cert.checkHost('api.example.com'), 'api.example.com');
  // checkHost answers with the certificate name that matched.
  assert.equal(cert.checkHost('v1.api.example.com'), '*.api.example.com');
  assert.equal(cert.checkHost('a.v1.api.example.com'), undefined);
  assert.equal(cert.checkHost('other.example.com'), undefined);
  assert.equal(cert.checkIP('127.0.10.1'), '127.0.10.1');
  assert.equal(cert.checkIP('::1'), '::1');
  assert.equal(cert.checkIP('2001:db8:0:0:0:0:8:1'), '2001:db8:0:0:0:0:8:1');
  assert.equal(cert.checkIP('127.0.10.2'), undefined);
  assert.match(cert.subjectAltName ?? '', /IP Address:0:0:0:0:0:FFFF:A01:203/);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.match(cert.serialNumber, /^[0-7][0-9A-F]{31}$/);
  assert.notEqual(issueCertificate({ commonName: 'x' }).certPem, issueCertificate({ commonName: 'x' }).certPem);
});

test('validity defaults to one year starting an hour ago, and explicit dates are kept to the second', () => {
  const now = Date.now();
  const cert = new X509Certificate(issueCertificate({ commonName: 'x' }).certPem);
  assert.ok(Math.abs(cert.validFromDate.getTime() - (now - 3_600_000)) < 5_000);
  assert.equal(cert.validToDate.getTime() - cert.validFromDate.getTime(), 365 * 86_400_000);
  const notBefore = new Date('2030-02-03T04:05:06.789Z');
  const notAfter = new Date('2061-07-08T09:10:11Z');
  const explicit = new X509Certificate(issueCertificate({ commonName: 'x', notBefore, notAfter }).certPem);
  assert.equal(explicit.validFromDate.toISOString(), '2030-02-03T04:05:06.000Z');
  assert.equal(explicit.validToDate.toISOString(), '2061-07-08T09:10:11.000Z');
});

test('RSA keys sign with sha256WithRSAEncryption', () => {
  const { certPem, keyPem } = issueCertificate({
    commonName: 'rsa.example',
    dnsNames: ['rsa.example'],
    keyType: 'rsa',
  });
  const cert = new X509Certificate(certPem);
  const key = createPrivateKey(keyPem);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(cert.signatureAlgorithmOid, '1.2.840.113549.1.1.11');
});

test('a CA signs leaves that chain to it; leaves of another CA do not', () => {
  const ca = issueCertificate({ commonName: 'Test Root CA', isCA: true });
  const other = issueCertificate({ commonName: 'Other CA', isCA: true, keyType: 'rsa' });
  const caCert = new X509Certificate(ca.certPem);
  const otherCert = new X509Certificate(other.certPem);
  assert.equal(caCert.ca, true);
  assert.ok(caCert.verify(caCert.publicKey));
  assert.ok(caCert.validToDate.getTime() - caCert.validFromDate.getTime() >= 3650 * 86_400_000);

  const leaf = new X509Certificate(issueCertificate({ commonName: 'svc', dnsNames: ['svc.test'], issuer: ca }).certPem);
  assert.equal(leaf.issuer, 'CN=Test Root CA');
  assert.ok(leaf.checkIssued(caCert));
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(!leaf.verify(otherCert.publicKey));
  assert.ok(!leaf.checkIssued(otherCert));

  // An RSA issuer signs an EC leaf with its own algorithm.
  const mixed = new X509Certificate(issueCertificate({ commonName: 'm', issuer: other }).certPem);
  assert.ok(mixed.verify(otherCert.publicKey));
  assert.equal(mixed.signatureAlgorithmOid, '1.2.840.113549.1.1.11');
  assert.equal(mixed.publicKey.asymmetricKeyType, 'ec');

  const intermediate = issueCertificate({ commonName: 'Intermediate', isCA: true, issuer: ca });
  const deep = new X509Certificate(issueCertificate({ commonName: 'deep', issuer: intermediate }).certPem);
  assert.ok(deep.verify(new X509Certificate(intermediate.certPem).publicKey));
  assert.equal(deep.issuer, 'CN=Intermediate');
});

test('bad input is refused with a CertificateError', () => {
  const leaf = issueCertificate({ commonName: 'leaf' });
  const ca = issueCertificate({ commonName: 'ca', isCA: true });
  const cases: Array<() => unknown> = [
    () => issueCertificate({ commonName: 'x', issuer: leaf }),
    () => issueCertificate({ commonName: 'x', issuer: { certPem: ca.certPem, keyPem: leaf.keyPem } }),
    () => issueCertificate({ commonName: 'x', issuer: { certPem: 'garbage', keyPem: ca.keyPem } }),
    () => issueCertificate({ commonName: 'x', ipAddresses: ['256.1.1.1'] }),
    () => issueCertificate({ commonName: 'x', ipAddresses: ['fe80::1%eth0'] }),
    () => issueCertificate({ commonName: 'x', dnsNames: ['bücher.example'] }),
    () => issueCertificate({ commonName: 'x', dnsNames: [''] }),
    () => issueCertificate({ commonName: 'x', notBefore: new Date(2000), notAfter: new Date(1000) }),
    () => issueCertificate({ commonName: 'x', notAfter: new Date(Number.NaN) }),
  ];
  for (const [i, c] of cases.entries()) {
    assert.throws(
      c,
      (err: unknown) => err instanceof CertificateError && err.code === CERTIFICATE_INVALID,
      `case ${i}`,
    );
  }
});

test('the default certificate matches no real host', () => {
  const cert = new X509Certificate(selfSignedDefaultCertificate().certPem);
  assert.equal(cert.subject, 'CN=gatehouse default certificate');
  assert.equal(cert.subjectAltName, 'DNS:gatehouse.invalid');
  assert.equal(cert.checkHost('gatehouse.invalid'), 'gatehouse.invalid');
  for (const host of ['localhost', 'example.com', 'gatehouse default certificate']) {
    assert.equal(cert.checkHost(host), undefined, host);
  }
  assert.ok(cert.verify(cert.publicKey));
});

interface Handshake {
  readonly error: string | null;
  readonly peerCN: string | null;
  readonly clientCN: string | null;
}

async function handshake(
  server: IssuedCertificate,
  client: { readonly ca: string; readonly servername: string; readonly cert?: IssuedCertificate },
  serverExtra: TlsOptions = {},
): Promise<Handshake> {
  let clientCN: string | null = null;
  const srv = createServer({ cert: server.certPem, key: server.keyPem, ...serverExtra }, (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    clientCN = typeof peer.subject?.CN === 'string' ? peer.subject.CN : null;
    socket.end('ok');
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<Handshake>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername: client.servername,
        ca: client.ca,
        ...(client.cert === undefined ? {} : { cert: client.cert.certPem, key: client.cert.keyPem }),
      });
      socket.on('secureConnect', () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        socket.on('data', () => {});
        socket.on('end', () => {
          socket.destroy();
          resolve({ error: null, peerCN: typeof cn === 'string' ? cn : null, clientCN });
        });
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve({ error: err.code ?? err.message, peerCN: null, clientCN });
      });
    });
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

test('TLS: a client trusting only the CA accepts the right name and refuses the wrong one or another CA', async () => {
  const ca = issueCertificate({ commonName: 'Gatehouse Test CA', isCA: true });
  const otherCa = issueCertificate({ commonName: 'Unrelated CA', isCA: true });
  const leaf = issueCertificate({ commonName: 'app.test', dnsNames: ['app.test'], issuer: ca });

  const ok = await handshake(leaf, { ca: ca.certPem, servername: 'app.test' });
  assert.deepEqual(ok, { error: null, peerCN: 'app.test', clientCN: null });

  const wrongName = await handshake(leaf, { ca: ca.certPem, servername: 'other.test' });
  assert.equal(wrongName.error, 'ERR_TLS_CERT_ALTNAME_INVALID');

  const untrusted = await handshake(leaf, { ca: otherCa.certPem, servername: 'app.test' });
  assert.equal(untrusted.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');

  const rsaLeaf = issueCertificate({ commonName: 'rsa.test', dnsNames: ['rsa.test'], issuer: ca, keyType: 'rsa' });
  assert.equal((await handshake(rsaLeaf, { ca: ca.certPem, servername: 'rsa.test' })).error, null);
});

test('TLS: an expired or not-yet-valid certificate is refused', async () => {
  const ca = issueCertificate({ commonName: 'Gatehouse Test CA', isCA: true });
  const day = 86_400_000;
  const expired = issueCertificate({
    commonName: 'old.test',
    dnsNames: ['old.test'],
    issuer: ca,
    notBefore: new Date(Date.now() - 30 * day),
    notAfter: new Date(Date.now() - day),
  });
  assert.equal((await handshake(expired, { ca: ca.certPem, servername: 'old.test' })).error, 'CERT_HAS_EXPIRED');
  const future = issueCertificate({
    commonName: 'new.test',
    dnsNames: ['new.test'],
    issuer: ca,
    notBefore: new Date(Date.now() + day),
  });
  assert.equal((await handshake(future, { ca: ca.certPem, servername: 'new.test' })).error, 'CERT_NOT_YET_VALID');
});

test('TLS: leaves work as client certificates for mutual TLS', async () => {
  const ca = issueCertificate({ commonName: 'Mesh CA', isCA: true });
  const server = issueCertificate({ commonName: 'backend', dnsNames: ['backend.test'], issuer: ca });
  const client = issueCertificate({ commonName: 'gatehouse', issuer: ca });
  const result = await handshake(
    server,
    { ca: ca.certPem, servername: 'backend.test', cert: client },
    { ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
  );
  assert.deepEqual(result, { error: null, peerCN: 'backend', clientCN: 'gatehouse' });
});

test('TLS: a self-signed certificate is accepted by a client that trusts exactly it', async () => {
  const self = issueCertificate({ commonName: 'self.test', dnsNames: ['self.test'] });
  assert.equal((await handshake(self, { ca: self.certPem, servername: 'self.test' })).error, null);
  const def = selfSignedDefaultCertificate();
  assert.equal(
    (await handshake(def, { ca: self.certPem, servername: 'self.test' })).error,
    'DEPTH_ZERO_SELF_SIGNED_CERT',
  );
});
