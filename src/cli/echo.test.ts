import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type EchoReply, type EchoServer, handleEchoRequest, parseListen, startEcho } from './echo.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');

let echo: EchoServer;

before(async () => {
  echo = await startEcho({ name: 'unit', listen: '127.0.0.1:0' });
});
after(() => echo.close());

interface Exchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function headerLines(pairs: readonly [string, string][]): string[] {
  const hasHost = pairs.some(([name]) => name.toLowerCase() === 'host');
  return [...(hasHost ? [] : ['Host', 'echo.test']), ...pairs.flat()];
}

function exchange(
  path: string,
  init: { method?: string; headers?: [string, string][]; body?: Buffer; port?: number } = {},
): Promise<Exchange> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: init.port ?? echo.port,
        path,
        method: init.method ?? 'GET',
        // Raw pairs keep duplicates as separate lines, but node then adds no Host header of its own.
        headers: headerLines(init.headers ?? []),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const json = (ex: Exchange) => JSON.parse(ex.body.toString('utf8')) as EchoReply;

test('listen addresses: host:port and [ipv6]:port', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  for (const bad of ['', '8080', '127.0.0.1', '127.0.0.1:', ':80', '::1:80', '127.0.0.1:65536', 'h:x']) {
    assert.equal(parseListen(bad), null, bad);
  }
});

test('startEcho reports where it listens and refuses a bad address', async () => {
  assert.equal(echo.address, '127.0.0.1');
  assert.ok(echo.port > 0);
  assert.equal(echo.url, `http://127.0.0.1:${echo.port}`);
  assert.equal(echo.name, 'unit');
  await assert.rejects(startEcho({ name: 'x', listen: 'nonsense' }), TypeError);
  await assert.rejects(startEcho({ name: 'x', listen: `127.0.0.1:${echo.port}` }), { code: 'EADDRINUSE' });
});

test('answers with a JSON description of the request', async () => {
  const res = await exchange('/some/path?b=2&a=%2F&a=3', {
    headers: [
      ['Host', 'app.example'],
      ['X-Multi', 'one'],
      ['x-multi', 'two'],
      ['X-Single', 'v'],
    ],
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(Number(res.headers['content-length']), res.body.length);
  const reply = json(res);
  assert.equal(reply.service, 'unit');
  assert.equal(reply.method, 'GET');
  assert.equal(reply.path, '/some/path');
  assert.equal(reply.query, 'b=2&a=%2F&a=3');
  assert.equal(reply.host, 'app.example');
  assert.equal(reply.headers['host'], 'app.example');
  assert.deepEqual(reply.headers['x-multi'], ['one', 'two']);
  assert.equal(reply.headers['x-single'], 'v');
  assert.equal(reply.remoteAddress, '127.0.0.1');
  assert.equal(reply.bodyBytes, 0);
  assert.equal(json(await exchange('/%2e%2e/x')).path, '/%2e%2e/x');
});

test('counts request bodies, chunked or with a length', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 7, 1);
  const sized = json(
    await exchange('/upload', { method: 'POST', body, headers: [['content-length', String(body.length)]] }),
  );
  assert.equal(sized.bodyBytes, body.length);
  assert.equal(sized.method, 'POST');
  const chunked = json(await exchange('/upload', { method: 'PUT', body }));
  assert.equal(chunked.bodyBytes, body.length);
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');
});

test('/bytes/<n> streams exactly n bytes with a Content-Length, also after a route prefix', async () => {
  for (const n of [0, 1, 65_536, 65_537, 1_000_000]) {
    const res = await exchange(`/bytes/${n}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(n));
    assert.equal(res.body.length, n);
  }
  assert.equal((await exchange('/svc/bytes/10?x=1')).body.length, 10);
  const head = await exchange('/bytes/100', { method: 'HEAD' });
  assert.equal(head.headers['content-length'], '100');
  assert.equal(head.body.length, 0);
});

test('/bytes/<n> waits for a slow reader instead of queueing, and stops when it leaves', async () => {
  let writes = 0;
  let closed = false;
  const server = createServer((req, res) => {
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((...args: unknown[]) => {
      writes++;
      return write(...args);
    }) as typeof res.write;
    res.once('close', () => {
      closed = true;
    });
    handleEchoRequest('counted', req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const chunks = 1024; // 64 MiB in 64 KiB writes
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  socket.write(`GET /bytes/${chunks * 65_536} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 300));
  // Socket buffers on both ends hold a few MiB at most; without waiting for 'drain' all 1024 writes happen at once.
  const stalled = writes;
  assert.ok(stalled > 0 && stalled < chunks / 4, `writes while the reader is paused: ${stalled}`);
  socket.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(closed);
  assert.ok(writes <= stalled + 1, `writes after the reader left: ${writes - stalled}`);
  server.close();
});

