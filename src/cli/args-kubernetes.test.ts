import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServeArgs, SERVE_HELP, UsageError } from './args.ts';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('--kubernetes with --kubeconfig and --watch-namespace', () => {
  const a = parseServeArgs(['--kubernetes', '--kubeconfig', '/etc/kube.yaml', '--watch-namespace', 'apps']);
  assert.equal(a.kubernetes, true);
  assert.deepEqual(a.manifests, []);
  assert.equal(a.kubeconfig, '/etc/kube.yaml');
  assert.equal(a.watchNamespace, 'apps');
  const plain = parseServeArgs(['--kubernetes']);
  assert.equal(plain.kubeconfig, undefined);
  assert.equal(plain.watchNamespace, undefined);
  assert.match(SERVE_HELP, /--kubernetes .*\n.*KUBECONFIG/);
  assert.match(SERVE_HELP, /--watch-namespace NS/);
  assert.doesNotMatch(SERVE_HELP, /not available yet/);
});

test('--kubernetes and --manifests are exclusive; the Kubernetes flags need --kubernetes', () => {
  assert.throws(() => parseServeArgs(['--kubernetes', '--manifests', 'm']), usage(/cannot be used together/));
  assert.throws(
    () => parseServeArgs(['--manifests', 'm', '--kubeconfig', 'k']),
    usage(/--kubeconfig needs --kubernetes/),
  );
  assert.throws(
    () => parseServeArgs(['--manifests', 'm', '--watch-namespace', 'apps']),
    usage(/--watch-namespace needs --kubernetes/),
  );
  assert.throws(() => parseServeArgs([]), usage(/--manifests PATH, or --kubernetes/));
  assert.throws(() => parseServeArgs(['--kubernetes', '--watch-namespace', 'Bad_NS']), usage(/not a namespace name/));
  assert.throws(() => parseServeArgs(['--kubernetes', '--kubeconfig', '']), usage(/empty path/));
});
