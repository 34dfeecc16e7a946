import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { seededRandom } from '../../test/helpers/seeded-random.ts';
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from './h1-chunked.ts';

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function show(b: Buffer | string): string {
  return JSON.stringify(typeof b === 'string' ? b : b.toString('latin1'));
}

/**
 * Feeds `pieces` to a fresh scanner. The result is the offset just past the end of the body counted from the start
 * of the first piece, CHUNKED_ERROR, or CHUNKED_MORE when all pieces were body.
 */
function feed(pieces: readonly Buffer[]): number {
  const s = new ChunkedScanner();
  let offset = 0;
  for (const piece of pieces) {
    const r = s.scan(piece, 0);
    if (r === CHUNKED_ERROR) return r;
    if (r !== CHUNKED_MORE) {
      assert.ok(r > 0 && r <= piece.length, `end ${r} outside a piece of ${piece.length} bytes`);
      assert.equal(s.done, true);
      return offset + r;
    }
    assert.equal(s.done, false);
    offset += piece.length;
  }
  return CHUNKED_MORE;
}

function split(buf: Buffer, ...at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const k of at) {
    out.push(buf.subarray(from, k));
    from = k;
  }
  out.push(buf.subarray(from));
  return out;
}

function byteByByte(buf: Buffer): Buffer[] {
  return Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
}

/**
 * The result for `buf` is `expected` whole, split at every position (or, for large inputs, every 97th), byte by
 * byte, and from a start offset.
 */
function scansTo(buf: Buffer, expected: number): void {
  const what = (how: string) => `${how.slice(0, 200)}: ${show(buf)}`;
  assert.equal(feed([buf]), expected, what('whole'));
  const step = buf.length > 2000 ? 97 : 1;
  for (let k = 0; k <= buf.length; k += step) {
    assert.equal(feed(split(buf, k)), expected, what(`split at ${k}`));
    // The same buffer, scanned on from where the first call stopped.
    const s = new ChunkedScanner();
    const first = s.scan(buf.subarray(0, k), 0);
    const r = first === CHUNKED_MORE ? s.scan(buf, k) : first;
    assert.equal(r, expected, what(`split at ${k} with a start offset`));
  }
  assert.equal(feed(byteByByte(buf)), expected, what('byte by byte'));
  const junk = bytes('5\r\nxx\r\n\n');
  const s = new ChunkedScanner();
  const r = s.scan(Buffer.concat([junk, buf]), junk.length);
  assert.equal(r, expected < 0 ? expected : junk.length + expected, what('after junk'));
}

const VALID: readonly string[] = [
  '0\r\n\r\n',
  '5\r\nhello\r\n0\r\n\r\n',
  '5\r\nhello\r\n6\r\n world\r\n1\r\n!\r\n0\r\n\r\n',
  'A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n',
  '1F\r\n' + 'x'.repeat(31) + '\r\n1f\r\n' + 'y'.repeat(31) + '\r\n0\r\n\r\n',
  '000000000000005\r\nhello\r\n000\r\n\r\n',
  '5;name=value\r\nhello\r\n0;last\r\n\r\n',
  '5;a=b;c="d e";f\r\nhello\r\n0\r\n\r\n',
  '0\r\nExpires: never\r\n\r\n',
  '3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nX-Empty:\r\nx:\t v \t\r\n\r\n',
  '4\r\n\r\n\r\n\r\n0\r\n\r\n',
  '5\r\n0\r\n\r\n\r\n0\r\n\r\n',
  '3\r\n\x00\xff\x80\r\n0\r\n\r\n',
];

