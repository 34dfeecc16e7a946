import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { startGatehouse } from './helpers/gatehouse.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(NODE, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('version and help', () => {
  const v = run(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^gatehouse \d+\.\d+\.\d+\n$/);
  const h = run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /serve/);
  const s = run(['serve', '--help']);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /--manifests PATH/);
  assert.match(s.stdout, /--upstream service\|endpoints/);
});

/** Files under `dir`, at any depth (none when it does not exist). */
function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

test('compiled modules are cached in a private directory of the temporary directory; NODE_DISABLE_COMPILE_CACHE opts out', () => {
  const uid = process.getuid?.() ?? 0;
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-tmp-'));
  const off = mkdtempSync(join(tmpdir(), 'gatehouse-tmp-off-'));
  try {
    const first = run(['version'], { TMPDIR: tmp });
    assert.equal(first.code, 0);
    const dir = join(tmp, `gatehouse-compile-cache-${uid}`);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // One entry per module the commands load (serve and all it imports), not only the entry point.
    const cached = filesIn(dir).length;
    assert.ok(cached > 50, `${cached} modules cached`);
    const again = run(['version'], { TMPDIR: tmp });
    assert.equal(again.code, 0);
    assert.equal(again.stdout, first.stdout);

    const disabled = run(['version'], { TMPDIR: off, NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.equal(disabled.code, 0);
    assert.equal(existsSync(join(off, `gatehouse-compile-cache-${uid}`)), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(off, { recursive: true, force: true });
  }
});

test('a cache directory that others could write to is not used (code found there would run)', () => {
  const uid = process.getuid?.() ?? 0;
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-tmp-shared-'));
  try {
    const dir = join(tmp, `gatehouse-compile-cache-${uid}`);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = run(['version'], { TMPDIR: tmp });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^gatehouse /);
    assert.deepEqual(filesIn(dir), []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a server killed without a chance to exit (SIGKILL) has already written the cache at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compile-cache-'));
  try {
    const gh = await startGatehouse({ manifests: 'examples/quickstart', env: { NODE_COMPILE_CACHE: dir } });
    gh.child.kill('SIGKILL');
    await once(gh.child, 'exit');
    const cached = filesIn(dir).length;
    assert.ok(cached > 50, `${cached} modules cached`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage mistakes: one clear line and exit status 2', () => {
  const cases: [string[], RegExp][] = [
    [['serve', '--manifests', 'x', '--bogus'], /bogus/],
    [['serve'], /--manifests/],
    [['serve', '--manifests', 'x', '--upstream', 'pods'], /--upstream: 'pods' is not one of service, endpoints/],
    [['serve', '--manifests', 'x', '--http-port', 'eighty'], /--http-port/],
    [['serve', '--manifests', 'x', '--http-port', '70000'], /--http-port: 70000 is out of range/],
    [['serve', '--manifests', 'x', '--upstream-timeout', 'soon'], /--upstream-timeout: invalid duration/],
    [['serve', '--manifests', 'x', '--log-format', 'xml'], /--log-format/],
    [['serve', '--manifests', 'x', '--ssl-redirect', 'yes'], /--ssl-redirect: 'yes' is not one of on, off/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('refuses to run with the insecure HTTP parser', () => {
  const r = run(['serve', '--manifests', 'examples/quickstart'], { NODE_OPTIONS: '--insecure-http-parser' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /insecure-http-parser/);
});
