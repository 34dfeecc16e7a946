import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodeResult } from './decode.ts';
import { decodeObject, objectRefOf } from './decode.ts';
import type {
  ConfigMap,
  EndpointSlice,
  Ingress,
  IngressClass,
  KubeObject,
  Namespace,
  Secret,
  Service,
} from './objects.ts';

const origin = { file: 'm.yaml', document: 0 };

function ok(raw: unknown): KubeObject {
  const r = decodeObject(raw, origin);
  assert.equal(r.kind, 'object', r.kind === 'invalid' ? r.reason : r.kind);
  return (r as Extract<DecodeResult, { kind: 'object' }>).object;
}

function reason(raw: unknown): string {
  const r = decodeObject(raw, origin);
  assert.equal(r.kind, 'invalid', `expected invalid, got ${r.kind}`);
  return (r as Extract<DecodeResult, { kind: 'invalid' }>).reason;
}

function ingress(spec: unknown, metadata: Record<string, unknown> = { name: 'web' }): unknown {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec };
}

const svcBackend = { service: { name: 'web', port: { number: 80 } } };

function ingressWithPath(path: Record<string, unknown>): unknown {
  return ingress({ rules: [{ host: 'a.example.com', http: { paths: [path] } }] });
}

describe('metadata', () => {
  test('defaults: namespace, generation, timestamp, labels, annotations', () => {
    const o = ok(ingress({ defaultBackend: svcBackend }));
    assert.deepEqual(o.metadata, {
      name: 'web',
      namespace: 'default',
      uid: '',
      generation: 1,
      creationTimestamp: '',
      labels: {},
      annotations: {},
    });
    assert.deepEqual(o.origin, origin);
  });

  test('given values are kept; null fields read as absent', () => {
    const o = ok(
      ingress(
        { defaultBackend: svcBackend },
        {
          name: 'web',
          namespace: 'shop',
          uid: 'u-1',
          generation: 7,
          creationTimestamp: '2024-05-01T10:00:00Z',
          labels: { app: 'web' },
          annotations: null,
        },
      ),
    );
    assert.equal(o.metadata.namespace, 'shop');
    assert.equal(o.metadata.uid, 'u-1');
    assert.equal(o.metadata.generation, 7);
    assert.equal(o.metadata.creationTimestamp, '2024-05-01T10:00:00Z');
    assert.deepEqual(o.metadata.labels, { app: 'web' });
    assert.deepEqual(o.metadata.annotations, {});
  });

  test('a Date creationTimestamp (API client) becomes RFC 3339 at second precision', () => {
    const o = ok(
      ingress({ defaultBackend: svcBackend }, { name: 'web', creationTimestamp: new Date('2024-05-01T10:00:00.123Z') }),
    );
    assert.equal(o.metadata.creationTimestamp, '2024-05-01T10:00:00Z');
  });

  test('name is required and must be DNS-like', () => {
    assert.equal(reason(ingress({ defaultBackend: svcBackend }, {})), 'metadata.name: required');
    assert.equal(reason({ apiVersion: 'v1', kind: 'Namespace' }), 'metadata.name: required');
    assert.match(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'Web_1' })),
      /^metadata\.name: must be a lowercase RFC 1123 subdomain/,
    );
    assert.match(reason(ingress({ defaultBackend: svcBackend }, { name: 42 })), /^metadata\.name: must be a string$/);
    assert.match(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'web', namespace: 'Bad.NS' })),
      /^metadata\.namespace: must be a lowercase RFC 1123 label/,
    );
  });

  test('labels and annotations must be string maps', () => {
    assert.equal(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'web', annotations: { 'x/ssl-redirect': false } })),
      'metadata.annotations[x/ssl-redirect]: must be a string',
    );
    assert.equal(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'web', labels: ['a'] })),
      'metadata.labels: must be a map of strings',
    );
  });

  test('generation must be a non-negative integer', () => {
    assert.equal(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'web', generation: '2' })),
      'metadata.generation: must be an integer',
    );
    assert.equal(
      reason(ingress({ defaultBackend: svcBackend }, { name: 'web', generation: -1 })),
      'metadata.generation: must not be negative',
    );
  });
});