test('/delay/<ms> and x-echo-delay answer late', async () => {
  let start = Date.now();
  const res = await exchange('/prefix/delay/150');
  assert.ok(Date.now() - start >= 140);
  assert.equal(json(res).path, '/prefix/delay/150');
  start = Date.now();
  await exchange('/h', { headers: [['x-echo-delay', '120']] });
  assert.ok(Date.now() - start >= 110);
});

test('/status/<code> answers with that code; 204 and 304 without a body', async () => {
  const notFound = await exchange('/status/404');
  assert.equal(notFound.status, 404);
  assert.equal(json(notFound).service, 'unit');
  assert.equal((await exchange('/x/status/503')).status, 503);
  for (const code of [204, 304]) {
    const res = await exchange(`/status/${code}`);
    assert.equal(res.status, code);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers['content-length'], undefined);
  }
  assert.equal((await exchange('/status/99')).status, 400);
  assert.equal((await exchange('/status/600')).status, 400);
});

test('close() lets a request in flight finish and closes idle keep-alive connections', async () => {
  const local = await startEcho({ name: 'closing', listen: '127.0.0.1:0' });
  const idle = connect({ host: '127.0.0.1', port: local.port });
  await new Promise((r) => idle.once('connect', r));
  idle.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => idle.once('data', r));
  const idleClosed = new Promise((r) => idle.once('close', r));
  const inflight = exchange('/delay/200', { port: local.port });
  await new Promise((r) => setTimeout(r, 50));
  const start = Date.now();
  await local.close();
  assert.equal((await inflight).status, 200);
  await idleClosed;
  assert.ok(Date.now() - start < 900, 'closed well before the grace period');
  await local.close();
});

test('close() gives up on a request that outlives the grace period', async () => {
  const local = await startEcho({ name: 'stuck', listen: '127.0.0.1:0' });
  const stuck = exchange('/delay/60000', { port: local.port }).catch((err: NodeJS.ErrnoException) => err.code);
  await new Promise((r) => setTimeout(r, 50));
  const start = Date.now();
  await local.close();
  assert.ok(Date.now() - start < 2_000);
  assert.equal(await stuck, 'ECONNRESET');
});

function runCli(args: string[]) {
  const r = spawnSync(NODE, ['src/cli/main.ts', 'echo', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('gatehouse echo: flag mistakes give one line and exit status 2', () => {
  const cases: [string[], RegExp][] = [
    [[], /--listen HOST:PORT is required/],
    [['--listen'], /--listen needs a value/],
    [['--listen', '127.0.0.1:99999'], /--listen: '127.0.0.1:99999' is not HOST:PORT/],
    [['--listen', '127.0.0.1:0', '--bogus'], /unknown option '--bogus'/],
    [['--name', '--listen', '127.0.0.1:0'], /--name needs a value/],
    [['--listen=nowhere'], /--listen: 'nowhere'/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--listen HOST:PORT/);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`gatehouse echo serves until ${signal}, then exits 0`, async () => {
    const child = spawn(NODE, ['src/cli/main.ts', 'echo', '--name=cli', '--listen', '127.0.0.1:0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const line = await new Promise<string>((resolveLine, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolveLine(out);
      });
      child.once('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const m = /^echo cli listening on http:\/\/127\.0\.0\.1:(\d+)\n$/.exec(line);
    assert.ok(m, line);
    const reply = json(await exchange('/via-cli', { port: Number(m[1]) }));
    assert.equal(reply.service, 'cli');
    child.kill(signal);
    assert.equal(await exited, 0, stderr);
  });
}
