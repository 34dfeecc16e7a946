// Decoders for TCPRoute and TLSRoute: the versions read, defaults, and the CRD rules of each version.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodeResult } from './decode.ts';
import { decodeObject } from './decode.ts';
import type { KubeObject, TCPRoute, TLSRoute } from './objects.ts';

const origin = { file: 'l4.yaml', document: 0 };
const GROUP = 'gateway.networking.k8s.io';

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

const backend = { name: 'db', port: 5432 };

function tcpRoute(spec: unknown, version = 'v1alpha2'): unknown {
  return { apiVersion: `${GROUP}/${version}`, kind: 'TCPRoute', metadata: { name: 'db', namespace: 'apps' }, spec };
}

function tlsRoute(spec: unknown, version = 'v1'): unknown {
  return { apiVersion: `${GROUP}/${version}`, kind: 'TLSRoute', metadata: { name: 'sni', namespace: 'apps' }, spec };
}

describe('TCPRoute', () => {
  test('is read at v1alpha2 and v1, not v1beta1', () => {
    const spec = { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [backend] }] };
    assert.equal(ok(tcpRoute(spec)).kind, 'TCPRoute');
    assert.equal(ok(tcpRoute(spec, 'v1')).kind, 'TCPRoute');
    assert.equal(decodeObject(tcpRoute(spec, 'v1beta1'), origin).kind, 'ignored');
  });

  test('defaults: group "", kind Service, weight 1; parentRef group and kind', () => {
    const r = ok(tcpRoute({ parentRefs: [{ name: 'gw', sectionName: 'tcp' }], rules: [{ backendRefs: [backend] }] }));
    const route = r as TCPRoute;
    assert.deepEqual(route.spec.rules, [
      { backendRefs: [{ group: '', kind: 'Service', name: 'db', port: 5432, weight: 1 }] },
    ]);
    assert.deepEqual(route.spec.parentRefs, [{ group: GROUP, kind: 'Gateway', name: 'gw', sectionName: 'tcp' }]);
  });

  test('rules: at least one; v1alpha2 up to 16, v1 exactly one', () => {
    assert.match(reason(tcpRoute({ parentRefs: [{ name: 'gw' }] })), /spec\.rules: required/);
    assert.match(reason(tcpRoute({ rules: [] })), /spec\.rules: must not be empty/);
    const two = { rules: [{ backendRefs: [backend] }, { backendRefs: [backend] }] };
    assert.equal(ok(tcpRoute(two)).kind, 'TCPRoute');
    assert.match(reason(tcpRoute(two, 'v1')), /spec\.rules: must have at most 1 items/);
  });

  test('backendRefs: optional in v1alpha2 but never empty; required in v1; a Service needs a port', () => {
    assert.equal((ok(tcpRoute({ rules: [{}] })) as TCPRoute).spec.rules[0]?.backendRefs.length, 0);
    assert.match(reason(tcpRoute({ rules: [{ backendRefs: [] }] })), /backendRefs: must not be empty/);
    assert.match(reason(tcpRoute({ rules: [{}] }, 'v1')), /spec\.rules\[0\]\.backendRefs: required/);
    assert.match(reason(tcpRoute({ rules: [{ backendRefs: [{ name: 'db' }] }] })), /port: required/);
  });

  test('weights 0 to 1,000,000; unique rule names', () => {
    assert.match(
      reason(tcpRoute({ rules: [{ backendRefs: [{ ...backend, weight: -1 }] }] })),
      /weight: must be between 0 and 1000000/,
    );
    const named = {
      rules: [
        { name: 'a', backendRefs: [backend] },
        { name: 'a', backendRefs: [backend] },
      ],
    };
    assert.match(reason(tcpRoute(named)), /duplicate rule name 'a'/);
  });
});

describe('TLSRoute', () => {
  const rules = [{ backendRefs: [{ name: 'tls', port: 443 }] }];

  test('is read at v1, v1alpha3 and v1alpha2', () => {
    for (const v of ['v1', 'v1alpha3', 'v1alpha2']) {
      assert.equal(ok(tlsRoute({ hostnames: ['a.example.com'], rules }, v)).kind, 'TLSRoute', v);
    }
    assert.equal(decodeObject(tlsRoute({ hostnames: ['a.example.com'], rules }, 'v1beta1'), origin).kind, 'ignored');
  });

  test('hostnames: required from v1alpha3 on, optional in v1alpha2; wildcards only as the first label; no IPs', () => {
    assert.match(reason(tlsRoute({ rules })), /spec\.hostnames: must have at least one hostname/);
    assert.match(reason(tlsRoute({ rules }, 'v1alpha3')), /spec\.hostnames/);
    assert.deepEqual((ok(tlsRoute({ rules }, 'v1alpha2')) as TLSRoute).spec.hostnames, []);
    assert.deepEqual((ok(tlsRoute({ hostnames: ['*.example.com'], rules })) as TLSRoute).spec.hostnames, [
      '*.example.com',
    ]);
    assert.match(reason(tlsRoute({ hostnames: ['a.*.example.com'], rules })), /spec\.hostnames\[0\]/);
    assert.match(reason(tlsRoute({ hostnames: ['10.0.0.1'], rules })), /not an IP address/);
  });

  test('rules: exactly one in v1, up to 16 before', () => {
    const two = [...rules, ...rules];
    assert.match(reason(tlsRoute({ hostnames: ['a.example.com'], rules: two })), /at most 1 items/);
    assert.equal(ok(tlsRoute({ hostnames: ['a.example.com'], rules: two }, 'v1alpha2')).kind, 'TLSRoute');
  });
});