describe('kinds and versions', () => {
  test('unknown kinds and other versions of known kinds are ignored', () => {
    assert.deepEqual(decodeObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } }, origin), {
      kind: 'ignored',
      apiVersion: 'apps/v1',
      objectKind: 'Deployment',
    });
    assert.deepEqual(
      decodeObject({ apiVersion: 'extensions/v1beta1', kind: 'Ingress', metadata: { name: 'x' } }, origin),
      {
        kind: 'ignored',
        apiVersion: 'extensions/v1beta1',
        objectKind: 'Ingress',
      },
    );
  });

  test('non-objects and missing kind/apiVersion are invalid', () => {
    assert.deepEqual(decodeObject('text', origin), { kind: 'invalid', ref: undefined, reason: 'must be an object' });
    assert.deepEqual(decodeObject([1], origin), { kind: 'invalid', ref: undefined, reason: 'must be an object' });
    assert.deepEqual(decodeObject({ apiVersion: 'v1', metadata: { name: 'x' } }, origin), {
      kind: 'invalid',
      ref: undefined,
      reason: 'kind: required',
    });
    assert.deepEqual(decodeObject({ kind: 'Service', metadata: { name: 'x', namespace: 'a' } }, origin), {
      kind: 'invalid',
      ref: { kind: 'Service', namespace: 'a', name: 'x' },
      reason: 'apiVersion: required',
    });
  });

  test('invalid results name the object when possible', () => {
    const r = decodeObject(ingress({}, { name: 'web', namespace: 'shop' }), origin);
    assert.deepEqual(r, {
      kind: 'invalid',
      ref: { kind: 'Ingress', namespace: 'shop', name: 'web' },
      reason: 'spec: must set defaultBackend or at least one rule',
    });
  });

  test('objectRefOf', () => {
    assert.deepEqual(objectRefOf({ kind: 'Service', metadata: { name: 's' } }), {
      kind: 'Service',
      namespace: 'default',
      name: 's',
    });
    assert.deepEqual(objectRefOf({ kind: 'IngressClass', metadata: { name: 'c', namespace: 'x' } }), {
      kind: 'IngressClass',
      namespace: '',
      name: 'c',
    });
    assert.equal(objectRefOf({ kind: 'Service', metadata: {} }), undefined);
    assert.equal(objectRefOf({ metadata: { name: 's' } }), undefined);
    assert.equal(objectRefOf(null), undefined);
  });
});

