import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { DecodeResult } from './decode.ts';
import { decodeObject, objectRefOf } from './decode.ts';
import { parseGatewayDuration } from './decode-gatewayapi.ts';
import type {
  Gateway,
  GatewayClass,
  GatewayListener,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteRule,
  KubeObject,
  ReferenceGrant,
} from './objects.ts';

const origin = { file: 'gw.yaml', document: 0 };
const GW = 'gateway.networking.k8s.io/v1';

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

// ---------------------------------------------------------------- builders

function gatewayClass(spec: unknown, name = 'gatehouse'): unknown {
  return { apiVersion: GW, kind: 'GatewayClass', metadata: { name }, spec };
}

function gateway(listeners: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'infra' },
    spec: { gatewayClassName: 'gatehouse', listeners, ...extra },
  };
}

function listener(fields: Record<string, unknown>): unknown {
  return gateway([{ name: 'l', port: 80, protocol: 'HTTP', ...fields }]);
}

const httpsTLS = { certificateRefs: [{ name: 'cert' }] };

function route(spec: unknown, metadata: Record<string, unknown> = { name: 'web', namespace: 'shop' }): unknown {
  return { apiVersion: GW, kind: 'HTTPRoute', metadata, spec };
}

const svc = { name: 'web', port: 80 };

function withRule(rule: Record<string, unknown>): unknown {
  return route({ parentRefs: [{ name: 'gw' }], rules: [rule] });
}

function withMatch(match: unknown): unknown {
  return withRule({ matches: [match], backendRefs: [svc] });
}

function withFilter(filter: unknown, backendRefs: unknown[] = [svc]): unknown {
  return withRule({ filters: [filter], backendRefs });
}

function grant(spec: unknown): unknown {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: 'allow', namespace: 'backends' },
    spec,
  };
}

function asGateway(raw: unknown): Gateway {
  const o = ok(raw);
  assert.equal(o.kind, 'Gateway');
  return o as Gateway;
}

function asRoute(raw: unknown): HTTPRoute {
  const o = ok(raw);
  assert.equal(o.kind, 'HTTPRoute');
  return o as HTTPRoute;
}

function firstListener(raw: unknown): GatewayListener {
  const l = asGateway(raw).spec.listeners[0];
  assert.ok(l);
  return l;
}

function firstRule(raw: unknown): HTTPRouteRule {
  const r = asRoute(raw).spec.rules[0];
  assert.ok(r);
  return r;
}

function firstFilter(raw: unknown): HTTPRouteFilter {
  const f = firstRule(raw).filters[0];
  assert.ok(f);
  return f;
}

function times<T>(n: number, make: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

function yamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => {
    if (Array.isArray(d)) throw new Error('unexpected empty stream');
    return d.toJS();
  });
}

// ---------------------------------------------------------------- tests

describe('versions and common behaviour', () => {
  test('v1 and v1beta1 are read for all four kinds; other versions are ignored', () => {
    const objects = [
      gatewayClass({ controllerName: 'gatehouse.dev/gateway-controller' }),
      listener({}),
      route({}),
      grant({ from: [{ group: '', kind: 'Gateway', namespace: 'infra' }], to: [{ group: '', kind: 'Secret' }] }),
    ] as Record<string, unknown>[];
    for (const o of objects) {
      for (const v of ['v1', 'v1beta1']) {
        assert.equal(ok({ ...o, apiVersion: `gateway.networking.k8s.io/${v}` }).kind, o['kind']);
      }
      assert.deepEqual(decodeObject({ ...o, apiVersion: 'gateway.networking.k8s.io/v1alpha2' }, origin), {
        kind: 'ignored',
        apiVersion: 'gateway.networking.k8s.io/v1alpha2',
        objectKind: o['kind'],
      });
    }
  });

  test('status and unknown fields are ignored', () => {
    const plain = route({ parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [svc] }] });
    const noisy = {
      ...(plain as Record<string, unknown>),
      status: { parents: [{ parentRef: { name: 'gw' }, controllerName: 'x/y', conditions: 'not even a list' }] },
      spec: {
        parentRefs: [{ name: 'gw', futureField: 1 }],
        rules: [{ backendRefs: [{ ...svc, appProtocolHint: 'h2' }], retry: { attempts: 2 } }],
        useDefaultGateways: 'All',
      },
    };
    assert.deepEqual(ok(noisy), ok(plain));
  });

  test('GatewayClass is cluster-scoped; the others default to the default namespace', () => {
    const gc = ok({
      apiVersion: GW,
      kind: 'GatewayClass',
      metadata: { name: 'gatehouse', namespace: 'ignored' },
      spec: { controllerName: 'gatehouse.dev/gateway-controller' },
    });
    assert.equal(gc.metadata.namespace, '');
    assert.equal(ok(route({}, { name: 'web' })).metadata.namespace, 'default');
    assert.deepEqual(objectRefOf(gatewayClass({}, 'gc')), { kind: 'GatewayClass', namespace: '', name: 'gc' });
    const r = decodeObject(gatewayClass({}, 'gc'), origin);
    assert.deepEqual(r, {
      kind: 'invalid',
      ref: { kind: 'GatewayClass', namespace: '', name: 'gc' },
      reason: 'spec.controllerName: required',
    });
  });

  test('object names must be RFC 1123 subdomains; spec is required', () => {
    assert.match(reason(route({}, { name: 'Web_1' })), /^metadata\.name: must be a lowercase RFC 1123 subdomain/);
    assert.equal(reason({ apiVersion: GW, kind: 'HTTPRoute', metadata: { name: 'r' } }), 'spec: required');
    assert.equal(reason({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'g' } }), 'spec: required');
    assert.equal(reason({ apiVersion: GW, kind: 'GatewayClass', metadata: { name: 'c' } }), 'spec: required');
  });

  test('every problem is reported, each with its field path', () => {
    assert.equal(
      reason(
        route({
          parentRefs: [{}],
          hostnames: ['Bad'],
          rules: [{ matches: [{ path: { value: 'x' } }], backendRefs: [{ name: 'a' }] }],
        }),
      ),
      [
        'spec.parentRefs[0].name: required',
        "spec.hostnames[0]: must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', each part starting and ending alphanumeric, at most 253), optionally prefixed with '*.'",
        "spec.rules[0].matches[0].path.value: must start with '/' for type PathPrefix",
        'spec.rules[0].backendRefs[0].port: required when the backend is a Service',
      ].join('; '),
    );
  });
});

describe('GatewayClass', () => {
  test('controllerName is kept', () => {
    const gc = ok(
      gatewayClass({ controllerName: 'gatehouse.dev/gateway-controller', description: 'x' }),
    ) as GatewayClass;
    assert.deepEqual(gc.spec, { controllerName: 'gatehouse.dev/gateway-controller' });
  });

  test('controllerName must be a domain-prefixed path', () => {
    for (const bad of ['gatehouse', 'example.com', 'Example.com/x', 'example.com/', 'example.com/a b']) {
      assert.match(
        reason(gatewayClass({ controllerName: bad })),
        /^spec\.controllerName: must be a domain-prefixed path/,
        bad,
      );
    }
    assert.equal(reason(gatewayClass({ controllerName: '' })), 'spec.controllerName: required');
    assert.equal(reason(gatewayClass({ controllerName: 7 })), 'spec.controllerName: must be a string');
    assert.match(
      reason(gatewayClass({ controllerName: `example.com/${'a'.repeat(250)}` })),
      /must be a domain-prefixed path/,
    );
  });
});