test('ChunkedScanner: valid bodies end where they end, however they arrive', () => {
  for (const body of VALID) {
    const b = bytes(body);
    scansTo(b, b.length);
    // Whatever follows the body is not read.
    for (const extra of ['G', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', '0\r\n\r\n', '\r\n', '\x00garbage']) {
      scansTo(Buffer.concat([b, bytes(extra)]), b.length);
    }
  }
});

test('ChunkedScanner: prefixes of a body need more bytes', () => {
  for (const body of VALID) {
    const b = bytes(body);
    for (let k = 0; k < b.length; k++) {
      assert.equal(feed([b.subarray(0, k)]), CHUNKED_MORE, `prefix of ${k} bytes of ${show(b)}`);
    }
  }
  const s = new ChunkedScanner();
  assert.equal(s.scan(Buffer.alloc(0), 0), CHUNKED_MORE);
  assert.equal(s.scan(bytes('abc'), 3), CHUNKED_MORE, 'nothing to scan from the start offset');
  assert.equal(s.done, false);
});

test('ChunkedScanner: large chunks', () => {
  assert.equal(feed([bytes('fffffffffffffff\r\n'), Buffer.alloc(100_000)]), CHUNKED_MORE, '15 hex digits');
  const big = Buffer.concat([bytes('186a0\r\n'), Buffer.alloc(100_000, 0x0d), bytes('\r\n0\r\nX: y\r\n\r\n')]);
  assert.equal(feed([big]), big.length, 'chunk data does not count as trailer bytes');
  assert.equal(feed(split(big, 3, 7, 50_000, 100_007, 100_008)), big.length);
});

test('ChunkedScanner: trailers up to the limit', () => {
  const body = bytes('0\r\nX-Big: ' + 'v'.repeat(16_000) + '\r\n\r\n');
  assert.equal(feed([body]), body.length);
  const many = bytes('0\r\n' + 'X-Trailer: value\r\n'.repeat(800) + '\r\n');
  assert.equal(feed([many]), many.length, `${many.length - 5} bytes of trailer fields`);
});

/** The scanner refuses `buf` whole, split anywhere and byte by byte, and never reports an end first. */
function refuses(body: string | Buffer): void {
  scansTo(typeof body === 'string' ? bytes(body) : body, CHUNKED_ERROR);
}

test('ChunkedScanner: malformed chunk framing', () => {
  // no CRLF after the data
  refuses('5\r\nhelloX\r\n0\r\n\r\n');
  refuses('5\r\nhello0\r\n\r\n');
  refuses('5\r\nhello\r0\r\n\r\n');
  refuses('5\r\nhell\r\n0\r\n\r\n\r\n');
  // bare LF
  refuses('5\nhello\r\n0\r\n\r\n');
  refuses('5\r\nhello\n0\r\n\r\n');
  refuses('0\n\r\n');
  refuses('0\r\n\n');
  refuses('5;ext\nhello\r\n0\r\n\r\n');
  // bare CR
  refuses('5\rhello\r\n0\r\n\r\n');
  refuses('0\r\n\rX');
  // sizes
  refuses('g\r\n');
  refuses('0x5\r\nhello\r\n0\r\n\r\n');
  refuses(' 5\r\nhello\r\n0\r\n\r\n');
  refuses('5 \r\nhello\r\n0\r\n\r\n');
  refuses('5\t;a\r\nhello\r\n0\r\n\r\n');
  refuses('-1\r\n');
  refuses('+5\r\n');
  refuses('5,5\r\n');
  refuses('\r\n');
  refuses(';ext\r\n');
  refuses('\r\n0\r\n\r\n');
  refuses('0000000000000000\r\n\r\n');
  refuses('0000000000000005\r\nhello\r\n0\r\n\r\n');
  refuses('10000000000000000\r\n');
  refuses('ffffffffffffffffff\r\n');
  // extensions
  refuses('5;a\x01b\r\nhello\r\n0\r\n\r\n');
  refuses('5;a\x00\r\nhello\r\n0\r\n\r\n');
  refuses('5;a\x7f\r\nhello\r\n0\r\n\r\n');
  refuses('5;\x80\r\nhello\r\n0\r\n\r\n');
  refuses('5;\xff\r\nhello\r\n0\r\n\r\n');
  refuses('0;a\x0b\r\n\r\n');
  for (const odd of ODD_EXTENSIONS) refuses(`5${odd}\r\nhello\r\n0\r\n\r\n`);
});

test('ChunkedScanner: malformed trailers', () => {
  refuses('0\r\nNoColon\r\n\r\n');
  refuses('0\r\nBad Name: v\r\n\r\n');
  refuses('0\r\nX : v\r\n\r\n');
  refuses('0\r\n: v\r\n\r\n');
  refuses('0\r\n X: v\r\n\r\n');
  refuses('0\r\nX: v\r\n folded\r\n\r\n');
  refuses('0\r\nX: v\r\n\tfolded\r\n\r\n');
  refuses('0\r\nX(y): v\r\n\r\n');
  refuses('0\r\nX: v\nY: w\r\n\r\n');
  refuses('0\r\nX: v\r\n\n');
  refuses('0\r\nX: v\rY: w\r\n\r\n');
  refuses('0\r\nX: a\x00b\r\n\r\n');
  refuses('0\r\nX: a\x7fb\r\n\r\n');
  // obs-text in a trailer value is accepted, as in header values of responses
  assert.equal(feed([bytes('0\r\nX: a\x80b\r\n\r\n')]), 13);
  refuses('0\r\n\x80: v\r\n\r\n');
});

test('ChunkedScanner: oversized trailers', () => {
  refuses('0\r\nX-Big: ' + 'v'.repeat(17_000) + '\r\n\r\n');
  refuses('0\r\n' + 'X-Trailer: value\r\n'.repeat(1_000) + '\r\n');
  // Refused as soon as the limit is passed, without waiting for the end.
  assert.equal(feed([bytes('0\r\nX: '), Buffer.alloc(20_000, 0x61)]), CHUNKED_ERROR);
});

test('ChunkedScanner: a finished scanner refuses further bytes', () => {
  const s = new ChunkedScanner();
  assert.equal(s.scan(bytes('0\r\n\r\n'), 0), 5);
  assert.equal(s.done, true);
  assert.equal(s.scan(bytes('0\r\n\r\n'), 0), CHUNKED_ERROR);
});

// ---------------------------------------------------------------------------------------------------------------
// Generated bodies, and a differential check against llhttp (node's HTTP server reading a chunked request body).

/** Chunk extensions llhttp takes. */
const EXTENSIONS: readonly string[] = ['', '', '', '', '', '', ';a', ';a=b', ';a="q s"', ';a=b;c', ';a="\\"x"'];
/** Chunk extensions llhttp refuses (HPE_STRICT), and so does the scanner: whitespace, empty names or values. */
const ODD_EXTENSIONS: readonly string[] = ['; a', ';\t', ';a b', ';"', ';a=b;', ';a=', ';='];
const TRAILERS: readonly string[] = ['X: y', 'X-Empty:', 'x:\tv ', 'a:b', 'Checksum: 0a1b2c'];
const ALPHABET: readonly number[] = [
  13, 10, 32, 9, 0, 0x3b, 0x3a, 0x3d, 0x22, 0x30, 0x61, 0x46, 0x67, 0x7f, 0x80, 0xff,
];

interface Generated {
  body: Buffer;
  /** Total chunk data, when the body was not mutated. */
  data: number;
  mutated: boolean;
}

function generate(rnd: () => number): Generated {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let s = '';
  let data = 0;
  let odd = false;
  const extension = (): string => {
    if (rnd() >= 0.1) return pick(EXTENSIONS);
    odd = true;
    return pick(ODD_EXTENSIONS);
  };
  const chunks = Math.floor(rnd() * 4);
  for (let c = 0; c < chunks; c++) {
    const size = 1 + Math.floor(rnd() * 40);
    let hex = size.toString(16);
    if (rnd() < 0.3) hex = hex.toUpperCase();
    if (rnd() < 0.2) hex = '0'.repeat(1 + Math.floor(rnd() * 3)) + hex;
    s += hex + extension() + '\r\n';
    for (let i = 0; i < size; i++) s += String.fromCharCode(rnd() < 0.1 ? pick(ALPHABET) : 0x61 + (i % 26));
    s += '\r\n';
    data += size;
  }
  s += '0' + extension() + '\r\n';
  const trailers = rnd() < 0.3 ? Math.floor(rnd() * 3) : 0;
  for (let t = 0; t < trailers; t++) s += pick(TRAILERS) + '\r\n';
  s += '\r\n';
  const out = [...bytes(s)];
  const mutations = rnd() < 0.4 ? 0 : 1 + Math.floor(rnd() * 2);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(rnd() * out.length);
    const r = rnd();
    if (r < 0.4) out.splice(at, 0, pick(ALPHABET));
    else if (r < 0.8) out[at] = pick(ALPHABET);
    else out.splice(at, 1);
  }
  return { body: Buffer.from(out), data, mutated: mutations > 0 || odd };
}

