import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createH2Server, connect as h2Connect } from 'node:http2';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { selfSignedDefaultCertificate } from '../tls/certificates.ts';
import {
  crc32c,
  encodeProxyV1,
  encodeProxyV2,
  MAX_V2_HEADER,
  type ProxyParse,
  type ProxyReadResult,
  parseProxyHeader,
  readProxyHeader,
} from './proxy-protocol.ts';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v1(line: string): Buffer {
  return Buffer.from(line, 'latin1');
}

/** A v2 header from its parts; `len` overrides the length field. */
function v2(verCmd: number, fam: number, body: Buffer, len = body.length): Buffer {
  const h = Buffer.alloc(16);
  SIG.copy(h);
  h[12] = verCmd;
  h[13] = fam;
  h.writeUInt16BE(len, 14);
  return Buffer.concat([h, body]);
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}

const IPV4_BODY = Buffer.from([192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0x01, 0xbb]); // 12345 → 443

function ipv6Body(): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt16BE(0x2001, 0);
  b.writeUInt16BE(0x0db8, 2);
  b[15] = 1; // 2001:db8::1
  b[26] = 0xff;
  b[27] = 0xff;
  b.set([10, 0, 0, 1], 28); // ::ffff:10.0.0.1
  b.writeUInt16BE(65535, 32);
  b.writeUInt16BE(0, 34);
  return b;
}

function ok(r: ProxyParse) {
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  if (r.kind !== 'ok') throw new Error('unreachable');
  return r;
}

function invalid(r: ProxyParse, why: RegExp) {
  assert.equal(r.kind, 'invalid', JSON.stringify(r));
  if (r.kind === 'invalid') assert.match(r.reason, why);
}

/** Every proper prefix is `incomplete` (or, for bad input, `invalid`), never `ok`; the whole gives `whole`. */
function byteAtATime(buf: Buffer, whole: ProxyParse): void {
  for (let n = 0; n < buf.length; n++) {
    const r = parseProxyHeader(buf.subarray(0, n));
    if (whole.kind === 'ok') assert.equal(r.kind, 'incomplete', `prefix of ${n} bytes`);
    else assert.notEqual(r.kind, 'ok', `prefix of ${n} bytes`);
  }
  assert.deepEqual(parseProxyHeader(buf), whole);
}

test('v1 TCP4: addresses, ports and the header length; bytes after it are not part of it', () => {
  const h = v1('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n');
  const r = ok(parseProxyHeader(h));
  assert.deepEqual(r, {
    kind: 'ok',
    length: 45,
    version: 1,
    command: 'PROXY',
    source: { address: '192.0.2.1', port: 56324 },
    destination: { address: '198.51.100.2', port: 443 },
  });
  assert.equal(h.toString('latin1', r.length), 'GET / HTTP/1.1\r\n');
  byteAtATime(h.subarray(0, r.length), r);
});

test('v1 TCP6: addresses in node textual form (compressed, lower case, IPv4-mapped dotted)', () => {
  const r = ok(parseProxyHeader(v1('PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::ffff:0a00:0001 0 65535\r\n')));
  assert.deepEqual(r.source, { address: '2001:db8::1', port: 0 });
  assert.deepEqual(r.destination, { address: '::ffff:10.0.0.1', port: 65535 });
  const full = v1(
    'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
  );
  assert.equal(full.length, 104);
  assert.equal(ok(parseProxyHeader(full)).length, 104);
});

test('v1 UNKNOWN: no addresses, whatever follows it on the line, up to 107 bytes', () => {
  assert.deepEqual(parseProxyHeader(v1('PROXY UNKNOWN\r\nxyz')), {
    kind: 'ok',
    length: 15,
    version: 1,
    command: 'PROXY',
  });
  const worst = v1(
    'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
  );
  assert.equal(worst.length, 107);
  assert.equal(ok(parseProxyHeader(worst)).length, 107);
  byteAtATime(worst, parseProxyHeader(worst));
  const tooLong = v1(
    'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n',
  );
  invalid(parseProxyHeader(tooLong), /no CRLF within 107/);
  invalid(parseProxyHeader(tooLong.subarray(0, 107)), /no CRLF within 107/);
  assert.equal(parseProxyHeader(tooLong.subarray(0, 106)).kind, 'incomplete');
});