describe('Gateway', () => {
  test('listener defaults: allowedRoutes, tls mode and certificateRef group/kind', () => {
    const g = asGateway(
      gateway([
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'https', port: 443, protocol: 'HTTPS', hostname: '*.example.com', tls: httpsTLS },
      ]),
    );
    assert.deepEqual(g.spec, {
      gatewayClassName: 'gatehouse',
      listeners: [
        {
          name: 'http',
          port: 80,
          protocol: 'HTTP',
          allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] },
        },
        {
          name: 'https',
          hostname: '*.example.com',
          port: 443,
          protocol: 'HTTPS',
          tls: { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: 'cert' }] },
          allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] },
        },
      ],
    });
    assert.equal('hostname' in (g.spec.listeners[0] ?? {}), false);
    assert.equal('tls' in (g.spec.listeners[0] ?? {}), false);
    assert.deepEqual(g.metadata.namespace, 'infra');
  });

  test('explicit values are kept', () => {
    const l = firstListener(
      listener({
        port: 8443,
        protocol: 'HTTPS',
        tls: {
          mode: 'Terminate',
          certificateRefs: [{ group: '', kind: 'Secret', name: 'c', namespace: 'certs' }],
          options: { 'example.com/min-version': '1.3' },
        },
        allowedRoutes: {
          namespaces: { from: 'All' },
          kinds: [{ kind: 'HTTPRoute' }, { group: 'example.com', kind: 'CustomRoute' }],
        },
      }),
    );
    assert.deepEqual(l.tls, {
      mode: 'Terminate',
      certificateRefs: [{ group: '', kind: 'Secret', name: 'c', namespace: 'certs' }],
    });
    assert.deepEqual(l.allowedRoutes, {
      namespaces: { from: 'All' },
      kinds: [
        { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
        { group: 'example.com', kind: 'CustomRoute' },
      ],
    });
  });

  test('gatewayClassName and listeners are required', () => {
    assert.equal(
      reason({ apiVersion: GW, kind: 'Gateway', metadata: { name: 'g' }, spec: {} }),
      'spec.gatewayClassName: required; spec.listeners: required',
    );
    assert.equal(reason(gateway([])), 'spec.listeners: must not be empty');
    assert.equal(
      reason(gateway(times(65, (i) => ({ name: `l${i}`, port: 1000 + i, protocol: 'HTTP' })))),
      'spec.listeners: must have at most 64 items',
    );
    assert.equal(reason(gateway(['http'])), 'spec.listeners[0]: must be an object');
  });

  test('listener name: required, an RFC 1123 subdomain, unique', () => {
    assert.equal(reason(gateway([{ port: 80, protocol: 'HTTP' }])), 'spec.listeners[0].name: required');
    assert.match(reason(listener({ name: 'HTTP_1' })), /^spec\.listeners\[0\]\.name: must be a lowercase RFC 1123/);
    assert.equal(
      reason(
        gateway([
          { name: 'web', port: 80, protocol: 'HTTP' },
          { name: 'web', port: 81, protocol: 'HTTP' },
        ]),
      ),
      "spec.listeners[1].name: duplicate listener name 'web' (also spec.listeners[0])",
    );
  });

  test('listener port: required, 1-65535', () => {
    assert.equal(reason(gateway([{ name: 'l', protocol: 'HTTP' }])), 'spec.listeners[0].port: required');
    assert.equal(reason(listener({ port: 0 })), 'spec.listeners[0].port: must be between 1 and 65535');
    assert.equal(reason(listener({ port: 65536 })), 'spec.listeners[0].port: must be between 1 and 65535');
    assert.equal(reason(listener({ port: '80' })), 'spec.listeners[0].port: must be an integer');
  });

  test('listener protocol: required, a name or a domain-prefixed path', () => {
    assert.equal(reason(gateway([{ name: 'l', port: 80 }])), 'spec.listeners[0].protocol: required');
    for (const good of ['HTTP', 'https', 'h2c', 'example.com/custom']) firstListener(listener({ protocol: good }));
    for (const bad of ['HTTP/2', 'example.com', '-tcp', 'Example.com/x', 'a b', 'x'.repeat(256)]) {
      assert.match(reason(listener({ protocol: bad })), /^spec\.listeners\[0\]\.protocol: must be HTTP, HTTPS/, bad);
    }
  });

  test('listener hostname: a lower-case DNS name or a *. wildcard, never an IP', () => {
    assert.equal(firstListener(listener({ hostname: 'www.example.com' })).hostname, 'www.example.com');
    assert.equal(firstListener(listener({ hostname: '*.example.com' })).hostname, '*.example.com');
    for (const bad of ['WWW.example.com', '*', '*.', 'foo.*.com', '**.example.com', 'a_b.example.com', 'x.']) {
      assert.match(
        reason(listener({ hostname: bad })),
        /^spec\.listeners\[0\]\.hostname: must be a lowercase RFC 1123 subdomain .*, optionally prefixed with '\*\.'$/,
        bad,
      );
    }
    assert.equal(
      reason(listener({ hostname: '10.0.0.1' })),
      'spec.listeners[0].hostname: must be a DNS name, not an IP address',
    );
    assert.equal(
      reason(listener({ hostname: '::1' })),
      'spec.listeners[0].hostname: must be a DNS name, not an IP address',
    );
    assert.equal(reason(listener({ hostname: '' })), 'spec.listeners[0].hostname: must not be empty');
  });

  test('the combination of port, protocol and hostname is unique', () => {
    assert.equal(
      reason(
        gateway([
          { name: 'a', port: 80, protocol: 'HTTP' },
          { name: 'b', port: 80, protocol: 'HTTP' },
        ]),
      ),
      'spec.listeners[1]: duplicate port 80, protocol HTTP and no hostname (also spec.listeners[0])',
    );
    assert.equal(
      reason(
        gateway([
          { name: 'a', port: 80, protocol: 'HTTP', hostname: 'a.example.com' },
          { name: 'b', port: 80, protocol: 'HTTP', hostname: 'a.example.com' },
        ]),
      ),
      'spec.listeners[1]: duplicate port 80, protocol HTTP and hostname a.example.com (also spec.listeners[0])',
    );
    asGateway(
      gateway([
        { name: 'a', port: 80, protocol: 'HTTP' },
        { name: 'b', port: 80, protocol: 'HTTP', hostname: 'a.example.com' },
        { name: 'c', port: 80, protocol: 'HTTP', hostname: 'b.example.com' },
        { name: 'd', port: 81, protocol: 'HTTP' },
      ]),
    );
  });

  test('tls must not be set for HTTP, TCP or UDP (any case)', () => {
    for (const protocol of ['HTTP', 'tcp', 'Udp']) {
      assert.equal(
        reason(listener({ protocol, tls: httpsTLS })),
        `spec.listeners[0].tls: must not be set for protocol ${protocol}`,
      );
    }
  });

  test('HTTPS terminates TLS; TLS needs a tls block; TCP and UDP take no hostname', () => {
    assert.equal(
      reason(listener({ protocol: 'HTTPS', tls: { mode: 'Passthrough' } })),
      'spec.listeners[0].tls.mode: must be Terminate for protocol HTTPS',
    );
    assert.equal(
      reason(listener({ protocol: 'https', tls: { mode: 'Passthrough' } })),
      'spec.listeners[0].tls.mode: must be Terminate for protocol https',
    );
    assert.equal(reason(listener({ protocol: 'TLS' })), 'spec.listeners[0].tls: required for protocol TLS');
    assert.deepEqual(firstListener(listener({ protocol: 'TLS', tls: { mode: 'Passthrough' } })).tls, {
      mode: 'Passthrough',
      certificateRefs: [],
    });
    assert.equal(
      reason(listener({ protocol: 'TCP', hostname: 'a.example.com' })),
      'spec.listeners[0].hostname: must not be set for protocol TCP',
    );
    // The CRD leaves a missing tls block on HTTPS to the controller's status, not to validation.
    assert.equal(firstListener(listener({ protocol: 'HTTPS' })).tls, undefined);
  });

  test('Terminate needs certificateRefs (or options)', () => {
    assert.equal(
      reason(listener({ protocol: 'HTTPS', tls: {} })),
      'spec.listeners[0].tls.certificateRefs: must not be empty when mode is Terminate (unless options are set)',
    );
    assert.equal(
      reason(listener({ protocol: 'HTTPS', tls: { certificateRefs: [] } })),
      'spec.listeners[0].tls.certificateRefs: must not be empty when mode is Terminate (unless options are set)',
    );
    assert.deepEqual(
      firstListener(listener({ protocol: 'HTTPS', tls: { options: { 'example.com/cert': 'x' } } })).tls,
      {
        mode: 'Terminate',
        certificateRefs: [],
      },
    );
  });

  test('tls fields are checked', () => {
    const tlsListener = (tls: unknown) => listener({ protocol: 'HTTPS', tls });
    assert.equal(
      reason(tlsListener({ mode: 'Reencrypt', certificateRefs: [{ name: 'c' }] })),
      'spec.listeners[0].tls.mode: must be one of Terminate, Passthrough',
    );
    assert.equal(
      reason(tlsListener({ certificateRefs: [{}] })),
      'spec.listeners[0].tls.certificateRefs[0].name: required',
    );
    assert.match(
      reason(tlsListener({ certificateRefs: [{ name: 'c', group: 'Core' }] })),
      /^spec\.listeners\[0\]\.tls\.certificateRefs\[0\]\.group: must be empty \(the core group\) or a lowercase RFC 1123 subdomain/,
    );
    assert.equal(
      reason(tlsListener({ certificateRefs: [{ name: 'c', kind: '' }] })),
      'spec.listeners[0].tls.certificateRefs[0].kind: must not be empty',
    );
    assert.match(
      reason(tlsListener({ certificateRefs: [{ name: 'c', kind: 'my/kind' }] })),
      /^spec\.listeners\[0\]\.tls\.certificateRefs\[0\]\.kind: must be a kind/,
    );
    assert.match(
      reason(tlsListener({ certificateRefs: [{ name: 'c', namespace: 'Certs' }] })),
      /^spec\.listeners\[0\]\.tls\.certificateRefs\[0\]\.namespace: must be a lowercase RFC 1123 label/,
    );
    assert.equal(
      reason(tlsListener({ certificateRefs: times(65, (i) => ({ name: `c${i}` })) })),
      'spec.listeners[0].tls.certificateRefs: must have at most 64 items',
    );
  });

  test('allowedRoutes: from is an enum; Selector needs a selector, which is decoded', () => {
    assert.equal(
      reason(listener({ allowedRoutes: { namespaces: { from: 'None' } } })),
      'spec.listeners[0].allowedRoutes.namespaces.from: must be one of Same, All, Selector',
    );
    assert.equal(
      reason(listener({ allowedRoutes: { namespaces: { from: 'Selector' } } })),
      'spec.listeners[0].allowedRoutes.namespaces.selector: required when from is Selector',
    );
    const l = firstListener(
      listener({
        allowedRoutes: {
          namespaces: {
            from: 'Selector',
            selector: {
              matchLabels: { team: 'shop' },
              matchExpressions: [
                { key: 'env', operator: 'In', values: ['prod', 'staging'] },
                { key: 'legacy', operator: 'DoesNotExist' },
              ],
            },
          },
        },
      }),
    );
    assert.deepEqual(l.allowedRoutes.namespaces, {
      from: 'Selector',
      selector: {
        matchLabels: { team: 'shop' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'legacy', operator: 'DoesNotExist', values: [] },
        ],
      },
    });
    // A selector only applies to from: Selector, so it is not carried elsewhere.
    const all = firstListener(
      listener({ allowedRoutes: { namespaces: { from: 'All', selector: { matchLabels: { a: 'b' } } } } }),
    );
    assert.deepEqual(all.allowedRoutes.namespaces, { from: 'All' });
    // An empty selector selects every namespace, and is valid.
    assert.deepEqual(
      firstListener(listener({ allowedRoutes: { namespaces: { from: 'Selector', selector: {} } } })).allowedRoutes
        .namespaces,
      { from: 'Selector', selector: { matchLabels: {}, matchExpressions: [] } },
    );
  });

  test('label selector expressions are checked', () => {
    const withExpr = (e: unknown) =>
      listener({ allowedRoutes: { namespaces: { from: 'Selector', selector: { matchExpressions: [e] } } } });
    const p = 'spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[0]';
    assert.equal(
      reason(withExpr({ key: 'a', operator: 'Equals', values: ['x'] })),
      `${p}.operator: must be one of In, NotIn, Exists, DoesNotExist`,
    );
    assert.equal(reason(withExpr({ key: 'a', operator: 'In' })), `${p}.values: must not be empty for operator In`);
    assert.equal(
      reason(withExpr({ key: 'a', operator: 'Exists', values: ['x'] })),
      `${p}.values: must be empty for operator Exists`,
    );
    assert.equal(reason(withExpr({ operator: 'Exists' })), `${p}.key: required`);
    assert.equal(
      reason(listener({ allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { a: 1 } } } } })),
      'spec.listeners[0].allowedRoutes.namespaces.selector.matchLabels[a]: must be a string',
    );
  });

  test('allowedRoutes kinds: kind required, at most 8', () => {
    assert.equal(
      reason(listener({ allowedRoutes: { kinds: [{ group: 'gateway.networking.k8s.io' }] } })),
      'spec.listeners[0].allowedRoutes.kinds[0].kind: required',
    );
    assert.equal(
      reason(listener({ allowedRoutes: { kinds: times(9, () => ({ kind: 'HTTPRoute' })) } })),
      'spec.listeners[0].allowedRoutes.kinds: must have at most 8 items',
    );
  });
});

