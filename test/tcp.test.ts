// Layer 4 end to end, on 127.0.120.x: Gateway TCP listeners with TCPRoutes (echo, a Redis-like exchange,
// half-close, 100 MB each way in bounded memory, weighted backends, metrics, source ranges, idle timeout), TLS
// listeners with TLSRoutes (passthrough by SNI to backends that terminate TLS themselves; termination by
// gatehouse with the plaintext piped on), and the ingress-nginx style tcp-services ConfigMap (with its :PROXY
// flags). Backends listen on fixed uncommon ports (15000-19443, and 5432 for the quickstart's bar) of their own
// 127.0.120.x address; gatehouse's listeners take free ports.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer, type Server as TlsServer, connect as tlsConnect } from 'node:tls';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import {
  collect,
  connectTcp,
  exchange,
  rawGateway,
  startTcpEcho,
  startTcpServer,
  stopCleanly,
  type TcpServer,
  tcpRoute,
  tlsRoute,
} from './helpers/l4.ts';
import { configMap, gatewayClass, ingressClass, service, tlsSecret, toYaml } from './helpers/manifests.ts';
import { waitForPort } from './helpers/net.ts';

const ADDR = {
  echo: '127.0.120.1',
  redis: '127.0.120.2',
  bulk: '127.0.120.3',
  w1: '127.0.120.4',
  w2: '127.0.120.5',
  tlsA: '127.0.120.10',
  tlsB: '127.0.120.11',
  bar: '127.0.120.12',
  raw: '127.0.120.13',
  nothing: '127.0.120.14',
  allowed: '127.0.120.50',
  denied: '127.0.120.51',
} as const;
const GH = '127.0.0.1';
const MiB = 1024 * 1024;

const CA = issueCertificate({ commonName: 'gatehouse tcp test CA', isCA: true });
const leaf = (commonName: string, dnsNames: string[]): IssuedCertificate =>
  issueCertificate({ commonName, dnsNames, issuer: CA });
const CERTS = {
  a: leaf('tls backend a', ['a.example.com']),
  b: leaf('tls backend b', ['b.example.com']),
  term: leaf('gatehouse terminate', ['term.example.com']),
};

const tcpService = (name: string, ip: string, port: number) =>
  service({ name, clusterIP: ip, port, targetPort: port, portName: 'tcp', endpoints: [{ ip }] });

// ---------------------------------------------------------------------------------------------------------------
// Backends

/** One RESP array of bulk strings at the front of buf: [command words, bytes used], or null while incomplete. */
function parseResp(buf: Buffer): [string[], number] | null {
  const line = (at: number): [string, number] | null => {
    const crlf = buf.indexOf('\r\n', at);
    return crlf < 0 ? null : [buf.toString('latin1', at, crlf), crlf + 2];
  };
  const head = line(0);
  if (head === null) return null;
  if (!head[0].startsWith('*')) throw new Error(`not a RESP array: ${head[0]}`);
  const n = Number(head[0].slice(1));
  let at = head[1];
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = line(at);
    if (len === null) return null;
    const size = Number(len[0].slice(1));
    if (buf.length < len[1] + size + 2) return null;
    words.push(buf.toString('latin1', len[1], len[1] + size));
    at = len[1] + size + 2;
  }
  return [words, at];
}

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const respCommand = (...words: string[]): string => `*${words.length}\r\n${words.map(bulk).join('')}`;

/** A tiny Redis: PING, ECHO, SET, GET over RESP, pipelined commands answered in order. */
function startFakeRedis(host: string, port: number): Promise<TcpServer> {
  return startTcpServer(host, port, (socket) => {
    const store = new Map<string, string>();
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let out = '';
      for (;;) {
        const parsed = parseResp(buf);
        if (parsed === null) break;
        buf = buf.subarray(parsed[1]);
        const [cmd, ...args] = parsed[0];
        switch (cmd?.toUpperCase()) {
          case 'PING':
            out += '+PONG\r\n';
            break;
          case 'ECHO':
            out += bulk(args[0] ?? '');
            break;
          case 'SET':
            store.set(args[0] ?? '', args[1] ?? '');
            out += '+OK\r\n';
            break;
          case 'GET': {
            const v = store.get(args[0] ?? '');
            out += v === undefined ? '$-1\r\n' : bulk(v);
            break;
          }
          default:
            out += `-ERR unknown command '${cmd}'\r\n`;
        }
      }
      if (out !== '') socket.write(out);
    });
    socket.on('end', () => socket.end());
  });
}

const CHUNK = 64 * 1024;
const BASE = Buffer.alloc(CHUNK);
for (let i = 0; i < CHUNK; i++) BASE[i] = (i * 131 + (i >> 8) * 7) & 0xff;

/** Chunk i of a deterministic stream: a fixed block stamped with its index, so loss, duplication and reordering all show. */
function patternChunk(i: number, size = CHUNK): Buffer {
  const c = Buffer.from(BASE.subarray(0, size));
  c.writeUInt32BE(i, 0);
  return c;
}

