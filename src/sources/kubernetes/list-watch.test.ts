import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { KubeClient } from './api-client.ts';
import type { ListWatchHandlers, ListWatchOptions } from './list-watch.ts';
import { ListWatch } from './list-watch.ts';
import { TestApiServer } from './test-apiserver.ts';

const SVC = '/api/v1/services';

let server: TestApiServer;
let client: KubeClient;

before(async () => {
  server = new TestApiServer();
  await server.start();
  client = new KubeClient({ server: server.url });
});

after(async () => {
  await client.close();
  await server.stop();
});

let collectionSeq = 0;
/** A fresh collection per test, so tests do not see each other's objects. */
let coll = SVC;
beforeEach(() => {
  collectionSeq++;
  coll = `/apis/test${collectionSeq}.example.com/v1/things`;
  server.hook = undefined;
  server.goneAs = 'event';
});

function thing(name: string, namespace = 'default', extra: Record<string, unknown> = {}) {
  return { apiVersion: 'x/v1', kind: 'Thing', metadata: { name, namespace }, ...extra };
}

interface Call {
  readonly what: string;
  readonly names?: string[];
  readonly apiVersion?: string;
  readonly failures?: number;
  readonly retryInMs?: number;
}

function nameOf(o: unknown): string {
  return ((o as { metadata: { name: string } }).metadata ?? { name: '?' }).name;
}

class Recorder implements ListWatchHandlers {
  readonly calls: Call[] = [];
  replace(items: readonly unknown[], apiVersion: string): void {
    this.calls.push({ what: 'replace', names: items.map(nameOf), apiVersion });
  }
  event(type: string, object: unknown): void {
    this.calls.push({ what: type, names: [nameOf(object)] });
  }
  missing(): void {
    this.calls.push({ what: 'missing' });
  }
  error(_err: unknown, phase: string, failures: number, retryInMs: number): void {
    this.calls.push({ what: `error:${phase}`, failures, retryInMs });
  }
  recovered(): void {
    this.calls.push({ what: 'recovered' });
  }
  summary(): string[] {
    return this.calls.map((c) => (c.names === undefined ? c.what : `${c.what} ${c.names.join(',')}`));
  }
}

function listWatch(rec: Recorder, options: Partial<ListWatchOptions> = {}): ListWatch {
  const lw = new ListWatch(
    client,
    {
      versions: [{ path: coll, apiVersion: 'x/v1' }],
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      missingRecheckMs: 40,
      random: () => 0.5,
      ...options,
    },
    rec,
  );
  lw.start();
  return lw;
}

const lists = (path = coll) => server.requests.filter((r) => r.path === path && !r.watch);
const watches = (path = coll) => server.requests.filter((r) => r.path === path && r.watch);

test('lists page by page, then watches from the list resourceVersion with bookmarks and a jittered timeout', async (t) => {
  for (const n of ['a', 'b', 'c', 'd', 'e']) server.put(coll, thing(n));
  const listRv = server.resourceVersion;
  const rec = new Recorder();
  const lw = listWatch(rec, { pageSize: 2 });
  t.after(() => lw.close());
  await lw.settled;
  assert.deepEqual(rec.summary(), ['replace a,b,c,d,e']);
  assert.equal(rec.calls[0]?.apiVersion, 'x/v1');
  assert.deepEqual(
    lists().map((r) => [r.query.get('limit'), r.query.get('continue')]),
    [
      ['2', null],
      ['2', `2:${listRv}`],
      ['2', `4:${listRv}`],
    ],
  );
  await server.until(() => server.watchCount(coll) === 1, 'the watch');
  const w = watches()[0];
  assert.equal(w?.query.get('resourceVersion'), listRv);
  assert.equal(w?.query.get('allowWatchBookmarks'), 'true');
  const timeout = Number(w?.query.get('timeoutSeconds'));
  assert.ok(timeout >= 270 && timeout <= 330, `timeoutSeconds ${timeout}`);

  server.put(coll, thing('f'));
  server.put(coll, thing('a', 'default', { spec: { changed: true } }));
  server.remove(coll, 'default', 'b');
  await server.until(() => rec.calls.length === 4, 'three events');
  assert.deepEqual(rec.summary().slice(1), ['ADDED f', 'MODIFIED a', 'DELETED b']);
  assert.equal(lw.resourceVersion, server.resourceVersion);
  assert.equal(lw.state, 'synced');
});

