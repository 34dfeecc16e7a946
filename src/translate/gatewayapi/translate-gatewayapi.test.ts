// Unit tests on typed objects, for what the golden cases cannot show: inputs the decoders already reject (the
// translator must still behave), and properties checked across many inputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Condition, Route, StatusEntry, TranslateResult } from '../../ir/types.ts';
import type {
  Gateway,
  GatewayClass,
  GatewayListener,
  HTTPBackendRef,
  HTTPRoute,
  HTTPRouteMatch,
  HTTPRouteRule,
  KubeObject,
  ParentReference,
} from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { type MetaInput, meta, service } from '../test-objects.ts';
import { GATEWAY_API_GROUP, GATEWAY_CONTROLLER_NAME, translateGatewayAPI } from './translate-gatewayapi.ts';

function gatewayClass(name = 'gatehouse', controllerName = GATEWAY_CONTROLLER_NAME): GatewayClass {
  return { kind: 'GatewayClass', metadata: meta({ name, namespace: '' }), spec: { controllerName }, origin: {} };
}

function listener(l: Partial<GatewayListener> & { name: string; port: number }): GatewayListener {
  return {
    protocol: 'HTTP',
    allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] },
    ...l,
  };
}

function gateway(m: MetaInput, listeners: GatewayListener[], gatewayClassName = 'gatehouse'): Gateway {
  return { kind: 'Gateway', metadata: meta(m), spec: { gatewayClassName, listeners }, origin: {} };
}

function parent(name: string, extra: Partial<ParentReference> = {}): ParentReference {
  return { group: GATEWAY_API_GROUP, kind: 'Gateway', name, ...extra };
}

/** `port: null` leaves the port out. */
function backend(name: string, port: number | null = 80, extra: Partial<HTTPBackendRef> = {}): HTTPBackendRef {
  return {
    group: '',
    kind: 'Service',
    name,
    ...(port !== null ? { port } : {}),
    weight: 1,
    filters: [],
    ...extra,
  };
}

const prefix = (value: string): HTTPRouteMatch => ({
  path: { type: 'PathPrefix', value },
  headers: [],
  queryParams: [],
});

function rule(r: Partial<HTTPRouteRule>): HTTPRouteRule {
  return { matches: [prefix('/')], filters: [], backendRefs: [backend('app')], ...r };
}

function httpRoute(m: MetaInput & { generation?: number }, spec: Partial<HTTPRoute['spec']>): HTTPRoute {
  const metadata = { ...meta(m), ...(m.generation !== undefined ? { generation: m.generation } : {}) };
  return {
    kind: 'HTTPRoute',
    metadata,
    spec: { parentRefs: [parent('gw')], hostnames: [], rules: [rule({})], ...spec },
    origin: {},
  };
}

