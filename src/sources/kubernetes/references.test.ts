import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeObject } from '../../model/decode.ts';
import type { Ingress, KubeObject } from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER } from '../../runtime/translate-all.ts';
import { isOurIngress } from '../../translate/ingress/translate-ingress.ts';
import type { ReferenceScope } from './references.ts';
import { referencedObjects } from './references.ts';

const scope: ReferenceScope = {
  ingressClass: 'gatehouse',
  ingressController: INGRESS_CONTROLLER,
  gatewayController: GATEWAY_CONTROLLER,
};

function decode(raw: Record<string, unknown>): KubeObject {
  const r = decodeObject(raw, { api: 'test' });
  if (r.kind !== 'object') assert.fail(`${JSON.stringify(raw)}: ${r.kind === 'invalid' ? r.reason : 'ignored'}`);
  return r.object;
}

const GW = 'gateway.networking.k8s.io/v1';

function ingressClass(name: string, controller: string, isDefault = false) {
  return decode({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: {
      name,
      ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}),
    },
    spec: { controller },
  });
}

function ingress(
  name: string,
  opts: { ns?: string; className?: string; annotations?: Record<string, string>; tls?: string[] } = {},
) {
  return decode({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: opts.ns ?? 'default', annotations: opts.annotations ?? {} },
    spec: {
      ...(opts.className !== undefined ? { ingressClassName: opts.className } : {}),
      tls: (opts.tls ?? []).map((secretName) => ({ hosts: ['a.example.com'], secretName })),
      rules: [
        {
          host: 'a.example.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } }],
          },
        },
      ],
    },
  });
}

function gatewayClass(name: string, controllerName: string) {
  return decode({ apiVersion: GW, kind: 'GatewayClass', metadata: { name }, spec: { controllerName } });
}

function gateway(
  name: string,
  className: string,
  listeners: unknown[],
  extra: Record<string, unknown> = {},
  ns = 'edge',
) {
  return decode({
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name, namespace: ns },
    spec: { gatewayClassName: className, listeners, ...extra },
  });
}

function https(name: string, port: number, refs: unknown[], mode = 'Terminate') {
  return { name, port, protocol: mode === 'Terminate' ? 'HTTPS' : 'TLS', tls: { mode, certificateRefs: refs } };
}

function grant(ns: string, fromNs: string, name?: string) {
  return decode({
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: `g-${fromNs}`, namespace: ns },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: fromNs }],
      to: [{ group: '', kind: 'Secret', ...(name !== undefined ? { name } : {}) }],
    },
  });
}

const keys = (objects: KubeObject[], s: ReferenceScope = scope) =>
  referencedObjects(objects, s).map((r) => `${r.kind} ${r.namespace}/${r.name}`);

test('Ingresses of our class: TLS Secrets and the proxy-ssl-secret in their own namespace only', () => {
  const objects = [
    ingressClass('gatehouse', INGRESS_CONTROLLER),
    ingressClass('nginx', 'k8s.io/ingress-nginx'),
    ingress('ours', { className: 'gatehouse', tls: ['web-tls', 'api-tls'] }),
    ingress('theirs', { className: 'nginx', tls: ['nginx-tls'] }),
    ingress('legacy', { annotations: { 'kubernetes.io/ingress.class': 'gatehouse' }, tls: ['legacy-tls'] }),
    ingress('legacy-theirs', { annotations: { 'kubernetes.io/ingress.class': 'nginx' }, tls: ['x-tls'] }),
    ingress('no-class', { tls: ['no-class-tls'] }),
    ingress('bare', {
      ns: 'apps',
      className: 'gatehouse',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'ca' },
    }),
    ingress('same', {
      ns: 'apps',
      className: 'gatehouse',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'apps/ca2' },
    }),
    ingress('other-ns', {
      ns: 'apps',
      className: 'gatehouse',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'kube-system/x' },
    }),
    ingress('malformed', {
      ns: 'apps',
      className: 'gatehouse',
      annotations: { 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'a/b/c' },
    }),
  ];
  assert.deepEqual(keys(objects), [
    'Secret apps/ca',
    'Secret apps/ca2',
    'Secret default/api-tls',
    'Secret default/legacy-tls',
    'Secret default/web-tls',
  ]);
  // With a default IngressClass of ours, Ingresses without a class are ours too.
  assert.ok(
    keys([...objects, ingressClass('gh-default', INGRESS_CONTROLLER, true)]).includes('Secret default/no-class-tls'),
  );
});

