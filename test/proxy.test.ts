// The proxy path end to end: large bodies stream both ways in bounded memory, a client abort cancels the
// upstream request, upstream failures map to 502/503/504, forwarding headers, admin endpoints, and draining.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { startEcho } from '../src/cli/echo.ts';
import { startRecordingBackend } from './helpers/backends.ts';
import { type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { ingress, ingressClass, service, toYaml } from './helpers/manifests.ts';
import { abortAfterFirstChunk, httpRequest } from './helpers/net.ts';

const HOST = 'proxy.test';
let dir = '';
let gh: GatehouseProcess;
const closers: { close(): Promise<void> }[] = [];
let recorder: Awaited<ReturnType<typeof startRecordingBackend>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-'));
  closers.push(await startEcho({ name: 'echo', listen: '127.0.50.1:8080' }));
  recorder = await startRecordingBackend({ name: 'rec', host: '127.0.50.2', port: 8080 });
  closers.push(recorder);
  writeFileSync(
    join(dir, 'all.yaml'),
    toYaml([
      ingressClass(),
      ...service({
        name: 'echo',
        clusterIP: '127.0.50.1',
        port: 8080,
        targetPort: 8080,
        endpoints: [{ ip: '127.0.50.1' }],
      }),
      ...service({
        name: 'rec',
        clusterIP: '127.0.50.2',
        port: 8080,
        targetPort: 8080,
        endpoints: [{ ip: '127.0.50.2' }],
      }),
      // nothing listens on 127.0.50.3:8080
      ...service({
        name: 'refused',
        clusterIP: '127.0.50.3',
        port: 8080,
        targetPort: 8080,
        endpoints: [{ ip: '127.0.50.3' }],
      }),
      ...service({
        name: 'unready',
        clusterIP: '127.0.50.4',
        port: 8080,
        targetPort: 8080,
        endpoints: [{ ip: '127.0.50.4', ready: false }],
      }),
      ingress({
        name: 'proxy',
        rules: [
          {
            host: HOST,
            paths: [
              { path: '/echo', service: 'echo', port: 8080 },
              { path: '/rec', service: 'rec', port: 8080 },
              { path: '/refused', service: 'refused', port: 8080 },
              { path: '/unready', service: 'unready', port: 8080 },
              { path: '/missing', service: 'does-not-exist', port: 8080 },
              { path: '/bad-port', service: 'echo', port: 9999 },
            ],
          },
        ],
      }),
    ]),
  );
  gh = await startGatehouse({ manifests: dir, args: ['--upstream-timeout', '700ms'] });
});

after(async () => {
  if (gh !== undefined) await gh.stop();
  await Promise.all(closers.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

test('a 50 MB response and a 50 MB request body stream through in bounded memory', async () => {
  const size = 50 * 1024 * 1024;
  const received = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: gh.httpPort, path: `/rec/bytes/${size}`, headers: { host: HOST }, agent: false },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(received, size);

  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  const uploaded = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gh.httpPort,
        method: 'POST',
        path: '/echo/upload',
        headers: { host: HOST },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    body.pipe(req);
  });
  assert.equal(uploaded.status, 200);
  assert.equal((JSON.parse(uploaded.text) as { bodyBytes: number }).bodyBytes, size);

  const peak = peakRssMiB(gh.child.pid as number);
  process.stdout.write(`# gatehouse peak RSS after 2 x 50 MB: ${peak.toFixed(1)} MiB\n`);
  assert.ok(peak < 150, `peak RSS ${peak} MiB`);
});

test('a client that aborts mid-response cancels the upstream request', async () => {
  const before = recorder.requests.length;
  await abortAfterFirstChunk({
    host: '127.0.0.1',
    port: gh.httpPort,
    path: '/rec/stream-slow/100',
    headers: { host: HOST },
  });
  const seen = await recorder.waitFor(
    (list) => list.slice(before).some((r) => r.url.startsWith('/rec/stream-slow') && r.aborted),
    3_000,
  );
  assert.ok(seen);
});

