import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Diagnostic } from '../../ir/types.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { meta } from '../test-objects.ts';
import { translateTCPServices } from './tcp-services.ts';

const options = { configMap: 'ingress/tcp-services', upstream: 'service' as const, reservedPorts: new Map() };

test('a missing ConfigMap opens no port and says so', () => {
  const diagnostics: Diagnostic[] = [];
  const result = translateTCPServices(new Snapshot([]), options, diagnostics);
  assert.deepEqual(result, { listeners: [], backends: [] });
  assert.deepEqual(diagnostics, [
    {
      severity: 'warning',
      object: { kind: 'ConfigMap', namespace: 'ingress', name: 'tcp-services' },
      message: 'ConfigMap ingress/tcp-services (--tcp-services-configmap) not found; no TCP services are served',
    },
  ]);
});

test('a reference that is not namespace/name is an error', () => {
  const diagnostics: Diagnostic[] = [];
  translateTCPServices(new Snapshot([]), { ...options, configMap: 'tcp-services' }, diagnostics);
  assert.equal(diagnostics[0]?.severity, 'error');
  assert.match(diagnostics[0]?.message ?? '', /is not <namespace>\/<name>/);
});

test('reserved ports are refused; an empty ConfigMap gives nothing', () => {
  const diagnostics: Diagnostic[] = [];
  const snapshot = new Snapshot([
    {
      kind: 'ConfigMap',
      metadata: meta({ name: 'tcp-services', namespace: 'ingress' }),
      data: { '8443': 'db/pg:5432' },
      origin: {},
    },
  ]);
  const result = translateTCPServices(
    snapshot,
    { ...options, reservedPorts: new Map([[8443, 'ingress-https']]) },
    diagnostics,
  );
  assert.deepEqual(result.listeners, []);
  assert.match(diagnostics[0]?.message ?? '', /data\["8443"\]: port 8443 is already used by listener ingress-https/);
});