describe('Ingress', () => {
  test('a full Ingress decodes with its fields', () => {
    const o = ok(
      ingress({
        ingressClassName: 'gatehouse',
        defaultBackend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'static' } },
        rules: [
          {
            host: '*.example.com',
            http: {
              paths: [
                { path: '/api', pathType: 'Prefix', backend: svcBackend },
                { path: '/x', pathType: 'Exact', backend: { service: { name: 'x', port: { name: 'http' } } } },
                { pathType: 'ImplementationSpecific', backend: svcBackend },
              ],
            },
          },
          { http: { paths: [{ path: '/', pathType: 'Prefix', backend: svcBackend }] } },
          { host: 'nohttp.example.com' },
        ],
        tls: [{ hosts: ['a.example.com', '*.example.com'], secretName: 'cert' }, {}],
      }),
    ) as Ingress;
    assert.deepEqual(o.spec, {
      ingressClassName: 'gatehouse',
      defaultBackend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'static' } },
      rules: [
        {
          host: '*.example.com',
          paths: [
            { path: '/api', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            { path: '/x', pathType: 'Exact', backend: { service: { name: 'x', port: { name: 'http' } } } },
            {
              path: '',
              pathType: 'ImplementationSpecific',
              backend: { service: { name: 'web', port: { number: 80 } } },
            },
          ],
        },
        {
          host: '',
          paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }],
        },
        { host: 'nohttp.example.com', paths: [] },
      ],
      tls: [
        { hosts: ['a.example.com', '*.example.com'], secretName: 'cert' },
        { hosts: [], secretName: '' },
      ],
    });
    assert.equal('ingressClassName' in (ok(ingress({ defaultBackend: svcBackend })) as Ingress).spec, false);
  });

  test('pathType is required and must be known', () => {
    const spec = {
      rules: [
        {
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: svcBackend },
              { path: '/a', pathType: 'Regex', backend: svcBackend },
            ],
          },
        },
      ],
    };
    assert.equal(
      reason(ingress(spec)),
      'spec.rules[0].http.paths[1].pathType: must be one of Exact, Prefix, ImplementationSpecific',
    );
    assert.equal(
      reason(ingressWithPath({ path: '/', backend: svcBackend })),
      'spec.rules[0].http.paths[0].pathType: required',
    );
  });

  test('paths must be absolute for Exact and Prefix, and free of ambiguous sequences', () => {
    assert.equal(
      reason(ingressWithPath({ path: 'api', pathType: 'Prefix', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must be an absolute path (start with '/') for pathType Prefix",
    );
    assert.equal(
      reason(ingressWithPath({ pathType: 'Exact', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must be an absolute path (start with '/') for pathType Exact",
    );
    assert.equal(
      reason(ingressWithPath({ path: 'api', pathType: 'ImplementationSpecific', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must be an absolute path (start with '/')",
    );
    assert.equal(
      reason(ingressWithPath({ path: '/a//b', pathType: 'Prefix', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must not contain '//'",
    );
    assert.equal(
      reason(ingressWithPath({ path: '/a/%2F', pathType: 'Prefix', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must not contain '%2F'",
    );
    assert.equal(
      reason(ingressWithPath({ path: '/a/..', pathType: 'Exact', backend: svcBackend })),
      "spec.rules[0].http.paths[0].path: must not end with '/..'",
    );
    // ImplementationSpecific paths are not held to the Exact/Prefix rules.
    ok(ingressWithPath({ path: '/a//b', pathType: 'ImplementationSpecific', backend: svcBackend }));
  });

  test('backends: exactly one of service/resource, exactly one of port number/name', () => {
    const p = 'spec.rules[0].http.paths[0].backend';
    assert.equal(
      reason(ingressWithPath({ path: '/', pathType: 'Prefix', backend: {} })),
      `${p}: must set one of service or resource`,
    );
    assert.equal(reason(ingressWithPath({ path: '/', pathType: 'Prefix' })), `${p}: required`);
    assert.equal(
      reason(
        ingressWithPath({
          path: '/',
          pathType: 'Prefix',
          backend: { ...svcBackend, resource: { kind: 'B', name: 'b' } },
        }),
      ),
      `${p}: must set exactly one of service or resource`,
    );
    assert.equal(
      reason(
        ingressWithPath({
          path: '/',
          pathType: 'Prefix',
          backend: { service: { name: 'web', port: { number: 80, name: 'http' } } },
        }),
      ),
      `${p}.service.port: must set exactly one of number or name`,
    );
    assert.equal(
      reason(ingressWithPath({ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: {} } } })),
      `${p}.service.port: must set one of number or name`,
    );
    assert.equal(
      reason(ingressWithPath({ path: '/', pathType: 'Prefix', backend: { service: { name: 'web' } } })),
      `${p}.service.port: required`,
    );
    assert.equal(
      reason(ingressWithPath({ path: '/', pathType: 'Prefix', backend: { service: { port: { number: 80 } } } })),
      `${p}.service.name: required`,
    );
    assert.equal(
      reason(
        ingressWithPath({ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 0 } } } }),
      ),
      `${p}.service.port.number: must be between 1 and 65535`,
    );
    assert.equal(
      reason(
        ingressWithPath({
          path: '/',
          pathType: 'Prefix',
          backend: { service: { name: 'web', port: { number: '80' } } },
        }),
      ),
      `${p}.service.port.number: must be an integer`,
    );
    assert.match(
      reason(
        ingressWithPath({
          path: '/',
          pathType: 'Prefix',
          backend: { service: { name: 'web', port: { name: 'http--x' } } },
        }),
      ),
      /service\.port\.name: must be an IANA service name/,
    );
    assert.equal(
      reason(ingress({ defaultBackend: { resource: { name: 'b' } } })),
      'spec.defaultBackend.resource.kind: required',
    );
  });

  test('hosts: DNS names with an optional leading wildcard, never IPs', () => {
    assert.equal(
      reason(ingress({ rules: [{ host: '10.0.0.1' }] })),
      'spec.rules[0].host: must be a DNS name, not an IP address',
    );
    assert.match(
      reason(ingress({ rules: [{ host: 'a.*.example.com' }] })),
      /^spec\.rules\[0\]\.host: must be a lowercase/,
    );
    assert.match(reason(ingress({ rules: [{ host: 'Example.com' }] })), /^spec\.rules\[0\]\.host: must be a lowercase/);
    assert.match(
      reason(ingress({ defaultBackend: svcBackend, tls: [{ hosts: ['ok.example.com', '*'] }] })),
      /^spec\.tls\[0\]\.hosts\[1\]: must be a lowercase/,
    );
    assert.equal(
      reason(ingress({ defaultBackend: svcBackend, tls: [{ hosts: ['::1'] }] })),
      'spec.tls[0].hosts[0]: must be a DNS name, not an IP address',
    );
  });

  test('an Ingress needs rules or a defaultBackend; http needs paths', () => {
    assert.equal(reason(ingress({})), 'spec: must set defaultBackend or at least one rule');
    assert.equal(reason(ingress({ rules: [] })), 'spec: must set defaultBackend or at least one rule');
    assert.equal(reason(ingress(undefined)), 'spec: required');
    assert.equal(reason(ingress({ rules: [{ http: {} }] })), 'spec.rules[0].http.paths: required');
    assert.equal(reason(ingress({ rules: [{ http: { paths: [] } }] })), 'spec.rules[0].http.paths: must not be empty');
    assert.equal(reason(ingress({ rules: 'x' })), 'spec.rules: must be a list');
    assert.equal(reason(ingress({ rules: [7] })), 'spec.rules[0]: must be an object');
  });

  test('every problem is reported, in field order', () => {
    const r = reason(
      ingress(
        {
          rules: [
            {
              host: '1.2.3.4',
              http: {
                paths: [
                  { path: 'x', pathType: 'Exact', backend: svcBackend },
                  { path: '/', backend: svcBackend },
                ],
              },
            },
          ],
        },
        { name: 'web' },
      ),
    );
    assert.deepEqual(r.split('; '), [
      'spec.rules[0].host: must be a DNS name, not an IP address',
      "spec.rules[0].http.paths[0].path: must be an absolute path (start with '/') for pathType Exact",
      'spec.rules[0].http.paths[1].pathType: required',
    ]);
  });
});

describe('IngressClass and Namespace', () => {
  test('IngressClass is cluster-scoped and needs a controller', () => {
    const o = ok({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'gatehouse', namespace: 'ignored' },
      spec: { controller: 'gatehouse.dev/ingress-controller' },
    }) as IngressClass;
    assert.equal(o.metadata.namespace, '');
    assert.equal(o.spec.controller, 'gatehouse.dev/ingress-controller');
    assert.equal(
      reason({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'c' }, spec: {} }),
      'spec.controller: required',
    );
  });

  test('Namespace names are RFC 1123 labels', () => {
    const o = ok({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }) as Namespace;
    assert.equal(o.metadata.namespace, '');
    assert.match(
      reason({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } }),
      /^metadata\.name: must be a lowercase RFC 1123 label/,
    );
  });
});

function service(spec: unknown, name = 'web'): unknown {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec };
}

describe('Service', () => {
  test('defaults: type, protocol, port name, targetPort', () => {
    const o = ok(service({ clusterIP: '127.0.10.1', ports: [{ port: 80 }] })) as Service;
    assert.deepEqual(o.spec, {
      type: 'ClusterIP',
      clusterIP: '127.0.10.1',
      ports: [{ name: '', port: 80, protocol: 'TCP', targetPort: 80 }],
    });
  });

  test('ports with names, target ports and app protocols', () => {
    const o = ok(
      service({
        type: 'LoadBalancer',
        ports: [
          { name: 'http', port: 80, targetPort: 'web', appProtocol: 'http' },
          { name: 'grpc', port: 9000, targetPort: 9001, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      }),
    ) as Service;
    assert.deepEqual(o.spec.ports, [
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 'web', appProtocol: 'http' },
      { name: 'grpc', port: 9000, protocol: 'TCP', targetPort: 9001, appProtocol: 'kubernetes.io/h2c' },
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
    ]);
    assert.equal(o.spec.type, 'LoadBalancer');
  });

  test('ExternalName and headless Services need no ports', () => {
    const e = ok(service({ type: 'ExternalName', externalName: 'api.example.com.' })) as Service;
    assert.deepEqual(e.spec, { type: 'ExternalName', externalName: 'api.example.com.', ports: [] });
    const h = ok(service({ clusterIP: 'None' })) as Service;
    assert.equal(h.spec.clusterIP, 'None');
    assert.equal(reason(service({ type: 'ExternalName' })), 'spec.externalName: required for type ExternalName');
  });

  test('rejections', () => {
    assert.equal(reason(service({})), 'spec.ports: required');
    assert.equal(reason(service({ ports: [{ port: 0 }] })), 'spec.ports[0].port: must be between 1 and 65535');
    assert.equal(reason(service({ ports: [{ port: 65536 }] })), 'spec.ports[0].port: must be between 1 and 65535');
    assert.equal(reason(service({ ports: [{ name: 'a' }] })), 'spec.ports[0].port: required');
    assert.equal(
      reason(service({ ports: [{ port: 80, protocol: 'HTTP' }] })),
      'spec.ports[0].protocol: must be one of TCP, UDP, SCTP',
    );
    assert.equal(
      reason(service({ type: 'Internal', ports: [{ port: 80 }] })),
      'spec.type: must be one of ClusterIP, NodePort, LoadBalancer, ExternalName',
    );
    assert.equal(
      reason(service({ ports: [{ name: 'a', port: 80 }, { port: 81 }] })),
      'spec.ports[1].name: required when there is more than one port',
    );
    assert.equal(
      reason(
        service({
          ports: [
            { name: 'a', port: 80 },
            { name: 'a', port: 81 },
          ],
        }),
      ),
      "spec.ports[1].name: duplicate port name 'a'",
    );
    assert.equal(
      reason(
        service({
          ports: [
            { name: 'a', port: 80 },
            { name: 'b', port: 80 },
          ],
        }),
      ),
      'spec.ports[1]: duplicate port 80 with protocol TCP',
    );
    assert.match(
      reason(service({ ports: [{ port: 80, targetPort: '8080' }] })),
      /^spec\.ports\[0\]\.targetPort: must be a port number or an IANA/,
    );
    assert.equal(
      reason(service({ ports: [{ port: 80, targetPort: 70000 }] })),
      'spec.ports[0].targetPort: must be between 1 and 65535',
    );
    assert.equal(
      reason(service({ clusterIP: 'x', ports: [{ port: 80 }] })),
      "spec.clusterIP: must be an IP address or 'None'",
    );
    assert.match(
      reason(service({ ports: [{ port: 80 }] }, 'web.app')),
      /^metadata\.name: must be a lowercase RFC 1035 label/,
    );
    assert.match(
      reason(service({ ports: [{ port: 80 }] }, '1web')),
      /^metadata\.name: must be a lowercase RFC 1035 label/,
    );
  });
});

function slice(body: Record<string, unknown>): unknown {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
    ...body,
  };
}

describe('EndpointSlice', () => {
  test('endpoints with tri-state conditions and ports', () => {
    const o = ok(
      slice({
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['127.0.20.1'], conditions: { ready: true, serving: true, terminating: false } },
          { addresses: ['127.0.20.2'], conditions: { ready: false } },
          { addresses: ['127.0.20.3'] },
        ],
        ports: [
          { name: 'http', port: 8080, appProtocol: 'http' },
          { port: 9090, protocol: 'UDP' },
        ],
      }),
    ) as EndpointSlice;
    assert.equal(o.addressType, 'IPv4');
    assert.deepEqual(o.endpoints, [
      { addresses: ['127.0.20.1'], ready: true, serving: true, terminating: false },
      { addresses: ['127.0.20.2'], ready: false, serving: null, terminating: null },
      { addresses: ['127.0.20.3'], ready: null, serving: null, terminating: null },
    ]);
    assert.deepEqual(o.ports, [
      { name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' },
      { name: '', port: 9090, protocol: 'UDP' },
    ]);
    assert.deepEqual((ok(slice({ addressType: 'FQDN' })) as EndpointSlice).endpoints, []);
  });

  test('rejections', () => {
    assert.equal(reason(slice({})), 'addressType: required');
    assert.equal(reason(slice({ addressType: 'IPv5' })), 'addressType: must be one of IPv4, IPv6, FQDN');
    assert.equal(
      reason(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['::1'] }] })),
      'endpoints[0].addresses[0]: must be an IPv4 address',
    );
    assert.equal(
      reason(slice({ addressType: 'IPv6', endpoints: [{ addresses: ['10.0.0.1'] }] })),
      'endpoints[0].addresses[0]: must be an IPv6 address',
    );
    assert.equal(reason(slice({ addressType: 'IPv4', endpoints: [{}] })), 'endpoints[0].addresses: required');
    assert.equal(
      reason(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: 'yes' } }] })),
      'endpoints[0].conditions.ready: must be true or false',
    );
    assert.equal(reason(slice({ addressType: 'IPv4', ports: [{ name: 'a' }] })), 'ports[0].port: required');
    assert.equal(
      reason(slice({ addressType: 'IPv4', ports: [{ port: 1 }, { port: 2 }] })),
      "ports[1].name: duplicate port name ''",
    );
  });
});

