import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { freePort, httpRequest, loopbackAddress, waitForPort } from './net.ts';

test('loopbackAddress gives distinct 127.0.x.y addresses that can be bound', async () => {
  const addresses = [1, 2, 3, 254].map(loopbackAddress);
  assert.equal(new Set(addresses).size, 4);
  for (const a of addresses) assert.match(a, /^127\.0\.\d{1,3}\.\d{1,3}$/);
  assert.equal(loopbackAddress(7), loopbackAddress(7));
  for (const bad of [0, 255, 1.5, -1]) assert.throws(() => loopbackAddress(bad), RangeError);
  const host = loopbackAddress(9);
  const port = await freePort(host);
  const server = createServer((_req, res) => res.end());
  await new Promise<void>((r) => server.listen(port, host, r));
  server.close();
});

test('freePort returns a bindable port and waitForPort sees a listener appear', async () => {
  const host = loopbackAddress(10);
  const port = await freePort(host);
  assert.ok(port > 0 && port < 65_536);
  const server = createServer((_req, res) => res.end('late'));
  setTimeout(() => server.listen(port, host), 150);
  const start = Date.now();
  await waitForPort(host, port, 5_000);
  assert.ok(Date.now() - start >= 100);
  assert.equal((await httpRequest({ host, port })).body.toString(), 'late');
  await new Promise((r) => server.close(r));
  await assert.rejects(waitForPort(host, port, 200), /within 200 ms/);
});

test('httpRequest sends method, headers and body, and returns status, headers and the whole body', async () => {
  const host = loopbackAddress(11);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, {
        'x-method': req.method ?? '',
        'x-host': req.headers.host ?? '',
        connection: req.headers.connection ?? '',
      });
      res.end(Buffer.concat([Buffer.from(`${req.url} `), Buffer.concat(chunks)]));
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as { port: number };
  const res = await httpRequest({
    host,
    port,
    method: 'PUT',
    path: '/p?q=1',
    headers: { host: 'named.test' },
    body: 'payload',
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers['x-method'], 'PUT');
  assert.equal(res.headers['x-host'], 'named.test');
  // agent: false: one connection per request, never kept alive.
  assert.equal(res.headers['connection'], 'close');
  assert.equal(res.body.toString(), '/p?q=1 payload');
  const binary = await httpRequest({ host, port, method: 'POST', body: Buffer.from([0, 255]) });
  assert.deepEqual([...binary.body.subarray(-2)], [0, 255]);
  server.close();
});

test('httpRequest fails instead of hanging', async () => {
  const host = loopbackAddress(12);
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as { port: number };
  await assert.rejects(httpRequest({ host, port, path: '/hang', timeoutMs: 200 }), /no complete response in 200 ms/);
  server.close();
  server.closeAllConnections();
  await assert.rejects(httpRequest({ host, port: await freePort(host) }), { code: 'ECONNREFUSED' });
});

test('httpRequest times out on a response that never ends', async () => {
  const host = loopbackAddress(13);
  const server = createServer((_req, res) => res.write('partial'));
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as { port: number };
  await assert.rejects(httpRequest({ host, port, timeoutMs: 200 }), /no complete response in 200 ms/);
  server.close();
  server.closeAllConnections();
});
