import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServeArgs, SERVE_HELP, UsageError } from './args.ts';

const kube = (...flags: string[]) => parseServeArgs(['--kubernetes', ...flags]);

test('--publish-address: IPs and names', () => {
  assert.deepEqual(kube('--publish-address', '203.0.113.7,lb.example.com').publish, {
    kind: 'addresses',
    addresses: [{ ip: '203.0.113.7' }, { hostname: 'lb.example.com' }],
  });
  assert.throws(() => kube('--publish-address', 'bad_name'), UsageError);
});

test('--publish-service NS/NAME', () => {
  assert.deepEqual(kube('--publish-service', 'gatehouse/gatehouse').publish, {
    kind: 'service',
    namespace: 'gatehouse',
    name: 'gatehouse',
  });
  assert.throws(() => kube('--publish-service', 'gatehouse'), /NAMESPACE\/NAME/);
  assert.throws(() => kube('--publish-service', 'a/b', '--publish-address', '192.0.2.1'), /cannot be used together/);
});

test('neither: nothing published', () => {
  assert.equal(kube().publish, undefined);
});

test('the publish flags are accepted with --manifests too (the contract lists them for serve)', () => {
  assert.equal(parseServeArgs(['--manifests', '.', '--publish-address', '192.0.2.1']).publish?.kind, 'addresses');
});

test('leader election flags: defaults, values, and only with --kubernetes', () => {
  const d = kube();
  assert.equal(d.leaderElection, true);
  assert.equal(d.leaseName, 'gatehouse-leader');
  assert.equal(d.leaseNamespace, undefined);
  const a = kube('--leader-election', 'off', '--lease-namespace', 'ops', '--lease-name', 'gh.lock');
  assert.equal(a.leaderElection, false);
  assert.equal(a.leaseNamespace, 'ops');
  assert.equal(a.leaseName, 'gh.lock');
  assert.throws(() => kube('--leader-election', 'maybe'), UsageError);
  assert.throws(() => kube('--lease-namespace', 'Not_A_Namespace'), UsageError);
  assert.throws(() => kube('--lease-name', '-x'), UsageError);
  assert.throws(() => parseServeArgs(['--manifests', '.', '--lease-name', 'x']), /needs --kubernetes/);
});

test('help documents the status flags', () => {
  for (const flag of [
    '--publish-address',
    '--publish-service',
    '--leader-election',
    '--lease-namespace',
    '--lease-name',
  ]) {
    assert.match(SERVE_HELP, new RegExp(`\\n  ${flag} `));
  }
});