test('v1 malformed headers are invalid', () => {
  const cases: Array<[string, RegExp]> = [
    ['PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n', /five/],
    ['PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n', /five|protocol/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n', /five/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n', /five/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n', /port/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n', /port/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 -2\r\n', /port/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 +2\r\n', /port/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 0x10\r\n', /port/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2  2\r\n', /five|port/],
    ['PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n', /not TCP4/],
    ['PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n', /not TCP4/],
    ['PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n', /not TCP4/],
    ['PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n', /not TCP4/],
    ['PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n', /not TCP6/],
    ['PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n', /not TCP6/],
    ['PROXY TCP6 2001:db8::1::2 2001:db8::2 1 2\r\n', /not TCP6/],
    ['PROXY TCP4 host.example 198.51.100.2 1 2\r\n', /not TCP4/],
    ['PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n', /protocol/],
    ['PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n', /protocol/],
    ['PROXY UNKNOWNX\r\n', /protocol|five/],
    ['PROXY \r\n', /five|protocol/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n', /printable/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX', /CR without LF/],
    ['PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n', /printable/],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2\u00e9\r\n', /printable/],
    ['PROXY\tTCP4 192.0.2.1 198.51.100.2 1 2\r\n', /not a PROXY/],
    ['proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n', /not a PROXY/],
    ['GET / HTTP/1.1\r\n', /not a PROXY/],
  ];
  for (const [line, why] of cases) invalid(parseProxyHeader(v1(line)), why);
});

test('v1: invalid early — a wrong first byte, a wrong prefix byte, a lone LF — without waiting for more', () => {
  invalid(parseProxyHeader(v1('G')), /not a PROXY/);
  invalid(parseProxyHeader(v1('PROXX')), /not a PROXY/);
  invalid(parseProxyHeader(v1('PROXY TCP4 1.2.3.4\n')), /printable/);
  invalid(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])), /not a PROXY/); // a TLS ClientHello
  assert.equal(parseProxyHeader(Buffer.alloc(0)).kind, 'incomplete');
  assert.equal(parseProxyHeader(v1('PROX')).kind, 'incomplete');
  assert.equal(parseProxyHeader(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r')).kind, 'incomplete');
});

test('v2 PROXY TCP over IPv4 and IPv6', () => {
  const four = v2(0x21, 0x11, IPV4_BODY);
  const r4 = ok(parseProxyHeader(Buffer.concat([four, Buffer.from('after')])));
  assert.deepEqual(r4, {
    kind: 'ok',
    length: 28,
    version: 2,
    command: 'PROXY',
    source: { address: '192.0.2.1', port: 12345 },
    destination: { address: '198.51.100.2', port: 443 },
  });
  byteAtATime(four, r4);
  const six = v2(0x21, 0x21, ipv6Body());
  const r6 = ok(parseProxyHeader(six));
  assert.equal(r6.length, 52);
  assert.deepEqual(r6.source, { address: '2001:db8::1', port: 65535 });
  assert.deepEqual(r6.destination, { address: '::ffff:10.0.0.1', port: 0 });
  byteAtATime(six, r6);
});

test('v2 LOCAL: no addresses, the whole announced block skipped, whatever the family', () => {
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))), {
    kind: 'ok',
    length: 16,
    version: 2,
    command: 'LOCAL',
  });
  const withBlock = v2(0x20, 0x11, IPV4_BODY);
  assert.deepEqual(parseProxyHeader(withBlock), { kind: 'ok', length: 28, version: 2, command: 'LOCAL' });
  byteAtATime(withBlock, parseProxyHeader(withBlock));
});

