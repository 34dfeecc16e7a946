import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServeArgs, SERVE_HELP, UsageError } from './args.ts';

test('--tcp-services-configmap NAMESPACE/NAME is passed on; absent by default', () => {
  assert.equal(parseServeArgs(['--manifests', 'x']).tcpServicesConfigMap, undefined);
  const args = parseServeArgs(['--manifests', 'x', '--tcp-services-configmap', 'ingress-nginx/tcp-services']);
  assert.equal(args.tcpServicesConfigMap, 'ingress-nginx/tcp-services');
  assert.match(SERVE_HELP, /--tcp-services-configmap NS\/NAME/);
});

test('--tcp-services-configmap without a namespace is a usage error', () => {
  for (const bad of ['tcp-services', 'a/b/c', '/x', 'Upper/x']) {
    assert.throws(
      () => parseServeArgs(['--manifests', 'x', '--tcp-services-configmap', bad]),
      (e: unknown) => e instanceof UsageError && /is not NAMESPACE\/NAME/.test(e.message),
      bad,
    );
  }
});
