// Decoders for GRPCRoute, BackendTLSPolicy and the Gateway's spec.tls.backend: valid objects with their defaults,
// and the CRD validation rules, each reason naming the field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodeResult } from './decode.ts';
import { decodeObject } from './decode.ts';
import type { BackendTLSPolicy, Gateway, GRPCRoute, GRPCRouteRule, KubeObject } from './objects.ts';

const origin = { file: 'grpc.yaml', document: 0 };
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

// ---------------------------------------------------------------- GRPCRoute

function grpcRoute(spec: unknown, apiVersion = GW): unknown {
  return { apiVersion, kind: 'GRPCRoute', metadata: { name: 'rpc', namespace: 'shop' }, spec };
}

const svc = { name: 'grpc', port: 50051 };

function withRule(rule: Record<string, unknown>): unknown {
  return grpcRoute({ parentRefs: [{ name: 'gw' }], rules: [rule] });
}

function withMethod(method: unknown): unknown {
  return withRule({ matches: [{ method }], backendRefs: [svc] });
}

function asGRPCRoute(raw: unknown): GRPCRoute {
  const o = ok(raw);
  assert.equal(o.kind, 'GRPCRoute');
  return o as GRPCRoute;
}

function firstRule(raw: unknown): GRPCRouteRule {
  const r = asGRPCRoute(raw).spec.rules[0];
  assert.ok(r);
  return r;
}