/** sha256 of the first n bytes of the pattern stream, computed without holding it. */
function patternSha(n: number): string {
  const h = createHash('sha256');
  for (let i = 0, left = n; left > 0; i++, left -= CHUNK) h.update(patternChunk(i, Math.min(CHUNK, left)));
  return h.digest('hex');
}

/** Writes n bytes of the pattern stream to socket, minding backpressure, then ends it when `end`. */
async function writePattern(socket: Socket, n: number, end: boolean): Promise<void> {
  for (let i = 0, left = n; left > 0; i++, left -= CHUNK) {
    if (socket.destroyed) throw new Error('socket closed while writing');
    if (!socket.write(patternChunk(i, Math.min(CHUNK, left)))) {
      await new Promise<void>((resolve, reject) => {
        const onClose = (): void => reject(new Error('socket closed while writing'));
        socket.once('close', onClose);
        socket.once('drain', () => {
          socket.off('close', onClose);
          resolve();
        });
      });
    }
  }
  if (end) socket.end();
}

/** What the bulk backend read on SHUT connections, as `<count> <sha256>`, once each client's EOF arrived. */
const shutResults: string[] = [];

/**
 * The bulk backend. `UP\n` + bytes + EOF: answers `<count> <sha256>\n` only after EOF, then ends (a half-close
 * must reach it and its answer must still get back). `SHUT\n`: answers `shut\n` and ends its side at once, then
 * records what it still reads (shutResults). `DOWN <n>\n`: sends n bytes of the pattern, then ends.
 */
function startBulkBackend(host: string, port: number): Promise<TcpServer> {
  return startTcpServer(host, port, (socket) => {
    let head = Buffer.alloc(0);
    let mode: 'head' | 'up' | 'down' = 'head';
    const hash = createHash('sha256');
    let count = 0;
    const onBody = (chunk: Buffer): void => {
      hash.update(chunk);
      count += chunk.length;
    };
    socket.on('data', (chunk: Buffer) => {
      if (mode === 'up') return onBody(chunk);
      if (mode === 'down') return;
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      const line = head.toString('latin1', 0, nl);
      const rest = head.subarray(nl + 1);
      if (line === 'UP') {
        mode = 'up';
        if (rest.length > 0) onBody(rest);
      } else if (line === 'SHUT') {
        // The backend finishes first: it ends its side at once, then keeps reading until the client's EOF.
        mode = 'up';
        if (rest.length > 0) onBody(rest);
        socket.end('shut\n');
        socket.once('end', () => shutResults.push(`${count} ${hash.digest('hex')}`));
      } else if (line.startsWith('DOWN ')) {
        mode = 'down';
        writePattern(socket, Number(line.slice(5)), true).catch(() => socket.destroy());
      } else {
        socket.end(`unknown: ${line}\n`);
      }
    });
    socket.on('end', () => {
      if (mode === 'up' && socket.writable) socket.end(`${count} ${hash.digest('hex')}\n`);
      else if (mode === 'head') socket.end();
    });
  });
}

/** Writes its name and closes: which backend a connection reached. */
function startNamedBackend(host: string, name: string): Promise<TcpServer> {
  return startTcpServer(host, 17100, (socket) => {
    socket.end(`${name}\n`);
  });
}

interface TlsBackend {
  readonly server: TlsServer;
  /** SNI names the backend saw on completed handshakes. */
  readonly servernames: string[];
  close(): Promise<void>;
}

/** A TLS server with its own certificate: greets with `<name> <sni>\n` after the handshake, then echoes. */
async function startTlsBackend(host: string, name: string, cert: IssuedCertificate): Promise<TlsBackend> {
  const servernames: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
    const sni = typeof socket.servername === 'string' ? socket.servername : '';
    servernames.push(sni);
    socket.on('error', () => {});
    socket.write(`${name} ${sni}\n`);
    socket.pipe(socket);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(19443, host, resolve));
  return {
    server,
    servernames,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface TlsAttempt {
  readonly secure: boolean;
  readonly authorized: boolean;
  readonly cn: string;
  /** The first line the far end sent after the handshake (or everything until close when there is no newline). */
  readonly greeting: string;
  readonly error: string | null;
  readonly socket: ReturnType<typeof tlsConnect> | null;
}

/**
 * A TLS client to gatehouse at port: verifies against the test CA (and servername, when given and checkName); on success
 * reads the first line. Never rejects: a refused handshake comes back as `secure: false` with the error.
 */
function tlsAttempt(port: number, servername?: string, keepOpen = false, checkName = true): Promise<TlsAttempt> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: GH,
      port,
      ca: CA.certPem,
      ...(servername === undefined ? {} : { servername }),
      ...(servername === undefined || !checkName ? { checkServerIdentity: () => undefined } : {}),
    });
    let settled = false;
    const settle = (a: TlsAttempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!keepOpen || !a.secure) socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(
      () => settle({ secure: false, authorized: false, cn: '', greeting: '', error: 'timeout (5 s)', socket: null }),
      5_000,
    );
    socket.once('secureConnect', () => {
      const cn = String(socket.getPeerCertificate().subject?.CN ?? '');
      let text = '';
      const onData = (c: Buffer): void => {
        text += c.toString('utf8');
        const nl = text.indexOf('\n');
        if (nl >= 0) {
          socket.off('data', onData);
          settle({
            secure: true,
            authorized: socket.authorized,
            cn,
            greeting: text.slice(0, nl),
            error: null,
            socket,
          });
        }
      };
      socket.on('data', onData);
      socket.once('end', () =>
        settle({ secure: true, authorized: socket.authorized, cn, greeting: text, error: 'ended', socket }),
      );
    });
    socket.once('error', (err: Error & { code?: string }) =>
      settle({ secure: false, authorized: false, cn: '', greeting: '', error: err.code ?? err.message, socket: null }),
    );
    socket.once('close', () =>
      settle({ secure: false, authorized: false, cn: '', greeting: '', error: 'closed', socket: null }),
    );
  });
}

