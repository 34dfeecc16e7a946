// WebSocket proxying end to end: a real gatehouse process, `ws` echo backends and clients over plain and TLS
// listeners, and raw-socket backends for the handshakes that must not become tunnels.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClientOptions, type RawData, WebSocket, WebSocketServer } from 'ws';
import { closeServer, listenOn } from '../src/cli/echo.ts';
import { issueCertificate } from '../src/tls/certificates.ts';
import { type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { ingress, ingressClass, service, tlsSecret, toYaml } from './helpers/manifests.ts';

const PLAIN = 'plain.ws.test';
const SECURE = 'secure.ws.test';
const ADDR = {
  a: '127.0.80.1',
  b: '127.0.80.2',
  badAccept: '127.0.80.3',
  refuse: '127.0.80.4',
  recorder: '127.0.80.5',
  /** Nothing listens here. */
  nothing: '127.0.80.6',
  unready: '127.0.80.7',
} as const;
const PORT = 8080;
const IDLE_TIMEOUT_MS = 1_500;
const CA = issueCertificate({ commonName: 'gatehouse websocket test CA', isCA: true });
const CERT = issueCertificate({ commonName: SECURE, dnsNames: [SECURE], issuer: CA });

interface EchoBackend {
  readonly name: string;
  /** Request heads of the upgrades accepted, oldest first. */
  readonly upgrades: { readonly url: string; readonly headers: IncomingHttpHeaders }[];
  /** Close codes and reasons the backend received or sent, oldest first. */
  readonly closes: { readonly code: number; readonly reason: string }[];
  close(): Promise<void>;
}

/**
 * A WebSocket echo server: echoes text and binary messages as they came; answers `whoami` with its name and
 * `close-me` by closing with code 4001.
 */
async function startWsEcho(name: string, host: string): Promise<EchoBackend> {
  const server = createHttpServer();
  const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 });
  const backend: EchoBackend = {
    name,
    upgrades: [],
    closes: [],
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeServer(server, 0);
    },
  };
  wss.on('connection', (ws, req) => {
    backend.upgrades.push({ url: req.url ?? '', headers: req.headers });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = isBinary ? '' : data.toString();
      if (text === 'whoami') ws.send(name);
      else if (text === 'close-me') ws.close(4001, 'bye');
      else ws.send(data as Buffer, { binary: isBinary });
    });
    ws.on('close', (code: number, reason: Buffer) => backend.closes.push({ code, reason: reason.toString() }));
  });
  await listenOn(server, host, PORT);
  return backend;
}

interface RawBackend {
  /** Everything each accepted connection sent, one string (latin1) per connection. */
  readonly received: string[];
  close(): Promise<void>;
}

/** A TCP server that answers the first request head on each connection with `reply`, then records the rest. */
async function startRawBackend(host: string, reply: ((head: string) => string) | null): Promise<RawBackend> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    const index = received.push('') - 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      received[index] += chunk.toString('latin1');
      const all = received[index] as string;
      const end = all.indexOf('\r\n\r\n');
      if (!answered && end >= 0 && reply !== null) {
        answered = true;
        socket.write(reply(all.slice(0, end)));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, host, () => resolve());
  });
  return {
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let dir = '';
let gh: GatehouseProcess;
let a: EchoBackend;
let b: EchoBackend;
let badAccept: RawBackend;
let refuse: RawBackend;
let recorder: RawBackend;
const closers: { close(): Promise<void> }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-websocket-'));
  a = await startWsEcho('a', ADDR.a);
  b = await startWsEcho('b', ADDR.b);
  // A 101 with every header right but the accept value: the client's key was not used.
  badAccept = await startRawBackend(
    ADDR.badAccept,
    () =>
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
  );
  refuse = await startRawBackend(
    ADDR.refuse,
    () =>
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nX-Reason: no-ws\r\n\r\nforbidden\n',
  );
  recorder = await startRawBackend(ADDR.recorder, null);
  closers.push(a, b, badAccept, refuse, recorder);
  const svc = (name: string, ip: string) =>
    service({ name, clusterIP: ip, port: PORT, targetPort: PORT, endpoints: [{ ip }] });
  writeFileSync(
    join(dir, 'all.yaml'),
    toYaml([
      ingressClass(),
      ...svc('ws-a', ADDR.a),
      ...svc('ws-b', ADDR.b),
      ...svc('bad-accept', ADDR.badAccept),
      ...svc('refuse', ADDR.refuse),
      ...svc('recorder', ADDR.recorder),
      ...svc('nothing', ADDR.nothing),
      ...service({
        name: 'unready',
        clusterIP: ADDR.unready,
        port: PORT,
        targetPort: PORT,
        endpoints: [{ ip: ADDR.unready, ready: false }],
      }),
      ingress({
        name: 'plain',
        rules: [
          {
            host: PLAIN,
            paths: [
              { path: '/a', service: 'ws-a', port: PORT },
              { path: '/b', service: 'ws-b', port: PORT },
              { path: '/bad-accept', service: 'bad-accept', port: PORT },
              { path: '/refuse', service: 'refuse', port: PORT },
              { path: '/recorder', service: 'recorder', port: PORT },
              { path: '/nothing', service: 'nothing', port: PORT },
              { path: '/unready', service: 'unready', port: PORT },
            ],
          },
        ],
      }),
      ingress({
        name: 'secure',
        annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'true' },
        tls: [{ hosts: [SECURE], secretName: 'ws-cert' }],
        rules: [{ host: SECURE, paths: [{ path: '/a', service: 'ws-a', port: PORT }] }],
      }),
      tlsSecret('ws-cert', CERT.certPem, CERT.keyPem),
    ]),
  );
  gh = await startGatehouse({
    manifests: dir,
    // A request timeout far below a tunnel's life: node must not apply it to upgraded connections.
    args: [
      '--websocket-idle-timeout',
      `${IDLE_TIMEOUT_MS}ms`,
      '--request-timeout',
      '1s',
      '--headers-timeout',
      '1s',
      '--drain-timeout',
      '1s',
    ],
  });
});

