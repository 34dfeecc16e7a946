// HTTP/2 end to end: a real gatehouse process and real HTTP/1.1 backends on 127.0.110.x. HTTPS listeners (Ingress
// spec.tls and a Gateway HTTPS listener) offer h2 and http/1.1 by ALPN and route both alike; cleartext HTTP/2
// with prior knowledge (h2c) works on the plain port while an `Upgrade: h2c` is refused; 421 for an :authority
// that another certificate covers; :authority/host disagreements refused; hop-by-hop response fields dropped;
// 5 MB bodies both ways; stream resets cancel upstream requests, and a rapid-reset burst (CVE-2023-44487) neither
// crashes gatehouse nor floods the backend; SIGTERM drains h2 sessions with GOAWAY.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type ClientHttp2Session, constants, createServer as createHttp2Server, type Http2Session } from 'node:http2';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeServer, listenOn } from '../src/cli/echo.ts';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { type RecordingBackend, startRecordingBackend } from './helpers/backends.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { h2Connect, h2Request, negotiatedProtocol, rapidReset } from './helpers/h2.ts';
import {
  gateway,
  gatewayClass,
  httpRoute,
  ingress,
  ingressClass,
  type Manifest,
  service,
  tlsSecret,
  toYaml,
} from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const ADDR = {
  one: '127.0.110.1',
  two: '127.0.110.2',
  bulk: '127.0.110.3',
  slow: '127.0.110.4',
  /** An HTTP/2-only (h2c) backend behind a Service port with appProtocol kubernetes.io/h2c. */
  h2c: '127.0.110.5',
} as const;
const PORT = 8080;
const CA = issueCertificate({ commonName: 'gatehouse http2 test CA', isCA: true });
const leaf = (commonName: string, dnsNames: string[]): IssuedCertificate =>
  issueCertificate({ commonName, dnsNames, issuer: CA });
const CERTS = {
  a: leaf('a', ['a.h2.test']),
  b: leaf('b', ['b.h2.test']),
  wild: leaf('wild', ['*.wild.h2.test']),
  ga: leaf('ga', ['ga.h2.test']),
  gb: leaf('gb', ['gb.h2.test']),
};
const MB5 = 5 * 1024 * 1024;

let dir = '';
let gh: GatehouseProcess;
let gwPort = 0;
let one: RecordingBackend;
let two: RecordingBackend;
let slow: RecordingBackend;
let closeBulk: () => Promise<void> = async () => {};
let closeH2c: () => Promise<void> = async () => {};
const sessions: ClientHttp2Session[] = [];

/** n bytes of a fixed pattern, the same on both sides, so a download can be checked without sending a hash. */
function pattern(n: number): Buffer {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 31 + (i >> 10)) & 0xff;
  return buf;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The bulk backend: POST …/sha answers {bytes, sha256, httpVersion} of the body; POST …/mirror streams the body
 * back as it arrives; GET …/download/N sends pattern(N).
 */
async function startBulkBackend(): Promise<() => Promise<void>> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    req.on('error', () => {});
    if (path.endsWith('/hop')) {
      // Hop-by-hop fields, one of them named by Connection: none may reach an HTTP/2 client.
      res.writeHead(200, {
        connection: 'close, x-hop',
        'x-hop': 'connection-scoped',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'x-kept': 'end-to-end',
        'content-type': 'text/plain',
        'content-length': 2,
      });
      res.end('ok');
      return;
    }
    if (path.endsWith('/mirror')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    const download = /\/download\/(\d{1,9})$/.exec(path);
    if (download !== null) {
      const body = pattern(Number(download[1]));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, sha256: hash.digest('hex'), httpVersion: req.httpVersion });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await listenOn(server, ADDR.bulk, PORT);
  return () => closeServer(server, 0);
}