describe('HTTPRoute defaults', () => {
  test('an empty spec gets one rule matching every path', () => {
    const r = asRoute(route({}));
    assert.deepEqual(r.spec, {
      parentRefs: [],
      hostnames: [],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
          filters: [],
          backendRefs: [],
        },
      ],
    });
  });

  test('parentRefs default to a Gateway in the route namespace', () => {
    const r = asRoute(
      route({
        parentRefs: [
          { name: 'gw' },
          { name: 'gw2', namespace: 'infra', sectionName: 'https', port: 443 },
          { group: '', kind: 'Service', name: 'mesh-svc' },
        ],
      }),
    );
    assert.deepEqual(r.spec.parentRefs, [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' },
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        namespace: 'infra',
        name: 'gw2',
        sectionName: 'https',
        port: 443,
      },
      { group: '', kind: 'Service', name: 'mesh-svc' },
    ]);
  });

  test('a rule without matches matches every path; a match without path matches PathPrefix /', () => {
    assert.deepEqual(firstRule(withRule({ backendRefs: [svc] })).matches, [
      { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    ]);
    assert.deepEqual(firstRule(withRule({ matches: [], backendRefs: [svc] })).matches, [
      { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    ]);
    assert.deepEqual(firstRule(withMatch({ method: 'GET' })).matches, [
      { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [], method: 'GET' },
    ]);
    assert.deepEqual(firstRule(withMatch({ path: { value: '/api' } })).matches[0]?.path, {
      type: 'PathPrefix',
      value: '/api',
    });
    assert.deepEqual(firstRule(withMatch({ path: { type: 'Exact' } })).matches[0]?.path, { type: 'Exact', value: '/' });
  });

  test('header and query parameter matches default to Exact', () => {
    const m = firstRule(
      withMatch({
        headers: [
          { name: 'x-env', value: 'canary' },
          { type: 'RegularExpression', name: 'x-v', value: 'v[0-9]+' },
        ],
        queryParams: [{ name: 'debug', value: '1' }],
      }),
    ).matches[0];
    assert.deepEqual(m?.headers, [
      { type: 'Exact', name: 'x-env', value: 'canary' },
      { type: 'RegularExpression', name: 'x-v', value: 'v[0-9]+' },
    ]);
    assert.deepEqual(m?.queryParams, [{ type: 'Exact', name: 'debug', value: '1' }]);
  });

  test('backendRefs default to a core Service with weight 1', () => {
    assert.deepEqual(
      firstRule(
        withRule({
          backendRefs: [
            { name: 'a', port: 80 },
            { name: 'b', namespace: 'other', port: 8080, weight: 0 },
            { group: 'example.com', kind: 'Bucket', name: 'c' },
          ],
        }),
      ).backendRefs,
      [
        { group: '', kind: 'Service', name: 'a', port: 80, weight: 1, filters: [] },
        { group: '', kind: 'Service', name: 'b', namespace: 'other', port: 8080, weight: 0, filters: [] },
        { group: 'example.com', kind: 'Bucket', name: 'c', weight: 1, filters: [] },
      ],
    );
  });

  test('filter defaults: redirect status 302, mirror backend Service, fraction denominator 100', () => {
    assert.deepEqual(firstFilter(withFilter({ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }, [])), {
      type: 'RequestRedirect',
      requestRedirect: { scheme: 'https', statusCode: 302 },
    });
    assert.deepEqual(
      firstFilter(
        withFilter({
          type: 'RequestMirror',
          requestMirror: { backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 5 } },
        }),
      ),
      {
        type: 'RequestMirror',
        requestMirror: {
          backendRef: { group: '', kind: 'Service', name: 'shadow', port: 80 },
          fraction: { numerator: 5, denominator: 100 },
        },
      },
    );
    assert.deepEqual(firstFilter(withFilter({ type: 'RequestHeaderModifier', requestHeaderModifier: {} })), {
      type: 'RequestHeaderModifier',
      requestHeaderModifier: { set: [], add: [], remove: [] },
    });
    assert.deepEqual(firstFilter(withFilter({ type: 'ExtensionRef', extensionRef: { kind: 'Auth', name: 'a' } })), {
      type: 'ExtensionRef',
      extensionRef: { group: '', kind: 'Auth', name: 'a' },
    });
  });
});

