// Who the client is, end to end on 127.0.130.x: PROXY protocol v1/v2 on the Ingress HTTP and HTTPS ports
// (--proxy-protocol) and on Gateway TCP listeners (gatehouse.dev/proxy-protocol), PROXY protocol sent to TCP
// backends (gatehouse.dev/upstream-proxy-protocol), X-Forwarded-For / X-Real-IP / Forwarded replaced for
// untrusted peers and extended behind --trusted-proxies, and source-range allow-lists (ingress-nginx's
// whitelist-source-range on an Ingress, gatehouse.dev/source-ranges on an HTTPRoute) decided on that address.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type OutgoingHttpHeaders, request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { issueCertificate } from '../src/tls/certificates.ts';
import { type RecordedRequest, type RecordingBackend, startRecordingBackend } from './helpers/backends.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { h2Connect, h2Request } from './helpers/h2.ts';
import {
  type Collected,
  collect,
  connectTcp,
  rawGateway,
  startTcpServer,
  stopCleanly,
  type TcpServer,
  tcpRoute,
} from './helpers/l4.ts';
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
import { waitForPort } from './helpers/net.ts';

const ADDR = {
  rec: '127.0.130.1',
  sink: '127.0.130.2',
  allowed: '127.0.130.20',
  denied: '127.0.130.21',
  proxy: '127.0.130.30',
  client: '127.0.130.40',
  spoofer: '127.0.130.41',
} as const;
const GH = '127.0.0.1';
const CA = issueCertificate({ commonName: 'gatehouse client-address test CA', isCA: true });
const PP_CERT = issueCertificate({ commonName: 'pp.test', dnsNames: ['pp.test'], issuer: CA });

let rec: RecordingBackend;
let sink: Sink;

// ---------------------------------------------------------------------------------------------------------------
// PROXY protocol headers, built by hand from HAProxy's doc/proxy-protocol.txt (independent of src/).

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function proxyV1(src: string, dst: string, sport: number, dport: number): Buffer {
  const family = src.includes(':') ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

function ipv6Bytes(a: string): Buffer {
  const [head = '', tail = ''] = a.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(Number.parseInt(groups[i] ?? '0', 16), i * 2);
  return out;
}

/** One v2 TLV: type, 16-bit length, value. */
function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}

/** A v2 PROXY command over TCP, IPv4 or IPv6 by the source address, with optional TLVs after the addresses. */
function proxyV2(src: string, dst: string, sport: number, dport: number, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  const v6 = src.includes(':');
  const addrs = v6 ? Buffer.concat([ipv6Bytes(src), ipv6Bytes(dst)]) : Buffer.concat([ipv4Bytes(src), ipv4Bytes(dst)]);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x21; // version 2, PROXY
  fixed[1] = v6 ? 0x21 : 0x11; // TCP over IPv6 / IPv4
  fixed.writeUInt16BE(addrs.length + 4 + tlvs.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, addrs, ports, tlvs]);
}