/** An HTTP/2-only backend without TLS: answers {service, httpVersion, authority, path, bytes, sha256}. */
async function startH2cBackend(): Promise<() => Promise<void>> {
  const server = createHttp2Server();
  const h2cBackendSessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    h2cBackendSessions.add(session);
    session.on('close', () => h2cBackendSessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const hash = createHash('sha256');
    let bytes = 0;
    stream.on('error', () => {});
    stream.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(
        JSON.stringify({
          service: 'h2c',
          httpVersion: '2.0',
          authority: headers[':authority'] ?? headers.host ?? null,
          path: headers[':path'],
          forwardedProto: headers['x-forwarded-proto'] ?? null,
          bytes,
          sha256: hash.digest('hex'),
        }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, ADDR.h2c, () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Sessions still open would keep close() waiting.
      for (const s of h2cBackendSessions) s.destroy();
    });
}

function manifests(): Manifest[] {
  const svc = (name: string, ip: string): Manifest[] =>
    service({ name, clusterIP: ip, port: PORT, targetPort: PORT, endpoints: [{ ip }] });
  const p = (path: string, name: string) => ({ path, service: name, port: PORT });
  const common = [p('/two', 'two'), p('/bulk', 'bulk'), p('/rr', 'slow'), p('/h2c', 'h2c'), p('/', 'one')];
  return [
    ingressClass(),
    gatewayClass(),
    ...svc('one', ADDR.one),
    ...svc('two', ADDR.two),
    ...svc('bulk', ADDR.bulk),
    ...svc('slow', ADDR.slow),
    ...service({
      name: 'h2c',
      clusterIP: ADDR.h2c,
      port: PORT,
      targetPort: PORT,
      appProtocol: 'kubernetes.io/h2c',
      endpoints: [{ ip: ADDR.h2c }],
    }),
    ...Object.entries(CERTS).map(([name, c]) => tlsSecret(name, c.certPem, c.keyPem)),
    ingress({
      name: 'h2',
      tls: [
        { hosts: ['a.h2.test'], secretName: 'a' },
        { hosts: ['b.h2.test'], secretName: 'b' },
        { hosts: ['*.wild.h2.test'], secretName: 'wild' },
      ],
      rules: [
        { host: 'a.h2.test', paths: common },
        { host: 'b.h2.test', paths: [p('/', 'two')] },
        { host: '*.wild.h2.test', paths: [p('/', 'one')] },
        { host: 'plain.h2.test', paths: common },
      ],
    }),
    gateway('h2gw', [
      { name: 'ga', port: gwPort, protocol: 'HTTPS', hostname: 'ga.h2.test', certificateRefs: [{ name: 'ga' }] },
      { name: 'gb', port: gwPort, protocol: 'HTTPS', hostname: 'gb.h2.test', certificateRefs: [{ name: 'gb' }] },
    ]),
    httpRoute('h2-site', {
      parentRefs: [{ name: 'h2gw' }],
      hostnames: ['ga.h2.test', 'gb.h2.test'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/two' } }], backendRefs: [{ name: 'two', port: PORT }] },
        { backendRefs: [{ name: 'one', port: PORT }] },
      ],
    }),
  ];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-h2-'));
  gwPort = await freeTcpPort();
  one = await startRecordingBackend({ name: 'one', host: ADDR.one, port: PORT });
  two = await startRecordingBackend({ name: 'two', host: ADDR.two, port: PORT });
  slow = await startRecordingBackend({ name: 'slow', host: ADDR.slow, port: PORT });
  closeBulk = await startBulkBackend();
  closeH2c = await startH2cBackend();
  writeFileSync(join(dir, 'all.yaml'), toYaml(manifests()));
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  for (const s of sessions) s.destroy();
  const code = gh === undefined ? 0 : await gh.stop();
  // Backends close whatever gatehouse did, or they would keep this process alive.
  await Promise.all([one?.close(), two?.close(), slow?.close(), closeBulk(), closeH2c()]);
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

/** An h2 session over TLS to port, with this SNI name. */
async function tlsSession(port: number, servername: string): Promise<ClientHttp2Session> {
  const s = await h2Connect(`https://127.0.0.1:${port}`, { servername, ca: CA.certPem });
  sessions.push(s);
  return s;
}

/** An h2c session (prior knowledge) to the plain HTTP port. */
async function h2cSession(): Promise<ClientHttp2Session> {
  const s = await h2Connect(`http://127.0.0.1:${gh.httpPort}`);
  sessions.push(s);
  return s;
}

interface EchoReply {
  readonly service: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Record<string, string | string[]>;
  readonly bodyBytes: number;
}

const echo = (body: Buffer): EchoReply => JSON.parse(body.toString('utf8')) as EchoReply;

let seq = 0;
/** A path no other request uses, so the backend's record of it is easy to find. */
const unique = (prefix = ''): string => `${prefix}/id-${process.pid}-${++seq}`;

function recordOf(backend: RecordingBackend, path: string) {
  const rec = backend.requests.find((r) => r.url === path);
  assert.ok(rec !== undefined, `${backend.name} has no record of ${path}`);
  return rec;
}

/** HTTP/1.1 over TLS (ALPN http/1.1 only), one connection per request. */
function https1(
  port: number,
  host: string,
  path: string,
  options: { method?: string; body?: Buffer } = {},
): Promise<{ status: number; body: Buffer; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const tlsOptions: RequestOptions & { readonly ALPNProtocols: string[] } = {
      host: '127.0.0.1',
      port,
      servername: host,
      ca: CA.certPem,
      path,
      method: options.method ?? 'GET',
      headers: { host },
      agent: false,
      ALPNProtocols: ['http/1.1'],
    };
    const req = httpsRequest(tlsOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          alpn: (res.socket as { alpnProtocol?: string | false }).alpnProtocol ?? false,
        }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no response within 10 s')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes a raw HTTP/1.1 request and returns everything read until the server closes (or the head, after 3 s). */
function rawExchange(request: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, 3_000);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.write(request);
  });
}

