// GRPCRoute translation beyond the golden cases: the method → path mapping against real request paths, inputs the
// decoders already reject (the translator must still behave), and attachment details.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PathMatch, Route, StatusEntry, TranslateResult } from '../../ir/types.ts';
import type {
  Gateway,
  GatewayListener,
  GRPCMethodMatch,
  GRPCRoute,
  GRPCRouteRule,
  HTTPRoute,
  KubeObject,
} from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { type MetaInput, meta, service } from '../test-objects.ts';
import { compareGRPCPrecedence, escapeRegex, methodPathOf } from './grpc-routes.ts';
import { GATEWAY_API_GROUP, GATEWAY_CONTROLLER_NAME, translateGatewayAPI } from './translate-gatewayapi.ts';

/** Whether a request path matches an IR path match, as compile/ matches them (regular expressions whole). */
function pathMatches(m: ReturnType<typeof methodPathOf>, path: string): boolean {
  assert.ok(typeof m !== 'string', String(m));
  const p = m.path;
  if (p.kind === 'Exact') return path === p.value;
  if (p.kind === 'Prefix') return p.value === '/' || path === p.value || path.startsWith(`${p.value}/`);
  return new RegExp(`^(?:${p.value})$`).test(path);
}

/** The path of a method match that must be servable. */
function pathOf(m: GRPCMethodMatch): PathMatch {
  const mp = methodPathOf(m);
  assert.ok(typeof mp !== 'string', String(mp));
  return mp.path;
}

describe('methodPathOf', () => {
  const exact = (service?: string, method?: string): GRPCMethodMatch => ({
    type: 'Exact',
    ...(service !== undefined ? { service } : {}),
    ...(method !== undefined ? { method } : {}),
  });
  const regex = (service?: string, method?: string): GRPCMethodMatch => ({
    ...exact(service, method),
    type: 'RegularExpression',
  });

  it('maps each kind of method match to a path match', () => {
    assert.deepEqual(methodPathOf(undefined), {
      path: { kind: 'Prefix', value: '/' },
      precedence: { type: 2, serviceLength: 0, methodLength: 0 },
    });
    assert.deepEqual(methodPathOf(exact('pkg.v1.Echo', 'Get')), {
      path: { kind: 'Exact', value: '/pkg.v1.Echo/Get' },
      precedence: { type: 0, serviceLength: 11, methodLength: 3 },
    });
    assert.deepEqual(methodPathOf(exact('pkg.v1.Echo')), {
      path: { kind: 'Prefix', value: '/pkg.v1.Echo' },
      precedence: { type: 0, serviceLength: 11, methodLength: 0 },
    });
    assert.deepEqual(methodPathOf(exact(undefined, 'Get')), {
      path: { kind: 'RegularExpression', value: '/[^/]+/Get' },
      precedence: { type: 0, serviceLength: 0, methodLength: 3 },
    });
    assert.deepEqual(methodPathOf(regex('pkg\\..*', 'G.t')), {
      path: { kind: 'RegularExpression', value: '/(?:pkg\\..*)/(?:G.t)' },
      precedence: { type: 1, serviceLength: 7, methodLength: 3 },
    });
    assert.deepEqual(pathOf(regex(undefined, 'Get|Set')), {
      kind: 'RegularExpression',
      value: '/[^/]+/(?:Get|Set)',
    });
    assert.deepEqual(pathOf(regex('a|b')), { kind: 'RegularExpression', value: '/(?:a|b)/[^/]+' });
  });

  it('matches the request paths it should, and no others', () => {
    const cases: [GRPCMethodMatch | undefined, string[], string[]][] = [
      [undefined, ['/a.B/C', '/x/y'], []],
      [
        exact('pkg.v1.Echo', 'Get'),
        ['/pkg.v1.Echo/Get'],
        ['/pkg.v1.Echo/GetX', '/pkg.v1.EchoX/Get', '/pkgXv1.Echo/Get'],
      ],
      [exact('pkg.v1.Echo'), ['/pkg.v1.Echo/Get', '/pkg.v1.Echo/Set'], ['/pkg.v1.EchoX/Get', '/pkg.v1/Echo']],
      [exact(undefined, 'Get'), ['/a.B/Get', '/x/Get'], ['/a.B/GetX', '/a/b/Get', '//Get', '/a.B/xGet']],
      [
        regex('pkg\\.v[0-9]+\\.Echo', 'Stream.*'),
        ['/pkg.v12.Echo/StreamIn'],
        ['/pkg.vX.Echo/StreamIn', '/pkg.v1.Echo/Get'],
      ],
      // Alternation stays inside its part: `a|b` never swallows the method part.
      [regex('a|b', 'Get'), ['/a/Get', '/b/Get'], ['/a', '/c/Get', '/a/Set']],
      [regex(undefined, 'Get|Set'), ['/x/Get', '/x/Set'], ['/x/Put', '/x/y/Get']],
    ];
    for (const [m, yes, no] of cases) {
      const mp = methodPathOf(m);
      for (const p of yes) assert.ok(pathMatches(mp, p), `${JSON.stringify(m)} should match ${p}`);
      for (const p of no) assert.ok(!pathMatches(mp, p), `${JSON.stringify(m)} should not match ${p}`);
    }
  });

  it('refuses what the decoders refuse, and what could change meaning once the parts are joined', () => {
    assert.match(String(methodPathOf(exact())), /names neither a service nor a method/);
    assert.match(String(methodPathOf(exact('a/b', 'c'))), /not a gRPC service name/);
    assert.match(String(methodPathOf(exact('a', 'b.c'))), /not a gRPC method name/);
    // An unbalanced part would escape its group in the joined expression.
    assert.match(String(methodPathOf(regex('a)|(.*'))), /service regular expression .* is not valid/);
    assert.match(String(methodPathOf(regex(undefined, '(a+)+'))), /method regular expression .* is not valid/);
    // Each part is valid alone, but the same group name twice is not.
    assert.match(String(methodPathOf(regex('(?<x>a)', '(?<x>b)'))), /made of service and method is not valid/);
  });

  it('escapes regular expression syntax', () => {
    const special = 'a.b*c+d?e^f$g(h)i[j]k{l}m|n\\o';
    assert.ok(new RegExp(`^${escapeRegex(special)}$`).test(special));
    assert.ok(!new RegExp(`^${escapeRegex('a.b')}$`).test('axb'));
  });

  it('orders Exact before RegularExpression before none, then longer service, then longer method', () => {
    const order = [
      exact('pkg.v1alpha.Longer'),
      exact('pkg.v1.Echo', 'Unary'),
      exact('pkg.v1.Echo', 'Get'),
      exact('pkg.v1.Echo'),
      exact(undefined, 'Health'),
      regex('pkg\\.v1\\.Echo'),
      regex('p.*'),
      undefined,
    ].map((m) => {
      const mp = methodPathOf(m);
      assert.ok(typeof mp !== 'string');
      return mp.precedence;
    });
    const sorted = [...order].reverse().sort(compareGRPCPrecedence);
    assert.deepEqual(sorted, order);
  });
});

