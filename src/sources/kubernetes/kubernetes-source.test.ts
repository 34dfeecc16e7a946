import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, test } from 'node:test';
import type { Secret, Service } from '../../model/objects.ts';
import { createLogger } from '../../observe/logger.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER } from '../../runtime/translate-all.ts';
import { KubeClient } from './api-client.ts';
import type { KubernetesSourceOptions, KubernetesSourceUpdate } from './kubernetes-source.ts';
import { KubernetesSource } from './kubernetes-source.ts';
import { collectionPath, watchedResources } from './resources.ts';
import { TestApiServer } from './test-apiserver.ts';

const SERVICES = '/api/v1/services';
const SECRETS = '/api/v1/secrets';
const INGRESSES = '/apis/networking.k8s.io/v1/ingresses';
const CLASSES = '/apis/networking.k8s.io/v1/ingressclasses';
const HTTPROUTES = '/apis/gateway.networking.k8s.io/v1/httproutes';
const GATEWAY_API = watchedResources.filter((r) => r.group === 'gateway.networking.k8s.io');

let server: TestApiServer;
let client: KubeClient;
const sources: KubernetesSource[] = [];

beforeEach(async () => {
  server = new TestApiServer();
  await server.start();
  client = new KubeClient({ server: server.url });
  // No Gateway API CRDs unless a test installs them.
  for (const r of GATEWAY_API) for (const v of r.versions) server.missing.add(collectionPath(r, v));
  server.put(CLASSES, {
    metadata: { name: 'gatehouse' },
    spec: { controller: INGRESS_CONTROLLER },
  });
});

afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
  await client.close();
  await server.stop();
});

function svc(name: string, port = 80, ns = 'default') {
  return { metadata: { name, namespace: ns }, spec: { clusterIP: '10.0.0.1', ports: [{ port }] } };
}

function ing(name: string, tls: string[], ns = 'default') {
  return {
    metadata: { name, namespace: ns },
    spec: {
      ingressClassName: 'gatehouse',
      tls: tls.map((secretName) => ({ hosts: ['a.example.com'], secretName })),
      rules: [
        {
          host: 'a.example.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }],
          },
        },
      ],
    },
  };
}

function secret(name: string, value: string, ns = 'default') {
  return { metadata: { name, namespace: ns }, type: 'Opaque', data: { v: Buffer.from(value).toString('base64') } };
}

class Updates {
  readonly all: KubernetesSourceUpdate[] = [];
  readonly push = (u: KubernetesSourceUpdate): void => {
    this.all.push(u);
  };
  get last(): KubernetesSourceUpdate {
    const u = this.all.at(-1);
    assert.ok(u, 'no update yet');
    return u;
  }
  async until(pred: (u: KubernetesSourceUpdate) => boolean, what: string): Promise<KubernetesSourceUpdate> {
    await server
      .until(() => this.all.length > 0 && pred(this.last), what)
      .catch((err: Error) => {
        throw new Error(`${err.message}; last update: ${JSON.stringify(this.all.length > 0 ? keys(this.last) : null)}`);
      });
    return this.last;
  }
}

function keys(u: KubernetesSourceUpdate): string[] {
  return u.objects.map(
    (o) => `${o.kind} ${o.metadata.namespace === '' ? '' : `${o.metadata.namespace}/`}${o.metadata.name}`,
  );
}

function secretValue(u: KubernetesSourceUpdate, name: string): string | undefined {
  return u.objects.find((o): o is Secret => o.kind === 'Secret' && o.metadata.name === name)?.data['v'];
}

async function startSource(
  options: Partial<KubernetesSourceOptions> = {},
): Promise<{ source: KubernetesSource; updates: Updates }> {
  const source = new KubernetesSource({
    client,
    references: {
      ingressClass: 'gatehouse',
      ingressController: INGRESS_CONTROLLER,
      gatewayController: GATEWAY_CONTROLLER,
    },
    backoffInitialMs: 10,
    backoffMaxMs: 50,
    missingRecheckMs: 50,
    referenceWaitMs: 1000,
    coalesceMs: 5,
    ...options,
  });
  sources.push(source);
  const updates = new Updates();
  await source.start(updates.push);
  return { source, updates };
}