test('upstream failures: 502 refused, 503 no service or no ready endpoint, 504 timeout', async () => {
  const get = (path: string) => httpRequest({ host: '127.0.0.1', port: gh.httpPort, path, headers: { host: HOST } });
  assert.equal((await get('/refused')).status, 502);
  assert.equal((await get('/unready')).status, 503);
  assert.equal((await get('/missing')).status, 503);
  assert.equal((await get('/bad-port')).status, 503);
  const start = Date.now();
  assert.equal((await get('/rec/delay/3000')).status, 504);
  assert.ok(Date.now() - start < 2_500);
  const metrics = await gh.admin('/metrics');
  assert.match(
    metrics.body,
    /gatehouse_upstream_errors_total\{backend="default\/refused:8080",code="GH_ERR_UPSTREAM_CONNECT"\} 1/,
  );
  assert.match(
    metrics.body,
    /gatehouse_upstream_errors_total\{backend="default\/rec:8080",code="GH_ERR_UPSTREAM_TIMEOUT"\} 1/,
  );
});

test('forwarding headers: spoofed X-Forwarded-For replaced, X-Request-Id generated, hop-by-hop removed', async () => {
  const res = await httpRequest({
    host: '127.0.0.1',
    port: gh.httpPort,
    path: '/echo/h',
    headers: {
      host: HOST,
      'x-forwarded-for': '6.6.6.6',
      connection: 'x-drop',
      'x-drop': '1',
      'l5d-dst-override': 'evil:80',
    },
  });
  const seen = (JSON.parse(res.body.toString('utf8')) as { headers: Record<string, string | string[]> }).headers;
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], HOST);
  assert.equal(seen['host'], HOST);
  assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(seen['x-drop'], undefined);
  assert.equal(seen['l5d-dst-override'], undefined);
});

test('bad requests get 4xx and the process keeps serving', async () => {
  const get = (path: string, headers: Record<string, string> = {}) =>
    httpRequest({ host: '127.0.0.1', port: gh.httpPort, path, headers: { host: HOST, ...headers } });
  assert.equal((await get('/echo/%2e%2e/%2e%2e/etc')).status, 400);
  assert.equal((await get('/echo/a%2Fb')).status, 400);
  const many: Record<string, string> = {};
  for (let i = 0; i < 150; i++) many[`x-h-${i}`] = 'v';
  assert.equal((await get('/echo', many)).status, 431);
  assert.equal((await get('/echo/ok')).status, 200);
});

/** Sends raw bytes on one connection and collects everything until the server closes it (or 2 s pass). */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(gh.httpPort, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      got += c;
    });
    const done = (): void => resolve(got);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(() => socket.destroy(), 2_000).unref();
  });
}