function configMap(body: Record<string, unknown>): unknown {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ca', namespace: 'shop' }, ...body };
}

describe('ConfigMap', () => {
  test('data is kept as written; binaryData is checked but not kept', () => {
    const o = ok(
      configMap({ data: { 'ca.crt': 'PEM', empty: null }, binaryData: { blob: Buffer.from('x').toString('base64') } }),
    ) as ConfigMap;
    assert.equal(o.kind, 'ConfigMap');
    assert.equal(o.metadata.namespace, 'shop');
    assert.deepEqual(o.data, { 'ca.crt': 'PEM', empty: '' });
    assert.deepEqual((ok(configMap({})) as ConfigMap).data, {});
  });

  test('rejections', () => {
    assert.equal(reason(configMap({ data: { a: 12 } })), 'data[a]: must be a string');
    assert.equal(reason(configMap({ data: 'x' })), 'data: must be a map of strings');
    assert.match(reason(configMap({ data: { 'a/b': 'x' } })), /^data\[a\/b\]: key must consist of/);
    assert.equal(reason(configMap({ binaryData: { a: 'not base64!' } })), 'binaryData[a]: must be valid base64');
    assert.equal(
      reason(configMap({ data: { a: 'x' }, binaryData: { a: 'eA==' } })),
      'binaryData[a]: must not repeat a key of data',
    );
  });
});

