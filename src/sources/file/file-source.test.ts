import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import type { Service } from '../../model/objects.ts';
import type { FileSourceOptions, FileSourceUpdate } from './file-source.ts';
import { FileSource } from './file-source.ts';

const service = (name: string, port = 80): string => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {clusterIP: 127.0.10.1, ports: [{port: ${port}}]}
`;

const ns = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bounded wait for everything below: generous for a loaded machine, far below the file's time budget. */
const waitMs = 3000;

class Recorder {
  readonly updates: FileSourceUpdate[] = [];

  readonly push = (u: FileSourceUpdate): void => {
    this.updates.push(u);
  };

  get last(): FileSourceUpdate {
    const u = this.updates.at(-1);
    assert.ok(u, 'no update yet');
    return u;
  }

  /** Waits until the latest update satisfies `pred`; fails with the latest update after the bounded wait. */
  async until(pred: (u: FileSourceUpdate) => boolean, what: string): Promise<FileSourceUpdate> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const u = this.updates.at(-1);
      if (u !== undefined && pred(u)) return u;
      if (Date.now() > deadline) {
        assert.fail(`timed out waiting for ${what}; last update: ${JSON.stringify(u ? summary(u) : null)}`);
      }
      await sleep(10);
    }
  }
}

function keys(u: FileSourceUpdate): string[] {
  return u.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

function port(u: FileSourceUpdate, name: string): number | undefined {
  const s = u.objects.find((o): o is Service => o.kind === 'Service' && o.metadata.name === name);
  return s?.spec.ports[0]?.port;
}

function summary(u: FileSourceUpdate) {
  return { objects: keys(u), diagnostics: u.diagnostics.map((d) => d.message) };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startSource(
  t: TestContext,
  paths: string[],
  options: FileSourceOptions = { pollIntervalMs: 100, settleMs: 10 },
): Promise<Recorder> {
  const rec = new Recorder();
  const source = new FileSource(paths, options);
  t.after(() => source.close());
  await source.start(rec.push);
  return rec;
}

test('first load: folders recursively, explicit files, JSON; dot-files, temp files and other extensions skipped', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'm', 'sub', 'deeper'), { recursive: true });
  await mkdir(join(dir, 'm', '.git'));
  await writeFile(join(dir, 'm', 'a.yaml'), service('a'));
  await writeFile(join(dir, 'm', 'sub', 'b.yml'), service('b'));
  await writeFile(
    join(dir, 'm', 'sub', 'deeper', 'c.json'),
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }),
  );
  await writeFile(join(dir, 'm', '.hidden.yaml'), service('hidden'));
  await writeFile(join(dir, 'm', '.git', 'x.yaml'), service('git'));
  await writeFile(join(dir, 'm', 'a.yaml~'), service('backup'));
  await writeFile(join(dir, 'm', '#a.yaml#'), service('autosave'));
  await writeFile(join(dir, 'm', 'a.yaml.swp'), service('swap'));
  await writeFile(join(dir, 'm', 'notes.txt'), service('txt'));
  await writeFile(join(dir, 'single.manifest'), ns('single'));

  const rec = new Recorder();
  const source = new FileSource([join(dir, 'm'), join(dir, 'single.manifest')], { pollIntervalMs: 100 });
  t.after(() => source.close());
  await source.start(rec.push);
  assert.equal(rec.updates.length, 1, 'onUpdate is called once before start() resolves');
  assert.deepEqual(keys(rec.last), ['Namespace/c', 'Namespace/single', 'Service/a', 'Service/b']);
  assert.deepEqual(rec.last.diagnostics, []);
  const a = rec.last.objects.find((o) => o.metadata.name === 'a');
  assert.deepEqual(a?.origin, { file: join(dir, 'm', 'a.yaml'), document: 0 });
});

test('a missing path is reported at start and read once it appears', async (t) => {
  const dir = await tempDir(t);
  const m = join(dir, 'later');
  const rec = await startSource(t, [m]);
  assert.deepEqual(keys(rec.last), []);
  assert.deepEqual(
    rec.last.diagnostics.map((d) => d.message),
    [`${m}: no such file or directory`],
  );
  await mkdir(m);
  await writeFile(join(m, 'a.yaml'), service('a'));
  await rec.until((u) => keys(u).includes('Service/a') && u.diagnostics.length === 0, 'the new folder');
});

test('files added, changed, renamed and deleted are picked up', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), service('a', 80));
  const rec = await startSource(t, [dir]);
  assert.deepEqual(keys(rec.last), ['Service/a']);

  await writeFile(join(dir, 'b.yaml'), service('b'));
  await rec.until((u) => keys(u).join() === 'Service/a,Service/b', 'added file');

  await writeFile(join(dir, 'a.yaml'), service('a', 81));
  await rec.until((u) => port(u, 'a') === 81, 'changed file');

  // Editors that save by writing a temporary file and renaming it over the original.
  await writeFile(join(dir, '.a.yaml.tmp'), service('a', 82));
  await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
  await rec.until((u) => port(u, 'a') === 82, 'rename-over-write');

  await rename(join(dir, 'b.yaml'), join(dir, 'renamed.yaml'));
  const u = await rec.until(
    (u) => u.objects.some((o) => o.metadata.name === 'b' && o.origin.file === join(dir, 'renamed.yaml')),
    'renamed file',
  );
  assert.deepEqual(keys(u), ['Service/a', 'Service/b']);

  await rm(join(dir, 'renamed.yaml'));
  await rec.until((u) => keys(u).join() === 'Service/a', 'deleted file');

  await mkdir(join(dir, 'new', 'nested'), { recursive: true });
  await writeFile(join(dir, 'new', 'nested', 'c.yaml'), ns('c'));
  await rec.until((u) => keys(u).includes('Namespace/c'), 'file in a new subfolder');
  await writeFile(join(dir, 'new', 'nested', 'c.yaml'), ns('c2'));
  await rec.until((u) => keys(u).includes('Namespace/c2'), 'change in a new subfolder');
});

test('watchers alone see changes quickly (the poll is far away)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), service('a', 80));
  const rec = await startSource(t, [dir], { pollIntervalMs: 60_000, settleMs: 10 });
  await writeFile(join(dir, 'a.yaml'), service('a', 90));
  await rec.until((u) => port(u, 'a') === 90, 'change seen by the watcher');
  await writeFile(join(dir, 'b.yaml'), service('b'));
  await rec.until((u) => keys(u).includes('Service/b'), 'new file seen by the watcher');
});

test('the poll alone sees changes (watchers off)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), service('a', 80));
  const rec = await startSource(t, [dir], { pollIntervalMs: 50, watch: false });
  await writeFile(join(dir, 'a.yaml'), service('a', 91));
  await rec.until((u) => port(u, 'a') === 91, 'change seen by the poll');
  await rm(join(dir, 'a.yaml'));
  await rec.until((u) => u.objects.length === 0, 'deletion seen by the poll');
});

test('a file that stops parsing keeps its last good objects until it is fixed', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, `${service('a')}---\n${ns('shop')}`);
  const rec = await startSource(t, [dir]);
  assert.deepEqual(keys(rec.last), ['Namespace/shop', 'Service/a']);

  await writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n   bad: [\n');
  const broken = await rec.until((u) => u.diagnostics.length > 0, 'a diagnostic for broken YAML');
  assert.deepEqual(keys(broken), ['Namespace/shop', 'Service/a']);
  assert.equal(broken.diagnostics.length, 1);
  assert.equal(broken.diagnostics[0]?.severity, 'error');
  assert.equal(broken.diagnostics[0]?.file, file);
  assert.match(
    broken.diagnostics[0]?.message ?? '',
    /app\.yaml:\d+:\d+: invalid YAML: .*; keeping the 2 objects last read from it$/,
  );

  await writeFile(file, service('a', 99));
  const fixed = await rec.until((u) => u.diagnostics.length === 0, 'the fix');
  assert.deepEqual(keys(fixed), ['Service/a']);
  assert.equal(port(fixed, 'a'), 99);
});

test('a file that is broken from the start contributes nothing but a diagnostic', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.json'), '{"kind": ');
  await writeFile(join(dir, 'good.yaml'), ns('good'));
  const rec = await startSource(t, [dir]);
  assert.deepEqual(keys(rec.last), ['Namespace/good']);
  assert.equal(rec.last.diagnostics.length, 1);
  assert.match(rec.last.diagnostics[0]?.message ?? '', /bad\.json.*invalid JSON/);
  assert.doesNotMatch(rec.last.diagnostics[0]?.message ?? '', /keeping/);
});

test('an object that becomes invalid keeps its previous version; a new invalid object is dropped', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.yaml');
  await writeFile(file, `${service('a', 80)}---\n${service('b', 80)}`);
  const rec = await startSource(t, [dir]);

  await writeFile(file, `${service('a', 0)}---\n${service('b', 81)}---\n${service('c', 70000)}`);
  const u = await rec.until((u) => port(u, 'b') === 81, 'the edit');
  assert.deepEqual(keys(u), ['Service/a', 'Service/b']);
  assert.equal(port(u, 'a'), 80, 'the last good version of a is kept');
  assert.deepEqual(
    u.diagnostics.map((d) => [d.object?.name, d.message]),
    [
      [
        'a',
        `${file}: Service default/a: spec.ports[0].port: must be between 1 and 65535; keeping the previous version`,
      ],
      ['c', `${file}: Service default/c: spec.ports[0].port: must be between 1 and 65535`],
    ],
  );

  // Still invalid after another edit: the kept version survives.
  await writeFile(file, `${service('a', -1)}---\n${service('b', 82)}`);
  const again = await rec.until((u) => port(u, 'b') === 82, 'the second edit');
  assert.equal(port(again, 'a'), 80);

  await writeFile(file, `${service('a', 83)}---\n${service('b', 82)}`);
  const fixed = await rec.until((u) => port(u, 'a') === 83, 'the fix');
  assert.deepEqual(fixed.diagnostics, []);
});

test('duplicates across files: the file that sorts first wins, the other is reported', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'b.yaml'), service('shared', 2));
  await writeFile(join(dir, 'a.yaml'), service('shared', 1));
  const rec = await startSource(t, [dir]);
  assert.equal(port(rec.last, 'shared'), 1);
  assert.equal(rec.last.objects.length, 1);
  assert.deepEqual(rec.last.diagnostics, [
    {
      severity: 'error',
      file: join(dir, 'b.yaml'),
      object: { kind: 'Service', namespace: 'default', name: 'shared' },
      message: `${join(dir, 'b.yaml')}: Service default/shared: also defined in ${join(dir, 'a.yaml')}, which is used`,
    },
  ]);
  await rm(join(dir, 'a.yaml'));
  const u = await rec.until((u) => port(u, 'shared') === 2, 'the remaining definition');
  assert.deepEqual(u.diagnostics, []);
});

test('nothing is reported again while nothing changes, even when files are touched', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.yaml'), 'a: [\n');
  await writeFile(join(dir, 'a.yaml'), service('a'));
  const rec = await startSource(t, [dir], { pollIntervalMs: 20, settleMs: 5 });
  assert.equal(rec.updates.length, 1);
  await sleep(200);
  const later = new Date(Date.now() + 5000);
  await utimes(join(dir, 'a.yaml'), later, later);
  await writeFile(join(dir, 'bad.yaml'), 'a: [\n');
  await sleep(200);
  assert.equal(rec.updates.length, 1, JSON.stringify(rec.updates.map(summary)));
  // And a real change still comes through, once (written aside and renamed: a file rewritten in place may be read
  // half-written by a poll, which is a change of its own).
  await writeFile(join(dir, 'a.yaml.tmp'), service('a', 81));
  await rename(join(dir, 'a.yaml.tmp'), join(dir, 'a.yaml'));
  await rec.until((u) => port(u, 'a') === 81, 'the change');
  assert.equal(rec.updates.length, 2);
});

test('a watched folder that disappears keeps its objects, and is watched again when it reappears', async (t) => {
  const dir = await tempDir(t);
  const m = join(dir, 'manifests');
  await mkdir(m);
  await writeFile(join(m, 'a.yaml'), service('a', 80));
  await writeFile(join(m, 'b.yaml'), service('b', 80));
  const rec = await startSource(t, [m]);

  await rm(m, { recursive: true });
  const gone = await rec.until((u) => u.diagnostics.length > 0, 'the missing folder');
  assert.deepEqual(keys(gone), ['Service/a', 'Service/b']);
  assert.deepEqual(
    gone.diagnostics.map((d) => d.message),
    [`${m}: no such file or directory; keeping the 2 objects last read from it`],
  );

  await mkdir(m);
  await writeFile(join(m, 'a.yaml'), service('a', 81));
  const back = await rec.until((u) => u.diagnostics.length === 0 && port(u, 'a') === 81, 'the folder coming back');
  assert.deepEqual(keys(back), ['Service/a']);

  // The new folder is watched, not just polled once.
  await writeFile(join(m, 'a.yaml'), service('a', 82));
  await rec.until((u) => port(u, 'a') === 82, 'a change in the recreated folder');
});

test('close() stops updates', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), service('a'));
  const rec = new Recorder();
  const source = new FileSource([dir], { pollIntervalMs: 20, settleMs: 5 });
  await source.start(rec.push);
  await source.close();
  await writeFile(join(dir, 'b.yaml'), service('b'));
  await sleep(150);
  assert.equal(rec.updates.length, 1);
});

test('a folder that disappears and reappears is followed by watchers alone', async (t) => {
  const dir = await tempDir(t);
  const m = join(dir, 'manifests');
  await mkdir(m);
  await writeFile(join(m, 'a.yaml'), service('a', 80));
  const rec = await startSource(t, [m], { pollIntervalMs: 60_000, settleMs: 10 });
  await rm(m, { recursive: true });
  await rec.until((u) => u.diagnostics.length > 0, 'the missing folder');
  await mkdir(m);
  await writeFile(join(m, 'a.yaml'), service('a', 81));
  await rec.until((u) => u.diagnostics.length === 0 && port(u, 'a') === 81, 'the folder coming back');
  await writeFile(join(m, 'a.yaml'), service('a', 82));
  await rec.until((u) => port(u, 'a') === 82, 'a change in the recreated folder');
});

test('a file reached twice (overlapping paths, symlinks, symlink loops) is read once', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.yaml'), service('a'));
  await symlink(join(dir, 'a.yaml'), join(dir, 'link.yaml'));
  await symlink(dir, join(dir, 'loop'));
  await symlink(join(dir, 'missing.yaml'), join(dir, 'dangling.yaml'));
  const rec = await startSource(t, [dir, join(dir, 'a.yaml'), join(dir, 'loop')]);
  assert.deepEqual(keys(rec.last), ['Service/a']);
  assert.deepEqual(rec.last.diagnostics, []);
});
