import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';

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