test('v2 with TLVs: skipped, but they must tile the block; CRC32C checked when present', () => {
  const tlvs = Buffer.concat([
    tlv(0x01, Buffer.from('h2')),
    tlv(0x02, Buffer.from('app.example')),
    tlv(0x04, Buffer.alloc(0)),
    tlv(0xea, Buffer.from([1, 2, 3, 4, 5])),
  ]);
  const h = v2(0x21, 0x11, Buffer.concat([IPV4_BODY, tlvs]));
  const r = ok(parseProxyHeader(h));
  assert.equal(r.length, h.length);
  assert.deepEqual(r.source, { address: '192.0.2.1', port: 12345 });
  byteAtATime(h, r);

  const withCrc = v2(0x21, 0x11, Buffer.concat([IPV4_BODY, tlv(0x03, Buffer.alloc(4)), tlv(0x04, Buffer.from('x'))]));
  withCrc.writeUInt32BE(crc32c(withCrc, withCrc.length), 16 + 12 + 3);
  assert.equal(ok(parseProxyHeader(withCrc)).length, withCrc.length);
  const corrupted = Buffer.from(withCrc);
  corrupted[withCrc.length - 1] = 0x79; // the NOOP payload
  invalid(parseProxyHeader(corrupted), /CRC32C/);
  invalid(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([IPV4_BODY, tlv(0x03, Buffer.alloc(3))]))), /CRC32C/);

  invalid(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([IPV4_BODY, Buffer.from([0x04, 0x00])]))), /truncated TLV/);
  const overrun = Buffer.concat([IPV4_BODY, Buffer.from([0x04, 0x00, 0x05, 1, 2])]);
  invalid(parseProxyHeader(v2(0x21, 0x11, overrun)), /TLV longer/);
});

test('CRC32C matches the RFC 3720 check value', () => {
  assert.equal(crc32c(Buffer.from('123456789'), 9), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32), 32), 0x8a9136aa);
});

test('v2 PROXY with UNSPEC, UDP or UNIX falls back to the connection endpoints', () => {
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(5))), {
    kind: 'ok',
    length: 21,
    version: 2,
    command: 'PROXY',
  });
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x12, IPV4_BODY)), {
    kind: 'ok',
    length: 28,
    version: 2,
    command: 'PROXY',
  });
  assert.equal(ok(parseProxyHeader(v2(0x21, 0x22, Buffer.alloc(36)))).source, undefined);
  assert.equal(ok(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)))).length, 232);
  invalid(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(100))), /too short/);
});

test('v2 malformed headers are invalid', () => {
  invalid(parseProxyHeader(v2(0x11, 0x11, IPV4_BODY)), /version/);
  invalid(parseProxyHeader(v2(0x31, 0x11, IPV4_BODY)), /version/);
  invalid(parseProxyHeader(v2(0x22, 0x11, IPV4_BODY)), /command/);
  invalid(parseProxyHeader(v2(0x2f, 0x11, IPV4_BODY)), /command/);
  for (const fam of [0x01, 0x10, 0x13, 0x23, 0x33, 0x40, 0x41, 0xff]) {
    invalid(parseProxyHeader(v2(0x21, fam, IPV4_BODY)), /family/);
  }
  invalid(parseProxyHeader(v2(0x21, 0x11, IPV4_BODY.subarray(0, 11))), /too short/);
  invalid(parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(35))), /too short/);
  const badSig = v2(0x21, 0x11, IPV4_BODY);
  badSig[6] = 0x0b;
  invalid(parseProxyHeader(badSig), /not a PROXY/);
  invalid(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])), /not a PROXY/);
  // Truncated: the announced length is never reached, so the header stays incomplete (the timeout ends it).
  assert.equal(parseProxyHeader(v2(0x21, 0x11, IPV4_BODY, 20)).kind, 'incomplete');
});

test('v2 longer than MAX_V2_HEADER is refused as soon as the length field arrives', () => {
  const fixed = v2(0x21, 0x11, Buffer.alloc(0), MAX_V2_HEADER - 16 + 1);
  invalid(parseProxyHeader(fixed), /longer than 4096/);
  invalid(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(0), 0xffff)), /longer than 4096/);
  const biggest = v2(0x21, 0x11, Buffer.concat([IPV4_BODY, tlv(0x04, Buffer.alloc(MAX_V2_HEADER - 16 - 12 - 3))]));
  assert.equal(biggest.length, MAX_V2_HEADER);
  assert.equal(ok(parseProxyHeader(biggest)).length, MAX_V2_HEADER);
});