describe('HTTPS listeners: h2 and http/1.1 on the same port', () => {
  test('ALPN offers h2 and http/1.1 on the Ingress HTTPS port and on a Gateway HTTPS listener', async () => {
    for (const [port, name] of [
      [gh.httpsPort, 'a.h2.test'],
      [gwPort, 'ga.h2.test'],
    ] as const) {
      assert.equal(await negotiatedProtocol(port, name, ['h2', 'http/1.1'], CA.certPem), 'h2', `${name}: h2 first`);
      assert.equal(await negotiatedProtocol(port, name, ['http/1.1', 'h2'], CA.certPem), 'h2', `${name}: h2 second`);
      assert.equal(await negotiatedProtocol(port, name, ['http/1.1'], CA.certPem), 'http/1.1', `${name}: h1 only`);
    }
  });

  test('Ingress: an h2 client is routed by host and path; the backend gets HTTP/1.1, Host from :authority', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const path = unique();
    const res = await h2Request(session, { ':path': path, ':authority': 'a.h2.test' });
    assert.equal(res.status, 200);
    const reply = echo(res.body);
    assert.equal(reply.service, 'one');
    assert.equal(reply.host, 'a.h2.test');
    assert.equal(reply.headers['x-forwarded-proto'], 'https');
    assert.equal(recordOf(one, path).httpVersion, '1.1', 'HTTP/1.1 upstream by default');

    const twoPath = unique('/two');
    const toTwo = await h2Request(session, { ':path': twoPath, ':authority': 'a.h2.test' });
    assert.equal(toTwo.status, 200);
    assert.equal(echo(toTwo.body).service, 'two');
    assert.equal(recordOf(two, twoPath).headers.host, 'a.h2.test');

    const other = await h2Request(await tlsSession(gh.httpsPort, 'b.h2.test'), {
      ':path': '/',
      ':authority': 'b.h2.test',
    });
    assert.equal(other.status, 200);
    assert.equal(echo(other.body).service, 'two');
  });

  test('h2 request details survive the translation to HTTP/1.1: query, cookies, HEAD, 204 and 304', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const q = await h2Request(session, { ':path': `${unique()}?q=1&r=a%20b`, ':authority': 'a.h2.test' });
    assert.equal(q.status, 200);
    assert.equal(echo(q.body).query, 'q=1&r=a%20b');
    // HTTP/2 lets a client split Cookie into several fields; HTTP/1.1 wants one, joined with "; " (RFC 9113 8.2.3).
    const c = await h2Request(session, { ':path': unique(), ':authority': 'a.h2.test', cookie: ['a=1', 'b=2'] });
    assert.equal(c.status, 200);
    assert.equal(echo(c.body).headers['cookie'], 'a=1; b=2');
    const head = await h2Request(session, { ':method': 'HEAD', ':path': unique(), ':authority': 'a.h2.test' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const code of [204, 304]) {
      const res = await h2Request(session, { ':path': `${unique()}/status/${code}`, ':authority': 'a.h2.test' });
      assert.equal(res.status, code);
      assert.equal(res.body.length, 0);
    }
  });

  test('50 concurrent streams on one session to a slow HTTP/1.1 backend run side by side', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h2Request(session, { ':path': `/two/c${i}/delay/200`, ':authority': 'a.h2.test' }, undefined, 20_000),
      ),
    );
    const took = Date.now() - started;
    assert.deepEqual(
      results.map((r) => `${r.status} ${echo(r.body).path}`),
      Array.from({ length: 50 }, (_, i) => `200 /two/c${i}/delay/200`),
    );
    // One after another would take 10 s.
    assert.ok(took < 4_000, `50 requests of 200 ms took ${took} ms`);
  });

  test('Ingress: an HTTP/1.1 client on the same port goes through the same routes', async () => {
    const path = unique();
    const res = await https1(gh.httpsPort, 'a.h2.test', path);
    assert.equal(res.alpn, 'http/1.1');
    assert.equal(res.status, 200);
    const reply = echo(res.body);
    assert.equal(reply.service, 'one');
    assert.equal(reply.host, 'a.h2.test');
    assert.equal(reply.headers['x-forwarded-proto'], 'https');
    const toTwo = await https1(gh.httpsPort, 'a.h2.test', unique('/two'));
    assert.equal(echo(toTwo.body).service, 'two');
  });

  test('a POST body arrives intact from an h2 client and from an HTTP/1.1 client', async () => {
    const body = randomBytes(200_000);
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const h2 = await h2Request(
      session,
      {
        ':method': 'POST',
        ':path': '/bulk/sha',
        ':authority': 'a.h2.test',
        'content-type': 'application/octet-stream',
      },
      body,
    );
    assert.equal(h2.status, 200);
    assert.deepEqual(JSON.parse(h2.body.toString()), { bytes: body.length, sha256: sha256(body), httpVersion: '1.1' });
    const h1 = await https1(gh.httpsPort, 'a.h2.test', '/bulk/sha', { method: 'POST', body });
    assert.equal(h1.status, 200);
    assert.deepEqual(JSON.parse(h1.body.toString()), { bytes: body.length, sha256: sha256(body), httpVersion: '1.1' });
    // And the small echo path counts it too (body forwarded, not just its length).
    const counted = await h2Request(
      session,
      { ':method': 'POST', ':path': unique(), ':authority': 'a.h2.test' },
      Buffer.from('hello h2'),
    );
    assert.equal(echo(counted.body).bodyBytes, 8);
  });

  test('Gateway HTTPS listener: h2 and HTTP/1.1 clients are routed through the HTTPRoute', async () => {
    const session = await tlsSession(gwPort, 'ga.h2.test');
    const res = await h2Request(session, { ':path': unique(), ':authority': 'ga.h2.test' });
    assert.equal(res.status, 200);
    assert.equal(echo(res.body).service, 'one');
    assert.equal(echo(res.body).host, 'ga.h2.test');
    assert.equal(echo(res.body).headers['x-forwarded-proto'], 'https');
    const toTwo = await h2Request(session, { ':path': unique('/two'), ':authority': 'ga.h2.test' });
    assert.equal(echo(toTwo.body).service, 'two');
    const h1 = await https1(gwPort, 'gb.h2.test', unique('/two'));
    assert.equal(h1.status, 200);
    assert.equal(echo(h1.body).service, 'two');
    assert.equal(echo(h1.body).host, 'gb.h2.test');
  });
});

