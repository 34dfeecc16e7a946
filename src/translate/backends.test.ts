import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SourceRef } from '../ir/types.ts';
import type { KubeObject } from '../model/objects.ts';
import { Snapshot } from '../model/snapshot.ts';
import { resolveServiceBackend, type UpstreamMode } from './backends.ts';
import { endpoint, endpointSlice, service, servicePort } from './test-objects.ts';

const source: SourceRef = { kind: 'Ingress', namespace: 'default', name: 'web' };

function resolve(objects: KubeObject[], port: { number?: number; name?: string }, mode: UpstreamMode = 'service') {
  return resolveServiceBackend(new Snapshot(objects), { namespace: 'default', name: 'app', port }, mode, source);
}

const app = service({ name: 'app', clusterIP: '127.0.10.1', ports: [servicePort('http', 80, 8080)] });
const readySlice = endpointSlice({
  name: 'app-1',
  service: 'app',
  endpoints: [
    endpoint('127.0.20.10'),
    endpoint('127.0.20.2'),
    endpoint('127.0.20.3', false),
    endpoint('127.0.20.4', null),
  ],
});

describe('resolveServiceBackend', () => {
  it('names the backend by the port as written', () => {
    assert.equal(resolve([app], { number: 80 }).backend.name, 'default/app:80');
    assert.equal(resolve([app], { name: 'http' }).backend.name, 'default/app:http');
  });

  it('reports a missing Service as 503', () => {
    const r = resolve([], { number: 80 });
    assert.deepEqual(r.backend.target, { kind: 'unavailable', status: 503, reason: 'service default/app not found' });
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0]?.severity, 'error');
    assert.deepEqual(r.diagnostics[0]?.object, source);
  });

  it('reports a port the Service lacks as 503', () => {
    for (const port of [{ number: 81 }, { name: 'grpc' }]) {
      const r = resolve([app], port);
      assert.equal(r.backend.target.kind, 'unavailable');
      assert.equal(r.backend.target.kind === 'unavailable' && r.backend.target.status, 503);
    }
  });

  it('targets the cluster IP and Service port in service mode, by number or by name', () => {
    const expected = { kind: 'static', endpoints: [{ address: '127.0.10.1', port: 80 }] };
    assert.deepEqual(resolve([app], { number: 80 }).backend.target, expected);
    assert.deepEqual(resolve([app, readySlice], { name: 'http' }).backend.target, expected);
    assert.deepEqual(resolve([app], { number: 80 }).diagnostics, []);
  });

  it('answers 503 through the cluster IP when slices exist but none is ready', () => {
    const unready = endpointSlice({ name: 'app-1', service: 'app', endpoints: [endpoint('127.0.20.1', false)] });
    const r = resolve([app, unready], { number: 80 });
    assert.equal(r.backend.target.kind, 'unavailable');
    assert.match(r.backend.target.kind === 'unavailable' ? r.backend.target.reason : '', /no ready endpoints/);
    assert.equal(r.diagnostics[0]?.severity, 'warning');
  });

  it('lists ready and unknown-readiness endpoints in endpoints mode, sorted and deduplicated', () => {
    const dup = endpointSlice({ name: 'app-2', service: 'app', endpoints: [endpoint('127.0.20.2')] });
    const r = resolve([app, readySlice, dup], { number: 80 }, 'endpoints');
    assert.deepEqual(r.backend.target, {
      kind: 'static',
      endpoints: [
        { address: '127.0.20.2', port: 8080 },
        { address: '127.0.20.4', port: 8080 },
        { address: '127.0.20.10', port: 8080 },
      ],
    });
  });

  it('joins slice ports to the Service port by name', () => {
    const svc = service({
      name: 'app',
      clusterIP: '127.0.10.1',
      ports: [servicePort('http', 80, 'web'), servicePort('metrics', 9090, 9090)],
    });
    const slice = endpointSlice({
      name: 'app-1',
      service: 'app',
      endpoints: [endpoint('127.0.20.1')],
      ports: [
        { name: 'metrics', port: 9090 },
        { name: 'http', port: 3000 },
      ],
    });
    const r = resolve([svc, slice], { name: 'http' }, 'endpoints');
    assert.deepEqual(r.backend.target, { kind: 'static', endpoints: [{ address: '127.0.20.1', port: 3000 }] });
  });

  it('ignores slices of other Services and FQDN slices', () => {
    const other = endpointSlice({ name: 'x-1', service: 'other', endpoints: [endpoint('127.0.20.9')] });
    const fqdn = endpointSlice({ name: 'app-f', service: 'app', addressType: 'FQDN', endpoints: [endpoint('a.b')] });
    const r = resolve([app, other, fqdn], { number: 80 }, 'endpoints');
    assert.equal(r.backend.target.kind, 'unavailable');
  });

  it('answers 503 in endpoints mode without ready endpoints', () => {
    const r = resolve([app], { number: 80 }, 'endpoints');
    assert.equal(r.backend.target.kind === 'unavailable' && r.backend.target.status, 503);
  });

  it('resolves headless Services through their endpoints even in service mode', () => {
    const headless = service({ name: 'app', clusterIP: 'None', ports: [servicePort('http', 80, 8080)] });
    const r = resolve([headless, readySlice], { number: 80 });
    assert.equal(r.backend.target.kind, 'static');
    assert.equal(r.backend.target.kind === 'static' && r.backend.target.endpoints.length, 3);
    assert.deepEqual(r.diagnostics, []);
  });

  it('falls back to endpoints with a warning when a Service has no cluster IP', () => {
    const noIP = service({ name: 'app', ports: [servicePort('http', 80, 8080)] });
    const r = resolve([noIP, readySlice], { number: 80 });
    assert.equal(r.backend.target.kind, 'static');
    assert.equal(r.diagnostics[0]?.severity, 'warning');
  });

  it('resolves ExternalName Services by DNS, with or without declared ports', () => {
    const ext = service({ name: 'app', type: 'ExternalName', externalName: 'api.example.com', ports: [] });
    assert.deepEqual(resolve([ext], { number: 443 }, 'endpoints').backend.target, {
      kind: 'dns',
      hostname: 'api.example.com',
      port: 443,
    });
    const named = service({
      name: 'app',
      type: 'ExternalName',
      externalName: 'api.example.com',
      ports: [servicePort('https', 8443)],
    });
    assert.deepEqual(resolve([named], { name: 'https' }).backend.target, {
      kind: 'dns',
      hostname: 'api.example.com',
      port: 8443,
    });
    assert.equal(resolve([ext], { name: 'https' }).backend.target.kind, 'unavailable');
  });

  it('is deterministic whatever order slices arrive in', () => {
    const a = endpointSlice({ name: 'app-a', service: 'app', endpoints: [endpoint('127.0.20.7')] });
    const b = endpointSlice({ name: 'app-b', service: 'app', endpoints: [endpoint('127.0.20.5')] });
    const one = resolve([app, a, b, readySlice], { number: 80 }, 'endpoints');
    const two = resolve([b, readySlice, a, app], { number: 80 }, 'endpoints');
    assert.deepEqual(one, two);
  });
});