test('the first sync: every installed resource, only the Secrets referenced, objects decoded with an API origin', async () => {
  server.put(SERVICES, svc('web'));
  server.put(INGRESSES, ing('site', ['site-tls']));
  server.put(SECRETS, secret('site-tls', 'cert'));
  server.put(SECRETS, secret('unrelated', 'do not read me'));
  const { source, updates } = await startSource();
  assert.ok(source.synced);
  assert.equal(updates.all.length, 1, 'start() hands over one complete update');
  assert.deepEqual(keys(updates.last), [
    'Service default/web',
    'IngressClass gatehouse',
    'Ingress default/site',
    'Secret default/site-tls',
  ]);
  assert.equal(secretValue(updates.last, 'site-tls'), 'cert');
  assert.deepEqual(updates.last.diagnostics, []);
  const web = updates.last.objects.find((o): o is Service => o.kind === 'Service');
  assert.deepEqual(web?.origin, { api: '/api/v1/namespaces/default/services/web' });
  // Secrets are only ever read one by one, by name.
  const secretRequests = server.requests.filter((r) => r.path.endsWith('/secrets'));
  assert.ok(secretRequests.length > 0);
  for (const r of secretRequests) {
    assert.equal(r.path, '/api/v1/namespaces/default/secrets');
    assert.equal(r.query.get('fieldSelector'), 'metadata.name=site-tls');
  }
  // Missing CRDs were looked for, and skipped.
  assert.ok(server.requests.some((r) => r.path === HTTPROUTES));
});

test('Secrets are followed as references come and go, and their changes arrive', async () => {
  server.put(SERVICES, svc('web'));
  server.put(INGRESSES, ing('a', ['a-tls']));
  server.put(SECRETS, secret('a-tls', 'a1'));
  server.put(SECRETS, secret('b-tls', 'b1'));
  const { updates } = await startSource();
  assert.equal(secretValue(updates.last, 'a-tls'), 'a1');
  assert.equal(secretValue(updates.last, 'b-tls'), undefined);

  // A new Ingress arrives with its Secret in the same update (the update waits for the new Secret's first read).
  server.put(INGRESSES, ing('b', ['b-tls']));
  const withB = await updates.until((u) => keys(u).includes('Ingress default/b'), 'Ingress b');
  assert.equal(secretValue(withB, 'b-tls'), 'b1');

  // A rotated certificate.
  server.put(SECRETS, secret('a-tls', 'a2'));
  await updates.until((u) => secretValue(u, 'a-tls') === 'a2', 'a-tls rotated');

  // The Ingress goes: so does its Secret, and the watch on it.
  await server.until(() => server.watchCount(SECRETS) === 2, 'two Secret watches');
  server.remove(INGRESSES, 'default', 'a');
  const without = await updates.until((u) => !keys(u).includes('Ingress default/a'), 'Ingress a gone');
  assert.equal(secretValue(without, 'a-tls'), undefined);
  await server.until(() => server.watchCount(SECRETS) === 1, 'one Secret watch');
});

test('objects that do not decode are diagnostics naming them, keeping their last good version; nothing stops', async () => {
  server.put(SERVICES, svc('good'));
  server.put(SERVICES, { metadata: { name: 'bad', namespace: 'default' }, spec: { ports: [{ port: 0 }] } });
  const { updates } = await startSource();
  assert.deepEqual(
    keys(updates.last).filter((k) => k.startsWith('Service')),
    ['Service default/good'],
  );
  assert.equal(updates.last.diagnostics.length, 1);
  assert.deepEqual(updates.last.diagnostics[0]?.object, { kind: 'Service', namespace: 'default', name: 'bad' });
  assert.match(updates.last.diagnostics[0]?.message ?? '', /^Service default\/bad: spec\.ports\[0\]\.port: /);

  server.put(SERVICES, { metadata: { name: 'good', namespace: 'default' }, spec: { ports: [{ port: 70000 }] } });
  const u = await updates.until((x) => x.diagnostics.length === 2, 'a second diagnostic');
  const good = u.objects.find((o): o is Service => o.kind === 'Service' && o.metadata.name === 'good');
  assert.equal(good?.spec.ports[0]?.port, 80, 'the last good version is kept');
  assert.match(
    u.diagnostics.map((d) => d.message).join('\n'),
    /Service default\/good: .*; keeping the previous version/,
  );

  server.remove(SERVICES, 'default', 'bad');
  server.put(SERVICES, svc('good', 81));
  const fixed = await updates.until((x) => x.diagnostics.length === 0, 'all fixed');
  assert.equal(fixed.objects.find((o): o is Service => o.kind === 'Service')?.spec.ports[0]?.port, 81);
});

test('--watch-namespace reads namespaced resources from that namespace only, cluster-scoped ones everywhere', async () => {
  server.put(SERVICES, svc('in', 80, 'apps'));
  server.put(SERVICES, svc('out', 80, 'other'));
  server.put(INGRESSES, ing('site', ['site-tls'], 'apps'));
  server.put(SECRETS, secret('site-tls', 'x', 'apps'));
  const { updates } = await startSource({ watchNamespace: 'apps' });
  assert.deepEqual(keys(updates.last), [
    'Service apps/in',
    'IngressClass gatehouse',
    'Ingress apps/site',
    'Secret apps/site-tls',
  ]);
  const paths = new Set(server.requests.map((r) => r.path));
  assert.ok(paths.has('/api/v1/namespaces/apps/services'));
  assert.ok(paths.has('/apis/networking.k8s.io/v1/namespaces/apps/ingresses'));
  assert.ok(paths.has('/api/v1/namespaces'), 'Namespaces cluster-wide');
  assert.ok(paths.has(CLASSES), 'IngressClasses cluster-wide');
  assert.ok(!paths.has(SERVICES) && !paths.has(INGRESSES), 'no cluster-wide read of namespaced resources');
});