after(async () => {
  if (gh !== undefined) await gh.stop();
  await Promise.all(closers.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

function plainUrl(path: string): string {
  return `ws://127.0.0.1:${gh.httpPort}${path}`;
}

const plainOptions: ClientOptions = { headers: { host: PLAIN } };
// ws hands `servername` on to tls.connect; its types leave it out.
const tlsOptions: ClientOptions & { servername: string } = {
  headers: { host: SECURE },
  servername: SECURE,
  ca: CA.certPem,
};

/** Opens a client; rejects with the status when the handshake is answered with anything but a 101. */
function open(url: string, options: ClientOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...options, handshakeTimeout: 5_000, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const err = Object.assign(new Error(`handshake answered ${res.statusCode}`), {
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
        ws.terminate();
        reject(err);
      });
    });
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => reject(new Error(`closed (${code}) before a message`));
    ws.once('close', onClose);
    ws.once('message', (data: RawData, isBinary: boolean) => {
      ws.off('close', onClose);
      resolve({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary });
    });
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: 1006, reason: '' });
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
  });
}

async function echoes(ws: WebSocket): Promise<void> {
  ws.send('hello over the tunnel');
  const text = await nextMessage(ws);
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'hello over the tunnel');
  const bytes = randomBytes(1000);
  ws.send(bytes);
  const binary = await nextMessage(ws);
  assert.equal(binary.isBinary, true);
  assert.deepEqual(binary.data, bytes);
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Writes a raw request, then collects everything until the connection closes. */
function rawExchange(request: string, port = gh.httpPort, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after ${timeoutMs} ms; received ${JSON.stringify(data)}`));
    }, timeoutMs);
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

// Not the RFC 6455 sample key, whose accept value is the one the bad-accept backend sends.
const KEY = randomBytes(16).toString('base64');

describe('tunnels', () => {
  test('text and binary messages echo through a plain listener', async () => {
    const ws = await open(plainUrl('/a'), plainOptions);
    await echoes(ws);
    ws.close();
    await closed(ws);
  });

  test('text and binary messages echo through a TLS listener', async () => {
    const ws = await open(`wss://127.0.0.1:${gh.httpsPort}/a`, tlsOptions);
    await echoes(ws);
    ws.close();
    await closed(ws);
  });

  test('the upstream sees the upgrade with forwarding headers replaced, and the tunnel is logged as a 101', async () => {
    const before = a.upgrades.length;
    const ws = await open(plainUrl('/a/chat?room=1'), {
      headers: { host: PLAIN, 'x-forwarded-for': '10.9.9.9', 'x-real-ip': '10.9.9.9' },
    });
    const up = a.upgrades[before];
    assert.ok(up !== undefined);
    assert.equal(up.url, '/a/chat?room=1');
    assert.equal(up.headers.host, PLAIN);
    assert.equal(up.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(up.headers['x-real-ip'], '127.0.0.1');
    assert.equal(up.headers['x-forwarded-proto'], 'http');
    assert.equal(up.headers.upgrade, 'websocket');
    assert.equal(up.headers.connection, 'Upgrade');
    ws.close();
    await closed(ws);
    const line = await gh.waitForLog((l) => l['msg'] === 'request' && l['path'] === '/a/chat' && l['status'] === 101);
    assert.equal(line['route'], 'ingress/default/plain/rule/0/path/0');
    assert.equal(line['upstream'], `http://${ADDR.a}:${PORT}`);
  });

  test('a 10 MB message travels both ways', async () => {
    const ws = await open(plainUrl('/a'), plainOptions);
    const big = randomBytes(10 * 1024 * 1024);
    ws.send(big);
    const back = await nextMessage(ws);
    assert.equal(back.data.length, big.length);
    assert.ok(back.data.equals(big));
    ws.close();
    await closed(ws);
  });

  test('a close from the server reaches the client with its code', async () => {
    const ws = await open(plainUrl('/a'), plainOptions);
    const done = closed(ws);
    ws.send('close-me');
    assert.deepEqual(await done, { code: 4001, reason: 'bye' });
  });

  test('a close from the client reaches the server with its code', async () => {
    const ws = await open(plainUrl('/b'), plainOptions);
    const before = b.closes.length;
    ws.close(4002, 'client done');
    await closed(ws);
    await until(() => b.closes.length > before, 'the server to see the close');
    assert.deepEqual(b.closes[before], { code: 4002, reason: 'client done' });
  });

  test('routing by path picks the backend', async () => {
    for (const [path, name] of [
      ['/a', 'a'],
      ['/b', 'b'],
    ] as const) {
      const ws = await open(plainUrl(path), plainOptions);
      ws.send('whoami');
      assert.equal((await nextMessage(ws)).data.toString(), name);
      ws.close();
      await closed(ws);
    }
  });

  test('a tunnel outlives the request timeout while traffic flows, and is closed once idle', async () => {
    const ws = await open(plainUrl('/a'), plainOptions);
    // Traffic every 400 ms for 2.4 s: past the 1 s request timeout and the idle timeout, never idle.
    for (let i = 0; i < 6; i++) {
      await sleep(400);
      ws.send(`ping ${i}`);
      assert.equal((await nextMessage(ws)).data.toString(), `ping ${i}`);
    }
    const started = Date.now();
    const result = await closed(ws);
    const waited = Date.now() - started;
    assert.equal(result.code, 1006);
    assert.ok(waited >= IDLE_TIMEOUT_MS - 200 && waited < IDLE_TIMEOUT_MS + 2_000, `closed after ${waited} ms`);
  });
});

