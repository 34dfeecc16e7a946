import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import type { KubeObject, Namespace, Service } from './objects.ts';
import type { Snapshot } from './snapshot.ts';
import { ObjectStore, objectContent } from './store.ts';

const meta = (name: string, namespace = 'default') => ({
  name,
  namespace,
  uid: '',
  generation: 1,
  creationTimestamp: '',
  labels: {},
  annotations: {},
});

function svc(name: string, port = 80, file = 'a.yaml'): Service {
  return {
    kind: 'Service',
    metadata: meta(name),
    spec: {
      type: 'ClusterIP',
      clusterIP: '127.0.10.1',
      ports: [{ name: '', port, protocol: 'TCP', targetPort: port }],
    },
    origin: { file, document: 0 },
  };
}

function ns(name: string): Namespace {
  return { kind: 'Namespace', metadata: meta(name, ''), origin: {} };
}

function setup(t: TestContext, debounceMs = 50, maxDelayMs = 250) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const emitted: Snapshot[] = [];
  const store = new ObjectStore({ onChange: (s) => emitted.push(s), debounceMs, maxDelayMs });
  t.after(() => store.close());
  return { store, emitted, tick: (ms: number) => t.mock.timers.tick(ms) };
}

const serviceNames = (s: Snapshot | undefined): string[] => (s?.services ?? []).map((o) => o.metadata.name);

test('emits once, debounceMs after the last change of a burst', (t) => {
  const { store, emitted, tick } = setup(t);
  assert.equal(store.set('files', [svc('a')]), true);
  tick(30);
  assert.equal(store.set('files', [svc('a'), svc('b')]), true);
  tick(49);
  assert.equal(emitted.length, 0);
  tick(1);
  assert.equal(emitted.length, 1);
  assert.deepEqual(serviceNames(emitted[0]), ['a', 'b']);
  tick(1000);
  assert.equal(emitted.length, 1);
});

test('a steady trickle of changes is emitted maxDelayMs after the first one', (t) => {
  const { store, emitted, tick } = setup(t);
  for (let i = 0; i < 6; i++) {
    store.set('files', [svc('a', 80 + i)]);
    tick(40);
  }
  // 240 ms in, still within the debounce window of each change.
  assert.equal(emitted.length, 0);
  tick(10);
  assert.equal(emitted.length, 1);
  assert.equal(emitted[0]?.services[0]?.spec.ports[0]?.port, 85);
  // A new burst starts its own clock.
  store.set('files', [svc('a', 99)]);
  tick(49);
  assert.equal(emitted.length, 1);
  tick(1);
  assert.equal(emitted.length, 2);
});

test('no-op updates are not changes: same content, new object identity or new origin', (t) => {
  const { store, emitted, tick } = setup(t);
  store.set('files', [svc('a'), ns('shop')]);
  tick(50);
  assert.equal(emitted.length, 1);
  assert.equal(store.set('files', [ns('shop'), svc('a')]), false);
  assert.equal(store.set('files', [svc('a', 80, 'moved.yaml'), ns('shop')]), false);
  tick(1000);
  assert.equal(emitted.length, 1);
  // The new origin is still what snapshot() shows.
  assert.equal(store.snapshot().services[0]?.origin.file, 'moved.yaml');
});

test('content changes, additions and removals are changes', (t) => {
  const { store, emitted, tick } = setup(t);
  store.set('files', [svc('a')]);
  tick(50);
  assert.equal(store.set('files', [svc('a', 81)]), true);
  tick(50);
  assert.equal(store.set('files', [svc('a', 81), svc('b')]), true);
  tick(50);
  assert.equal(store.set('files', [svc('b')]), true);
  tick(50);
  assert.deepEqual(emitted.map(serviceNames), [['a'], ['a'], ['a', 'b'], ['b']]);
  assert.equal(emitted[1]?.services[0]?.spec.ports[0]?.port, 81);
});

test('a burst that ends where it started emits nothing', (t) => {
  const { store, emitted, tick } = setup(t);
  store.set('files', [svc('a')]);
  tick(50);
  store.set('files', [svc('a', 81)]);
  tick(10);
  store.set('files', [svc('a', 80)]);
  tick(1000);
  assert.equal(emitted.length, 1);
});

test('sources are merged; on conflict the source whose id sorts first wins', (t) => {
  const { store, emitted, tick } = setup(t);
  store.set('b-source', [svc('shared', 90), svc('only-b')]);
  store.set('a-source', [svc('shared', 80)]);
  tick(50);
  const s = emitted[0];
  assert.deepEqual(serviceNames(s), ['only-b', 'shared']);
  assert.equal(s?.service('default', 'shared')?.spec.ports[0]?.port, 80);
  // Dropping the winner exposes the other source's version: a change.
  assert.equal(store.set('a-source', []), true);
  tick(50);
  assert.equal(emitted[1]?.service('default', 'shared')?.spec.ports[0]?.port, 90);
});

test('snapshot() is current before the debounce fires and is reused until something changes', (t) => {
  const { store, emitted, tick } = setup(t);
  assert.equal(store.snapshot().services.length, 0);
  store.set('files', [svc('a')]);
  assert.deepEqual(serviceNames(store.snapshot()), ['a']);
  assert.equal(store.snapshot(), store.snapshot());
  tick(50);
  assert.equal(emitted[0], store.snapshot());
});

test('flush() emits a pending change at once; close() cancels it', (t) => {
  const { store, emitted, tick } = setup(t);
  store.flush();
  assert.equal(emitted.length, 0);
  store.set('files', [svc('a')]);
  store.flush();
  assert.equal(emitted.length, 1);
  tick(1000);
  assert.equal(emitted.length, 1);
  store.set('files', [svc('b')]);
  store.close();
  tick(1000);
  assert.equal(emitted.length, 1);
  assert.equal(store.set('files', [svc('c')]), false);
});

test('configurable timing', (t) => {
  const { store, emitted, tick } = setup(t, 5, 20);
  store.set('files', [svc('a')]);
  tick(5);
  assert.equal(emitted.length, 1);
  for (let i = 0; i < 5; i++) {
    store.set('files', [svc('a', 100 + i)]);
    tick(4);
  }
  assert.equal(emitted.length, 2);
});

test('objectContent ignores origin and key order, not values', () => {
  const a = svc('a');
  const reordered = { origin: { file: 'x' }, spec: a.spec, metadata: a.metadata, kind: a.kind } as KubeObject;
  assert.equal(objectContent(a), objectContent(reordered));
  assert.notEqual(objectContent(a), objectContent(svc('a', 81)));
  assert.notEqual(objectContent(a), objectContent({ ...a, metadata: { ...a.metadata, annotations: { x: '1' } } }));
});

test('works with real timers too', async () => {
  const emitted: Snapshot[] = [];
  const store = new ObjectStore({ onChange: (s) => emitted.push(s), debounceMs: 10, maxDelayMs: 40 });
  store.set('files', [svc('a')]);
  await new Promise((r) => setTimeout(r, 80));
  store.close();
  assert.equal(emitted.length, 1);
});