describe('GRPCRoute', () => {
  test('is read at v1 only', () => {
    assert.equal(ok(grpcRoute({})).kind, 'GRPCRoute');
    for (const v of ['v1alpha2', 'v1beta1']) {
      assert.equal(decodeObject(grpcRoute({}, `gateway.networking.k8s.io/${v}`), origin).kind, 'ignored');
    }
  });

  test('defaults: no rules stays no rules; a rule without matches gets one empty match; Exact; weight 1', () => {
    assert.deepEqual(asGRPCRoute(grpcRoute({ parentRefs: [{ name: 'gw' }] })).spec, {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
      hostnames: [],
      rules: [],
    });
    assert.deepEqual(firstRule(withRule({ backendRefs: [svc] })), {
      matches: [{ headers: [] }],
      filters: [],
      backendRefs: [{ group: '', kind: 'Service', name: 'grpc', port: 50051, weight: 1, filters: [] }],
    });
    assert.deepEqual(firstRule(withMethod({ service: 'pkg.v1.Echo', method: 'Unary' })).matches, [
      { method: { type: 'Exact', service: 'pkg.v1.Echo', method: 'Unary' }, headers: [] },
    ]);
  });

  test('a full route decodes to the expected value', () => {
    const route = asGRPCRoute(
      grpcRoute({
        parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'grpc' }],
        hostnames: ['grpc.example.com', '*.example.net'],
        rules: [
          {
            name: 'echo',
            matches: [
              {
                method: { type: 'RegularExpression', service: 'pkg\\.v[0-9]+\\.Echo' },
                headers: [
                  { name: 'x-canary', value: 'true' },
                  { type: 'RegularExpression', name: 'x-r', value: 'eu-.*' },
                ],
              },
              { method: { method: 'Health' } },
            ],
            filters: [
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }] } },
              { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x-b'] } },
              { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 50051 }, percent: 10 } },
              { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow2', port: 50051 } } },
              { type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Auth', name: 'a' } },
            ],
            backendRefs: [
              {
                name: 'v1',
                port: 50051,
                weight: 90,
                filters: [
                  { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-v', value: '1' }] } },
                ],
              },
              { name: 'v2', namespace: 'other', port: 50051, weight: 10 },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(route.spec.hostnames, ['grpc.example.com', '*.example.net']);
    assert.deepEqual(route.spec.rules, [
      {
        name: 'echo',
        matches: [
          {
            method: { type: 'RegularExpression', service: 'pkg\\.v[0-9]+\\.Echo' },
            headers: [
              { type: 'Exact', name: 'x-canary', value: 'true' },
              { type: 'RegularExpression', name: 'x-r', value: 'eu-.*' },
            ],
          },
          { method: { type: 'Exact', method: 'Health' }, headers: [] },
        ],
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }], add: [], remove: [] },
          },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [], add: [], remove: ['x-b'] } },
          {
            type: 'RequestMirror',
            requestMirror: { backendRef: { group: '', kind: 'Service', name: 'shadow', port: 50051 }, percent: 10 },
          },
          {
            type: 'RequestMirror',
            requestMirror: { backendRef: { group: '', kind: 'Service', name: 'shadow2', port: 50051 } },
          },
          { type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Auth', name: 'a' } },
        ],
        backendRefs: [
          {
            group: '',
            kind: 'Service',
            name: 'v1',
            port: 50051,
            weight: 90,
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { set: [], add: [{ name: 'x-v', value: '1' }], remove: [] },
              },
            ],
          },
          { group: '', kind: 'Service', name: 'v2', namespace: 'other', port: 50051, weight: 10, filters: [] },
        ],
      },
    ]);
  });

  test('method match: at least one of service and method', () => {
    assert.match(reason(withMethod({})), /spec\.rules\[0\]\.matches\[0\]\.method: must set service, method or both/);
    assert.match(reason(withMethod({ type: 'Exact' })), /\.method: must set service, method or both/);
    assert.match(
      reason(withMethod({ type: 'RegularExpression', service: '' })),
      /\.method: must set a non-empty service, method or both/,
    );
  });

  test('method match: Exact names follow the CRD patterns', () => {
    for (const service of ['pkg.v1.Echo', 'Echo', '_x.y_1', '.pkg.Echo', 'PKG.V1.ECHO']) {
      ok(withMethod({ service }));
    }
    for (const service of ['pkg/Echo', '1pkg.Echo', 'pkg..Echo', 'pkg.Echo.', 'pkg-v1.Echo', '']) {
      assert.match(
        reason(withMethod({ service, method: 'M' })),
        /spec\.rules\[0\]\.matches\[0\]\.method\.service: must be a gRPC service name/,
        service,
      );
    }
    for (const method of ['Get', '_get', 'Get2']) ok(withMethod({ method }));
    for (const method of ['Get/Set', '2Get', 'Get.Set', 'Get-It']) {
      assert.match(
        reason(withMethod({ method })),
        /spec\.rules\[0\]\.matches\[0\]\.method\.method: must be a gRPC method name/,
        method,
      );
    }
  });

  test('method match: RegularExpression parts must compile and be safe; at most 1024 characters', () => {
    ok(withMethod({ type: 'RegularExpression', service: 'pkg\\..*', method: '(Get|Set)[A-Z]+' }));
    assert.match(
      reason(withMethod({ type: 'RegularExpression', service: 'a)|(b' })),
      /\.method\.service: must be a valid regular expression/,
    );
    assert.match(
      reason(withMethod({ type: 'RegularExpression', method: '(a+)+$' })),
      /\.method\.method: regular expression .*nested/,
    );
    assert.match(
      reason(withMethod({ type: 'RegularExpression', service: 'x'.repeat(1025) })),
      /\.method\.service: must be at most 1024 characters/,
    );
    assert.match(
      reason(withMethod({ type: 'Prefix', service: 'a' })),
      /\.method\.type: must be one of Exact, RegularExpression/,
    );
  });

  test('headers: Exact or RegularExpression, non-empty values, no repeated names, at most 16', () => {
    const h = (headers: unknown): unknown => withRule({ matches: [{ headers }], backendRefs: [svc] });
    assert.match(
      reason(h([{ name: 'x', value: '' }])),
      /spec\.rules\[0\]\.matches\[0\]\.headers\[0\]\.value: required/,
    );
    assert.match(reason(h([{ name: 'x', type: 'Prefix', value: 'a' }])), /\.headers\[0\]\.type: must be one of/);
    assert.match(reason(h([{ name: 'x:y', value: 'a' }])), /\.headers\[0\]\.name: must be an HTTP header name/);
    assert.match(
      reason(
        h([
          { name: 'X-A', value: 'a' },
          { name: 'x-a', value: 'b' },
        ]),
      ),
      /\.headers\[1\]\.name: duplicate name 'x-a'/,
    );
    assert.match(
      reason(h(Array.from({ length: 17 }, (_, i) => ({ name: `h${i}`, value: 'v' })))),
      /\.headers: must have at most 16 items/,
    );
  });

  test('list limits: 16 rules, 8 matches a rule, 128 matches in all, 16 hostnames', () => {
    const matches = (n: number): unknown[] => Array.from({ length: n }, () => ({ method: { service: 's' } }));
    assert.match(reason(withRule({ matches: matches(9) })), /spec\.rules\[0\]\.matches: must have at most 8 items/);
    assert.match(
      reason(grpcRoute({ rules: Array.from({ length: 17 }, () => ({})) })),
      /spec\.rules: must have at most 16 items/,
    );
    assert.match(
      reason(grpcRoute({ hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`) })),
      /spec\.hostnames: must have at most 16 items/,
    );
    // 16 rules of 8 matches are 128: allowed.
    ok(grpcRoute({ rules: Array.from({ length: 16 }, () => ({ matches: matches(8) })) }));
  });

  test('filters: only the four GRPCRoute types; header modifiers at most once; ExtensionRef and mirrors repeat', () => {
    const f = (filters: unknown[]): unknown => withRule({ filters, backendRefs: [svc] });
    for (const type of ['RequestRedirect', 'URLRewrite', 'CORS']) {
      assert.match(
        reason(f([{ type }])),
        /spec\.rules\[0\]\.filters\[0\]\.type: must be one of RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, ExtensionRef/,
        type,
      );
    }
    const rhm = { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: 'b' }] } };
    assert.match(
      reason(f([rhm, rhm])),
      /spec\.rules\[0\]\.filters\[1\]: only one RequestHeaderModifier filter is allowed/,
    );
    const ext = { type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'F', name: 'f' } };
    const mirror = { type: 'RequestMirror', requestMirror: { backendRef: svc } };
    assert.equal(firstRule(f([ext, ext, mirror, mirror])).filters.length, 4);
    assert.match(
      reason(f([{ type: 'RequestHeaderModifier', responseHeaderModifier: {} }])),
      /\.filters\[0\]\.responseHeaderModifier: must not be set when type is RequestHeaderModifier/,
    );
    assert.match(
      reason(f([{ type: 'RequestMirror' }])),
      /\.filters\[0\]\.requestMirror: required when type is RequestMirror/,
    );
    // Per-backend filters take the same four types.
    assert.match(
      reason(withRule({ backendRefs: [{ ...svc, filters: [{ type: 'URLRewrite', urlRewrite: {} }] }] })),
      /spec\.rules\[0\]\.backendRefs\[0\]\.filters\[0\]\.type: must be one of/,
    );
  });

  test('backendRefs: a Service needs a port; weights 0 to 1,000,000', () => {
    assert.match(
      reason(withRule({ backendRefs: [{ name: 'a' }] })),
      /spec\.rules\[0\]\.backendRefs\[0\]\.port: required/,
    );
    assert.match(
      reason(withRule({ backendRefs: [{ ...svc, weight: -1 }] })),
      /spec\.rules\[0\]\.backendRefs\[0\]\.weight: must be between 0 and 1000000/,
    );
    ok(withRule({ backendRefs: [{ group: 'example.com', kind: 'Thing', name: 't' }] }));
  });

  test('rule names are section names and unique; parentRefs follow the HTTPRoute rules', () => {
    assert.match(
      reason(grpcRoute({ rules: [{ name: 'a' }, { name: 'a' }] })),
      /spec\.rules\[1\]\.name: duplicate rule name 'a'/,
    );
    assert.match(
      reason(grpcRoute({ rules: [{ name: 'Not_Valid' }] })),
      /spec\.rules\[0\]\.name: must be a lowercase RFC 1123/,
    );
    assert.match(
      reason(grpcRoute({ parentRefs: [{ name: 'gw' }, { name: 'gw' }] })),
      /spec\.parentRefs\[1\]: duplicate reference to the same parent/,
    );
    assert.match(
      reason(grpcRoute({ hostnames: ['10.0.0.1'] })),
      /spec\.hostnames\[0\]: must be a DNS name, not an IP address/,
    );
  });
});

// ---------------------------------------------------------------- BackendTLSPolicy

function policy(spec: unknown, apiVersion = GW): unknown {
  return { apiVersion, kind: 'BackendTLSPolicy', metadata: { name: 'tls', namespace: 'shop' }, spec };
}

const target = { group: '', kind: 'Service', name: 'api' };
const caRef = { group: '', kind: 'ConfigMap', name: 'ca' };

function withValidation(validation: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return policy({ targetRefs: [target], validation: { hostname: 'api.internal', ...validation }, ...extra });
}

function asPolicy(raw: unknown): BackendTLSPolicy {
  const o = ok(raw);
  assert.equal(o.kind, 'BackendTLSPolicy');
  return o as BackendTLSPolicy;
}

describe('BackendTLSPolicy', () => {
  test('is read at v1 and v1alpha3', () => {
    const raw = withValidation({ caCertificateRefs: [caRef] }) as Record<string, unknown>;
    for (const v of ['v1', 'v1alpha3']) {
      assert.equal(ok({ ...raw, apiVersion: `gateway.networking.k8s.io/${v}` }).kind, 'BackendTLSPolicy', v);
    }
    assert.equal(decodeObject({ ...raw, apiVersion: 'gateway.networking.k8s.io/v1alpha2' }, origin).kind, 'ignored');
  });

  test('a full policy decodes to the expected value', () => {
    const p = asPolicy(
      policy({
        targetRefs: [
          { group: '', kind: 'Service', name: 'api', sectionName: 'https' },
          { group: '', kind: 'Service', name: 'api', sectionName: 'admin' },
        ],
        validation: {
          caCertificateRefs: [caRef, { group: '', kind: 'Secret', name: 'ca2' }],
          hostname: 'api.internal',
          subjectAltNames: [
            { type: 'Hostname', hostname: '*.api.internal' },
            { type: 'URI', uri: 'spiffe://cluster.local/ns/shop/sa/api' },
          ],
        },
        options: { 'example.com/min-version': '1.3' },
      }),
    );
    assert.deepEqual(p.spec, {
      targetRefs: [
        { group: '', kind: 'Service', name: 'api', sectionName: 'https' },
        { group: '', kind: 'Service', name: 'api', sectionName: 'admin' },
      ],
      validation: {
        caCertificateRefs: [caRef, { group: '', kind: 'Secret', name: 'ca2' }],
        hostname: 'api.internal',
        subjectAltNames: [
          { type: 'Hostname', hostname: '*.api.internal' },
          { type: 'URI', uri: 'spiffe://cluster.local/ns/shop/sa/api' },
        ],
      },
      options: { 'example.com/min-version': '1.3' },
    });
    assert.deepEqual(asPolicy(withValidation({ wellKnownCACertificates: 'System' })).spec.validation, {
      caCertificateRefs: [],
      wellKnownCACertificates: 'System',
      hostname: 'api.internal',
      subjectAltNames: [],
    });
  });

  test('spec, targetRefs, validation and hostname are required', () => {
    assert.match(reason(policy(undefined)), /^spec: required$/);
    assert.match(
      reason(policy({ validation: { hostname: 'a', wellKnownCACertificates: 'System' } })),
      /spec\.targetRefs: required/,
    );
    assert.match(
      reason(policy({ targetRefs: [], validation: { hostname: 'a', wellKnownCACertificates: 'System' } })),
      /spec\.targetRefs: must not be empty/,
    );
    assert.match(reason(policy({ targetRefs: [target] })), /spec\.validation: required/);
    assert.match(
      reason(policy({ targetRefs: [target], validation: { wellKnownCACertificates: 'System' } })),
      /spec\.validation\.hostname: required/,
    );
  });

  test('exactly one of caCertificateRefs and wellKnownCACertificates', () => {
    assert.match(reason(withValidation({})), /spec\.validation: must set caCertificateRefs or wellKnownCACertificates/);
    assert.match(reason(withValidation({ caCertificateRefs: [] })), /spec\.validation: must set caCertificateRefs or/);
    assert.match(
      reason(withValidation({ caCertificateRefs: [caRef], wellKnownCACertificates: 'System' })),
      /spec\.validation: must not set both caCertificateRefs and wellKnownCACertificates/,
    );
    assert.match(
      reason(withValidation({ wellKnownCACertificates: 'Mozilla' })),
      /spec\.validation\.wellKnownCACertificates: must be one of System/,
    );
    assert.match(
      reason(withValidation({ caCertificateRefs: Array.from({ length: 9 }, () => caRef) })),
      /spec\.validation\.caCertificateRefs: must have at most 8 items/,
    );
  });

  test('references: group and kind are required (group may be the core group ""), names non-empty', () => {
    assert.match(
      reason(withValidation({ caCertificateRefs: [{ kind: 'ConfigMap', name: 'ca' }] })),
      /spec\.validation\.caCertificateRefs\[0\]\.group: required/,
    );
    assert.match(
      reason(withValidation({ caCertificateRefs: [{ group: '', name: 'ca' }] })),
      /spec\.validation\.caCertificateRefs\[0\]\.kind: required/,
    );
    assert.match(
      reason(
        policy({
          targetRefs: [{ kind: 'Service', name: 'a' }],
          validation: { hostname: 'a', wellKnownCACertificates: 'System' },
        }),
      ),
      /spec\.targetRefs\[0\]\.group: required/,
    );
    assert.match(
      reason(
        policy({
          targetRefs: [{ group: '', kind: 'Service', name: '' }],
          validation: { hostname: 'a', wellKnownCACertificates: 'System' },
        }),
      ),
      /spec\.targetRefs\[0\]\.name: (required|must not be empty)/,
    );
  });

  test('targetRefs: the same target with sectionName on all references or none, each once', () => {
    const v = { hostname: 'a.internal', wellKnownCACertificates: 'System' };
    assert.match(
      reason(policy({ targetRefs: [target, { ...target, sectionName: 'https' }], validation: v })),
      /spec\.targetRefs\[1\]\.sectionName: must be set on every reference to the same target or on none/,
    );
    assert.match(
      reason(policy({ targetRefs: [target, target], validation: v })),
      /spec\.targetRefs\[1\]: duplicate reference to the same target and sectionName/,
    );
    ok(policy({ targetRefs: [target, { ...target, name: 'other' }], validation: v }));
  });

  test('hostname is a precise DNS name', () => {
    for (const hostname of ['*.api.internal', '10.0.0.1', 'Upper.Case', 'bad_name']) {
      assert.match(
        reason(withValidation({ hostname, caCertificateRefs: [caRef] })),
        /spec\.validation\.hostname: /,
        hostname,
      );
    }
  });

  test('subjectAltNames: type decides which field is set; URIs are absolute; at most 5', () => {
    const san = (subjectAltNames: unknown[]): unknown =>
      withValidation({ caCertificateRefs: [caRef], subjectAltNames });
    assert.match(reason(san([{ type: 'Hostname' }])), /subjectAltNames\[0\]\.hostname: required when type is Hostname/);
    assert.match(reason(san([{ type: 'URI' }])), /subjectAltNames\[0\]\.uri: required when type is URI/);
    assert.match(
      reason(san([{ type: 'URI', uri: 'spiffe://a/b', hostname: 'a.b' }])),
      /subjectAltNames\[0\]\.hostname: must not be set unless type is Hostname/,
    );
    assert.match(
      reason(san([{ type: 'Hostname', hostname: 'a.b', uri: 'spiffe://a/b' }])),
      /subjectAltNames\[0\]\.uri: must not be set unless type is URI/,
    );
    assert.match(
      reason(san([{ type: 'URI', uri: 'not a uri' }])),
      /subjectAltNames\[0\]\.uri: must be an absolute URI/,
    );
    assert.match(
      reason(san([{ type: 'IP', hostname: 'a' }])),
      /subjectAltNames\[0\]\.type: must be one of Hostname, URI/,
    );
    assert.match(
      reason(san(Array.from({ length: 6 }, () => ({ type: 'Hostname', hostname: 'a.b' })))),
      /spec\.validation\.subjectAltNames: must have at most 5 items/,
    );
  });

  test('options: at most 16, keys like annotation keys', () => {
    const opts = (options: Record<string, unknown>): unknown =>
      withValidation({ caCertificateRefs: [caRef] }, { options });
    ok(opts({ 'example.com/min-version': '1.3', plain: 'x' }));
    assert.match(reason(opts({ 'bad key': 'x' })), /spec\.options\[bad key\]: key must be a name/);
    assert.match(reason(opts({ a: 1 })), /spec\.options\[a\]: must be a string/);
    assert.match(
      reason(opts(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])))),
      /spec\.options: must have at most 16 entries/,
    );
  });
});

// ---------------------------------------------------------------- Gateway spec.tls.backend

describe('Gateway spec.tls.backend.clientCertificateRef', () => {
  const gw = (tls: unknown): unknown => ({
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'infra' },
    spec: { gatewayClassName: 'gatehouse', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], tls },
  });
  const spec = (raw: unknown): Gateway['spec'] => (ok(raw) as Gateway).spec;

  test('defaults group "" and kind Secret; namespace optional', () => {
    assert.deepEqual(spec(gw({ backend: { clientCertificateRef: { name: 'client' } } })).tls, {
      backend: { clientCertificateRef: { group: '', kind: 'Secret', name: 'client' } },
    });
    assert.deepEqual(spec(gw({ backend: { clientCertificateRef: { name: 'client', namespace: 'certs' } } })).tls, {
      backend: { clientCertificateRef: { group: '', kind: 'Secret', name: 'client', namespace: 'certs' } },
    });
  });

  test('absent stays absent; frontend is not read; the reference is checked', () => {
    assert.equal(spec(gw(undefined)).tls, undefined);
    assert.equal(spec(gw({ frontend: { default: {} } })).tls, undefined);
    assert.deepEqual(spec(gw({ backend: {} })).tls, { backend: {} });
    assert.match(
      reason(gw({ backend: { clientCertificateRef: {} } })),
      /spec\.tls\.backend\.clientCertificateRef\.name: required/,
    );
    assert.match(
      reason(gw({ backend: { clientCertificateRef: { name: 'c', namespace: 'Bad_NS' } } })),
      /spec\.tls\.backend\.clientCertificateRef\.namespace: must be a lowercase RFC 1123 label/,
    );
  });
});