const SEED = Number(process.env['CHUNKED_FUZZ_SEED'] ?? 0xc4c4) >>> 0;
const FUZZ_CASES = 300;

function generated(): Generated[] {
  const rnd = seededRandom(SEED);
  return Array.from({ length: FUZZ_CASES }, () => generate(rnd));
}

test(`ChunkedScanner: generated bodies scan the same in any pieces (seed ${SEED}, CHUNKED_FUZZ_SEED to change)`, () => {
  const rnd = seededRandom(SEED ^ 0x5a5a);
  for (const [k, g] of generated().entries()) {
    const b = Buffer.concat([g.body, bytes('GET / HTTP/1.1\r\n\r\n')]);
    const label = `seed=${SEED} case=${k} input=${show(g.body)}`;
    const whole = feed([b]);
    if (!g.mutated) assert.equal(whole, g.body.length, label);
    assert.equal(feed(byteByByte(b)), whole, `${label}: byte by byte`);
    for (let n = 0; n < 5; n++) {
      const cuts = [Math.floor(rnd() * b.length), Math.floor(rnd() * b.length)].sort((x, y) => x - y);
      assert.equal(feed(split(b, ...cuts)), whole, `${label}: split at ${cuts.join()}`);
    }
  }
});

interface SeenRequest {
  url: string;
  body: number;
  complete: boolean;
}