/** Reads /metrics and returns the samples of `metric` whose labels mention `mention`, as [labels, value]. */
async function samples(gh: GatehouseProcess, metric: string, mention: string): Promise<[string, number][]> {
  const { body } = await gh.admin('/metrics');
  const out: [string, number][] = [];
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels = line.slice(metric.length + 1, close);
    if (!labels.includes(mention)) continue;
    out.push([labels, Number(line.slice(close + 1).trim())]);
  }
  return out;
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway API: TCP and TLS listeners

describe('Gateway TCP and TLS listeners', () => {
  let dir = '';
  let gh: GatehouseProcess;
  const servers: { close(): Promise<void> }[] = [];
  let echo: TcpServer;
  let w1: TcpServer;
  let w2: TcpServer;
  let tlsA: TlsBackend;
  let tlsB: TlsBackend;
  const P = {
    echo: 0,
    redis: 0,
    bulk: 0,
    split: 0,
    allow: 0,
    idle: 0,
    passthrough: 0,
    terminate: 0,
    refused: 0,
    missing: 0,
    catchall: 0,
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tcp-'));
    for (const k of Object.keys(P) as (keyof typeof P)[]) P[k] = await freeTcpPort();
    echo = await startTcpEcho(ADDR.echo, 15000);
    w1 = await startNamedBackend(ADDR.w1, 'w1');
    w2 = await startNamedBackend(ADDR.w2, 'w2');
    tlsA = await startTlsBackend(ADDR.tlsA, 'a', CERTS.a);
    tlsB = await startTlsBackend(ADDR.tlsB, 'b', CERTS.b);
    servers.push(
      echo,
      w1,
      w2,
      tlsA,
      tlsB,
      await startFakeRedis(ADDR.redis, 16379),
      await startBulkBackend(ADDR.bulk, 17000),
    );

    const parent = (sectionName: string) => ({ parentRefs: [{ name: 'l4', sectionName }] });
    const tcp = (name: string, port: number) => ({ name, port, protocol: 'TCP' });
    writeFileSync(
      join(dir, 'all.yaml'),
      toYaml([
        gatewayClass(),
        ...tcpService('tcp-echo', ADDR.echo, 15000),
        ...tcpService('redis', ADDR.redis, 16379),
        ...tcpService('bulk', ADDR.bulk, 17000),
        ...tcpService('w1', ADDR.w1, 17100),
        ...tcpService('w2', ADDR.w2, 17100),
        ...tcpService('nothing', ADDR.nothing, 15000),
        ...tcpService('tls-a', ADDR.tlsA, 19443),
        ...tcpService('tls-b', ADDR.tlsB, 19443),
        tlsSecret('term', CERTS.term.certPem, CERTS.term.keyPem),
        rawGateway('l4', [
          tcp('echo', P.echo),
          tcp('redis', P.redis),
          tcp('bulk', P.bulk),
          tcp('split', P.split),
          tcp('allow', P.allow),
          tcp('idle', P.idle),
          tcp('refused', P.refused),
          tcp('missing', P.missing),
          { name: 'passthrough', port: P.passthrough, protocol: 'TLS', tls: { mode: 'Passthrough' } },
          { name: 'catchall', port: P.catchall, protocol: 'TLS', tls: { mode: 'Passthrough' } },
          {
            name: 'terminate',
            port: P.terminate,
            protocol: 'TLS',
            hostname: 'term.example.com',
            tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'term' }] },
          },
        ]),
        tcpRoute('echo-route', { ...parent('echo'), rules: [{ backendRefs: [{ name: 'tcp-echo', port: 15000 }] }] }),
        tcpRoute('redis-route', { ...parent('redis'), rules: [{ backendRefs: [{ name: 'redis', port: 16379 }] }] }),
        tcpRoute('bulk-route', { ...parent('bulk'), rules: [{ backendRefs: [{ name: 'bulk', port: 17000 }] }] }),
        tcpRoute('split-route', {
          ...parent('split'),
          rules: [
            {
              backendRefs: [
                { name: 'w1', port: 17100, weight: 1 },
                { name: 'w2', port: 17100, weight: 1 },
              ],
            },
          ],
        }),
        tcpRoute(
          'allow-route',
          { ...parent('allow'), rules: [{ backendRefs: [{ name: 'tcp-echo', port: 15000 }] }] },
          { annotations: { 'gatehouse.dev/source-ranges': `${ADDR.allowed}/32` } },
        ),
        tcpRoute(
          'idle-route',
          { ...parent('idle'), rules: [{ backendRefs: [{ name: 'tcp-echo', port: 15000 }] }] },
          { annotations: { 'gatehouse.dev/idle-timeout': '1s' } },
        ),
        tcpRoute('refused-route', {
          ...parent('refused'),
          rules: [{ backendRefs: [{ name: 'nothing', port: 15000 }] }],
        }),
        tcpRoute('missing-route', {
          ...parent('missing'),
          rules: [{ backendRefs: [{ name: 'no-such-service', port: 15000 }] }],
        }),
        tlsRoute('tls-a-route', {
          ...parent('passthrough'),
          hostnames: ['a.example.com'],
          rules: [{ backendRefs: [{ name: 'tls-a', port: 19443 }] }],
        }),
        tlsRoute(
          'tls-b-route',
          {
            ...parent('passthrough'),
            hostnames: ['b.example.com'],
            rules: [{ backendRefs: [{ name: 'tls-b', port: 19443 }] }],
          },
          { apiVersion: 'gateway.networking.k8s.io/v1' },
        ),
        // On the catch-all listener: a.example.com goes to a, every other name (and no SNI at all) to b.
        tlsRoute('catchall-a', {
          ...parent('catchall'),
          hostnames: ['a.example.com'],
          rules: [{ backendRefs: [{ name: 'tls-a', port: 19443 }] }],
        }),
        tlsRoute('catchall-rest', {
          ...parent('catchall'),
          rules: [{ backendRefs: [{ name: 'tls-b', port: 19443 }] }],
        }),
        tlsRoute('term-route', {
          ...parent('terminate'),
          hostnames: ['term.example.com'],
          rules: [{ backendRefs: [{ name: 'tcp-echo', port: 15000 }] }],
        }),
      ]),
    );
    gh = await startGatehouse({ manifests: dir });
    // Layer-4 listeners may open just after /readyz; give them a moment (a port that never opens fails its test).
    await Promise.allSettled(Object.values(P).map((port) => waitForPort(GH, port, 3_000)));
  });

  after(async () => {
    if (gh !== undefined) await stopCleanly(gh);
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('TCP listener + TCPRoute: bytes are echoed back through gatehouse', async () => {
    for (const payload of ['hello\n', 'x'.repeat(100_000)]) {
      const socket = await connectTcp(GH, P.echo);
      const answer = await exchange(socket, payload);
      assert.equal(answer.error, null);
      assert.equal(answer.data.toString('utf8'), payload);
    }
  });

  test('interactive round trips on one connection', async () => {
    const socket = await connectTcp(GH, P.echo);
    try {
      for (let i = 0; i < 5; i++) {
        const line = `round ${i}\n`;
        const pending = collect(socket, 3_000, (d) => d.length >= line.length);
        socket.write(line);
        const got = await pending;
        assert.equal(got.data.toString('utf8'), line, `round ${i}`);
      }
    } finally {
      socket.destroy();
    }
  });

  test('a Redis-protocol exchange: PING → +PONG, and pipelined commands answered in order', async () => {
    const socket = await connectTcp(GH, P.redis);
    try {
      const pong = collect(socket, 3_000, (d) => d.includes('\r\n'));
      socket.write('*1\r\n$4\r\nPING\r\n');
      assert.equal((await pong).data.toString('latin1'), '+PONG\r\n');

      const pipeline =
        respCommand('PING') +
        respCommand('SET', 'key', 'value') +
        respCommand('GET', 'key') +
        respCommand('ECHO', 'hello') +
        respCommand('GET', 'missing');
      const expected = '+PONG\r\n+OK\r\n$5\r\nvalue\r\n$5\r\nhello\r\n$-1\r\n';
      const replies = collect(socket, 3_000, (d) => d.length >= expected.length);
      // Split mid-command: the proxy must not care where TCP segments fall.
      socket.write(pipeline.slice(0, 23));
      await sleep(20);
      socket.write(pipeline.slice(23));
      assert.equal((await replies).data.toString('latin1'), expected);
    } finally {
      socket.destroy();
    }
  });

  test('half-close: the client ends its side, the backend sees EOF and its answer still comes back', async () => {
    const socket = await connectTcp(GH, P.bulk);
    const body = 'half-close payload';
    socket.write('UP\n');
    socket.write(body);
    const answer = collect(socket, 5_000);
    await sleep(50);
    socket.end(); // FIN: the bulk backend answers only once it has read EOF
    const got = await answer;
    const sha = createHash('sha256').update(body).digest('hex');
    assert.equal(got.error, null, `connection failed: ${got.error}`);
    assert.equal(got.data.toString('utf8'), `${body.length} ${sha}\n`);
    assert.ok(got.ended, 'the backend’s end reached the client as a clean FIN');
  });

  test('half-close the other way: the backend ends first, the client keeps sending and the backend gets it all', async () => {
    const socket = await connectTcp(GH, P.bulk);
    try {
      const seen = shutResults.length;
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('utf8');
      });
      let fin = false;
      socket.once('end', () => {
        fin = true;
      });
      socket.write('SHUT\n');
      for (const until = Date.now() + 5_000; !fin && Date.now() < until; ) await sleep(10);
      assert.ok(fin, 'the backend’s FIN reached the client');
      assert.equal(text, 'shut\n');
      // The client's direction is still open: what it sends now must reach the backend, then its own FIN.
      const body = 'sent after the backend finished';
      socket.end(body);
      for (const until = Date.now() + 5_000; shutResults.length === seen && Date.now() < until; ) await sleep(10);
      assert.equal(shutResults[seen], `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    } finally {
      socket.destroy();
    }
  });

  test('100 MB each way streams intact with gatehouse memory bounded', async () => {
    const size = 100 * MiB;
    const expected = patternSha(size);
    const pid = gh.child.pid;
    assert.ok(pid !== undefined);
    const rssBefore = peakRssMiB(pid);

    // Upload: generated and sent on the fly, hashed by the backend as it arrives.
    const up = await connectTcp(GH, P.bulk);
    const upAnswer = collect(up, 60_000);
    up.write('UP\n');
    await writePattern(up, size, true);
    const upGot = await upAnswer;
    assert.equal(upGot.error, null, `upload connection failed: ${upGot.error}`);
    assert.equal(upGot.data.toString('utf8'), `${size} ${expected}\n`);

    // Download: hashed by the client as it arrives.
    const down = await connectTcp(GH, P.bulk);
    const downResult = await new Promise<{ bytes: number; sha: string; error: string | null }>((resolve) => {
      const h = createHash('sha256');
      let bytes = 0;
      let error: string | null = null;
      const timer = setTimeout(() => {
        error = 'timeout (60 s)';
        down.destroy();
      }, 60_000);
      down.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      down.on('error', (err: Error & { code?: string }) => {
        error = err.code ?? err.message;
      });
      down.on('close', () => {
        clearTimeout(timer);
        resolve({ bytes, sha: h.digest('hex'), error });
      });
      down.on('end', () => down.end());
      down.write(`DOWN ${size}\n`);
    });
    assert.equal(downResult.error, null);
    assert.equal(downResult.bytes, size);
    assert.equal(downResult.sha, expected);

    const rss = peakRssMiB(pid);
    console.log(
      `gatehouse peak RSS (VmHWM): ${rssBefore.toFixed(1)} MiB before, ${rss.toFixed(1)} MiB after 100 MB each way over TCP`,
    );
    assert.ok(rss < 250, `gatehouse peak RSS ${rss.toFixed(1)} MiB ≥ 250 MiB: the stream was buffered`);
  });

  test('weights across two backendRefs split connections about evenly', async () => {
    const counts = { w1: 0, w2: 0, other: 0 };
    const before1 = w1.accepted;
    const before2 = w2.accepted;
    const total = 200;
    for (let batch = 0; batch < total / 20; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => exchange(await connectTcp(GH, P.split), '')),
      );
      for (const a of answers) {
        const name = a.data.toString('utf8').trim();
        if (name === 'w1') counts.w1++;
        else if (name === 'w2') counts.w2++;
        else counts.other++;
      }
    }
    console.log(`split over ${total} connections: ${JSON.stringify(counts)}`);
    assert.equal(counts.other, 0, 'every connection reached one of the two backends');
    assert.equal(w1.accepted - before1 + (w2.accepted - before2), total);
    assert.ok(counts.w1 >= 70 && counts.w1 <= 130, `w1 got ${counts.w1} of ${total} (expected 100 ± 30)`);
    assert.ok(counts.w2 >= 70 && counts.w2 <= 130, `w2 got ${counts.w2} of ${total} (expected 100 ± 30)`);
  });

  test('/metrics counts connections and bytes for the TCP route', async () => {
    const payload = 'metrics payload '.repeat(64);
    const socket = await connectTcp(GH, P.echo);
    const answer = await exchange(socket, payload);
    assert.equal(answer.data.toString('utf8'), payload);
    let conns: [string, number][] = [];
    let bytes: [string, number][] = [];
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      conns = await samples(gh, 'gatehouse_tcp_connections_total', 'echo-route');
      bytes = await samples(gh, 'gatehouse_tcp_bytes_total', 'echo-route');
      if (conns.length > 0 && bytes.length > 0) break;
      await sleep(100);
    }
    const { body } = await gh.admin('/metrics');
    const tcpLines = body
      .split('\n')
      .filter((l) => l.startsWith('gatehouse_tcp_'))
      .join('\n');
    assert.ok(conns.length > 0, `no gatehouse_tcp_connections_total sample for echo-route; tcp metrics:\n${tcpLines}`);
    assert.ok(bytes.length > 0, `no gatehouse_tcp_bytes_total sample for echo-route; tcp metrics:\n${tcpLines}`);
    const connTotal = conns.reduce((n, [, v]) => n + v, 0);
    const byteTotal = bytes.reduce((n, [, v]) => n + v, 0);
    // The echo tests above made at least 4 connections and moved well over 2 × 100 kB.
    assert.ok(connTotal >= 4, `connections for echo-route: ${connTotal}\n${tcpLines}`);
    assert.ok(byteTotal >= 2 * payload.length, `bytes for echo-route: ${byteTotal}\n${tcpLines}`);
    // The bulk route carried 100 MiB each way above: its byte counters show at least that much.
    const bulkBytes = (await samples(gh, 'gatehouse_tcp_bytes_total', 'bulk-route')).reduce((n, [, v]) => n + v, 0);
    assert.ok(bulkBytes >= 200 * MiB, `bytes for bulk-route: ${bulkBytes}\n${tcpLines}`);
  });

  test('TLS passthrough: SNI picks the backend, and the client verifies the backend’s own certificate', async () => {
    for (const [sni, cn, name, backend] of [
      ['a.example.com', 'tls backend a', 'a', tlsA],
      ['b.example.com', 'tls backend b', 'b', tlsB],
    ] as const) {
      const a = await tlsAttempt(P.passthrough, sni, true);
      assert.equal(a.error, null, `${sni}: ${a.error}`);
      assert.ok(a.secure && a.authorized, `${sni}: handshake verified against the test CA`);
      assert.equal(a.cn, cn, `${sni}: the certificate is the backend’s own, gatehouse never terminates`);
      assert.equal(a.greeting, `${name} ${sni}`, `${sni}: the backend saw the client’s SNI`);
      // And the encrypted stream keeps flowing both ways.
      const socket = a.socket as NonNullable<typeof a.socket>;
      const echoed = collect(socket as unknown as Socket, 3_000, (d) => d.includes('\n'));
      socket.write('through the tunnel\n');
      assert.equal((await echoed).data.toString('utf8'), 'through the tunnel\n');
      socket.destroy();
      assert.ok(backend.servernames.includes(sni));
    }
  });

  test('TLS passthrough: SNI names match case-insensitively', async () => {
    const a = await tlsAttempt(P.passthrough, 'A.Example.COM');
    assert.equal(a.error, null, `A.Example.COM: ${a.error}`);
    assert.equal(a.cn, 'tls backend a');
  });

  test('TLS passthrough: a ClientHello that arrives in small pieces is still routed by its SNI', async () => {
    const raw = await connectTcp(GH, P.passthrough);
    raw.setNoDelay(true);
    // Everything the TLS client writes goes out in 40-byte segments, 5 ms apart.
    const trickle = new Duplex({
      write(chunk: Buffer, _encoding, callback) {
        void (async () => {
          for (let i = 0; i < chunk.length && !raw.destroyed; i += 40) {
            raw.write(chunk.subarray(i, i + 40));
            await sleep(5);
          }
          callback();
        })();
      },
      read() {},
      final(callback) {
        raw.end();
        callback();
      },
    });
    raw.on('data', (d: Buffer) => trickle.push(d));
    raw.on('end', () => trickle.push(null));
    raw.on('close', () => trickle.destroy());
    const socket = tlsConnect({ socket: trickle, servername: 'b.example.com', ca: CA.certPem });
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no greeting within 5 s')), 5_000);
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (text.includes('\n')) {
            clearTimeout(timer);
            resolve(text.trim());
          }
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      assert.ok(socket.authorized);
      assert.equal(greeting, 'b b.example.com');
    } finally {
      socket.destroy();
      raw.destroy();
    }
  });

  test('TLS passthrough: an unknown SNI is closed without a handshake', async () => {
    const seen = tlsA.servernames.length + tlsB.servernames.length;
    await waitForPort(GH, P.passthrough, 1_000); // the listener is open: a refusal would prove nothing
    const a = await tlsAttempt(P.passthrough, 'c.example.com');
    assert.equal(a.secure, false, 'no handshake completes for a name no TLSRoute has');
    assert.equal(a.cn, '', 'no certificate was presented');
    assert.notEqual(a.error, 'timeout (5 s)', 'the connection is closed, not left hanging');
    assert.equal(tlsA.servernames.length + tlsB.servernames.length, seen, 'no backend saw the connection');
  });

  test('TLS passthrough: a ClientHello without SNI and no catch-all route is closed', async () => {
    await waitForPort(GH, P.passthrough, 1_000);
    const a = await tlsAttempt(P.passthrough);
    assert.equal(a.secure, false, 'no handshake completes without SNI');
    assert.equal(a.cn, '');
    assert.notEqual(a.error, 'timeout (5 s)', 'the connection is closed, not left hanging');
  });

  test('TLS passthrough: a TLSRoute without hostnames catches other names and a ClientHello without SNI', async () => {
    const exact = await tlsAttempt(P.catchall, 'a.example.com');
    assert.equal(exact.error, null, `a.example.com: ${exact.error}`);
    assert.equal(exact.greeting, 'a a.example.com', 'the exact name wins over the catch-all');
    // b's certificate names b.example.com only: these clients check the chain, not the name.
    for (const sni of ['other.example.com', undefined]) {
      const a = await tlsAttempt(P.catchall, sni, false, false);
      assert.equal(a.error, null, `${sni ?? 'no SNI'}: ${a.error}`);
      assert.equal(a.greeting, `b ${sni ?? ''}`, `${sni ?? 'no SNI'}: reached the catch-all route`);
    }
  });

  test('TLS passthrough: bytes that are not a ClientHello are closed without an answer', async () => {
    const socket = await connectTcp(GH, P.passthrough);
    const got = await exchange(socket, 'GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n');
    assert.ok(got.closed, 'closed');
    assert.equal(got.data.length, 0, `no answer; got ${JSON.stringify(got.data.toString('latin1'))}`);
  });

  test('a client that leaves before its ClientHello is closed at once (passthrough and terminate)', async () => {
    const results: string[] = [];
    let failed = false;
    for (const [name, port] of [
      ['passthrough', P.passthrough],
      ['terminate', P.terminate],
    ] as const) {
      const socket = await connectTcp(GH, port);
      // FIN without a byte: no ClientHello can follow, so there is nothing to wait for.
      const got = await exchange(socket, '', 3_000);
      results.push(`${name}: ${got.closed ? `closed after ${got.elapsedMs} ms` : 'still open after 3 s'}`);
      if (!got.closed || got.elapsedMs >= 2_000) failed = true;
    }
    assert.ok(!failed, `after the client's FIN: ${results.join('; ')}`);
  });

  test('TLS terminate: the client verifies gatehouse’s certificate and the plaintext reaches the TCP backend', async () => {
    const before = echo.accepted;
    const socket = tlsConnect({ host: GH, port: P.terminate, servername: 'term.example.com', ca: CA.certPem });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no TLS handshake within 5 s')), 5_000);
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      assert.ok(socket.authorized);
      assert.equal(socket.getPeerCertificate().subject?.CN, 'gatehouse terminate');
      // The echo backend returns exactly what it received: plaintext in, plaintext out through the TLS tunnel.
      const echoed = collect(socket as unknown as Socket, 3_000, (d) => d.includes('\n'));
      socket.write('plaintext behind TLS\n');
      assert.equal((await echoed).data.toString('utf8'), 'plaintext behind TLS\n');
      assert.equal(echo.accepted, before + 1, 'one plaintext connection reached the echo backend');
    } finally {
      socket.destroy();
    }
  });

  test('source-ranges on a TCPRoute: an allowed client gets through, another is closed without data', async () => {
    const ok = await connectTcp(GH, P.allow, ADDR.allowed);
    const okAnswer = await exchange(ok, 'allowed\n');
    assert.equal(okAnswer.data.toString('utf8'), 'allowed\n');

    const before = echo.accepted;
    const denied = await connectTcp(GH, P.allow, ADDR.denied);
    const deniedAnswer = await exchange(denied, 'denied\n');
    assert.ok(deniedAnswer.closed, 'the denied connection is closed');
    assert.equal(deniedAnswer.data.length, 0, 'and sees no data');
    assert.equal(echo.accepted, before, 'the backend never saw the denied client');
  });

  test('a backend that refuses, or a Service that does not exist: the client is closed promptly', async () => {
    for (const [name, port] of [
      ['nothing listening', P.refused],
      ['unknown Service', P.missing],
    ] as const) {
      const socket = await connectTcp(GH, port);
      const got = await collect(socket, 5_000);
      assert.ok(got.closed, `${name}: still open after 5 s`);
      assert.ok(got.elapsedMs < 3_000, `${name}: closed after ${got.elapsedMs} ms`);
      assert.equal(got.data.length, 0, name);
    }
  });

  test('idle-timeout annotation: an idle connection is closed after about 1 s', async () => {
    const idle = await connectTcp(GH, P.idle);
    const control = await connectTcp(GH, P.echo);
    try {
      const first = collect(idle, 3_000, (d) => d.length >= 4);
      idle.write('ping');
      assert.equal((await first).data.toString('utf8'), 'ping');
      const closed = await collect(idle, 6_000);
      assert.ok(closed.closed, 'the idle connection was closed within 6 s');
      assert.ok(
        closed.elapsedMs >= 700 && closed.elapsedMs <= 3_500,
        `closed after ${closed.elapsedMs} ms of idleness (expected about 1 s)`,
      );
      // A route without the annotation keeps its idle connection (the default is minutes).
      assert.equal(control.destroyed, false);
      const echoed = collect(control, 3_000, (d) => d.length >= 5);
      control.write('still');
      assert.equal((await echoed).data.toString('utf8'), 'still');
    } finally {
      idle.destroy();
      control.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Ingress side: --tcp-services-configmap

describe('--tcp-services-configmap', () => {
  let dir = '';
  let gh: GatehouseProcess;
  let bar: TcpServer;
  let raw: TcpServer;
  /** Bytes each connection to the raw backend carried, in order of arrival. */
  const rawSeen: { data: Buffer }[] = [];
  const PORT = { plain: 0, decode: 0, both: 0, encode: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tcp-services-'));
    for (const k of Object.keys(PORT) as (keyof typeof PORT)[]) PORT[k] = await freeTcpPort();
    bar = await startTcpServer(ADDR.bar, 5432, (socket) => {
      socket.write('bar ready\n');
      socket.pipe(socket);
    });
    raw = await startTcpServer(ADDR.raw, 15433, (socket) => {
      const c = { data: Buffer.alloc(0) };
      rawSeen.push(c);
      socket.on('data', (chunk: Buffer) => {
        c.data = Buffer.concat([c.data, chunk]);
      });
      socket.on('end', () => socket.end());
    });
    writeFileSync(
      join(dir, 'all.yaml'),
      toYaml([
        ingressClass(),
        ...tcpService('bar', ADDR.bar, 5432),
        ...tcpService('raw', ADDR.raw, 15433),
        // ingress-nginx's format: <namespace>/<service>:<port>[:PROXY (decode)][:PROXY (send upstream)]
        configMap('tcp-services', {
          [String(PORT.plain)]: 'default/bar:5432',
          [String(PORT.decode)]: 'default/bar:5432:PROXY',
          [String(PORT.both)]: 'default/raw:15433:PROXY:PROXY',
          [String(PORT.encode)]: 'default/raw:15433::PROXY',
        }),
      ]),
    );
    gh = await startGatehouse({ manifests: dir, args: ['--tcp-services-configmap', 'default/tcp-services'] });
    await Promise.allSettled(Object.values(PORT).map((p) => waitForPort(GH, p, 3_000)));
  });

  after(async () => {
    if (gh !== undefined) await stopCleanly(gh);
    await bar?.close();
    await raw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The first connection to the raw backend whose bytes include marker (waits up to 5 s). */
  async function rawCarrying(marker: string): Promise<string> {
    for (const until = Date.now() + 5_000; Date.now() < until; await sleep(20)) {
      const c = rawSeen.find((x) => x.data.includes(marker));
      if (c !== undefined) return c.data.toString('latin1');
    }
    throw new Error(
      `raw backend: nothing carried ${marker}; saw ${rawSeen.map((c) => JSON.stringify(c.data.toString('latin1'))).join(', ')}`,
    );
  }

  test('a ConfigMap entry "<port>": "default/bar:5432" routes that TCP port to Service bar', async () => {
    const seen = bar.peers.length;
    const socket = await connectTcp(GH, PORT.plain);
    try {
      const greeting = await collect(socket, 3_000, (d) => d.includes('\n'));
      assert.equal(greeting.data.toString('utf8'), 'bar ready\n');
      const echoed = collect(socket, 3_000, (d) => d.length >= 9);
      socket.write('SELECT 1\n');
      assert.equal((await echoed).data.toString('utf8'), 'SELECT 1\n');
      assert.ok(bar.peers.length > seen, 'the connection reached bar');
    } finally {
      socket.destroy();
    }
  });

  test('":PROXY": the port requires a PROXY header from clients and strips it', async () => {
    const socket = await connectTcp(GH, PORT.decode);
    try {
      const greeting = collect(socket, 3_000, (d) => d.includes('\n'));
      socket.write('PROXY TCP4 203.0.113.9 192.0.2.10 40100 5432\r\n');
      assert.equal((await greeting).data.toString('utf8'), 'bar ready\n');
      const echoed = collect(socket, 3_000, (d) => d.length >= 9);
      socket.write('SELECT 2\n');
      assert.equal((await echoed).data.toString('utf8'), 'SELECT 2\n', 'the header itself is not passed on');
    } finally {
      socket.destroy();
    }
    const without = await exchange(await connectTcp(GH, PORT.decode), 'SELECT 3\n');
    assert.ok(without.closed);
    assert.equal(without.data.length, 0, 'no header: closed before bar is reached');
  });

  test('":PROXY:PROXY": the client address from the incoming header is sent on to the backend', async () => {
    const socket = await connectTcp(GH, PORT.both);
    socket.write('PROXY TCP4 203.0.113.9 192.0.2.10 40101 5432\r\nmarker-both');
    try {
      const text = await rawCarrying('marker-both');
      assert.match(text, /^PROXY TCP4 203\.0\.113\.9 \S+ 40101 \d+\r\nmarker-both$/);
    } finally {
      socket.destroy();
    }
  });

  test('"::PROXY": gatehouse sends a v1 header naming the client to the backend', async () => {
    const socket = await connectTcp(GH, PORT.encode);
    const clientPort = socket.localPort;
    socket.write('marker-encode');
    try {
      const text = await rawCarrying('marker-encode');
      assert.equal(text, `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${PORT.encode}\r\nmarker-encode`);
    } finally {
      socket.destroy();
    }
  });
});