describe('HTTP/2 upstream: a Service port with appProtocol kubernetes.io/h2c', () => {
  test('h2, h2c and HTTP/1.1 clients all reach the h2c backend over HTTP/2, bodies intact', async () => {
    const body = randomBytes(300_000);
    const expected = { bytes: body.length, sha256: sha256(body) };
    const viaTls = await h2Request(
      await tlsSession(gh.httpsPort, 'a.h2.test'),
      { ':method': 'POST', ':path': '/h2c/tls', ':authority': 'a.h2.test' },
      body,
    );
    const viaH2c = await h2Request(
      await h2cSession(),
      { ':method': 'POST', ':path': '/h2c/clear', ':authority': 'plain.h2.test' },
      body,
    );
    const viaH1 = await https1(gh.httpsPort, 'a.h2.test', '/h2c/h1', { method: 'POST', body });
    for (const [label, res, authority, path, proto] of [
      ['h2 over TLS', viaTls, 'a.h2.test', '/h2c/tls', 'https'],
      ['h2c', viaH2c, 'plain.h2.test', '/h2c/clear', 'http'],
      ['HTTP/1.1 over TLS', viaH1, 'a.h2.test', '/h2c/h1', 'https'],
    ] as const) {
      assert.equal(res.status, 200, label);
      const reply = JSON.parse(res.body.toString()) as Record<string, unknown>;
      assert.deepEqual(
        {
          service: reply['service'],
          authority: reply['authority'],
          path: reply['path'],
          proto: reply['forwardedProto'],
          bytes: reply['bytes'],
          sha256: reply['sha256'],
        },
        { service: 'h2c', authority, path, proto, ...expected },
        label,
      );
    }
  });
});