describe('HTTPRoute parentRefs and hostnames', () => {
  test('field checks', () => {
    const p = (ref: unknown) => route({ parentRefs: [ref] });
    assert.equal(reason(p({})), 'spec.parentRefs[0].name: required');
    assert.equal(reason(p({ name: '' })), 'spec.parentRefs[0].name: required');
    assert.equal(reason(p({ name: 'x'.repeat(254) })), 'spec.parentRefs[0].name: must be at most 253 characters');
    assert.match(
      reason(p({ name: 'gw', namespace: 'a.b' })),
      /^spec\.parentRefs\[0\]\.namespace: must be a lowercase RFC 1123 label/,
    );
    assert.match(
      reason(p({ name: 'gw', sectionName: 'Web' })),
      /^spec\.parentRefs\[0\]\.sectionName: must be a lowercase RFC 1123 subdomain/,
    );
    assert.equal(reason(p({ name: 'gw', port: 0 })), 'spec.parentRefs[0].port: must be between 1 and 65535');
    assert.equal(reason(p({ name: 'gw', kind: '' })), 'spec.parentRefs[0].kind: must not be empty');
    assert.equal(
      reason(route({ parentRefs: times(33, (i) => ({ name: `gw${i}` })) })),
      'spec.parentRefs: must have at most 32 items',
    );
    assert.equal(reason(route({ parentRefs: { name: 'gw' } })), 'spec.parentRefs: must be a list');
  });

  test('references to one parent: all with sectionName or none, and never the same one twice', () => {
    assert.equal(
      reason(route({ parentRefs: [{ name: 'gw' }, { name: 'gw' }] })),
      'spec.parentRefs[1]: duplicate reference to the same parent and sectionName (see spec.parentRefs[0])',
    );
    assert.equal(
      reason(
        route({
          parentRefs: [
            { name: 'gw', sectionName: 'a' },
            { name: 'gw', sectionName: 'a' },
          ],
        }),
      ),
      'spec.parentRefs[1]: duplicate reference to the same parent and sectionName (see spec.parentRefs[0])',
    );
    assert.equal(
      reason(route({ parentRefs: [{ name: 'gw', sectionName: 'a' }, { name: 'gw' }] })),
      'spec.parentRefs[1].sectionName: must be set on every reference to the same parent or on none (see spec.parentRefs[0])',
    );
    asRoute(
      route({
        parentRefs: [
          { name: 'gw', sectionName: 'http' },
          { name: 'gw', sectionName: 'https' },
          { name: 'gw', namespace: 'infra' },
          { name: 'gw2' },
          { name: 'gw', kind: 'ListenerSet', group: 'gateway.networking.x-k8s.io' },
        ],
      }),
    );
  });

  test('hostnames: DNS names or wildcards, never IPs, at most 16', () => {
    assert.deepEqual(asRoute(route({ hostnames: ['shop.example.com', '*.example.com'] })).spec.hostnames, [
      'shop.example.com',
      '*.example.com',
    ]);
    assert.equal(
      reason(route({ hostnames: ['192.168.1.1'] })),
      'spec.hostnames[0]: must be a DNS name, not an IP address',
    );
    assert.match(reason(route({ hostnames: ['Shop.example.com'] })), /^spec\.hostnames\[0\]: must be a lowercase/);
    assert.match(reason(route({ hostnames: ['shop.example.com:8080'] })), /^spec\.hostnames\[0\]: must be a lowercase/);
    assert.equal(reason(route({ hostnames: [42] })), 'spec.hostnames[0]: must be a string');
    assert.equal(
      reason(route({ hostnames: times(17, (i) => `h${i}.example.com`) })),
      'spec.hostnames: must have at most 16 items',
    );
  });
});