// ---------------------------------------------------------------- translation

function listener(l: Partial<GatewayListener> & { name: string; port: number }): GatewayListener {
  return { protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] }, ...l };
}

function gateway(listeners: GatewayListener[]): Gateway {
  return {
    kind: 'Gateway',
    metadata: meta({ name: 'gw' }),
    spec: { gatewayClassName: 'gatehouse', listeners },
    origin: {},
  };
}

const parent = { group: GATEWAY_API_GROUP, kind: 'Gateway', name: 'gw' };

function grpcRule(r: Partial<GRPCRouteRule>): GRPCRouteRule {
  return {
    matches: [{ headers: [] }],
    filters: [],
    backendRefs: [{ group: '', kind: 'Service', name: 'app', port: 80, weight: 1, filters: [] }],
    ...r,
  };
}

function grpcRoute(m: MetaInput, rules: GRPCRouteRule[]): GRPCRoute {
  return { kind: 'GRPCRoute', metadata: meta(m), spec: { parentRefs: [parent], hostnames: [], rules }, origin: {} };
}

function httpRoute(m: MetaInput): HTTPRoute {
  return {
    kind: 'HTTPRoute',
    metadata: meta(m),
    spec: {
      parentRefs: [parent],
      hostnames: [],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
          filters: [],
          backendRefs: [{ group: '', kind: 'Service', name: 'app', port: 80, weight: 1, filters: [] }],
        },
      ],
    },
    origin: {},
  };
}