test('a bookmark moves the resourceVersion; a watch the server ends is resumed from it without a relist', async (t) => {
  server.put(coll, thing('a'));
  const rec = new Recorder();
  const lw = listWatch(rec);
  t.after(() => lw.close());
  await server.until(() => server.watchCount(coll) === 1, 'the watch');
  server.tick();
  server.tick();
  server.bookmark(coll);
  await server.until(() => lw.resourceVersion === server.resourceVersion, 'the bookmark');
  const bookmarked = server.resourceVersion;
  server.endWatches(coll);
  await server.until(() => watches().length === 2 && server.watchCount(coll) === 1, 'the second watch');
  assert.equal(watches()[1]?.query.get('resourceVersion'), bookmarked);
  assert.equal(lists().length, 1, 'no relist');
  assert.deepEqual(rec.summary(), ['replace a']);
});

test('a watch cut mid-stream resumes from the last event seen and loses no update', async (t) => {
  server.put(coll, thing('a'));
  const rec = new Recorder();
  const lw = listWatch(rec);
  t.after(() => lw.close());
  await server.until(() => server.watchCount(coll) === 1, 'the watch');
  server.put(coll, thing('b'));
  await server.until(() => rec.calls.length === 2, 'ADDED b');
  const seen = lw.resourceVersion;
  // Hold the next watch back while changes happen, so they are only in the history.
  let hold = true;
  server.hook = (r) => (r.watch && hold ? { status: 503, reason: 'ServiceUnavailable' } : undefined);
  server.breakWatches(coll);
  await server.until(() => rec.calls.some((c) => c.what === 'error:watch'), 'a failed re-watch');
  server.put(coll, thing('c'));
  server.remove(coll, 'default', 'a');
  hold = false;
  await server.until(() => rec.calls.filter((c) => c.what === 'DELETED').length === 1, 'the missed events');
  const resumed = watches().filter((r) => server.requests.indexOf(r) > 0);
  assert.ok(
    resumed.every((r, i) => i === 0 || r.query.get('resourceVersion') === seen),
    'every re-watch from the last seen',
  );
  assert.equal(lists().length, 1, 'no relist');
  assert.deepEqual(
    rec.summary().filter((s) => !s.startsWith('error') && s !== 'recovered'),
    ['replace a', 'ADDED b', 'ADDED c', 'DELETED a'],
  );
});

for (const goneAs of ['event', 'status'] as const) {
  test(`410 Gone as ${goneAs === 'event' ? 'an ERROR event' : 'the HTTP status'} lists again and replaces everything`, async (t) => {
    server.goneAs = goneAs;
    server.put(coll, thing('a'));
    server.put(coll, thing('b'));
    const rec = new Recorder();
    const lw = listWatch(rec);
    t.after(() => lw.close());
    await server.until(() => server.watchCount(coll) === 1, 'the watch');
    let hold = true;
    server.hook = (r) => (r.watch && hold ? { status: 503 } : undefined);
    server.breakWatches(coll);
    await server.until(() => rec.calls.some((c) => c.what === 'error:watch'), 'a failed re-watch');
    server.remove(coll, 'default', 'a');
    server.put(coll, thing('c'));
    server.compact();
    hold = false;
    await server.until(
      () => lists().length === 2 && rec.calls.filter((c) => c.what === 'replace').length === 2,
      'relist',
    );
    assert.deepEqual(
      rec.calls.filter((c) => c.what === 'replace').map((c) => c.names),
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
    );
    await server.until(() => server.watchCount(coll) === 1, 'a new watch');
    assert.equal(watches().at(-1)?.query.get('resourceVersion'), lw.resourceVersion);
  });
}

test('failures back off exponentially with jitter and are retried until they succeed', async (t) => {
  server.put(coll, thing('a'));
  let failing = 4;
  server.hook = (r) =>
    !r.watch && r.path === coll && failing-- > 0 ? { status: 500, reason: 'InternalError' } : undefined;
  const rec = new Recorder();
  const lw = listWatch(rec, { backoffInitialMs: 10, backoffMaxMs: 40 });
  t.after(() => lw.close());
  await lw.settled;
  // random() = 0.5: half the delay fixed plus a quarter → 0.75 of 10, 20, 40 (capped), 40 ms.
  assert.deepEqual(
    rec.calls.filter((c) => c.what === 'error:list').map((c) => [c.failures, c.retryInMs]),
    [
      [1, 8],
      [2, 15],
      [3, 30],
      [4, 30],
    ],
  );
  assert.deepEqual(rec.summary().slice(-2), ['replace a', 'recovered']);
});