describe('HTTPRoute rules and matches', () => {
  test('rules: not empty, at most 16, names unique and well formed', () => {
    assert.equal(reason(route({ rules: [] })), 'spec.rules: must not be empty');
    assert.equal(
      reason(route({ rules: times(17, () => ({ backendRefs: [svc] })) })),
      'spec.rules: must have at most 16 items',
    );
    assert.equal(
      reason(
        route({
          rules: [
            { name: 'api', backendRefs: [svc] },
            { name: 'api', backendRefs: [svc] },
          ],
        }),
      ),
      "spec.rules[1].name: duplicate rule name 'api' (also spec.rules[0])",
    );
    assert.match(reason(withRule({ name: 'API' })), /^spec\.rules\[0\]\.name: must be a lowercase RFC 1123 subdomain/);
    assert.deepEqual(firstRule(withRule({ name: 'api', backendRefs: [svc] })).name, 'api');
  });

  test('matches: at most 64 per rule and 128 per route', () => {
    const m = (n: number) => times(n, (i) => ({ path: { value: `/p${i}` } }));
    assert.equal(reason(withRule({ matches: m(65) })), 'spec.rules[0].matches: must have at most 64 items');
    asRoute(route({ rules: [{ matches: m(64) }, { matches: m(64) }] }));
    assert.equal(
      reason(route({ rules: [{ matches: m(64) }, { matches: m(64) }, { matches: m(1) }] })),
      'spec.rules: must have at most 128 matches in all (has 129)',
    );
  });

  test('Exact and PathPrefix values are clean absolute paths', () => {
    const bad: Array<[string, string]> = [
      ['api', "must start with '/'"],
      ['', "must start with '/'"],
      ['/api//v1', "must not contain '//'"],
      ['/api/./v1', "must not contain '/./'"],
      ['/api/../admin', "must not contain '/../'"],
      ['/api%2fadmin', "must not contain '%2f'"],
      ['/api%2Fadmin', "must not contain '%2F'"],
      ['/api#frag', "must not contain '#'"],
      ['/api/..', "must not end with '/..'"],
      ['/api/.', "must not end with '/.'"],
      ['/a b', "must contain only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes"],
      ['/a[1]', "must contain only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes"],
      ['/a%zz', "must contain only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes"],
      ['/a?b=1', "must contain only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes"],
    ];
    for (const type of ['Exact', 'PathPrefix']) {
      for (const [value, problem] of bad) {
        assert.equal(
          reason(route({ rules: [{ matches: [{ path: { value: '/ok' } }, { path: { type, value } }] }] })),
          `spec.rules[0].matches[1].path.value: ${problem} for type ${type}`,
          `${type} ${value}`,
        );
      }
    }
    for (const value of ['/', '/api/v1/', "/~user/a-b_c.d!$&'()*+,;=:@", '/caf%C3%A9', '/..a/b.']) {
      firstRule(withMatch({ path: { type: 'Exact', value } }));
    }
    assert.equal(
      reason(withMatch({ path: { value: `/${'a'.repeat(1024)}` } })),
      'spec.rules[0].matches[0].path.value: must be at most 1024 characters',
    );
  });

  test('RegularExpression paths must compile; path type is an enum', () => {
    assert.deepEqual(
      firstRule(withMatch({ path: { type: 'RegularExpression', value: '/api/v[0-9]+/.*' } })).matches[0]?.path,
      {
        type: 'RegularExpression',
        value: '/api/v[0-9]+/.*',
      },
    );
    firstRule(withMatch({ path: { type: 'RegularExpression', value: '.*\\.(css|js)$' } }));
    assert.match(
      reason(withMatch({ path: { type: 'RegularExpression', value: '/api/(v1' } })),
      /^spec\.rules\[0\]\.matches\[0\]\.path\.value: must be a valid regular expression \(Invalid regular expression: .*\)$/,
    );
    assert.equal(
      reason(withMatch({ path: { type: 'RegularExpression', value: '/(a+)+$' } })),
      'spec.rules[0].matches[0].path.value: regular expression repeats a group that itself repeats (nested quantifiers take exponential time)',
    );
    assert.equal(
      reason(withMatch({ path: { type: 'Prefix', value: '/' } })),
      'spec.rules[0].matches[0].path.type: must be one of Exact, PathPrefix, RegularExpression',
    );
  });

  test('header matches: token names, unique case-insensitively, at most 16, values required', () => {
    const h = (headers: unknown) => withMatch({ headers });
    const p = 'spec.rules[0].matches[0].headers';
    assert.equal(
      reason(h([{ name: 'bad header', value: 'x' }])),
      `${p}[0].name: must be an HTTP header name: letters, digits and !#$%&'*+-.^_\`|~ (at most 256)`,
    );
    assert.match(reason(h([{ name: ':authority', value: 'x' }])), /headers\[0\]\.name: must be an HTTP header name/);
    assert.match(reason(h([{ name: 'x'.repeat(257), value: 'x' }])), /headers\[0\]\.name: must be an HTTP header name/);
    assert.equal(reason(h([{ value: 'x' }])), `${p}[0].name: required`);
    assert.equal(
      reason(
        h([
          { name: 'X-Env', value: 'a' },
          { name: 'x-env', value: 'b' },
        ]),
      ),
      `${p}[1].name: duplicate name 'x-env' (also ${p}[0])`,
    );
    assert.equal(reason(h([{ name: 'x' }])), `${p}[0].value: required`);
    assert.equal(reason(h([{ name: 'x', value: '' }])), `${p}[0].value: required`);
    assert.equal(reason(h([{ name: 'x', value: 'v'.repeat(4097) }])), `${p}[0].value: must be at most 4096 characters`);
    assert.equal(
      reason(h([{ type: 'Prefix', name: 'x', value: 'v' }])),
      `${p}[0].type: must be one of Exact, RegularExpression`,
    );
    assert.match(
      reason(h([{ type: 'RegularExpression', name: 'x', value: '[' }])),
      /headers\[0\]\.value: must be a valid regular expression/,
    );
    assert.equal(reason(h(times(17, (i) => ({ name: `x-${i}`, value: 'v' })))), `${p}: must have at most 16 items`);
  });

  test('query parameter matches: like headers, but names compare exactly', () => {
    const q = (queryParams: unknown) => withMatch({ queryParams });
    const p = 'spec.rules[0].matches[0].queryParams';
    assert.equal(
      reason(
        q([
          { name: 'page', value: '1' },
          { name: 'page', value: '2' },
        ]),
      ),
      `${p}[1].name: duplicate name 'page' (also ${p}[0])`,
    );
    assert.equal(
      firstRule(
        q([
          { name: 'page', value: '1' },
          { name: 'Page', value: '2' },
        ]),
      ).matches[0]?.queryParams.length,
      2,
    );
    assert.equal(reason(q([{ name: 'x', value: 'v'.repeat(1025) }])), `${p}[0].value: must be at most 1024 characters`);
    assert.match(reason(q([{ name: 'a=b', value: 'v' }])), /queryParams\[0\]\.name: must be an HTTP header name/);
    assert.equal(reason(q(times(17, (i) => ({ name: `q${i}`, value: 'v' })))), `${p}: must have at most 16 items`);
  });

  test('method is an upper-case enum', () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
      assert.equal(firstRule(withMatch({ method })).matches[0]?.method, method);
    }
    assert.equal(
      reason(withMatch({ method: 'get' })),
      'spec.rules[0].matches[0].method: must be one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH',
    );
  });
});

