import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Snapshot } from '../model/snapshot.ts';
import { createLogger } from '../observe/logger.ts';
import { Metrics } from '../observe/metrics.ts';
import { FakeKubeApi } from '../status/test-kube-api.ts';
import { ingress, ingressClass, serviceBackend } from '../translate/test-objects.ts';
import { defaultLeaderElection, KubernetesStatus } from './kubernetes-status.ts';
import { INGRESS_CONTROLLER, type TranslateOptions, translateAll } from './translate-all.ts';

const translate: TranslateOptions = { ingressClass: 'gatehouse', upstream: 'service', httpPort: 8080, httpsPort: 8443 };
const ING = '/apis/networking.k8s.io/v1/namespaces/default/ingresses';

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('defaultLeaderElection: flags, then POD_NAMESPACE / POD_NAME, then fallbacks', () => {
  assert.deepEqual(defaultLeaderElection({ POD_NAMESPACE: 'gh', POD_NAME: 'gh-0' }), {
    namespace: 'gh',
    name: 'gatehouse-leader',
    identity: 'gh-0',
  });
  assert.deepEqual(defaultLeaderElection({ POD_NAMESPACE: 'gh', POD_NAME: 'gh-0' }, { namespace: 'ops', name: 'l' }), {
    namespace: 'ops',
    name: 'l',
    identity: 'gh-0',
  });
  const fallback = defaultLeaderElection({});
  assert.match(fallback.identity, new RegExp(`_${process.pid}$`));
  assert.ok(fallback.namespace !== '');
});

test('Ingress status goes to the Ingresses of our class only; without election this replica writes', async () => {
  const api = new FakeKubeApi();
  for (const name of ['ours', 'theirs']) {
    api.put(`${ING}/${name}`, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, uid: `uid-default-${name}` },
    });
  }
  const metrics = new Metrics();
  const status = new KubernetesStatus(
    api,
    { publish: { kind: 'addresses', addresses: [{ ip: '192.0.2.1' }] }, leaderElection: null },
    translate,
    createLogger({ level: 'silent', format: 'json' }),
    metrics,
  );
  const snapshot = new Snapshot([
    ingressClass('gatehouse', INGRESS_CONTROLLER),
    ingress({ name: 'ours', className: 'gatehouse', defaultBackend: serviceBackend('web', 80) }),
    ingress({ name: 'theirs', className: 'nginx', defaultBackend: serviceBackend('web', 80) }),
  ]);
  status.start();
  status.publish(snapshot, translateAll(snapshot, translate));
  await settle();
  await status.stop();
  assert.deepEqual(
    api.writes().map((c) => c.path),
    [`${ING}/ours/status`],
  );
  assert.deepEqual(api.get(`${ING}/ours`)?.['status'], { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } });
  assert.match(await metrics.registry.metrics(), /gatehouse_status_writes_total\{kind="Ingress",result="success"\} 1/);
  assert.match(await metrics.registry.metrics(), /gatehouse_leader 1/);
});