describe('handshakes that must not become tunnels', () => {
  test('an h2c upgrade is refused and never reaches the backend', async () => {
    const before = recorder.received.length;
    const response = await rawExchange(
      `GET /recorder HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n` +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(response, /101 Switching/);
    await sleep(200);
    assert.equal(recorder.received.length, before, 'the backend got a connection');
  });

  test('a 101 with a wrong Sec-WebSocket-Accept gives the client 502 and no tunnel', async () => {
    const before = badAccept.received.length;
    await assert.rejects(open(plainUrl('/bad-accept'), plainOptions), { status: 502 });
    // Bytes sent right behind the request head are held back until the upstream has accepted properly.
    const response = await rawExchange(
      `GET /bad-accept HTTP/1.1\r\nHost: ${PLAIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 502 /);
    assert.equal(response.match(/HTTP\/1\.1 /g)?.length, 1);
    assert.equal(badAccept.received.length, before + 2);
    for (const got of badAccept.received.slice(before)) assert.doesNotMatch(got, /smuggled/);
  });

  test('a backend refusing the upgrade with 403 is relayed to the client', async () => {
    await assert.rejects(open(plainUrl('/refuse'), plainOptions), (err: Record<string, unknown>) => {
      assert.equal(err['status'], 403);
      assert.equal((err['headers'] as IncomingHttpHeaders)['x-reason'], 'no-ws');
      assert.equal(err['body'], 'forbidden\n');
      return true;
    });
  });

  test('malformed upgrades are answered 400 and closed', async () => {
    const head = (lines: string) => `GET /recorder HTTP/1.1\r\nHost: ${PLAIN}\r\n${lines}\r\n`;
    const before = recorder.received.length;
    for (const lines of [
      // no key
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n',
      // a key that is not 16 bytes
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n',
      // no version
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n`,
      // a body
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\n`,
      // another protocol
      'Upgrade: foo/1\r\nConnection: Upgrade\r\n',
    ]) {
      assert.match(await rawExchange(head(lines)), /^HTTP\/1\.1 400 /, lines);
    }
    assert.match(
      await rawExchange(
        `POST /recorder HTTP/1.1\r\nHost: ${PLAIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
      /^HTTP\/1\.1 400 /,
    );
    await sleep(100);
    assert.equal(recorder.received.length, before, 'the backend got a connection');
  });

  test('an upgrade for an unrouted path is answered 404', async () => {
    await assert.rejects(open(plainUrl('/nowhere'), plainOptions), { status: 404 });
  });

  test('an upstream that refuses connections gives 502, one without ready endpoints 503', async () => {
    await assert.rejects(open(plainUrl('/nothing'), plainOptions), { status: 502 });
    await assert.rejects(open(plainUrl('/unready'), plainOptions), { status: 503 });
  });

  test('plain HTTP for a TLS host is redirected like any request', async () => {
    const response = await rawExchange(
      `GET /a HTTP/1.1\r\nHost: ${SECURE}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 308 /);
    assert.match(response, new RegExp(`\r\nlocation: https://${SECURE}(:\\d+)?/a\r\n`, 'i'));
  });
});

describe('shutdown', () => {
  test('SIGTERM closes open tunnels after the drain timeout and exits 0', async () => {
    const ws = await open(plainUrl('/a'), plainOptions);
    const done = closed(ws);
    const started = Date.now();
    assert.equal(await gh.stop(), 0);
    await done;
    assert.ok(Date.now() - started < 5_000, `shutdown took ${Date.now() - started} ms`);
  });
});