const base: KubeObject[] = [
  gatewayClass(),
  gateway({ name: 'gw' }, [listener({ name: 'http', port: 8000 })]),
  service({ name: 'app', clusterIP: '127.0.10.1', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
];

function translate(objects: KubeObject[], upstream: 'service' | 'endpoints' = 'service'): TranslateResult {
  return translateGatewayAPI(new Snapshot(objects), { controllerName: GATEWAY_CONTROLLER_NAME, upstream });
}

function statusOf(result: TranslateResult, kind: string, name: string): StatusEntry | undefined {
  return result.status.find((s) => s.kind === kind && s.name === name);
}

function conditionOf(entry: StatusEntry | undefined, type: string): Condition | undefined {
  return entry?.conditions.find((c) => c.type === type);
}

function routesOn(result: TranslateResult, port: number, hostname: string): readonly Route[] {
  const l = result.ir.listeners.find((x) => x.port === port);
  return l?.virtualHosts.find((v) => v.hostname === hostname)?.routes ?? [];
}

describe('translateGatewayAPI', () => {
  it('keeps only the first header and query match for a name', () => {
    const r = httpRoute(
      { name: 'r' },
      {
        rules: [
          rule({
            matches: [
              {
                path: { type: 'PathPrefix', value: '/' },
                headers: [
                  { type: 'Exact', name: 'X-Env', value: 'a' },
                  { type: 'Exact', name: 'x-env', value: 'b' },
                ],
                queryParams: [
                  { type: 'Exact', name: 'q', value: '1' },
                  { type: 'Exact', name: 'Q', value: '2' },
                  { type: 'Exact', name: 'q', value: '3' },
                ],
              },
            ],
          }),
        ],
      },
    );
    const [route] = routesOn(translate([...base, r]), 8000, '*');
    assert.deepEqual(route?.match.headers, [{ name: 'X-Env', kind: 'Exact', value: 'a' }]);
    assert.deepEqual(
      route?.match.queryParams.map((q) => q.value),
      ['1', '2'],
    );
  });

  it('leaves out a rule with an unusable regular expression and reports the route partially invalid', () => {
    const r = httpRoute(
      { name: 'r' },
      {
        rules: [
          rule({ matches: [prefix('/ok')] }),
          rule({ matches: [prefix('/also'), { ...prefix('/'), path: { type: 'RegularExpression', value: '(' } }] }),
        ],
      },
    );
    const result = translate([...base, r]);
    assert.deepEqual(
      routesOn(result, 8000, '*').map((x) => x.name),
      ['httproute/default/r/rule/0/match/0'],
    );
    const st = statusOf(result, 'HTTPRoute', 'r');
    assert.equal(conditionOf(st, 'Accepted')?.status, 'True');
    assert.equal(conditionOf(st, 'PartiallyInvalid')?.reason, 'UnsupportedValue');
  });

  it('rejects a route none of whose rules can be served', () => {
    const r = httpRoute(
      { name: 'r' },
      { rules: [rule({ matches: [{ ...prefix('/'), path: { type: 'Exact', value: 'no-slash' } }] })] },
    );
    const result = translate([...base, r]);
    const accepted = conditionOf(statusOf(result, 'HTTPRoute', 'r'), 'Accepted');
    assert.equal(accepted?.status, 'False');
    assert.equal(accepted?.reason, 'UnsupportedValue');
    assert.deepEqual(routesOn(result, 8000, '*'), []);
    assert.equal(statusOf(result, 'Gateway', 'gw')?.listeners?.[0]?.attachedRoutes, 0);
  });

  it('answers 500 for a Service reference without a port', () => {
    const r = httpRoute({ name: 'r' }, { rules: [rule({ backendRefs: [backend('app', null)] })] });
    const result = translate([...base, r]);
    const [route] = routesOn(result, 8000, '*');
    assert.equal(route?.action.kind, 'forward');
    const name = route?.action.kind === 'forward' ? route.action.backends[0]?.backend : undefined;
    assert.equal(name, 'invalid/default/r/rule/0/backend/0');
    assert.deepEqual(result.ir.backends.find((b) => b.name === name)?.target.kind, 'unavailable');
    assert.equal(conditionOf(statusOf(result, 'HTTPRoute', 'r'), 'ResolvedRefs')?.reason, 'BackendNotFound');
  });

  it('resolves ExternalName Services by DNS', () => {
    const ext = service({ name: 'ext', type: 'ExternalName', externalName: 'api.example.net', ports: [] });
    const r = httpRoute({ name: 'r' }, { rules: [rule({ backendRefs: [backend('ext', 443)] })] });
    const result = translate([...base, ext, r]);
    assert.deepEqual(result.ir.backends.find((b) => b.name === 'default/ext:443')?.target, {
      kind: 'dns',
      hostname: 'api.example.net',
      port: 443,
    });
  });

  it('ignores timeouts it cannot read, with a diagnostic', () => {
    const r = httpRoute({ name: 'r' }, { rules: [rule({ timeouts: { request: '1.5s', backendRequest: '200ms' } })] });
    const result = translate([...base, r]);
    assert.deepEqual(routesOn(result, 8000, '*')[0]?.timeouts, { backendRequestMs: 200 });
    assert.ok(result.diagnostics.some((d) => d.message.includes('timeouts.request') && d.severity === 'error'));
  });

  it('drops a mirror with an impossible fraction', () => {
    const r = httpRoute(
      { name: 'r' },
      {
        rules: [
          rule({
            filters: [
              {
                type: 'RequestMirror',
                requestMirror: { backendRef: backend('app'), fraction: { numerator: 1, denominator: 0 } },
              },
            ],
          }),
        ],
      },
    );
    const result = translate([...base, r]);
    assert.equal(routesOn(result, 8000, '*')[0]?.filters, undefined);
    assert.ok(result.diagnostics.some((d) => d.message.includes('mirror ignored')));
  });

  it('admits no namespace through a Selector listener without a selector', () => {
    const gw = gateway({ name: 'sel' }, [
      listener({ name: 'http', port: 8100, allowedRoutes: { namespaces: { from: 'Selector' }, kinds: [] } }),
    ]);
    const r = httpRoute({ name: 'r' }, { parentRefs: [parent('sel')] });
    const result = translate([...base, gw, r]);
    assert.equal(conditionOf(statusOf(result, 'HTTPRoute', 'r'), 'Accepted')?.reason, 'NotAllowedByListeners');
    assert.ok(result.diagnostics.some((d) => d.message.includes('Selector without a selector')));
  });

  it('writes the object generation into every condition', () => {
    const r = httpRoute({ name: 'r', generation: 7 }, {});
    const st = statusOf(translate([...base, r]), 'HTTPRoute', 'r');
    assert.ok(st !== undefined && st.conditions.length > 0);
    for (const c of [...st.conditions, ...(st.parents ?? []).flatMap((p) => p.conditions)]) {
      assert.equal(c.observedGeneration, 7);
    }
  });

  it('concatenates the conditions of every parent into the top-level conditions', () => {
    const gw2 = gateway({ name: 'gw2' }, [listener({ name: 'http', port: 8001 })]);
    const r = httpRoute({ name: 'r' }, { parentRefs: [parent('gw'), parent('gw2'), parent('missing')] });
    const st = statusOf(translate([...base, gw2, r]), 'HTTPRoute', 'r');
    assert.equal(st?.parents?.length, 3);
    assert.deepEqual(
      st?.conditions.map((c) => `${c.type}=${c.status}`),
      [
        'Accepted=True',
        'ResolvedRefs=True',
        'Accepted=True',
        'ResolvedRefs=True',
        'Accepted=False',
        'ResolvedRefs=True',
      ],
    );
  });

  it('writes nothing for routes that only name mesh Services or other controllers’ Gateways', () => {
    const theirs = gateway({ name: 'theirs' }, [listener({ name: 'http', port: 8200 })], 'other');
    const mesh = httpRoute({ name: 'mesh' }, { parentRefs: [{ group: '', kind: 'Service', name: 'app' }] });
    const other = httpRoute({ name: 'other' }, { parentRefs: [parent('theirs')] });
    const result = translate([...base, gatewayClass('other', 'example.com/else'), theirs, mesh, other]);
    assert.equal(statusOf(result, 'HTTPRoute', 'mesh'), undefined);
    assert.equal(statusOf(result, 'HTTPRoute', 'other'), undefined);
    assert.equal(statusOf(result, 'Gateway', 'theirs'), undefined);
    assert.equal(statusOf(result, 'GatewayClass', 'other'), undefined);
    assert.equal(
      result.ir.listeners.find((l) => l.port === 8200),
      undefined,
    );
  });

  it('gives the same result whatever order objects come in', () => {
    const objects: KubeObject[] = [
      ...base,
      gateway({ name: 'b', creationTimestamp: '2024-01-01T00:00:00Z' }, [listener({ name: 'h', port: 8000 })]),
      httpRoute({ name: 'r1', creationTimestamp: '2024-02-01T00:00:00Z' }, { hostnames: ['a.example.com'] }),
      httpRoute({ name: 'r2', creationTimestamp: '2024-02-01T00:00:00Z' }, { hostnames: ['*.example.com'] }),
      httpRoute({ name: 'r3' }, { parentRefs: [parent('b')] }),
    ];
    const want = JSON.stringify(translate(objects));
    assert.equal(JSON.stringify(translate([...objects].reverse())), want);
  });
});
