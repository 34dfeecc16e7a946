// mergeResults keeps one listener per port across translators, HTTP and layer-4 alike: the Ingress ports first,
// then the tcp-services ports, then Gateway listeners.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../model/objects.ts';
import { Snapshot } from '../model/snapshot.ts';
import { meta } from '../translate/test-objects.ts';
import { mergeResults, translateAll } from './translate-all.ts';

const GROUP = 'gateway.networking.k8s.io';
const origin = {};

function objects(): KubeObject[] {
  return [
    {
      kind: 'GatewayClass',
      metadata: meta({ name: 'gatehouse', namespace: '' }),
      spec: { controllerName: 'gatehouse.dev/gateway-controller' },
      origin,
    },
    {
      kind: 'Gateway',
      metadata: meta({ name: 'gw', namespace: 'infra' }),
      spec: {
        gatewayClassName: 'gatehouse',
        listeners: [
          {
            name: 'tcp-on-ingress',
            port: 8080,
            protocol: 'TCP',
            allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] },
          },
          {
            name: 'http-on-tcp',
            port: 5432,
            protocol: 'HTTP',
            allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] },
          },
          { name: 'tcp', port: 9000, protocol: 'TCP', allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] } },
        ],
      },
      origin,
    },
    {
      kind: 'ConfigMap',
      metadata: meta({ name: 'tcp-services', namespace: 'ingress' }),
      data: { '5432': 'db/pg:5432' },
      origin,
    },
    {
      kind: 'Service',
      metadata: meta({ name: 'pg', namespace: 'db' }),
      spec: { type: 'ClusterIP', clusterIP: '127.0.10.1', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] },
      origin,
    },
    {
      kind: 'TCPRoute',
      metadata: meta({ name: 'r', namespace: 'infra' }),
      spec: {
        parentRefs: [{ group: GROUP, kind: 'Gateway', name: 'gw' }],
        rules: [{ backendRefs: [{ group: '', kind: 'Service', name: 'pg', namespace: 'db', port: 5432, weight: 1 }] }],
      },
      origin,
    },
  ];
}

test('Gateway listeners on a port the Ingress side uses are not served and say so in their status', () => {
  const result = translateAll(new Snapshot(objects()), {
    ingressClass: 'gatehouse',
    upstream: 'service',
    httpPort: 8080,
    httpsPort: 8443,
    tcpServicesConfigMap: 'ingress/tcp-services',
  });
  assert.deepEqual(
    result.ir.listeners.map((l) => `${l.name}:${l.port}`),
    ['ingress-http:8080', 'ingress-https:8443'],
  );
  assert.deepEqual(
    result.ir.streamListeners?.map((l) => `${l.name}:${l.port}`),
    ['tcp-services-5432:5432', 'gateway-tcp-9000:9000'],
  );
  // The Gateway translator knows the ports are taken, so nothing reaches the merge to be dropped there.
  assert.deepEqual(
    result.diagnostics.filter((d) => d.message.includes('it is not served')).map((d) => d.message),
    [],
  );
  const accepted = result.status
    .filter((e) => e.kind === 'Gateway')
    .flatMap((e) => e.listeners ?? [])
    .map((l) => {
      const a = l.conditions.find((c) => c.type === 'Accepted');
      const p = l.conditions.find((c) => c.type === 'Programmed');
      return `${l.name}: Accepted ${a?.status}/${a?.reason}, Programmed ${p?.status}`;
    })
    .sort();
  assert.ok(
    accepted.some((x) => /: Accepted False\/PortUnavailable, Programmed False$/.test(x)),
    accepted.join('\n'),
  );
  assert.equal(accepted.filter((x) => x.includes('PortUnavailable')).length, 2, accepted.join('\n'));
});

test('mergeResults still drops a listener whose port an earlier result serves', () => {
  const l = (name: string, port: number) => ({ name, protocol: 'HTTP' as const, port, virtualHosts: [] });
  const empty = { backends: [], certificates: [] };
  const merged = mergeResults([
    { ir: { listeners: [l('a', 80)], ...empty }, status: [], diagnostics: [] },
    { ir: { listeners: [l('b', 80), l('c', 81)], ...empty }, status: [], diagnostics: [] },
  ]);
  assert.deepEqual(
    merged.ir.listeners.map((x) => x.name),
    ['a', 'c'],
  );
  assert.match(merged.diagnostics[0]?.message ?? '', /listener b wants port 80, which a already serves/);
});

test('without stream listeners the IR has no streamListeners field', () => {
  const result = translateAll(new Snapshot([]), {
    ingressClass: 'gatehouse',
    upstream: 'service',
    httpPort: 8080,
    httpsPort: 8443,
  });
  assert.equal('streamListeners' in result.ir, false);
});
