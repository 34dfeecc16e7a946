import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RecordingBackend, startRecordingBackend } from './backends.ts';
import { abortAfterFirstChunk, httpRequest, loopbackAddress } from './net.ts';

let backend: RecordingBackend;

before(async () => {
  backend = await startRecordingBackend({ name: 'rec', host: loopbackAddress(20) });
});
after(() => backend.close());

const get = (path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
  httpRequest({ host: backend.host, port: backend.port, path, ...init });

test('answers like the echo backend and records each request', async () => {
  backend.clear();
  assert.equal(backend.url, `http://${backend.host}:${backend.port}`);
  const res = await get('/svc/a?x=1', {
    method: 'POST',
    body: 'hello',
    headers: { host: 'rec.test', 'x-test': 'yes' },
  });
  assert.equal(res.status, 200);
  const reply = JSON.parse(res.body.toString()) as { service: string; path: string; query: string; bodyBytes: number };
  assert.deepEqual([reply.service, reply.path, reply.query, reply.bodyBytes], ['rec', '/svc/a', 'x=1', 5]);
  const [rec] = await backend.waitFor((list) => list.length === 1 && list[0]!.closed);
  assert.ok(rec);
  assert.equal(rec.method, 'POST');
  assert.equal(rec.url, '/svc/a?x=1');
  assert.equal(rec.headers['x-test'], 'yes');
  assert.equal(rec.headers.host, 'rec.test');
  assert.equal(rec.bodyBytes, 5);
  assert.equal(rec.bodyComplete, true);
  assert.equal(rec.status, 200);
  assert.equal(rec.finished, true);
  assert.equal(rec.aborted, false);
  assert.equal(rec.remoteAddress, '127.0.0.1');
});

test('supports /bytes, /delay and /status after any prefix', async () => {
  assert.equal((await get('/p/bytes/100000')).body.length, 100_000);
  const start = Date.now();
  assert.equal((await get('/p/delay/100')).status, 200);
  assert.ok(Date.now() - start >= 90);
  assert.equal((await get('/p/status/418')).status, 418);
  await backend.waitFor((list) => list.some((r) => r.url === '/p/status/418' && r.status === 418 && r.finished));
});

test('/stream-slow/<n> sends n KiB, one every 50 ms', async () => {
  const start = Date.now();
  const res = await get('/p/stream-slow/4');
  assert.equal(res.body.length, 4 * 1024);
  assert.equal(res.headers['content-length'], String(4 * 1024));
  assert.ok(Date.now() - start >= 140);
});

test('a client that leaves mid-response is recorded as aborted', async () => {
  const before = backend.requests.length;
  await abortAfterFirstChunk({ host: backend.host, port: backend.port, path: '/x/stream-slow/100' });
  const list = await backend.waitFor((l) => l.slice(before).some((r) => r.aborted), 2_000);
  const rec = list.slice(before).find((r) => r.url === '/x/stream-slow/100');
  assert.ok(rec);
  assert.equal(rec.aborted, true);
  assert.equal(rec.finished, false);
  assert.equal(rec.closed, true);
});

test('waitFor times out with what was recorded, and passes on a predicate that throws', async () => {
  backend.clear();
  await get('/seen');
  await assert.rejects(
    backend.waitFor((list) => list.length > 5, 100),
    /rec: condition not met within 100 ms; recorded: GET \/seen/,
  );
  await assert.rejects(
    backend.waitFor(() => {
      throw new Error('boom');
    }),
    /boom/,
  );
  const later = backend.waitFor((list) => list.some((r) => r.url === '/later'), 2_000);
  setTimeout(() => void get('/later'), 50);
  assert.ok((await later).some((r) => r.url === '/later'));
});

test('close() drops connections in flight and frees the port', async () => {
  const local = await startRecordingBackend({ name: 'short', host: loopbackAddress(21), port: 0 });
  const pending = httpRequest({ host: local.host, port: local.port, path: '/stream-slow/1000' }).catch(
    (e: NodeJS.ErrnoException) => e.code,
  );
  await local.waitFor((list) => list.length === 1);
  const start = Date.now();
  await local.close();
  assert.ok(Date.now() - start < 500);
  assert.equal(await pending, 'ECONNRESET');
  const again = await startRecordingBackend({ name: 'again', host: local.host, port: local.port });
  await again.close();
});