interface ParsedProxy {
  readonly version: 1 | 2;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** Bytes after the header. */
  readonly rest: Buffer;
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** Parses the PROXY header a backend received (v1 TCP4/TCP6 or v2 PROXY TCP4/TCP6); throws on anything else. */
function parseReceivedProxy(data: Buffer): ParsedProxy {
  if (data.subarray(0, 6).toString('latin1') === 'PROXY ') {
    const crlf = data.indexOf('\r\n');
    if (crlf < 0) throw new Error(`v1 header without CRLF: ${JSON.stringify(data.toString('latin1'))}`);
    const parts = data.toString('latin1', 6, crlf).split(' ');
    if (parts.length !== 5 || (parts[0] !== 'TCP4' && parts[0] !== 'TCP6'))
      throw new Error(`unexpected v1 header: ${data.toString('latin1', 0, crlf)}`);
    return {
      version: 1,
      src: parts[1] as string,
      dst: parts[2] as string,
      sport: Number(parts[3]),
      dport: Number(parts[4]),
      rest: data.subarray(crlf + 2),
    };
  }
  if (data.length < 16 || !data.subarray(0, 12).equals(V2_SIGNATURE))
    throw new Error(`no PROXY header: ${JSON.stringify(data.subarray(0, 32).toString('latin1'))}`);
  const verCmd = data[12];
  const fam = data[13];
  const len = data.readUInt16BE(14);
  if (verCmd !== 0x21) throw new Error(`v2 version/command byte 0x${verCmd?.toString(16)}, expected 0x21`);
  const body = data.subarray(16, 16 + len);
  const rest = data.subarray(16 + len);
  if (fam === 0x11) {
    return {
      version: 2,
      src: [...body.subarray(0, 4)].join('.'),
      dst: [...body.subarray(4, 8)].join('.'),
      sport: body.readUInt16BE(8),
      dport: body.readUInt16BE(10),
      rest,
    };
  }
  if (fam === 0x21) {
    return {
      version: 2,
      src: ipv6Text(body.subarray(0, 16)),
      dst: ipv6Text(body.subarray(16, 32)),
      sport: body.readUInt16BE(32),
      dport: body.readUInt16BE(34),
      rest,
    };
  }
  throw new Error(`v2 family byte 0x${fam?.toString(16)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Clients and backends

/** A TCP backend that records every connection's bytes (and peer) and answers nothing until the client ends. */
interface Sink {
  readonly server: TcpServer;
  readonly connections: { peer: string; data: Buffer }[];
  waitFor(marker: string, timeoutMs?: number): Promise<{ peer: string; data: Buffer }>;
}

async function startSink(host: string, port: number): Promise<Sink> {
  const connections: { peer: string; data: Buffer }[] = [];
  const server = await startTcpServer(host, port, (socket) => {
    const c = { peer: socket.remoteAddress ?? '', data: Buffer.alloc(0) };
    connections.push(c);
    socket.on('data', (chunk: Buffer) => {
      c.data = Buffer.concat([c.data, chunk]);
    });
    socket.on('end', () => socket.end());
  });
  return {
    server,
    connections,
    async waitFor(marker, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = connections.find((c) => c.data.includes(marker));
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          const seen = connections.map((c) => JSON.stringify(c.data.subarray(0, 80).toString('latin1')));
          throw new Error(
            `sink: no connection carried ${marker} within ${timeoutMs} ms; saw ${seen.join(', ') || 'none'}`,
          );
        }
        await sleep(20);
      }
    },
  };
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One HTTP/1.1 request on its own connection, from `localAddress` when given. */
function get(
  port: number,
  host: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  localAddress?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: GH,
        port,
        path,
        headers: { host, ...headers },
        agent: false,
        ...(localAddress === undefined ? {} : { localAddress }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no response within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

const httpGet = (path: string, host: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

/** Connects, writes prefix and request in one go, and collects the answer until close (at most timeoutMs). */
async function raw(port: number, bytes: Buffer | string, timeoutMs = 5_000, localAddress?: string): Promise<Collected> {
  const socket = await connectTcp(GH, port, localAddress);
  const answer = collect(socket, timeoutMs);
  socket.write(bytes);
  return answer;
}

/** A PROXY header in clear, then a TLS handshake (verified for `servername`) and one HTTP request inside it. */
async function rawTls(port: number, prefix: Buffer, servername: string, path: string): Promise<string> {
  const socket = await connectTcp(GH, port, undefined, false);
  socket.write(prefix);
  const tls = tlsConnect({ socket, servername, ca: CA.certPem });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new Error('no TLS answer within 5 s'));
    }, 5_000);
    let text = '';
    tls.once('secureConnect', () => tls.write(httpGet(path, servername)));
    tls.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    tls.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    tls.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** Connects and sends FIN without a byte: gatehouse should close its side at once, not hold the socket. */
async function leaveSilently(port: number): Promise<Collected> {
  const socket = await connectTcp(GH, port);
  const answer = collect(socket, 3_000);
  socket.end();
  return answer;
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

async function recorded(path: string): Promise<RecordedRequest> {
  const all = await rec.waitFor((rs) => rs.some((r) => r.url === path));
  return all.find((r) => r.url === path) as RecordedRequest;
}

function header(r: RecordedRequest, name: string): string {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

async function accessLogClient(gh: GatehouseProcess, path: string): Promise<unknown> {
  const line = await gh.waitForLog((l) => l['msg'] === 'request' && l['path'] === path, 5_000);
  return line['client'];
}

before(async () => {
  rec = await startRecordingBackend({ name: 'rec', host: ADDR.rec, port: 18080 });
  sink = await startSink(ADDR.sink, 17000);
});

after(async () => {
  await rec?.close();
  await sink?.server.close();
});

const recService = (): Manifest[] =>
  service({ name: 'rec', clusterIP: ADDR.rec, port: 18080, targetPort: 18080, endpoints: [{ ip: ADDR.rec }] });
const sinkService = (): Manifest[] =>
  service({
    name: 'sink',
    clusterIP: ADDR.sink,
    port: 17000,
    targetPort: 17000,
    portName: 'tcp',
    endpoints: [{ ip: ADDR.sink }],
  });

/** The allow-list objects both gatehouses serve: an Ingress and an HTTPRoute admitting only 127.0.130.20. */
function allowListObjects(webPort: number): Manifest[] {
  return [
    ingress({
      name: 'allow',
      annotations: { 'nginx.ingress.kubernetes.io/whitelist-source-range': `${ADDR.allowed}/32` },
      rules: [{ host: 'allow.test', paths: [{ path: '/', service: 'rec', port: 18080 }] }],
    }),
    ingress({ name: 'plain', rules: [{ host: 'plain.test', paths: [{ path: '/', service: 'rec', port: 18080 }] }] }),
    gateway('web', [{ name: 'http', port: webPort, protocol: 'HTTP' }]),
    {
      ...httpRoute('gw-allow', {
        parentRefs: [{ name: 'web' }],
        hostnames: ['gw-allow.test'],
        rules: [{ backendRefs: [{ name: 'rec', port: 18080 }] }],
      }),
      metadata: {
        name: 'gw-allow',
        namespace: 'default',
        annotations: { 'gatehouse.dev/source-ranges': `${ADDR.allowed}/32` },
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------

describe('--proxy-protocol on the Ingress HTTP and HTTPS ports', () => {
  let dir = '';
  let gh: GatehouseProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pp-'));
    writeFileSync(
      join(dir, 'all.yaml'),
      toYaml([
        ingressClass(),
        ...recService(),
        tlsSecret('pp', PP_CERT.certPem, PP_CERT.keyPem),
        ingress({
          name: 'pp',
          tls: [{ hosts: ['pp.test'], secretName: 'pp' }],
          rules: [{ host: 'pp.test', paths: [{ path: '/', service: 'rec', port: 18080 }] }],
        }),
      ]),
    );
    gh = await startGatehouse({ manifests: dir, args: ['--proxy-protocol'] });
  });

  after(async () => {
    if (gh !== undefined) await stopCleanly(gh);
    rmSync(dir, { recursive: true, force: true });
  });

  test('v1 TCP4: the backend and the access log see the address from the header', async () => {
    const got = await raw(
      gh.httpPort,
      Buffer.concat([proxyV1('203.0.113.7', '192.0.2.10', 51234, 80), Buffer.from(httpGet('/pp/v1', 'pp.test'))]),
    );
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    const r = await recorded('/pp/v1');
    assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7');
    assert.equal(header(r, 'x-real-ip'), '203.0.113.7');
    assert.match(header(r, 'forwarded'), /(^|[;,]\s*)for=203\.0\.113\.7(;|,|$)/);
    assert.equal(await accessLogClient(gh, '/pp/v1'), '203.0.113.7');
  });

  test('v2 over IPv4: the backend and the access log see the address from the header', async () => {
    const got = await raw(
      gh.httpPort,
      Buffer.concat([proxyV2('203.0.113.7', '192.0.2.10', 51235, 80), Buffer.from(httpGet('/pp/v2', 'pp.test'))]),
    );
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    const r = await recorded('/pp/v2');
    assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7');
    assert.equal(header(r, 'x-real-ip'), '203.0.113.7');
    assert.match(header(r, 'forwarded'), /(^|[;,]\s*)for=203\.0\.113\.7(;|,|$)/);
    assert.equal(await accessLogClient(gh, '/pp/v2'), '203.0.113.7');
  });

  test('v2 with TLVs after the addresses (ALPN, authority, NOOP, an AWS VPC endpoint id): skipped, address kept', async () => {
    const tlvs = Buffer.concat([
      tlv(0x01, 'http/1.1'),
      tlv(0x02, 'pp.test'),
      tlv(0x04, Buffer.alloc(5)),
      tlv(0xea, Buffer.concat([Buffer.of(0x01), Buffer.from('vpce-0123456789abcdef0')])),
    ]);
    const got = await raw(
      gh.httpPort,
      Buffer.concat([
        proxyV2('203.0.113.7', '192.0.2.10', 51252, 80, tlvs),
        Buffer.from(httpGet('/pp/v2-tlv', 'pp.test')),
      ]),
    );
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    const r = await recorded('/pp/v2-tlv');
    assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7');
  });

  test('v2 over IPv6: 2001:db8::7 in X-Forwarded-For, X-Real-IP, a quoted and bracketed Forwarded for=', async () => {
    const got = await raw(
      gh.httpPort,
      Buffer.concat([proxyV2('2001:db8::7', '2001:db8::1', 51236, 80), Buffer.from(httpGet('/pp/v2-6', 'pp.test'))]),
    );
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    const r = await recorded('/pp/v2-6');
    assert.equal(header(r, 'x-forwarded-for'), '2001:db8::7');
    assert.equal(header(r, 'x-real-ip'), '2001:db8::7');
    assert.ok(header(r, 'forwarded').includes('for="[2001:db8::7]"'), `Forwarded: ${header(r, 'forwarded')}`);
    assert.equal(await accessLogClient(gh, '/pp/v2-6'), '2001:db8::7');
  });

  test('v1 TCP6, and a header split across segments ahead of the request', async () => {
    const six = await raw(
      gh.httpPort,
      Buffer.concat([proxyV1('2001:db8::7', '2001:db8::1', 51241, 80), Buffer.from(httpGet('/pp/v1-6', 'pp.test'))]),
    );
    assert.equal(statusOf(six.data.toString('latin1')), 200, six.data.toString('latin1').slice(0, 200));
    assert.equal(header(await recorded('/pp/v1-6'), 'x-forwarded-for'), '2001:db8::7');

    const socket = await connectTcp(GH, gh.httpPort);
    socket.setNoDelay(true);
    const answer = collect(socket, 5_000);
    const head = proxyV2('203.0.113.7', '192.0.2.10', 51242, 80);
    socket.write(head.subarray(0, 7));
    await sleep(50);
    socket.write(head.subarray(7, 20));
    await sleep(50);
    socket.write(Buffer.concat([head.subarray(20), Buffer.from(httpGet('/pp/split', 'pp.test').slice(0, 10))]));
    await sleep(50);
    socket.write(httpGet('/pp/split', 'pp.test').slice(10));
    const got = await answer;
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    assert.equal(header(await recorded('/pp/split'), 'x-forwarded-for'), '203.0.113.7');
  });

  test('every request on a keep-alive connection carries the PROXY address', async () => {
    const socket = await connectTcp(GH, gh.httpPort);
    try {
      const first = collect(socket, 5_000, (d) => /\r\n\r\n/.test(d.toString('latin1')));
      socket.write(
        Buffer.concat([
          proxyV1('203.0.113.7', '192.0.2.10', 51243, 80),
          Buffer.from('GET /pp/keepalive-1 HTTP/1.1\r\nHost: pp.test\r\n\r\n'),
        ]),
      );
      assert.equal(statusOf((await first).data.toString('latin1')), 200);
      await recorded('/pp/keepalive-1');
      await sleep(50);
      const second = collect(socket, 5_000);
      socket.write(httpGet('/pp/keepalive-2', 'pp.test'));
      assert.match((await second).data.toString('latin1'), /HTTP\/1\.1 200/);
      for (const path of ['/pp/keepalive-1', '/pp/keepalive-2']) {
        const r = await recorded(path);
        assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7', path);
        assert.equal(header(r, 'x-real-ip'), '203.0.113.7', path);
      }
    } finally {
      socket.destroy();
    }
  });

  test('v2 LOCAL (a balancer health check): the connection’s own address stands', async () => {
    const local = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
    const got = await raw(gh.httpPort, Buffer.concat([local, Buffer.from(httpGet('/pp/local', 'pp.test'))]));
    assert.equal(statusOf(got.data.toString('latin1')), 200, got.data.toString('latin1').slice(0, 200));
    const r = await recorded('/pp/local');
    assert.equal(header(r, 'x-forwarded-for'), '127.0.0.1');
    assert.equal(header(r, 'x-real-ip'), '127.0.0.1');
  });

  test('HTTPS port: the PROXY header first, then the TLS handshake and the request', async () => {
    for (const [path, prefix] of [
      ['/pp/tls-v1', proxyV1('203.0.113.7', '192.0.2.10', 51237, 443)],
      ['/pp/tls-v2', proxyV2('203.0.113.7', '192.0.2.10', 51238, 443)],
    ] as const) {
      const text = await rawTls(gh.httpsPort, prefix, 'pp.test', path);
      assert.equal(statusOf(text), 200, `${path}: ${text.slice(0, 200)}`);
      const r = await recorded(path);
      assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7', path);
      assert.equal(header(r, 'x-real-ip'), '203.0.113.7', path);
      assert.equal(header(r, 'x-forwarded-proto'), 'https', path);
      assert.equal(await accessLogClient(gh, path), '203.0.113.7');
    }
  });

  test('HTTP/2 after the PROXY header: h2c on the HTTP port and ALPN h2 on the HTTPS port', async () => {
    const withHeader = (port: number, sport: number) => () => {
      const s = netConnect({ host: GH, port });
      s.write(proxyV2('203.0.113.7', '192.0.2.10', sport, port));
      return s;
    };
    const h2c = await h2Connect('http://pp.test', { createConnection: withHeader(gh.httpPort, 51250) });
    try {
      const res = await h2Request(h2c, { ':method': 'GET', ':path': '/pp/h2c', ':authority': 'pp.test' });
      assert.equal(res.status, 200);
    } finally {
      h2c.close();
    }
    const h2 = await h2Connect('https://pp.test', {
      createConnection: () =>
        tlsConnect({
          socket: withHeader(gh.httpsPort, 51251)(),
          servername: 'pp.test',
          ca: CA.certPem,
          ALPNProtocols: ['h2'],
        }),
    });
    try {
      const res = await h2Request(h2, { ':method': 'GET', ':path': '/pp/h2', ':authority': 'pp.test' });
      assert.equal(res.status, 200);
    } finally {
      h2.close();
    }
    for (const path of ['/pp/h2c', '/pp/h2']) {
      const r = await recorded(path);
      assert.equal(header(r, 'x-forwarded-for'), '203.0.113.7', path);
      assert.equal(header(r, 'x-real-ip'), '203.0.113.7', path);
      assert.equal(await accessLogClient(gh, path), '203.0.113.7');
    }
  });

  test('a malformed header, or none at all, closes the connection without a response', async () => {
    const cases: [string, Buffer | string][] = [
      [
        '/pp/bad-address',
        Buffer.concat([
          Buffer.from('PROXY TCP4 999.1.1.1 192.0.2.10 51239 80\r\n'),
          Buffer.from(httpGet('/pp/bad-address', 'pp.test')),
        ]),
      ],
      [
        '/pp/bad-family',
        Buffer.concat([
          Buffer.from('PROXY TCP5 203.0.113.7 192.0.2.10 51239 80\r\n'),
          Buffer.from(httpGet('/pp/bad-family', 'pp.test')),
        ]),
      ],
      [
        '/pp/bad-port',
        Buffer.concat([
          Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.10 99999 80\r\n'),
          Buffer.from(httpGet('/pp/bad-port', 'pp.test')),
        ]),
      ],
      ['/pp/no-header', httpGet('/pp/no-header', 'pp.test')],
    ];
    for (const [path, bytes] of cases) {
      const got = await raw(gh.httpPort, bytes);
      assert.ok(got.closed, `${path}: closed`);
      assert.equal(
        got.data.length,
        0,
        `${path}: no response; got ${JSON.stringify(got.data.toString('latin1').slice(0, 120))}`,
      );
      assert.ok(!rec.requests.some((r) => r.url === path), `${path}: the backend saw nothing`);
    }
    // A TLS ClientHello without a PROXY header on the HTTPS port: no handshake.
    const handshake = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: GH, port: gh.httpsPort, servername: 'pp.test', ca: CA.certPem });
      const timer = setTimeout(() => {
        s.destroy();
        resolve('timeout');
      }, 5_000);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.destroy();
        resolve('secure');
      });
      s.once('error', () => {
        clearTimeout(timer);
        resolve('error');
      });
      s.once('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
    });
    assert.ok(handshake === 'error' || handshake === 'closed', `TLS without a PROXY header: ${handshake}`);
  });

  test('a client that leaves before sending its PROXY header is closed at once', async () => {
    for (const port of [gh.httpPort, gh.httpsPort]) {
      const got = await leaveSilently(port);
      assert.ok(got.closed && got.elapsedMs < 2_000, `port ${port}: closed=${got.closed} after ${got.elapsedMs} ms`);
      assert.equal(got.data.length, 0);
    }
  });

  test('a header trickled in and never completed is closed within the PROXY read timeout', async () => {
    // proxy-protocol.ts documents DEFAULT_PROXY_HEADER_TIMEOUT_MS = 5 s (the spec asks for at least 3 s).
    const socket = await connectTcp(GH, gh.httpPort);
    const answer = collect(socket, 15_000);
    const text = 'PROXY TCP4 203.0.113.7 192.0.2.10 51240 80';
    let stop = false;
    void (async () => {
      for (const ch of text) {
        if (stop || socket.destroyed) return;
        socket.write(ch);
        await sleep(400); // 43 bytes × 400 ms: still unfinished after 15 s
      }
    })();
    const got = await answer;
    stop = true;
    assert.ok(got.closed, `still open after ${got.elapsedMs} ms`);
    assert.equal(got.data.length, 0, 'no response');
    assert.ok(got.elapsedMs >= 2_500, `closed after ${got.elapsedMs} ms, before the header could arrive`);
    assert.ok(got.elapsedMs <= 8_000, `closed after ${got.elapsedMs} ms, later than the 5 s PROXY read timeout + 3 s`);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('without --trusted-proxies: PROXY protocol on layer 4, forwarding headers, allow-lists', () => {
  let dir = '';
  let gh: GatehouseProcess;
  const P = { web: 0, v1: 0, v2: 0, ppIn: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-client-address-'));
    for (const k of Object.keys(P) as (keyof typeof P)[]) P[k] = await freeTcpPort();
    const backend = { rules: [{ backendRefs: [{ name: 'sink', port: 17000 }] }] };
    writeFileSync(
      join(dir, 'all.yaml'),
      toYaml([
        ingressClass(),
        gatewayClass(),
        ...recService(),
        ...sinkService(),
        ...allowListObjects(P.web),
        rawGateway('l4', [
          { name: 'v1', port: P.v1, protocol: 'TCP' },
          { name: 'v2', port: P.v2, protocol: 'TCP' },
        ]),
        rawGateway('l4-pp', [{ name: 'pp-in', port: P.ppIn, protocol: 'TCP' }], {
          'gatehouse.dev/proxy-protocol': '*',
        }),
        tcpRoute(
          'to-backend-v1',
          { parentRefs: [{ name: 'l4', sectionName: 'v1' }], ...backend },
          { annotations: { 'gatehouse.dev/upstream-proxy-protocol': 'v1' } },
        ),
        tcpRoute(
          'to-backend-v2',
          { parentRefs: [{ name: 'l4', sectionName: 'v2' }], ...backend },
          { annotations: { 'gatehouse.dev/upstream-proxy-protocol': 'v2' } },
        ),
        tcpRoute(
          'pp-in',
          { parentRefs: [{ name: 'l4-pp', sectionName: 'pp-in' }], ...backend },
          { annotations: { 'gatehouse.dev/upstream-proxy-protocol': 'v1' } },
        ),
      ]),
    );
    gh = await startGatehouse({ manifests: dir });
    await Promise.allSettled([P.v1, P.v2, P.ppIn].map((port) => waitForPort(GH, port, 3_000)));
  });

  after(async () => {
    if (gh !== undefined) await stopCleanly(gh);
    rmSync(dir, { recursive: true, force: true });
  });

  test('spoofed X-Forwarded-For, X-Real-IP and Forwarded are replaced by the real peer', async () => {
    const res = await get(
      gh.httpPort,
      'plain.test',
      '/spoof',
      {
        'x-forwarded-for': '1.2.3.4',
        'x-real-ip': '1.2.3.4',
        forwarded: 'for=1.2.3.4',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
      },
      ADDR.spoofer,
    );
    assert.equal(res.status, 200);
    const r = await recorded('/spoof');
    assert.equal(r.remoteAddress.replace(/^::ffff:/, '').startsWith('127.'), true);
    assert.equal(header(r, 'x-forwarded-for'), ADDR.spoofer);
    assert.equal(header(r, 'x-real-ip'), ADDR.spoofer);
    const fwd = header(r, 'forwarded');
    assert.ok(!fwd.includes('1.2.3.4'), `Forwarded still carries the spoofed element: ${fwd}`);
    assert.match(fwd, new RegExp(`(^|;)\\s*for=${ADDR.spoofer.replaceAll('.', '\\.')}(;|$)`));
    assert.equal(await accessLogClient(gh, '/spoof'), ADDR.spoofer);
    // The other forwarding headers from an untrusted peer are replaced too (DESIGN: security posture).
    assert.equal(header(r, 'x-forwarded-proto'), 'http');
    assert.equal(header(r, 'x-forwarded-host'), 'plain.test');
  });

  test('a client that connects and leaves without a byte is closed at once (HTTP, HTTPS, PROXY TCP listener)', async () => {
    // A connect/close probe (a load balancer health check) must not leave a half-open socket behind.
    const outcomes = await Promise.all(
      (
        [
          ['ingress http', gh.httpPort],
          ['ingress https', gh.httpsPort],
          ['gateway http', P.web],
          ['gateway tcp with PROXY', P.ppIn],
        ] as const
      ).map(async ([name, port]) => {
        const got = await leaveSilently(port);
        const ok = got.closed && got.elapsedMs < 2_000 && got.data.length === 0;
        return { ok, text: `${name}: ${got.closed ? `closed after ${got.elapsedMs} ms` : 'still open after 3 s'}` };
      }),
    );
    assert.ok(
      outcomes.every((o) => o.ok),
      `after the client's FIN: ${outcomes.map((o) => o.text).join('; ')}`,
    );
  });

  test('upstream-proxy-protocol v1: the backend first receives a v1 header naming the client', async () => {
    const socket = await connectTcp(GH, P.v1, ADDR.client);
    const clientPort = socket.localPort;
    socket.write('payload-v1');
    try {
      const c = await sink.waitFor('payload-v1');
      const h = parseReceivedProxy(c.data);
      assert.equal(h.version, 1);
      assert.equal(h.src, ADDR.client);
      assert.equal(h.sport, clientPort);
      assert.equal(h.dst, GH);
      assert.equal(h.dport, P.v1);
      assert.equal(h.rest.toString('latin1'), 'payload-v1', 'the client’s bytes follow the header unchanged');
    } finally {
      socket.destroy();
    }
  });

  test('upstream-proxy-protocol v2: the backend first receives a v2 header naming the client', async () => {
    const socket = await connectTcp(GH, P.v2, ADDR.client);
    const clientPort = socket.localPort;
    socket.write('payload-v2');
    try {
      const c = await sink.waitFor('payload-v2');
      const h = parseReceivedProxy(c.data);
      assert.equal(h.version, 2);
      assert.equal(h.src, ADDR.client);
      assert.equal(h.sport, clientPort);
      assert.equal(h.dst, GH);
      assert.equal(h.dport, P.v2);
      assert.equal(h.rest.toString('latin1'), 'payload-v2');
    } finally {
      socket.destroy();
    }
  });

  test('gatehouse.dev/proxy-protocol on a Gateway: the TCP backend sees the address from the client’s PROXY header', async () => {
    for (const [marker, prefix] of [
      ['payload-pp-v1', proxyV1('203.0.113.7', '192.0.2.10', 40001, P.ppIn)],
      ['payload-pp-v2', proxyV2('203.0.113.7', '192.0.2.10', 40002, P.ppIn)],
    ] as const) {
      const socket = await connectTcp(GH, P.ppIn, ADDR.client);
      socket.write(Buffer.concat([prefix, Buffer.from(marker)]));
      try {
        const c = await sink.waitFor(marker);
        const h = parseReceivedProxy(c.data);
        assert.equal(h.version, 1);
        assert.equal(h.src, '203.0.113.7', `${marker}: not the socket peer ${ADDR.client}`);
        assert.equal(h.sport, marker.endsWith('v1') ? 40001 : 40002);
        assert.equal(h.rest.toString('latin1'), marker, `${marker}: the client’s PROXY header is not passed on`);
      } finally {
        socket.destroy();
      }
    }
    // That listener requires the header: a connection without one is closed and never reaches the backend.
    const before = sink.connections.length;
    const got = await raw(P.ppIn, 'no proxy header here\r\n', 5_000, ADDR.client);
    assert.ok(got.closed, 'closed');
    assert.equal(got.data.length, 0);
    assert.equal(sink.connections.length, before, 'the backend saw nothing');
  });

  test('whitelist-source-range on an Ingress: 200 for 127.0.130.20, 403 for 127.0.130.21 and nothing upstream', async () => {
    assert.equal((await get(gh.httpPort, 'allow.test', '/ing-allowed', {}, ADDR.allowed)).status, 200);
    await recorded('/ing-allowed');
    assert.equal((await get(gh.httpPort, 'allow.test', '/ing-denied', {}, ADDR.denied)).status, 403);
    // Spoofing X-Forwarded-For from an untrusted peer changes nothing.
    const spoofed = await get(
      gh.httpPort,
      'allow.test',
      '/ing-spoofed',
      { 'x-forwarded-for': ADDR.allowed },
      ADDR.denied,
    );
    assert.equal(spoofed.status, 403);
    await sleep(200);
    assert.ok(
      !rec.requests.some((r) => r.url === '/ing-denied' || r.url === '/ing-spoofed'),
      'the backend saw a denied request',
    );
  });

  test('gatehouse.dev/source-ranges on an HTTPRoute: 200 for 127.0.130.20, 403 for 127.0.130.21', async () => {
    assert.equal((await get(P.web, 'gw-allow.test', '/gw-allowed', {}, ADDR.allowed)).status, 200);
    await recorded('/gw-allowed');
    assert.equal((await get(P.web, 'gw-allow.test', '/gw-denied', {}, ADDR.denied)).status, 403);
    await sleep(200);
    assert.ok(!rec.requests.some((r) => r.url === '/gw-denied'), 'the backend saw a denied request');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('--trusted-proxies 127.0.130.0/24', () => {
  let dir = '';
  let gh: GatehouseProcess;
  let webPort = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-trusted-'));
    webPort = await freeTcpPort();
    writeFileSync(
      join(dir, 'all.yaml'),
      toYaml([ingressClass(), gatewayClass(), ...recService(), ...allowListObjects(webPort)]),
    );
    gh = await startGatehouse({ manifests: dir, args: ['--trusted-proxies', '127.0.130.0/24'] });
  });

  after(async () => {
    if (gh !== undefined) await stopCleanly(gh);
    rmSync(dir, { recursive: true, force: true });
  });

  test('from a trusted peer, X-Forwarded-For is appended to and the walked-back client is X-Real-IP', async () => {
    const res = await get(gh.httpPort, 'plain.test', '/trusted', { 'x-forwarded-for': '198.51.100.9' }, ADDR.client);
    assert.equal(res.status, 200);
    const r = await recorded('/trusted');
    assert.equal(header(r, 'x-forwarded-for'), `198.51.100.9, ${ADDR.client}`);
    assert.equal(header(r, 'x-real-ip'), '198.51.100.9');
    assert.equal(await accessLogClient(gh, '/trusted'), '198.51.100.9');
  });

  test('a chain with a trusted hop in the middle walks back to the first untrusted entry', async () => {
    const chain = '203.0.113.5, 198.51.100.9, 127.0.130.77';
    const res = await get(gh.httpPort, 'plain.test', '/trusted-chain', { 'x-forwarded-for': chain }, ADDR.client);
    assert.equal(res.status, 200);
    const r = await recorded('/trusted-chain');
    assert.equal(header(r, 'x-forwarded-for'), `${chain}, ${ADDR.client}`);
    assert.equal(header(r, 'x-real-ip'), '198.51.100.9', 'not the leftmost claim, and not the trusted hop');
    assert.equal(await accessLogClient(gh, '/trusted-chain'), '198.51.100.9');
  });

  test('allow-lists decide on the walked-back client, on an Ingress and on an HTTPRoute', async () => {
    for (const [port, host, prefix] of [
      [gh.httpPort, 'allow.test', '/ing'],
      [webPort, 'gw-allow.test', '/gw'],
    ] as const) {
      // A trusted proxy (127.0.130.30) relaying the allowed client.
      const ok = await get(port, host, `${prefix}-via-proxy-allowed`, { 'x-forwarded-for': ADDR.allowed }, ADDR.proxy);
      assert.equal(ok.status, 200, `${host}: relayed 127.0.130.20`);
      // The same proxy relaying a client outside the range.
      const no = await get(port, host, `${prefix}-via-proxy-denied`, { 'x-forwarded-for': ADDR.denied }, ADDR.proxy);
      assert.equal(no.status, 403, `${host}: relayed 127.0.130.21`);
      // The allowed address as the (trusted) peer, relaying someone else: the decision follows the client.
      const relayed = await get(
        port,
        host,
        `${prefix}-from-allowed-peer`,
        { 'x-forwarded-for': '198.51.100.9' },
        ADDR.allowed,
      );
      assert.equal(relayed.status, 403, `${host}: 127.0.130.20 relaying 198.51.100.9`);
      await sleep(100);
      assert.ok(
        !rec.requests.some((r) => r.url === `${prefix}-via-proxy-denied` || r.url === `${prefix}-from-allowed-peer`),
      );
    }
  });
});