test('the Ingress class rules are those of the translator (isOurIngress)', () => {
  const classSets = [
    [],
    [ingressClass('gatehouse', INGRESS_CONTROLLER)],
    [ingressClass('custom', INGRESS_CONTROLLER)],
    [ingressClass('custom', INGRESS_CONTROLLER, true)],
    [ingressClass('nginx', 'k8s.io/ingress-nginx', true), ingressClass('gatehouse', INGRESS_CONTROLLER)],
  ];
  const ingresses = [
    ingress('a', { tls: ['s'] }),
    ingress('b', { className: 'gatehouse', tls: ['s'] }),
    ingress('c', { className: 'custom', tls: ['s'] }),
    ingress('d', { className: 'nginx', tls: ['s'] }),
    ingress('e', { annotations: { 'kubernetes.io/ingress.class': 'gatehouse' }, tls: ['s'] }),
    ingress('f', { annotations: { 'kubernetes.io/ingress.class': 'custom' }, tls: ['s'] }),
    ingress('g', { className: 'custom', annotations: { 'kubernetes.io/ingress.class': 'gatehouse' }, tls: ['s'] }),
  ];
  for (const classes of classSets) {
    const snapshot = new Snapshot(classes);
    for (const ing of ingresses) {
      const translator = isOurIngress(snapshot, ing as Ingress, {
        ingressClass: 'gatehouse',
        controllerName: INGRESS_CONTROLLER,
        upstream: 'service',
        httpPort: 80,
        httpsPort: 443,
      });
      const read = keys([...classes, ing]).length > 0;
      assert.equal(
        read,
        translator,
        `${ing.metadata.name} with classes ${classes.map((c) => c.metadata.name).join(',')}`,
      );
    }
  }
});

test('Gateways of our class: Terminate certificateRefs and the backend client certificate; other namespaces only when granted', () => {
  const objects = [
    gatewayClass('gatehouse', GATEWAY_CONTROLLER),
    gatewayClass('other', 'example.com/other'),
    gateway(
      'ours',
      'gatehouse',
      [
        https('a', 443, [
          { name: 'local' },
          { name: 'granted', namespace: 'certs' },
          { name: 'denied', namespace: 'vault' },
        ]),
        https('b', 8443, [{ name: 'not-a-secret', kind: 'ConfigMap', group: '' }]),
        https('pass', 9443, [], 'Passthrough'),
        { name: 'plain', port: 80, protocol: 'HTTP' },
      ],
      { tls: { backend: { clientCertificateRef: { name: 'client' } } } },
    ),
    gateway('theirs', 'other', [https('a', 443, [{ name: 'their-cert' }])]),
    grant('certs', 'edge'),
    grant('vault', 'elsewhere'),
  ];
  assert.deepEqual(keys(objects), ['Secret certs/granted', 'Secret edge/client', 'Secret edge/local']);
  // A grant naming another Secret does not allow this one.
  const named = [...objects.filter((o) => o.kind !== 'ReferenceGrant'), grant('certs', 'edge', 'something-else')];
  assert.deepEqual(keys(named), ['Secret edge/client', 'Secret edge/local']);
});

test('BackendTLSPolicy CA references (ConfigMap or Secret) and the tcp-services ConfigMap; sorted, no repeats', () => {
  const policy = decode({
    apiVersion: GW,
    kind: 'BackendTLSPolicy',
    metadata: { name: 'p', namespace: 'apps' },
    spec: {
      targetRefs: [{ group: '', kind: 'Service', name: 'svc' }],
      validation: {
        hostname: 'svc.example.com',
        caCertificateRefs: [
          { group: '', kind: 'ConfigMap', name: 'ca-bundle' },
          { group: '', kind: 'Secret', name: 'ca-secret' },
          { group: '', kind: 'ConfigMap', name: 'ca-bundle' },
        ],
      },
    },
  });
  assert.deepEqual(keys([policy], { ...scope, tcpServicesConfigMap: 'ingress/tcp-services' }), [
    'ConfigMap apps/ca-bundle',
    'ConfigMap ingress/tcp-services',
    'Secret apps/ca-secret',
  ]);
});

test('--watch-namespace: references elsewhere are not read, except the ConfigMap named on the command line', () => {
  const objects = [
    ingressClass('gatehouse', INGRESS_CONTROLLER),
    ingress('a', { ns: 'apps', className: 'gatehouse', tls: ['a-tls'] }),
    ingress('b', { ns: 'other', className: 'gatehouse', tls: ['b-tls'] }),
  ];
  assert.deepEqual(keys(objects, { ...scope, watchNamespace: 'apps', tcpServicesConfigMap: 'ingress/tcp' }), [
    'ConfigMap ingress/tcp',
    'Secret apps/a-tls',
  ]);
});