test('a burst of events becomes few updates', async () => {
  const { updates } = await startSource();
  const before = updates.all.length;
  for (let i = 0; i < 200; i++) server.put(SERVICES, svc(`s${i}`));
  await updates.until((u) => u.objects.filter((o) => o.kind === 'Service').length === 200, '200 Services');
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(updates.all.length - before <= 5, `${updates.all.length - before} updates for 200 events`);
});

test('when the API server fails, the last objects stay; changes made meanwhile arrive on reconnection', async () => {
  server.put(SERVICES, svc('web'));
  const { updates } = await startSource();
  const count = updates.all.length;
  let down = true;
  server.hook = () => (down ? { status: 503, reason: 'ServiceUnavailable' } : undefined);
  server.breakWatches();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(updates.all.length, count, 'no update while the API is away');
  server.put(SERVICES, svc('web', 8080));
  server.put(SERVICES, svc('api'));
  down = false;
  const u = await updates.until((x) => keys(x).includes('Service default/api'), 'the change made meanwhile');
  assert.equal(
    u.objects.find((o): o is Service => o.kind === 'Service' && o.metadata.name === 'web')?.spec.ports[0]?.port,
    8080,
  );
});

test('a CRD installed later is picked up; start() does not wait for it', async () => {
  const { updates } = await startSource();
  assert.ok(!keys(updates.last).some((k) => k.startsWith('HTTPRoute')));
  server.put(HTTPROUTES, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'default' },
    spec: { parentRefs: [{ name: 'gw' }] },
  });
  for (const v of ['v1', 'v1beta1']) server.missing.delete(HTTPROUTES.replace('/v1/', `/${v}/`));
  await updates.until((u) => keys(u).includes('HTTPRoute default/r'), 'the HTTPRoute');
});

test('start() waits for the first list; close() during it returns at once', async () => {
  server.hook = () => 'hang';
  const source = new KubernetesSource({
    client,
    references: {
      ingressClass: 'gatehouse',
      ingressController: INGRESS_CONTROLLER,
      gatewayController: GATEWAY_CONTROLLER,
    },
  });
  let resolved = false;
  const started = source
    .start(() => assert.fail('no update after close'))
    .then(() => {
      resolved = true;
    });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(resolved, false);
  await source.close();
  await started;
  assert.equal(source.synced, false);
});

test('resources a cluster does not serve are one warning per API group, and again only if they go away again', async () => {
  const lines: { level: number; msg: string; group?: string; resources?: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger({ level: 'info', format: 'json', destination });
  const { updates } = await startSource({ logger });
  const warnings = () => lines.filter((l) => l.level === 40 && /not served/.test(l.msg));
  await new Promise((r) => setTimeout(r, 200)); // several re-checks
  assert.equal(warnings().length, 1, JSON.stringify(warnings()));
  assert.equal(warnings()[0]?.group, 'gateway.networking.k8s.io');
  assert.equal(
    warnings()[0]?.resources,
    'gatewayclasses,gateways,httproutes,grpcroutes,tcproutes,tlsroutes,referencegrants,backendtlspolicies',
  );
  // Installed: picked up with an info line, and no warning. Only v1 comes back: this scripted server keeps each
  // version's objects apart, and a list that found v1 missing just before could otherwise settle on an empty v1beta1.
  server.missing.delete(HTTPROUTES);
  server.put(HTTPROUTES, { metadata: { name: 'r', namespace: 'default' }, spec: { parentRefs: [{ name: 'gw' }] } });
  await updates.until((u) => keys(u).includes('HTTPRoute default/r'), 'the HTTPRoute');
  assert.ok(lines.some((l) => l.level === 30 && /httproutes\.gateway\.networking\.k8s\.io is now served/.test(l.msg)));
  // Removed again: its objects go, and one more warning names it.
  for (const v of ['v1', 'v1beta1']) server.missing.add(HTTPROUTES.replace('/v1/', `/${v}/`));
  server.endWatches(HTTPROUTES);
  await updates.until((u) => !keys(u).includes('HTTPRoute default/r'), 'the HTTPRoute gone');
  await server.until(() => warnings().length === 2, 'a second warning');
  assert.equal(warnings()[1]?.resources, 'httproutes');
});