describe('HTTPRoute filters', () => {
  const f0 = 'spec.rules[0].filters[0]';

  test('type is required and an enum; CORS is refused as unsupported', () => {
    assert.equal(reason(withFilter({})), `${f0}.type: required`);
    assert.equal(
      reason(withFilter({ type: 'ExternalAuth', externalAuth: {} })),
      `${f0}.type: must be one of RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, RequestRedirect, URLRewrite, ExtensionRef`,
    );
    assert.equal(
      reason(withFilter({ type: 'CORS', cors: { allowOrigins: ['*'] } })),
      `${f0}.type: CORS filters are not supported`,
    );
  });

  test('the field named by type is required, and no other filter field may be set', () => {
    assert.equal(
      reason(withFilter({ type: 'RequestHeaderModifier' })),
      `${f0}.requestHeaderModifier: required when type is RequestHeaderModifier`,
    );
    assert.equal(
      reason(withFilter({ type: 'RequestHeaderModifier', responseHeaderModifier: { set: [] } })),
      `${f0}.responseHeaderModifier: must not be set when type is RequestHeaderModifier; ${f0}.requestHeaderModifier: required when type is RequestHeaderModifier`,
    );
    assert.equal(
      reason(withFilter({ type: 'URLRewrite', urlRewrite: {}, extensionRef: { kind: 'K', name: 'n' } })),
      `${f0}.extensionRef: must not be set when type is URLRewrite`,
    );
    assert.equal(reason(withFilter({ type: 'URLRewrite', urlRewrite: 'x' })), `${f0}.urlRewrite: must be an object`);
  });

  test('header modifiers: set, add and remove', () => {
    const f = firstFilter(
      withFilter({
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: {
          set: [{ name: 'Cache-Control', value: 'no-store' }],
          add: [
            { name: 'X-Served-By', value: 'gatehouse' },
            { name: 'cache-control', value: 'private' },
          ],
          remove: ['Server', 'X-Powered-By'],
        },
      }),
    );
    assert.deepEqual(f, {
      type: 'ResponseHeaderModifier',
      responseHeaderModifier: {
        set: [{ name: 'Cache-Control', value: 'no-store' }],
        add: [
          { name: 'X-Served-By', value: 'gatehouse' },
          { name: 'cache-control', value: 'private' },
        ],
        remove: ['Server', 'X-Powered-By'],
      },
    });
  });

  test('header modifiers: unique names within each list, at most 16, valid names and values', () => {
    const m = (body: unknown) => withFilter({ type: 'RequestHeaderModifier', requestHeaderModifier: body });
    const p = `${f0}.requestHeaderModifier`;
    assert.equal(
      reason(
        m({
          set: [
            { name: 'X-A', value: '1' },
            { name: 'x-a', value: '2' },
          ],
        }),
      ),
      `${p}.set[1].name: duplicate header name 'x-a' (also ${p}.set[0])`,
    );
    assert.equal(
      reason(
        m({
          add: [
            { name: 'x-a', value: '1' },
            { name: 'x-a', value: '2' },
          ],
        }),
      ),
      `${p}.add[1].name: duplicate header name 'x-a' (also ${p}.add[0])`,
    );
    assert.equal(
      reason(m({ remove: ['x-a', 'X-A'] })),
      `${p}.remove[1]: duplicate header name 'X-A' (also ${p}.remove[0])`,
    );
    assert.equal(reason(m({ remove: [1] })), `${p}.remove[0]: must be a string`);
    for (const key of ['set', 'add']) {
      assert.equal(
        reason(m({ [key]: times(17, (i) => ({ name: `x-${i}`, value: 'v' })) })),
        `${p}.${key}: must have at most 16 items`,
      );
    }
    assert.equal(reason(m({ remove: times(17, (i) => `x-${i}`) })), `${p}.remove: must have at most 16 items`);
    assert.match(reason(m({ set: [{ name: 'x a', value: '1' }] })), /set\[0\]\.name: must be an HTTP header name/);
    assert.equal(reason(m({ set: [{ name: 'x-a' }] })), `${p}.set[0].value: required`);
    assert.equal(
      reason(m({ set: [{ name: 'x-a', value: 'v'.repeat(4097) }] })),
      `${p}.set[0].value: must be at most 4096 characters`,
    );
    assert.equal(
      reason(m({ add: [{ name: 'x-a', value: 'a\r\nSet-Cookie: s=1' }] })),
      `${p}.add[0].value: must not contain control characters (such as CR, LF or NUL)`,
    );
    firstFilter(m({ set: [{ name: 'x-a', value: 'tab\tseparated' }] }));
  });

  test('a filter type that may appear once per list', () => {
    for (const [type, body] of [
      ['RequestHeaderModifier', { requestHeaderModifier: {} }],
      ['ResponseHeaderModifier', { responseHeaderModifier: {} }],
      ['URLRewrite', { urlRewrite: {} }],
    ] as const) {
      assert.equal(
        reason(
          withRule({
            filters: [
              { type, ...body },
              { type, ...body },
            ],
            backendRefs: [svc],
          }),
        ),
        `spec.rules[0].filters[1]: only one ${type} filter is allowed (also spec.rules[0].filters[0])`,
      );
    }
    const redirect = { type: 'RequestRedirect', requestRedirect: {} };
    assert.equal(
      reason(withRule({ filters: [redirect, redirect] })),
      'spec.rules[0].filters[1]: only one RequestRedirect filter is allowed (also spec.rules[0].filters[0])',
    );
    const mirror = (name: string) => ({ type: 'RequestMirror', requestMirror: { backendRef: { name, port: 80 } } });
    const ext = { type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Auth', name: 'a' } };
    assert.equal(
      firstRule(withRule({ filters: [mirror('a'), mirror('b'), ext, ext], backendRefs: [svc] })).filters.length,
      4,
    );
  });

  test('RequestRedirect and URLRewrite may not be combined', () => {
    assert.equal(
      reason(
        withRule({
          filters: [
            { type: 'RequestRedirect', requestRedirect: {} },
            { type: 'URLRewrite', urlRewrite: {} },
          ],
        }),
      ),
      'spec.rules[0].filters: must not combine a RequestRedirect and a URLRewrite filter',
    );
    assert.equal(
      reason(
        withRule({
          backendRefs: [
            {
              ...svc,
              filters: [
                { type: 'URLRewrite', urlRewrite: {} },
                { type: 'RequestRedirect', requestRedirect: {} },
              ],
            },
          ],
        }),
      ),
      'spec.rules[0].backendRefs[0].filters: must not combine a RequestRedirect and a URLRewrite filter',
    );
  });

  test('RequestRedirect: fields, and never together with backendRefs', () => {
    const r = (body: unknown) => withFilter({ type: 'RequestRedirect', requestRedirect: body }, []);
    const p = `${f0}.requestRedirect`;
    assert.deepEqual(
      firstFilter(
        r({
          scheme: 'https',
          hostname: 'www.example.com',
          port: 8443,
          statusCode: 301,
          path: { type: 'ReplaceFullPath', replaceFullPath: '/new' },
        }),
      ),
      {
        type: 'RequestRedirect',
        requestRedirect: {
          scheme: 'https',
          hostname: 'www.example.com',
          path: { type: 'ReplaceFullPath', replaceFullPath: '/new' },
          port: 8443,
          statusCode: 301,
        },
      },
    );
    for (const statusCode of [301, 302, 303, 307, 308]) {
      const f = firstFilter(r({ statusCode }));
      assert.equal(f.type === 'RequestRedirect' && f.requestRedirect.statusCode, statusCode);
    }
    assert.equal(reason(r({ statusCode: 404 })), `${p}.statusCode: must be one of 301, 302, 303, 307, 308`);
    assert.equal(reason(r({ scheme: 'ftp' })), `${p}.scheme: must be one of http, https`);
    assert.equal(reason(r({ scheme: 'HTTPS' })), `${p}.scheme: must be one of http, https`);
    assert.equal(reason(r({ port: 0 })), `${p}.port: must be between 1 and 65535`);
    assert.equal(reason(r({ hostname: '127.0.0.1' })), `${p}.hostname: must be a DNS name, not an IP address`);
    assert.match(
      reason(r({ hostname: '*.example.com' })),
      /requestRedirect\.hostname: must be a lowercase RFC 1123 subdomain \(.*\)$/,
    );
    assert.equal(
      reason(withFilter({ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } })),
      `${f0}: a RequestRedirect filter must not be used with backendRefs`,
    );
  });

  test('path modifiers: type and its value go together', () => {
    const rw = (path: unknown) => withFilter({ type: 'URLRewrite', urlRewrite: { path } });
    const p = `${f0}.urlRewrite.path`;
    assert.deepEqual(firstFilter(rw({ type: 'ReplaceFullPath', replaceFullPath: '/index.html' })), {
      type: 'URLRewrite',
      urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/index.html' } },
    });
    assert.deepEqual(
      firstFilter(
        withRule({
          matches: [{ path: { value: '/app' } }],
          filters: [
            { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' } } },
          ],
          backendRefs: [svc],
        }),
      ),
      {
        type: 'URLRewrite',
        urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' } },
      },
    );
    assert.equal(reason(rw({ replaceFullPath: '/x' })), `${p}.type: required`);
    assert.equal(reason(rw({ type: 'Replace' })), `${p}.type: must be one of ReplaceFullPath, ReplacePrefixMatch`);
    assert.equal(
      reason(rw({ type: 'ReplaceFullPath' })),
      `${p}.replaceFullPath: required when type is ReplaceFullPath`,
    );
    assert.equal(
      reason(rw({ type: 'ReplaceFullPath', replaceFullPath: '/a', replacePrefixMatch: '/b' })),
      `${p}.replacePrefixMatch: must not be set when type is ReplaceFullPath`,
    );
    assert.equal(
      reason(rw({ type: 'ReplaceFullPath', replaceFullPath: `/${'a'.repeat(1024)}` })),
      `${p}.replaceFullPath: must be at most 1024 characters`,
    );
    assert.equal(
      reason(rw({ type: 'ReplaceFullPath', replaceFullPath: '/a\nb' })),
      `${p}.replaceFullPath: must not contain control characters (such as CR, LF or NUL)`,
    );
  });

  test('ReplacePrefixMatch needs the rule to have exactly one match, a PathPrefix', () => {
    const prefixRewrite = {
      type: 'URLRewrite',
      urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } },
    };
    const prefixRedirect = {
      type: 'RequestRedirect',
      requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } },
    };
    const message = 'ReplacePrefixMatch requires the rule to have exactly one match, of type PathPrefix';
    firstRule(
      withRule({
        matches: [{ path: { type: 'PathPrefix', value: '/v1' } }],
        filters: [prefixRewrite],
        backendRefs: [svc],
      }),
    );
    firstRule(withRule({ filters: [prefixRewrite], backendRefs: [svc] }));
    firstRule(withRule({ matches: [{ headers: [{ name: 'x', value: 'y' }] }], filters: [prefixRedirect] }));
    assert.equal(
      reason(
        withRule({
          matches: [{ path: { type: 'Exact', value: '/v1' } }],
          filters: [prefixRewrite],
          backendRefs: [svc],
        }),
      ),
      `${f0}.urlRewrite.path: ${message}`,
    );
    assert.equal(
      reason(
        withRule({ matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]' } }], filters: [prefixRedirect] }),
      ),
      `${f0}.requestRedirect.path: ${message}`,
    );
    assert.equal(
      reason(
        withRule({
          matches: [{ path: { value: '/a' } }, { path: { value: '/b' } }],
          filters: [prefixRewrite],
          backendRefs: [svc],
        }),
      ),
      `${f0}.urlRewrite.path: ${message}`,
    );
    assert.equal(
      reason(
        withRule({
          matches: [{ path: { type: 'Exact', value: '/a' } }],
          backendRefs: [{ ...svc, filters: [prefixRewrite] }],
        }),
      ),
      `spec.rules[0].backendRefs[0].filters[0].urlRewrite.path: ${message}`,
    );
  });

  test('URLRewrite hostname is a precise DNS name', () => {
    const f = firstFilter(withFilter({ type: 'URLRewrite', urlRewrite: { hostname: 'internal.svc.local' } }));
    assert.deepEqual(f, { type: 'URLRewrite', urlRewrite: { hostname: 'internal.svc.local' } });
    assert.match(
      reason(withFilter({ type: 'URLRewrite', urlRewrite: { hostname: 'Internal' } })),
      /urlRewrite\.hostname: must be a lowercase/,
    );
  });

  test('RequestMirror: backendRef, percent or fraction', () => {
    const m = (body: unknown) => withFilter({ type: 'RequestMirror', requestMirror: body });
    const p = `${f0}.requestMirror`;
    assert.deepEqual(firstFilter(m({ backendRef: { name: 'shadow', port: 8080, namespace: 'qa' }, percent: 10 })), {
      type: 'RequestMirror',
      requestMirror: {
        backendRef: { group: '', kind: 'Service', name: 'shadow', namespace: 'qa', port: 8080 },
        percent: 10,
      },
    });
    assert.equal(reason(m({})), `${p}.backendRef: required`);
    assert.equal(
      reason(m({ backendRef: { name: 'shadow' } })),
      `${p}.backendRef.port: required when the backend is a Service`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, percent: 101 })),
      `${p}.percent: must be between 0 and 100`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, percent: -1 })),
      `${p}.percent: must be between 0 and 100`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 3, denominator: 2 } })),
      `${p}.fraction.numerator: must not be greater than denominator (2)`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 0, denominator: 0 } })),
      `${p}.fraction.denominator: must be at least 1`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, fraction: { denominator: 10 } })),
      `${p}.fraction.numerator: required`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: -1 } })),
      `${p}.fraction.numerator: must not be negative`,
    );
    assert.equal(
      reason(m({ backendRef: { name: 'shadow', port: 80 }, percent: 5, fraction: { numerator: 1 } })),
      `${p}: must set at most one of percent or fraction`,
    );
  });

  test('ExtensionRef: kind and name required', () => {
    assert.equal(
      reason(withFilter({ type: 'ExtensionRef', extensionRef: {} })),
      `${f0}.extensionRef.kind: required; ${f0}.extensionRef.name: required`,
    );
  });
});