test('encode → parse round trips', () => {
  const cases: Array<[string, string, string, string]> = [
    ['192.0.2.1', '198.51.100.2', '192.0.2.1', '198.51.100.2'],
    ['2001:db8::1', '2001:db8:0:1::2', '2001:db8::1', '2001:db8:0:1::2'],
    ['::ffff:192.0.2.1', '::ffff:198.51.100.2', '192.0.2.1', '198.51.100.2'],
    // Mixed families travel as IPv6, the IPv4 side mapped (node shows it dotted).
    ['192.0.2.1', '2001:db8::2', '::ffff:192.0.2.1', '2001:db8::2'],
    ['2001:db8::1', '10.0.0.1', '2001:db8::1', '::ffff:10.0.0.1'],
    ['::', '::1', '::', '::1'],
    ['1:0:0:1:0:0:0:1', 'fe80::1%eth0', '1:0:0:1::1', 'fe80::1'],
    ['::1.2.3.4', '1:2:3:4:5:6:7:8', '::1.2.3.4', '1:2:3:4:5:6:7:8'],
  ];
  for (const [src, dst, wantSrc, wantDst] of cases) {
    for (const encode of [encodeProxyV1, encodeProxyV2]) {
      const bytes = encode({ address: src, port: 40000 }, { address: dst, port: 443 });
      const r = ok(parseProxyHeader(bytes));
      assert.equal(r.length, bytes.length);
      assert.equal(r.command, 'PROXY');
      assert.deepEqual(r.source, { address: wantSrc, port: 40000 }, `${encode.name} ${src}`);
      assert.deepEqual(r.destination, { address: wantDst, port: 443 }, `${encode.name} ${dst}`);
    }
  }
  assert.equal(
    encodeProxyV1({ address: '192.0.2.1', port: 1 }, { address: '2001:db8::2', port: 2 }).toString(),
    'PROXY TCP6 ::ffff:c000:201 2001:db8::2 1 2\r\n',
  );
  assert.equal(
    encodeProxyV1({ address: '192.0.2.1', port: 1 }, { address: '198.51.100.2', port: 2 }).toString(),
    'PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n',
  );
});

test('encode without usable addresses: v1 UNKNOWN, v2 LOCAL with AF_UNSPEC', () => {
  for (const [src, dst] of [
    [
      { address: '', port: 1 },
      { address: '10.0.0.1', port: 2 },
    ],
    [
      { address: '10.0.0.1', port: 70000 },
      { address: '10.0.0.1', port: 2 },
    ],
    [
      { address: 'host.example', port: 1 },
      { address: '10.0.0.1', port: 2 },
    ],
  ] as const) {
    assert.equal(encodeProxyV1(src, dst).toString(), 'PROXY UNKNOWN\r\n');
    const v2bytes = encodeProxyV2(src, dst);
    assert.deepEqual(parseProxyHeader(v2bytes), { kind: 'ok', length: 16, version: 2, command: 'LOCAL' });
    assert.equal(v2bytes[13], 0x00);
  }
});

// --- readProxyHeader over real sockets ------------------------------------------------------------------------

interface Accepted {
  server: Server;
  port: number;
  next(): Promise<{ socket: Socket; result: ProxyReadResult }>;
}