test('429 with Retry-After (as a header on a watch, in the Status details on a list) waits as long as asked', async (t) => {
  server.put(coll, thing('a'));
  let listFailures = 1;
  let watchFailures = 1;
  server.hook = (r) => {
    if (r.path !== coll) return undefined;
    if (!r.watch && listFailures-- > 0) return { status: 429, reason: 'TooManyRequests', retryAfterSeconds: 1 };
    if (r.watch && watchFailures-- > 0) return { status: 429, reason: 'TooManyRequests', retryAfterSeconds: 1 };
    return undefined;
  };
  const rec = new Recorder();
  const lw = listWatch(rec, { backoffInitialMs: 10, backoffMaxMs: 5000 });
  t.after(() => lw.close());
  await server.until(() => server.watchCount(coll) === 1, 'the watch', 5000);
  assert.deepEqual(
    rec.calls.filter((c) => c.what.startsWith('error')).map((c) => [c.what, c.retryInMs]),
    [
      ['error:list', 1000],
      ['error:watch', 1000],
    ],
  );
});

test('a resource served by no version is reported missing once, looked for again, and picked up when it appears', async (t) => {
  const v1 = coll;
  const v1beta1 = coll.replace('/v1/', '/v1beta1/');
  server.missing.add(v1);
  server.missing.add(v1beta1);
  const rec = new Recorder();
  const lw = listWatch(rec, {
    versions: [
      { path: v1, apiVersion: 'x/v1' },
      { path: v1beta1, apiVersion: 'x/v1beta1' },
    ],
  });
  t.after(() => lw.close());
  await lw.settled;
  assert.equal(lw.state, 'missing');
  await server.until(() => lists(v1beta1).length >= 3, 'two more looks');
  assert.deepEqual(rec.summary(), ['missing'], 'reported once');

  // The CRD is installed, serving only v1beta1: it is used.
  server.put(v1beta1, thing('a'));
  server.missing.delete(v1beta1);
  await server.until(() => lw.state === 'synced', 'found');
  assert.deepEqual(rec.summary(), ['missing', 'replace a', 'recovered']);
  assert.equal(rec.calls[1]?.apiVersion, 'x/v1beta1');
  await server.until(() => server.watchCount(v1beta1) === 1, 'the watch');

  // Uninstalled again: the watch ends, the next one is answered 404, the relist finds nothing: missing once more.
  server.missing.add(v1beta1);
  server.endWatches(v1beta1);
  await server.until(() => lw.state === 'missing', 'missing again');
  assert.deepEqual(rec.summary(), ['missing', 'replace a', 'recovered', 'missing']);
});

test('a field selector is sent on the list and the watch', async (t) => {
  server.put(coll, thing('a'));
  server.put(coll, thing('b'));
  const rec = new Recorder();
  const lw = listWatch(rec, { fieldSelector: 'metadata.name=b' });
  t.after(() => lw.close());
  await server.until(() => server.watchCount(coll) === 1, 'the watch');
  assert.deepEqual(rec.summary(), ['replace b']);
  assert.equal(lists()[0]?.query.get('fieldSelector'), 'metadata.name=b');
  assert.equal(watches()[0]?.query.get('fieldSelector'), 'metadata.name=b');
  server.put(coll, thing('a', 'default', { spec: 1 }));
  server.put(coll, thing('b', 'default', { spec: 1 }));
  await server.until(() => rec.calls.length === 2, 'MODIFIED b');
  assert.deepEqual(rec.summary(), ['replace b', 'MODIFIED b']);
});

test('settleOnError counts the first failure as settled; close() ends a backoff wait at once', async () => {
  server.hook = () => ({ status: 403, reason: 'Forbidden' });
  const rec = new Recorder();
  const lw = listWatch(rec, { settleOnError: true, backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
  await lw.settled;
  assert.deepEqual(rec.summary(), ['error:list']);
  const started = Date.now();
  await lw.close();
  assert.ok(Date.now() - started < 1000);
});

test('close() ends an open watch', async () => {
  server.put(coll, thing('a'));
  const rec = new Recorder();
  const lw = listWatch(rec);
  await server.until(() => server.watchCount(coll) === 1, 'the watch');
  await lw.close();
  await server.until(() => server.watchCount(coll) === 0, 'the watch to close');
  server.put(coll, thing('b'));
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(rec.summary(), ['replace a']);
});