test('framing and routing edge cases seen by the backend', async () => {
  const mark = recorder.requests.length;
  // HTTP/1.0 cannot be chunked: refused and closed, and the request pipelined behind it never reaches a backend.
  const h10 = await raw(
    `POST /rec/h10 HTTP/1.0\r\nHost: ${HOST}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` +
      `GET /rec/smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
  );
  assert.match(h10, /^HTTP\/1\.1 400/);
  assert.doesNotMatch(h10, /smuggled/);
  // `Connection: Host` must not remove Host.
  const hop = await raw(`GET /rec/hop HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Host, close\r\n\r\n`);
  assert.match(hop, /^HTTP\/1\.1 200/);
  // absolute-form: the request-target's authority is routed on and forwarded as Host.
  const abs = await raw(`GET http://${HOST}/rec/abs HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n`);
  assert.match(abs, /^HTTP\/1\.1 200/);
  await new Promise((r) => setTimeout(r, 100));
  const seen = recorder.requests.slice(mark);
  assert.equal(
    seen.some((r) => r.url.includes('smuggled') || r.url.includes('h10')),
    false,
  );
  assert.equal(seen.find((r) => r.url === '/rec/hop')?.headers['host'], HOST);
  assert.equal(seen.find((r) => r.url === '/rec/abs')?.headers['host'], HOST);
});

test('admin: /healthz, /readyz, /api/config with keys redacted, /metrics', async () => {
  assert.equal((await gh.admin('/healthz')).status, 200);
  assert.equal((await gh.admin('/readyz')).status, 200);
  const config = JSON.parse((await gh.admin('/api/config')).body) as {
    listeners: { name: string }[];
    backends: { name: string }[];
  };
  assert.deepEqual(config.listeners.map((l) => l.name).sort(), ['ingress-http', 'ingress-https']);
  assert.ok(config.backends.some((b) => b.name === 'default/echo:8080'));
  const metrics = (await gh.admin('/metrics')).body;
  assert.match(
    metrics,
    /gatehouse_http_requests_total\{route="ingress\/default\/proxy\/rule\/0\/path\/0",backend="default\/echo:8080",code_class="2xx"\} \d+/,
  );
  assert.match(metrics, /gatehouse_http_request_duration_seconds_bucket/);
  assert.match(metrics, /gatehouse_active_connections/);
});

test('gatehouse_active_connections counts the client connections a listener holds open, across workers', async () => {
  const open = async (): Promise<number> => {
    const m = /^gatehouse_active_connections\{listener="ingress-http"\} (\d+)$/m.exec(
      (await gh.admin('/metrics')).body,
    );
    return m === null ? -1 : Number(m[1]);
  };
  const waitFor = async (ok: (n: number) => boolean): Promise<number> => {
    let n = await open();
    for (let i = 0; i < 60 && !ok(n); i++) {
      await new Promise((r) => setTimeout(r, 50));
      n = await open();
    }
    return n;
  };
  // Three connections, each in the middle of a request head, so whichever worker accepted one holds it.
  const sockets = await Promise.all(
    [1, 2, 3].map(
      () =>
        new Promise<ReturnType<typeof netConnect>>((resolve, reject) => {
          const s = netConnect(gh.httpPort, '127.0.0.1', () => {
            s.write(`GET /echo/held HTTP/1.1\r\nHost: ${HOST}\r\n`);
            resolve(s);
          });
          s.on('error', reject);
        }),
    ),
  );
  // Other tests' keep-alive connections may still be open (and may close), never opened meanwhile: at least ours.
  const held = await waitFor((n) => n >= 3);
  assert.ok(held >= 3, `${held} connections counted while 3 are held`);
  for (const s of sockets) s.destroy();
  const after = await waitFor((n) => n <= held - 3);
  assert.ok(after >= 0 && after <= held - 3, `${after} counted after closing 3 of ${held}`);
});

test('one access-log line per request with the request facts', async () => {
  await httpRequest({ host: '127.0.0.1', port: gh.httpPort, path: '/echo/logged?secret=1', headers: { host: HOST } });
  const line = await gh.waitForLog((l) => l['log'] === 'access' && l['path'] === '/echo/logged');
  assert.equal(line['status'], 200);
  assert.equal(line['method'], 'GET');
  assert.equal(line['host'], HOST);
  assert.equal(line['client'], '127.0.0.1');
  assert.equal(line['route'], 'ingress/default/proxy/rule/0/path/0');
  assert.equal(line['upstream'], 'http://127.0.50.1:8080');
  assert.equal(typeof line['duration_ms'], 'number');
  assert.equal(typeof line['bytes'], 'number');
  assert.equal(typeof line['time'], 'number');
});

test('SIGTERM lets a request in flight finish, then exits 0 (a connection that never spoke does not hold it)', async () => {
  // Connected but silent: no HTTP server owns it yet (its first bytes decide HTTP/1.1 or h2c).
  const silent = netConnect({ host: '127.0.0.1', port: gh.httpPort });
  await new Promise<void>((r) => silent.once('connect', () => r()));
  const silentClosed = new Promise<void>((r) => silent.once('close', () => r()));
  silent.on('error', () => {});
  const inflight = httpRequest({
    host: '127.0.0.1',
    port: gh.httpPort,
    path: '/echo/slow',
    headers: { host: HOST, 'x-echo-delay': '1' },
  });
  const slow = httpRequest({ host: '127.0.0.1', port: gh.httpPort, path: '/rec/delay/500', headers: { host: HOST } });
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const code = gh.stop();
  assert.equal((await slow).status, 200);
  await inflight;
  assert.equal(await code, 0);
  await silentClosed;
  // The request in flight takes ~1 s; the drain timeout (10 s) must not be what ends the process.
  assert.ok(Date.now() - started < 5_000, `exit took ${Date.now() - started} ms`);
});