describe('HTTPRoute backendRefs and timeouts', () => {
  const b0 = 'spec.rules[0].backendRefs[0]';

  test('backendRef checks', () => {
    const b = (ref: unknown) => withRule({ backendRefs: [ref] });
    assert.equal(reason(b({ port: 80 })), `${b0}.name: required`);
    assert.equal(reason(b({ name: 'web' })), `${b0}.port: required when the backend is a Service`);
    assert.equal(
      reason(b({ name: 'web', kind: 'Service', group: '' })),
      `${b0}.port: required when the backend is a Service`,
    );
    assert.equal(reason(b({ name: 'web', port: 70000 })), `${b0}.port: must be between 1 and 65535`);
    assert.equal(reason(b({ ...svc, weight: -1 })), `${b0}.weight: must be between 0 and 1000000`);
    assert.equal(reason(b({ ...svc, weight: 1_000_001 })), `${b0}.weight: must be between 0 and 1000000`);
    assert.equal(reason(b({ ...svc, weight: 1.5 })), `${b0}.weight: must be an integer`);
    assert.match(
      reason(b({ ...svc, namespace: 'Other' })),
      /backendRefs\[0\]\.namespace: must be a lowercase RFC 1123 label/,
    );
    assert.equal(firstRule(b({ ...svc, weight: 1_000_000 })).backendRefs[0]?.weight, 1_000_000);
    assert.equal(
      reason(withRule({ backendRefs: times(17, (i) => ({ name: `s${i}`, port: 80 })) })),
      'spec.rules[0].backendRefs: must have at most 16 items',
    );
  });

  test('per-backend filters are decoded and checked like rule filters', () => {
    const ref = firstRule(
      withRule({
        backendRefs: [
          {
            ...svc,
            filters: [
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-backend', value: 'web' }] } },
            ],
          },
        ],
      }),
    ).backendRefs[0];
    assert.deepEqual(ref?.filters, [
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: [{ name: 'x-backend', value: 'web' }], add: [], remove: [] },
      },
    ]);
    const rhm = { type: 'RequestHeaderModifier', requestHeaderModifier: {} };
    assert.equal(
      reason(withRule({ backendRefs: [{ ...svc, filters: [rhm, rhm] }] })),
      `${b0}.filters[1]: only one RequestHeaderModifier filter is allowed (also ${b0}.filters[0])`,
    );
    assert.equal(
      reason(
        withRule({
          backendRefs: [
            {
              ...svc,
              filters: times(17, (i) => ({ type: 'ExtensionRef', extensionRef: { kind: 'K', name: `n${i}` } })),
            },
          ],
        }),
      ),
      `${b0}.filters: must have at most 16 items`,
    );
  });

  test('timeouts are Gateway API durations, kept as written', () => {
    const t = (timeouts: unknown) => withRule({ backendRefs: [svc], timeouts });
    assert.deepEqual(firstRule(t({ request: '10s', backendRequest: '2s' })).timeouts, {
      request: '10s',
      backendRequest: '2s',
    });
    assert.deepEqual(firstRule(t({ request: '1h30m' })).timeouts, { request: '1h30m' });
    assert.deepEqual(firstRule(t({ backendRequest: '500ms' })).timeouts, { backendRequest: '500ms' });
    assert.equal('timeouts' in firstRule(t({})), false);
    const p = 'spec.rules[0].timeouts';
    for (const bad of ['1.5s', '10', '1d', '-1s', '123456s', '1h1m1s1ms1h', '10 s', '1S', '']) {
      assert.match(
        reason(t({ request: bad })),
        /^spec\.rules\[0\]\.timeouts\.request: must be a Gateway API duration/,
        bad,
      );
    }
    assert.equal(reason(t({ request: 10 })), `${p}.request: must be a string`);
  });

  test('backendRequest may not be longer than request, unless request is zero (disabled)', () => {
    const t = (timeouts: unknown) => withRule({ backendRefs: [svc], timeouts });
    assert.equal(
      reason(t({ request: '1s', backendRequest: '1001ms' })),
      'spec.rules[0].timeouts.backendRequest: must not be longer than request (1s)',
    );
    assert.equal(
      reason(t({ request: '1m', backendRequest: '1h' })),
      'spec.rules[0].timeouts.backendRequest: must not be longer than request (1m)',
    );
    firstRule(t({ request: '1s', backendRequest: '1000ms' }));
    firstRule(t({ request: '0s', backendRequest: '1h' }));
    firstRule(t({ request: '0ms', backendRequest: '5s' }));
  });
});