const base: KubeObject[] = [
  {
    kind: 'GatewayClass',
    metadata: meta({ name: 'gatehouse', namespace: '' }),
    spec: { controllerName: GATEWAY_CONTROLLER_NAME },
    origin: {},
  },
  gateway([listener({ name: 'http', port: 8000 })]),
  service({ name: 'app', clusterIP: '127.0.10.1', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
];

function translate(objects: KubeObject[]): TranslateResult {
  return translateGatewayAPI(new Snapshot(objects), { controllerName: GATEWAY_CONTROLLER_NAME, upstream: 'service' });
}

function statusOf(result: TranslateResult, kind: string, name: string): StatusEntry | undefined {
  return result.status.find((s) => s.kind === kind && s.name === name);
}

function routesOn(result: TranslateResult, hostname = '*'): readonly Route[] {
  return result.ir.listeners[0]?.virtualHosts.find((v) => v.hostname === hostname)?.routes ?? [];
}

describe('translateGatewayAPI with GRPCRoutes', () => {
  it('leaves out a rule whose match cannot be served and reports the route partially invalid', () => {
    const r = grpcRoute({ name: 'r' }, [
      grpcRule({ matches: [{ method: { type: 'Exact', service: 'ok.Svc' }, headers: [] }] }),
      grpcRule({ matches: [{ method: { type: 'RegularExpression', service: '(' }, headers: [] }] }),
    ]);
    const result = translate([...base, r]);
    assert.deepEqual(
      routesOn(result).map((x) => x.name),
      ['grpcroute/default/r/rule/0/match/0'],
    );
    const s = statusOf(result, 'GRPCRoute', 'r');
    assert.equal(s?.conditions[0]?.status, 'True');
    assert.equal(s?.conditions[2]?.type, 'PartiallyInvalid');
    assert.match(s?.conditions[2]?.message ?? '', /spec\.rules\[1\]\.matches\[0\]: service regular expression/);
  });

  it('does not accept a route none of whose rules can be served', () => {
    const r = grpcRoute({ name: 'r' }, [grpcRule({ matches: [{ method: { type: 'Exact' }, headers: [] }] })]);
    const result = translate([...base, r]);
    const accepted = statusOf(result, 'GRPCRoute', 'r')?.conditions[0];
    assert.equal(accepted?.status, 'False');
    assert.equal(accepted?.reason, 'UnsupportedValue');
    assert.deepEqual(routesOn(result), []);
  });

  it('a route without rules is accepted and serves nothing', () => {
    const result = translate([...base, grpcRoute({ name: 'r' }, [])]);
    assert.equal(statusOf(result, 'GRPCRoute', 'r')?.conditions[0]?.status, 'True');
    assert.deepEqual(routesOn(result), []);
    assert.equal(statusOf(result, 'Gateway', 'gw')?.listeners?.[0]?.attachedRoutes, 1);
  });

  it('every match is a POST; every backend HTTP/2', () => {
    const result = translate([...base, grpcRoute({ name: 'r' }, [grpcRule({})])]);
    assert.equal(routesOn(result)[0]?.match.method, 'POST');
    assert.deepEqual(
      result.ir.backends.map((b) => [b.name, b.protocol]),
      [['default/app:80+h2c', 'h2']],
    );
  });

  it('a listener that admits only HTTPRoute does not take GRPCRoutes, and says so', () => {
    const objects = [
      ...base.filter((o) => o.kind !== 'Gateway'),
      gateway([
        listener({
          name: 'http',
          port: 8000,
          allowedRoutes: { namespaces: { from: 'Same' }, kinds: [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute' }] },
        }),
      ]),
      grpcRoute({ name: 'r' }, [grpcRule({})]),
    ];
    const result = translate(objects);
    const accepted = statusOf(result, 'GRPCRoute', 'r')?.conditions[0];
    assert.equal(accepted?.reason, 'NotAllowedByListeners');
    assert.match(accepted?.message ?? '', /does not admit GRPCRoute/);
    assert.deepEqual(statusOf(result, 'Gateway', 'gw')?.listeners?.[0]?.supportedKinds, [
      { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' },
    ]);
  });

  it('an HTTPRoute and a GRPCRoute of the same name count apart, and the older keeps the shared hostname', () => {
    const result = translate([
      ...base,
      httpRoute({ name: 'same', creationTimestamp: '2024-01-02T00:00:00Z' }),
      grpcRoute({ name: 'same', creationTimestamp: '2024-01-01T00:00:00Z' }, [grpcRule({})]),
    ]);
    assert.equal(statusOf(result, 'GRPCRoute', 'same')?.conditions[0]?.status, 'True');
    const http = statusOf(result, 'HTTPRoute', 'same')?.conditions[0];
    assert.equal(http?.status, 'False');
    assert.equal(http?.reason, 'HostnameConflict');
    assert.match(http?.message ?? '', /GRPCRoute default\/same, which is older/);
    assert.equal(statusOf(result, 'Gateway', 'gw')?.listeners?.[0]?.attachedRoutes, 1);
    assert.deepEqual(
      routesOn(result).map((r) => r.name),
      ['grpcroute/default/same/rule/0/match/0'],
    );
  });

  it('at equal age, namespace/name decides between the two kinds', () => {
    const result = translate([...base, httpRoute({ name: 'b' }), grpcRoute({ name: 'a' }, [grpcRule({})])]);
    assert.equal(statusOf(result, 'GRPCRoute', 'a')?.conditions[0]?.status, 'True');
    assert.equal(statusOf(result, 'HTTPRoute', 'b')?.conditions[0]?.reason, 'HostnameConflict');
  });
});