function secret(body: Record<string, unknown>): unknown {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: 'shop' }, ...body };
}

describe('Secret', () => {
  test('data is base64-decoded and stringData merged over it', () => {
    const o = ok(
      secret({
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': Buffer.from('CERT').toString('base64'),
          'tls.key': Buffer.from('KEY-OLD').toString('base64'),
          folded: 'aGVs\nbG8=\n',
          empty: null,
        },
        stringData: { 'tls.key': 'KEY', extra: 'x' },
      }),
    ) as Secret;
    assert.equal(o.type, 'kubernetes.io/tls');
    assert.deepEqual(o.data, { 'tls.crt': 'CERT', 'tls.key': 'KEY', folded: 'hello', empty: '', extra: 'x' });
    assert.equal((ok(secret({})) as Secret).type, 'Opaque');
  });

  test('rejections', () => {
    assert.equal(reason(secret({ data: { a: 'not base64!' } })), 'data[a]: must be valid base64');
    assert.equal(reason(secret({ data: { a: 'abc' } })), 'data[a]: must be valid base64');
    assert.equal(reason(secret({ data: { a: 12 } })), 'data[a]: must be a base64 string');
    assert.equal(reason(secret({ stringData: { a: 12 } })), 'stringData[a]: must be a string');
    assert.match(reason(secret({ stringData: { 'a/b': 'x' } })), /^stringData\[a\/b\]: key must consist of/);
    assert.equal(
      reason(secret({ type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'x' } })),
      'data[tls.key]: required for type kubernetes.io/tls',
    );
  });
});