interface Outcome {
  requests: SeenRequest[];
  errors: string[];
}

let server: Server;
let serverPort = 0;
const bySocket = new WeakMap<Socket, Outcome>();
const byPort = new Map<number, Outcome>();

before(async () => {
  server = createServer({ insecureHTTPParser: false, requireHostHeader: true }, (req, res) => {
    const seen: SeenRequest = { url: req.url ?? '', body: 0, complete: false };
    bySocket.get(req.socket)?.requests.push(seen);
    req.on('data', (chunk: Buffer) => {
      seen.body += chunk.length;
    });
    req.on('end', () => {
      seen.complete = true;
      res.end();
    });
  });
  server.on('connection', (socket: Socket) => {
    const outcome: Outcome = { requests: [], errors: [] };
    bySocket.set(socket, outcome);
    if (socket.remotePort !== undefined) byPort.set(socket.remotePort, outcome);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    bySocket.get(socket)?.errors.push(err.code ?? err.message);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  serverPort = (server.address() as AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** Sends `data` on a new connection, half-closes it, and returns what the server made of it. */
function llhttp(data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(serverPort, '127.0.0.1');
    let localPort = -1;
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('connect', () => {
      localPort = socket.localPort ?? -1;
      socket.end(data);
    });
    socket.on('error', () => {});
    socket.resume();
    socket.on('close', () => {
      clearTimeout(timer);
      const outcome = byPort.get(localPort) ?? { requests: [], errors: ['no connection'] };
      byPort.delete(localPort);
      resolve(outcome);
    });
  });
}

const HEAD = bytes('POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n');
const NEXT = bytes('GET /__next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');

test('differential: where the scanner ends a body, llhttp ends it too (or refuses it)', async (t) => {
  const tricky = [
    '1;a="\r\n"\r\nx\r\n0\r\n\r\n',
    '1;a="\\\r\n"\r\nx\r\n0\r\n\r\n',
    '1;a="x\r\n0\r\n\r\n"\r\nx\r\n0\r\n\r\n',
    '1;a=b\r\nx\r\n0;c="\r\n\r\n"\r\n\r\n',
    '0\r\nX: "\r\n\r\n"\r\n\r\n',
  ];
  const cases = [...[...VALID, ...tricky].map((v) => ({ body: bytes(v), data: -1, mutated: true })), ...generated()];
  let agree = 0;
  let refusedByLlhttp = 0;
  let refusedByScanner = 0;
  const refusals: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const k = next++;
      const g = cases[k] as Generated;
      const end = feed([g.body]);
      if (end < 0) {
        refusedByScanner++;
        continue;
      }
      const label = `seed=${SEED} case=${k} body=${show(g.body.subarray(0, end))}`;
      const body = g.body.subarray(0, end);
      const o = await llhttp(Buffer.concat([HEAD, body, NEXT]));
      const first = o.requests[0];
      if (first?.complete === true) {
        // llhttp finished the body: it must have done so exactly at `end`, with the next request right after it.
        assert.deepEqual(o.errors, [], `${label}: llhttp ended the body elsewhere`);
        assert.equal(o.requests[1]?.url, '/__next', `${label}: llhttp ended the body elsewhere`);
        if (!g.mutated) assert.equal(first.body, g.data, `${label}: chunk data`);
        agree++;
        continue;
      }
      // llhttp did not finish the body: it must refuse the body's own bytes, not wait for more of them.
      const alone = await llhttp(Buffer.concat([HEAD, body]));
      assert.ok(
        alone.errors.length > 0 && !alone.errors.includes('HPE_INVALID_EOF_STATE'),
        `${label}: llhttp wants more than the scanner's body (${alone.errors.join()})`,
      );
      refusedByLlhttp++;
      if (refusals.length < 5) refusals.push(`${show(body)} (${alone.errors.join()})`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  t.diagnostic(`agree=${agree} refused-by-llhttp=${refusedByLlhttp} refused-by-scanner=${refusedByScanner}`);
  for (const r of refusals) t.diagnostic(`llhttp refuses what the scanner accepts: ${r}`);
  assert.ok(agree >= FUZZ_CASES / 4, 'enough bodies agree');
});
