import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { parseServeArgs, SERVE_HELP, UsageError } from './args.ts';

test('--workers defaults to the CPUs this process may use (affinity and cgroup limits)', () => {
  assert.equal(parseServeArgs(['--manifests', 'x']).workers, availableParallelism());
  assert.equal(parseServeArgs(['--manifests', 'x', '--workers', '1']).workers, 1);
  assert.equal(parseServeArgs(['--manifests', 'x', '--workers', '8']).workers, 8);
  assert.match(SERVE_HELP, /--workers N/);
});

test('--workers must be a whole number from 1', () => {
  for (const bad of ['0', '1.5', 'two', '', '5000']) {
    assert.throws(
      () => parseServeArgs(['--manifests', 'x', '--workers', bad]),
      (e: unknown) => e instanceof UsageError && /^--workers: /.test(e.message),
      bad,
    );
  }
});