/** A loopback server that runs readProxyHeader on each connection and queues the outcomes. */
async function proxyServer(timeoutMs: number): Promise<Accepted> {
  const waiting: Array<(v: { socket: Socket; result: ProxyReadResult }) => void> = [];
  const ready: Array<{ socket: Socket; result: ProxyReadResult }> = [];
  const server = createServer((socket) => {
    readProxyHeader(socket, timeoutMs, (result) => {
      const v = { socket, result };
      const w = waiting.shift();
      if (w !== undefined) w(v);
      else ready.push(v);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    next() {
      const v = ready.shift();
      if (v !== undefined) return Promise.resolve(v);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function dial(port: number): Promise<Socket> {
  const c = connect(port, '127.0.0.1');
  c.setNoDelay(true);
  await once(c, 'connect');
  return c;
}

/** Everything the peer sends until it closes. */
async function drain(socket: Socket): Promise<string> {
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    text += d;
  });
  socket.resume();
  await once(socket, 'close');
  return text;
}

test('readProxyHeader: the bytes after the header survive, paused, for whoever takes the socket next', async () => {
  const s = await proxyServer(2000);
  try {
    const c = await dial(s.port);
    c.write('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello ');
    const { socket, result } = await s.next();
    assert.equal(result.kind, 'ok');
    if (result.kind === 'ok') assert.deepEqual(result.source, { address: '192.0.2.1', port: 56324 });
    assert.equal(socket.isPaused(), true);
    assert.equal(socket.listenerCount('data'), 0);
    c.end('world');
    assert.equal(await drain(socket), 'hello world');
  } finally {
    s.server.close();
  }
});

test('readProxyHeader: a header arriving one byte at a time', async () => {
  const s = await proxyServer(5000);
  try {
    const c = await dial(s.port);
    const bytes = Buffer.concat([encodeProxyV2({ address: '2001:db8::1', port: 1 }, { address: '::1', port: 2 })]);
    for (const b of bytes) {
      c.write(Buffer.of(b));
      await new Promise((r) => setTimeout(r, 1));
    }
    c.end('rest');
    const { socket, result } = await s.next();
    assert.equal(result.kind, 'ok');
    if (result.kind === 'ok') assert.deepEqual(result.source, { address: '2001:db8::1', port: 1 });
    assert.equal(await drain(socket), 'rest');
  } finally {
    s.server.close();
  }
});

test('readProxyHeader: a slow sender times out and is closed', async () => {
  const s = await proxyServer(150);
  try {
    const c = await dial(s.port);
    const started = performance.now();
    c.write('PROXY TCP4 ');
    const closed = drain(c);
    const { socket, result } = await s.next();
    assert.deepEqual(result, { kind: 'timeout' });
    assert.ok(performance.now() - started < 1500);
    assert.equal(await closed, '');
    assert.equal(socket.destroyed, true);
  } finally {
    s.server.close();
  }
});

test('readProxyHeader: an invalid header is reported and the connection closed without an answer', async () => {
  const s = await proxyServer(2000);
  try {
    const c = await dial(s.port);
    const closed = drain(c);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { result } = await s.next();
    assert.equal(result.kind, 'invalid');
    assert.equal(await closed, '');

    const c2 = await dial(s.port);
    c2.end('PROXY TCP4 192.0.2.1');
    const second = await s.next();
    assert.equal(second.result.kind, 'invalid');
    if (second.result.kind === 'invalid') assert.match(second.result.reason, /closed before/);
  } finally {
    s.server.close();
  }
});

test('readProxyHeader: an oversized v2 header is refused without waiting for its bytes', async () => {
  const s = await proxyServer(5000);
  try {
    const c = await dial(s.port);
    const closed = drain(c);
    c.write(v2(0x21, 0x11, Buffer.alloc(0), 0xffff));
    const { result } = await s.next();
    assert.equal(result.kind, 'invalid');
    await closed;
  } finally {
    s.server.close();
  }
});

test('hand-off after the header: node HTTP/1 server (with resume), HTTP/2 session and TLS socket', async () => {
  const http1 = createHttpServer((req, res) => res.end(`h1 ${req.url}`));
  const http2 = createH2Server((req, res) => res.end(`h2 ${req.url}`));
  const cert = selfSignedDefaultCertificate();
  const tls = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (t) => t.end('tls'));
  const server = createServer((socket) => {
    readProxyHeader(socket, 2000, (result) => {
      if (result.kind !== 'ok') return;
      const port = result.destination?.port;
      if (port === 1) {
        http1.emit('connection', socket);
        socket.resume();
      } else if (port === 2) {
        http2.emit('connection', socket);
      } else {
        tls.emit('connection', socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const header = (dport: number) =>
    encodeProxyV1({ address: '192.0.2.1', port: 9 }, { address: '192.0.2.2', port: dport });
  try {
    // HTTP/1: header and request in one segment.
    const h1 = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({
        path: '/one',
        createConnection: () => {
          const sock = connect(port, '127.0.0.1');
          sock.write(header(1));
          return sock;
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(h1, 'h1 /one');

    // HTTP/2 prior knowledge: the preface right behind the header.
    const session = h2Connect(`http://127.0.0.1:${port}`, {
      createConnection: () => {
        const sock = connect(port, '127.0.0.1');
        sock.write(header(2));
        return sock;
      },
    });
    const stream = session.request({ ':path': '/two' });
    let h2body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      h2body += d;
    });
    await once(stream, 'end');
    session.close();
    assert.equal(h2body, 'h2 /two');

    // TLS: the ClientHello right behind the header.
    const raw = connect(port, '127.0.0.1');
    raw.write(header(3));
    const t = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'gatehouse.invalid' });
    let tlsBody = '';
    t.setEncoding('utf8');
    t.on('data', (d: string) => {
      tlsBody += d;
    });
    await once(t, 'end');
    t.destroy();
    assert.equal(tlsBody, 'tls');
  } finally {
    server.close();
    http1.close();
    http2.close();
    tls.close();
  }
});