describe('cleartext HTTP/2 on the plain HTTP port', () => {
  test('h2c with prior knowledge is routed like HTTP/1.1', async () => {
    const session = await h2cSession();
    const path = unique();
    const res = await h2Request(session, { ':path': path, ':authority': 'plain.h2.test' });
    assert.equal(res.status, 200);
    const reply = echo(res.body);
    assert.equal(reply.service, 'one');
    assert.equal(reply.host, 'plain.h2.test');
    assert.equal(reply.headers['x-forwarded-proto'], 'http');
    assert.equal(recordOf(one, path).httpVersion, '1.1');
    const toTwo = await h2Request(session, { ':path': unique('/two'), ':authority': 'plain.h2.test' });
    assert.equal(echo(toTwo.body).service, 'two');
    const body = randomBytes(100_000);
    const posted = await h2Request(
      session,
      { ':method': 'POST', ':path': '/bulk/sha', ':authority': 'plain.h2.test' },
      body,
    );
    assert.deepEqual(JSON.parse(posted.body.toString()), {
      bytes: body.length,
      sha256: sha256(body),
      httpVersion: '1.1',
    });
    // The same route over HTTP/1.1 on the same port still works.
    const h1 = await httpRequest({
      host: '127.0.0.1',
      port: gh.httpPort,
      path: unique('/two'),
      headers: { host: 'plain.h2.test' },
    });
    assert.equal(h1.status, 200);
    assert.equal(echo(h1.body).service, 'two');
  });

  test('an HTTP/1.1 `Upgrade: h2c` request gets 400 and never reaches the backend', async () => {
    const path = unique();
    const response = await rawExchange(
      `GET ${path} HTTP/1.1\r\nHost: plain.h2.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n` +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      gh.httpPort,
    );
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.equal(
      one.requests.some((r) => r.url === path),
      false,
    );
  });
});

describe('421 Misdirected Request on h2 over TLS', () => {
  test('Ingress: :authority covered by another certificate than the SNI one → 421; the session stays usable', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const path = unique();
    const res = await h2Request(session, { ':path': path, ':authority': 'b.h2.test' });
    assert.equal(res.status, 421);
    assert.equal(
      two.requests.some((r) => r.url === path),
      false,
      'the misdirected request reached the backend',
    );
    const ok = await h2Request(session, { ':path': unique(), ':authority': 'a.h2.test' });
    assert.equal(ok.status, 200);
  });

  test(':authority with the port or in upper case names the same host: routed, not 421', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    for (const authority of [`a.h2.test:${gh.httpsPort}`, 'A.H2.Test']) {
      const res = await h2Request(session, { ':path': unique('/two'), ':authority': authority });
      assert.equal(res.status, 200, authority);
      assert.equal(echo(res.body).service, 'two', authority);
      assert.equal(echo(res.body).host, authority, 'Host is forwarded unchanged');
    }
  });

  test('Ingress: two names under one wildcard certificate share a connection and are routed normally', async () => {
    const session = await tlsSession(gh.httpsPort, 'x.wild.h2.test');
    const res = await h2Request(session, { ':path': unique(), ':authority': 'y.wild.h2.test' });
    assert.equal(res.status, 200);
    assert.equal(echo(res.body).service, 'one');
    assert.equal(echo(res.body).host, 'y.wild.h2.test');
  });

  test("Gateway: :authority of another listener's certificate → 421", async () => {
    const session = await tlsSession(gwPort, 'ga.h2.test');
    const res = await h2Request(session, { ':path': unique(), ':authority': 'gb.h2.test' });
    assert.equal(res.status, 421);
    const ok = await h2Request(session, { ':path': unique(), ':authority': 'ga.h2.test' });
    assert.equal(ok.status, 200);
  });
});