describe('ReferenceGrant', () => {
  test('from and to are kept; to.name is optional', () => {
    const g = ok(
      grant({
        from: [
          { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' },
          { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra' },
        ],
        to: [
          { group: '', kind: 'Service' },
          { group: '', kind: 'Secret', name: 'wildcard-cert' },
        ],
      }),
    ) as ReferenceGrant;
    assert.deepEqual(g.spec, {
      from: [
        { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' },
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra' },
      ],
      to: [
        { group: '', kind: 'Service' },
        { group: '', kind: 'Secret', name: 'wildcard-cert' },
      ],
    });
    assert.equal(g.metadata.namespace, 'backends');
  });

  test('every from and to field is required (group may be the empty core group)', () => {
    assert.equal(
      reason(grant({ from: [{}], to: [{}] })),
      [
        'spec.from[0].group: required',
        'spec.from[0].kind: required',
        'spec.from[0].namespace: required',
        'spec.to[0].group: required',
        'spec.to[0].kind: required',
      ].join('; '),
    );
    assert.equal(reason(grant({})), 'spec.from: required; spec.to: required');
    assert.equal(reason(grant({ from: [], to: [] })), 'spec.from: must not be empty; spec.to: must not be empty');
    assert.match(
      reason(
        grant({
          from: [{ group: 'Gateway', kind: 'HTTPRoute', namespace: 'a' }],
          to: [{ group: '', kind: 'Service' }],
        }),
      ),
      /^spec\.from\[0\]\.group: must be empty \(the core group\)/,
    );
    assert.match(
      reason(grant({ from: [{ group: '', kind: 'HTTPRoute', namespace: 'A' }], to: [{ group: '', kind: 'Service' }] })),
      /^spec\.from\[0\]\.namespace: must be a lowercase RFC 1123 label/,
    );
    assert.equal(
      reason(
        grant({
          from: [{ group: '', kind: 'HTTPRoute', namespace: 'a' }],
          to: [{ group: '', kind: 'Service', name: '' }],
        }),
      ),
      'spec.to[0].name: must not be empty',
    );
    const from = times(17, (i) => ({ group: '', kind: 'HTTPRoute', namespace: `n${i}` }));
    assert.equal(
      reason(grant({ from, to: [{ group: '', kind: 'Service' }] })),
      'spec.from: must have at most 16 items',
    );
  });

  test('a grant without spec grants nothing, and is valid', () => {
    assert.deepEqual((ok(grant(undefined)) as ReferenceGrant).spec, { from: [], to: [] });
  });
});

describe('parseGatewayDuration', () => {
  test('sums the parts in milliseconds', () => {
    assert.equal(parseGatewayDuration('0s'), 0);
    assert.equal(parseGatewayDuration('500ms'), 500);
    assert.equal(parseGatewayDuration('10s'), 10_000);
    assert.equal(parseGatewayDuration('1m30s'), 90_000);
    assert.equal(parseGatewayDuration('2h'), 7_200_000);
    assert.equal(parseGatewayDuration('1h2m3s4ms'), 3_723_004);
    assert.equal(parseGatewayDuration('1ms1m'), 60_001);
    assert.equal(parseGatewayDuration('99999h'), 99_999 * 3_600_000);
  });

  test('anything else throws', () => {
    for (const bad of ['', '1', '1.5s', '1d', '-1s', '100000s', '1h1m1s1ms1h', ' 1s']) {
      assert.throws(() => parseGatewayDuration(bad), RangeError, bad);
    }
  });
});

describe('realistic manifests', () => {
  test('the Gateway API guides: HTTP routing, HTTPS, redirects, rewrites, mirroring, splitting, timeouts, grants', () => {
    const docs = yamlDocuments(`
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: gatehouse
spec:
  controllerName: gatehouse.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: example-gateway
spec:
  gatewayClassName: gatehouse
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        name: example-com
  - name: https-default-tls-mode
    port: 8443
    protocol: HTTPS
    hostname: "*.foo.com"
    tls:
      certificateRefs:
      - kind: Secret
        name: foo-com
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: prod-gateway
  namespace: gateway-api-example-ns1
spec:
  gatewayClassName: gatehouse
  listeners:
  - name: prod-web
    port: 80
    protocol: HTTP
    allowedRoutes:
      kinds:
      - kind: HTTPRoute
      namespaces:
        from: Selector
        selector:
          matchLabels:
            expose-apps: "true"
  - name: passthrough
    port: 8443
    protocol: TLS
    tls:
      mode: Passthrough
    allowedRoutes:
      kinds:
      - kind: TLSRoute
  - name: db
    port: 5432
    protocol: TCP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: tls-redirect
spec:
  parentRefs:
  - name: example-gateway
    sectionName: http
  hostnames:
  - foo.example.com
  - bar.example.com
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: https
        port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bar-route
spec:
  parentRefs:
  - name: example-gateway
    sectionName: https
  hostnames:
  - "bar.example.com"
  rules:
  - matches:
    - headers:
      - type: Exact
        name: env
        value: canary
    backendRefs:
    - name: bar-svc-canary
      port: 8080
  - backendRefs:
    - name: bar-svc
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-filter-rewrite
spec:
  hostnames:
    - rewrite.example
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /cardamom
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: elsewhere.example
            path:
              type: ReplacePrefixMatch
              replacePrefixMatch: /fennel
      backendRefs:
        - name: example-svc
          weight: 1
          port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-filter-mirror
  labels:
    gateway: mirror-gateway
spec:
  parentRefs:
  - name: mirror-gateway
  hostnames:
  - mirror.example
  rules:
  - backendRefs:
    - name: foo-v1
      port: 8080
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: foo-v2
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: foo-route
  labels:
    gateway: prod-web-gw
spec:
  hostnames:
  - foo.example.com
  rules:
  - backendRefs:
    - name: foo-v1
      port: 8080
      weight: 90
    - name: foo-v2
      port: 8080
      weight: 10
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: timeout-example
spec:
  parentRefs:
  - name: example-gateway
  hostnames:
  - "timeout.example.com"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /timeout
    backendRefs:
    - name: timeout-svc
      port: 8080
    timeouts:
      request: 10s
      backendRequest: 2s
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-ns1-gateways-to-ref-secrets
  namespace: gateway-api-example-ns2
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: Gateway
    namespace: gateway-api-example-ns1
  to:
  - group: ""
    kind: Secret
`);
    const kinds = docs.map((d) => ok(d).kind);
    assert.deepEqual(kinds, [
      'GatewayClass',
      'Gateway',
      'Gateway',
      'HTTPRoute',
      'HTTPRoute',
      'HTTPRoute',
      'HTTPRoute',
      'HTTPRoute',
      'HTTPRoute',
      'ReferenceGrant',
    ]);
    const prod = ok(docs[2]) as Gateway;
    assert.deepEqual(
      prod.spec.listeners.map((l) => [l.name, l.protocol, l.tls?.mode, l.allowedRoutes.namespaces.from]),
      [
        ['prod-web', 'HTTP', undefined, 'Selector'],
        ['passthrough', 'TLS', 'Passthrough', 'Same'],
        ['db', 'TCP', undefined, 'Same'],
      ],
    );
    const redirect = ok(docs[3]) as HTTPRoute;
    assert.deepEqual(redirect.spec.rules, [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: 443, statusCode: 302 } }],
        backendRefs: [],
      },
    ]);
  });

  test('a route using every standard HTTPRoute feature decodes to the expected value', () => {
    const [doc] = yamlDocuments(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: storefront
  namespace: shop
  creationTimestamp: "2024-05-01T10:00:00Z"
spec:
  parentRefs:
  - name: edge
    namespace: infra
    sectionName: https
  hostnames: ["shop.example.com", "*.shop.example.com"]
  rules:
  - name: api
    matches:
    - path: {type: PathPrefix, value: /api}
      method: POST
      headers:
      - {name: X-Version, value: "2"}
      queryParams:
      - {type: RegularExpression, name: tenant, value: "^[a-z]+$"}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Forwarded-Prefix, value: /api}]
        remove: [X-Debug]
    - type: URLRewrite
      urlRewrite:
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /}
    backendRefs:
    - name: api-v2
      port: 8080
      weight: 3
    - name: api-v1
      namespace: legacy
      port: 8080
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          add: [{name: Deprecation, value: "true"}]
    timeouts: {request: 30s, backendRequest: 10s}
  - matches:
    - path: {type: Exact, value: /healthz}
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /status}, statusCode: 308}
`);
    const r = asRoute(doc);
    assert.deepEqual(r.metadata.creationTimestamp, '2024-05-01T10:00:00Z');
    assert.deepEqual(r.spec, {
      parentRefs: [
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'edge', sectionName: 'https' },
      ],
      hostnames: ['shop.example.com', '*.shop.example.com'],
      rules: [
        {
          name: 'api',
          matches: [
            {
              path: { type: 'PathPrefix', value: '/api' },
              headers: [{ type: 'Exact', name: 'X-Version', value: '2' }],
              queryParams: [{ type: 'RegularExpression', name: 'tenant', value: '^[a-z]+$' }],
              method: 'POST',
            },
          ],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: {
                set: [{ name: 'X-Forwarded-Prefix', value: '/api' }],
                add: [],
                remove: ['X-Debug'],
              },
            },
            { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
          ],
          backendRefs: [
            { group: '', kind: 'Service', name: 'api-v2', port: 8080, weight: 3, filters: [] },
            {
              group: '',
              kind: 'Service',
              name: 'api-v1',
              namespace: 'legacy',
              port: 8080,
              weight: 1,
              filters: [
                {
                  type: 'ResponseHeaderModifier',
                  responseHeaderModifier: { set: [], add: [{ name: 'Deprecation', value: 'true' }], remove: [] },
                },
              ],
            },
          ],
          timeouts: { request: '30s', backendRequest: '10s' },
        },
        {
          matches: [{ path: { type: 'Exact', value: '/healthz' }, headers: [], queryParams: [] }],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/status' }, statusCode: 308 },
            },
          ],
          backendRefs: [],
        },
      ],
    });
  });
});