describe(':authority and host', () => {
  test('an :authority and a host header that differ → 400, over TLS and over h2c; equal ones pass', async () => {
    const tls = await tlsSession(gh.httpsPort, 'a.h2.test');
    const path = unique('/two');
    const res = await h2Request(tls, { ':path': path, ':authority': 'a.h2.test', host: 'plain.h2.test' });
    assert.equal(res.status, 400);
    const h2c = await h2cSession();
    const res2 = await h2Request(h2c, { ':path': path, ':authority': 'plain.h2.test', host: 'a.h2.test' });
    assert.equal(res2.status, 400);
    assert.equal(
      two.requests.some((r) => r.url === path),
      false,
      'a refused request reached the backend',
    );
    const same = await h2Request(h2c, { ':path': unique(), ':authority': 'plain.h2.test', host: 'plain.h2.test' });
    assert.equal(same.status, 200);
  });
});

describe('response headers over h2', () => {
  test('hop-by-hop response fields from the HTTP/1.1 backend (and those Connection names) are dropped', async () => {
    for (const [session, authority] of [
      [await tlsSession(gh.httpsPort, 'a.h2.test'), 'a.h2.test'],
      [await h2cSession(), 'plain.h2.test'],
    ] as const) {
      const res = await h2Request(session, { ':path': '/bulk/hop', ':authority': authority });
      assert.equal(res.status, 200, authority);
      assert.equal(res.body.toString(), 'ok');
      assert.equal(res.headers['x-kept'], 'end-to-end');
      for (const name of ['connection', 'x-hop', 'keep-alive', 'proxy-connection', 'transfer-encoding']) {
        assert.equal(res.headers[name], undefined, `${authority}: ${name} reached the client`);
      }
    }
  });
});

describe('large bodies over h2', () => {
  test('5 MB up: the backend receives every byte', async () => {
    const body = randomBytes(MB5);
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const res = await h2Request(
      session,
      { ':method': 'POST', ':path': '/bulk/sha', ':authority': 'a.h2.test' },
      body,
      60_000,
    );
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { bytes: MB5, sha256: sha256(body), httpVersion: '1.1' });
  });

  test('5 MB down: the client receives every byte', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    const res = await h2Request(
      session,
      { ':path': `/bulk/download/${MB5}`, ':authority': 'a.h2.test' },
      undefined,
      60_000,
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.length, MB5);
    assert.equal(sha256(res.body), sha256(pattern(MB5)));
  });

  test('5 MB both ways at once (the backend streams the body back as it arrives), over TLS and h2c', async () => {
    const body = randomBytes(MB5);
    for (const [session, authority] of [
      [await tlsSession(gh.httpsPort, 'a.h2.test'), 'a.h2.test'],
      [await h2cSession(), 'plain.h2.test'],
    ] as const) {
      const res = await h2Request(
        session,
        { ':method': 'POST', ':path': '/bulk/mirror', ':authority': authority },
        body,
        60_000,
      );
      assert.equal(res.status, 200, authority);
      assert.equal(res.body.length, MB5, authority);
      assert.ok(res.body.equals(body), `${authority}: the mirrored body differs`);
    }
  });
});

describe('rapid reset (CVE-2023-44487)', () => {
  test('the server advertises a bounded maxConcurrentStreams (100-250) on TLS and h2c', async () => {
    for (const [session, authority] of [
      [await tlsSession(gh.httpsPort, 'a.h2.test'), 'a.h2.test'],
      [await h2cSession(), 'plain.h2.test'],
    ] as const) {
      // The server's SETTINGS come before any response: after one exchange, remoteSettings are the server's.
      assert.equal((await h2Request(session, { ':path': unique(), ':authority': authority })).status, 200);
      const max = session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
      assert.ok(max >= 100 && max <= 250, `maxConcurrentStreams ${max}`);
    }
  });

  test('a stream reset in the middle of a response cancels the upstream request at once', async () => {
    const session = await tlsSession(gh.httpsPort, 'a.h2.test');
    // 100 KiB, 1 KiB every 50 ms: 5 s unless cancelled.
    const path = `/rr${unique()}/stream-slow/100`;
    const req = session.request({ ':path': path, ':authority': 'a.h2.test' });
    req.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response data within 5 s')), 5_000);
      req.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    req.close(constants.NGHTTP2_CANCEL);
    const [rec] = (await slow.waitFor((reqs) => reqs.some((r) => r.url === path && r.closed), 1_500)).filter(
      (r) => r.url === path,
    );
    assert.equal(rec?.aborted, true, 'the backend finished the response: the upstream request was not cancelled');
  });

  for (const transport of ['TLS', 'h2c'] as const) {
    test(`${transport}: 200 streams opened and reset at once: gatehouse survives, the backend sees a bounded number, all cancelled`, async () => {
      const authority = transport === 'TLS' ? 'a.h2.test' : 'plain.h2.test';
      const open = (): Promise<ClientHttp2Session> =>
        transport === 'TLS' ? tlsSession(gh.httpsPort, authority) : h2cSession();
      const session = await open();
      // The route works: what the burst does not forward is held back by gatehouse, not lost to a routing mistake.
      const warm = await h2Request(session, { ':path': '/rr/warm-up', ':authority': authority });
      assert.equal(echo(warm.body).service, 'slow');
      slow.clear();
      // Each request would wait 5 s at the backend, so any forwarded one is still open unless gatehouse cancels it.
      const started = Date.now();
      const { goaway } = await rapidReset(session, { ':path': '/rr/delay/5000', ':authority': authority }, 200, 1_000);
      const forwarded = slow.requests.length;
      assert.ok(forwarded <= 100, `the backend received ${forwarded} of 200 reset requests`);
      // Every forwarded request is cancelled upstream well before the backend would have answered.
      await slow.waitFor((reqs) => reqs.every((r) => r.closed), Math.max(500, 3_500 - (Date.now() - started)));
      assert.deepEqual(
        slow.requests.filter((r) => r.finished).map((r) => r.url),
        [],
        'a reset request was answered by the backend instead of cancelled',
      );
      assert.equal(gh.child.exitCode, null, 'gatehouse exited');
      assert.equal((await gh.admin('/healthz')).status, 200);
      const res = await h2Request(await open(), { ':path': unique(), ':authority': authority });
      assert.equal(res.status, 200, `after the burst (GOAWAY code ${String(goaway)})`);
    });
  }
});

// Last: it stops gatehouse.
describe('shutdown', () => {
  test('SIGTERM with h2 sessions open: the request in flight finishes, GOAWAY is sent, exit 0 without waiting out the drain timeout', async () => {
    const idle = await tlsSession(gh.httpsPort, 'a.h2.test');
    const busy = await h2cSession();
    assert.equal((await h2Request(idle, { ':path': unique(), ':authority': 'a.h2.test' })).status, 200);
    const goaways: number[] = [];
    idle.on('goaway', (code: number) => goaways.push(code));
    const inFlight = h2Request(busy, { ':path': '/rr/delay/1500', ':authority': 'plain.h2.test' });
    await slow.waitFor((reqs) => reqs.some((r) => r.url === '/rr/delay/1500'));
    const started = Date.now();
    const code = await gh.stop();
    const took = Date.now() - started;
    const res = await inFlight;
    assert.equal(res.status, 200, 'the request in flight was cut off');
    assert.equal(echo(res.body).service, 'slow');
    assert.equal(code, 0);
    assert.ok(took < 8_000, `exit took ${took} ms: an idle session held the drain open`);
    assert.ok(
      goaways.length > 0 && goaways.every((c) => c === constants.NGHTTP2_NO_ERROR),
      `the idle session got no graceful GOAWAY: ${JSON.stringify(goaways)}`,
    );
  });
});
