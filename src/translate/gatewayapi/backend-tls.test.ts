// BackendTLSPolicy and Gateway client certificates beyond the golden cases: a usable client certificate (kept out of
// golden files so no private key is written there), CA bundles, precedence details, and the admin redaction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactedConfig } from '../../admin/admin-server.ts';
import type { Backend, IR, StatusEntry, TranslateResult } from '../../ir/types.ts';
import type {
  BackendTLSPolicy,
  ConfigMap,
  Gateway,
  HTTPRoute,
  KubeObject,
  ReferenceGrant,
  Secret,
} from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { issueCertificate } from '../../tls/certificates.ts';
import { type MetaInput, meta, service, tlsSecret } from '../test-objects.ts';
import { GATEWAY_API_GROUP, GATEWAY_CONTROLLER_NAME, translateGatewayAPI } from './translate-gatewayapi.ts';

const CA = issueCertificate({ commonName: 'backend-tls test CA', isCA: true });
const OTHER_CA = issueCertificate({ commonName: 'backend-tls other CA', isCA: true });
const CLIENT = issueCertificate({ commonName: 'gatehouse client', issuer: CA });

function gateway(name: string, port: number, clientCertificateRef?: { name: string; namespace?: string }): Gateway {
  return {
    kind: 'Gateway',
    metadata: meta({ name, namespace: 'infra' }),
    spec: {
      gatewayClassName: 'gatehouse',
      listeners: [{ name: 'http', port, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' }, kinds: [] } }],
      ...(clientCertificateRef !== undefined
        ? { tls: { backend: { clientCertificateRef: { group: '', kind: 'Secret', ...clientCertificateRef } } } }
        : {}),
    },
    origin: {},
  };
}

function configMap(name: string, data: Record<string, string>): ConfigMap {
  return { kind: 'ConfigMap', metadata: meta({ name, namespace: 'apps' }), data, origin: {} };
}

function policy(
  m: MetaInput,
  target: { name: string; sectionName?: string },
  v: Partial<BackendTLSPolicy['spec']['validation']> = {},
): BackendTLSPolicy {
  return {
    kind: 'BackendTLSPolicy',
    metadata: meta({ namespace: 'apps', ...m }),
    spec: {
      targetRefs: [{ group: '', kind: 'Service', ...target }],
      validation: {
        caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }],
        hostname: 'api.internal',
        subjectAltNames: [],
        ...v,
      },
      options: {},
    },
    origin: {},
  };
}

function route(gateways: string[], ports: number[], svc = 'api'): HTTPRoute {
  return {
    kind: 'HTTPRoute',
    metadata: meta({ name: 'web', namespace: 'apps' }),
    spec: {
      parentRefs: gateways.map((name) => ({ group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: 'infra', name })),
      hostnames: [],
      rules: ports.map((port, i) => ({
        matches: [{ path: { type: 'PathPrefix' as const, value: `/p${i}` }, headers: [], queryParams: [] }],
        filters: [],
        backendRefs: [{ group: '', kind: 'Service', name: svc, port, weight: 1, filters: [] }],
      })),
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
  service({
    name: 'api',
    namespace: 'apps',
    clusterIP: '127.0.10.1',
    ports: [
      { name: 'https', port: 443, protocol: 'TCP' },
      { name: 'admin', port: 8443, protocol: 'TCP' },
    ],
  }),
  configMap('ca', { 'ca.crt': CA.certPem }),
];

function translate(objects: KubeObject[]): TranslateResult {
  return translateGatewayAPI(new Snapshot(objects), { controllerName: GATEWAY_CONTROLLER_NAME, upstream: 'service' });
}

function backendNamed(result: TranslateResult, name: string): Backend {
  const b = result.ir.backends.find((x) => x.name === name);
  assert.ok(b, `no backend ${name}; have ${result.ir.backends.map((x) => x.name).join(', ')}`);
  return b;
}

function statusOf(result: TranslateResult, kind: string, name: string): StatusEntry | undefined {
  return result.status.find((s) => s.kind === kind && s.name === name);
}

describe('Gateway client certificate (spec.tls.backend.clientCertificateRef)', () => {
  const clientSecret: Secret = tlsSecret('client', { 'tls.crt': CLIENT.certPem, 'tls.key': CLIENT.keyPem }, 'infra');

  it('is presented to TLS backends of the routes the Gateway serves, and only there', () => {
    const result = translate([
      ...base,
      clientSecret,
      gateway('mtls', 8000, { name: 'client' }),
      gateway('plain', 8001),
      policy({ name: 'api' }, { name: 'api' }),
      route(['mtls', 'plain'], [443]),
    ]);
    const mtls = backendNamed(result, 'apps/api:443+tls(BackendTLSPolicy apps/api, Gateway infra/mtls)');
    assert.deepEqual(mtls.tls, {
      serverName: 'api.internal',
      verify: true,
      caPem: CA.certPem.trim(),
      clientCertPem: CLIENT.certPem,
      clientKeyPem: CLIENT.keyPem,
    });
    assert.equal(mtls.target.kind, 'static');
    const plain = backendNamed(result, 'apps/api:443+tls(BackendTLSPolicy apps/api)');
    assert.equal(plain.tls?.clientCertPem, undefined);
    // Each port's route points at its own Gateway's backend.
    const backendOn = (port: number): string | undefined => {
      const action = result.ir.listeners.find((l) => l.port === port)?.virtualHosts[0]?.routes[0]?.action;
      return action?.kind === 'forward' ? action.backends[0]?.backend : undefined;
    };
    assert.equal(backendOn(8000), mtls.name);
    assert.equal(backendOn(8001), plain.name);
    const resolved = statusOf(result, 'Gateway', 'mtls')?.conditions.find((c) => c.type === 'ResolvedRefs');
    assert.equal(resolved?.status, 'True');
    assert.equal(
      statusOf(result, 'Gateway', 'plain')?.conditions.some((c) => c.type === 'ResolvedRefs'),
      false,
      'no ResolvedRefs condition without a client certificate',
    );
  });

  it('a route served only by a Gateway with a client certificate names only that backend', () => {
    const result = translate([
      ...base,
      clientSecret,
      gateway('mtls', 8000, { name: 'client' }),
      policy({ name: 'api' }, { name: 'api' }),
      route(['mtls'], [443]),
    ]);
    assert.deepEqual(
      result.ir.backends.map((b) => b.name),
      ['apps/api:443+tls(BackendTLSPolicy apps/api, Gateway infra/mtls)'],
    );
  });

  it('cleartext backends are unaffected by the client certificate', () => {
    const result = translate([
      ...base,
      clientSecret,
      gateway('mtls', 8000, { name: 'client' }),
      route(['mtls'], [443]),
    ]);
    assert.deepEqual(
      result.ir.backends.map((b) => [b.name, b.tls]),
      [['apps/api:443', undefined]],
    );
  });

  it('may live in another namespace with a ReferenceGrant from Gateways', () => {
    const moved: Secret = { ...clientSecret, metadata: meta({ name: 'client', namespace: 'certs' }) };
    const grant: ReferenceGrant = {
      kind: 'ReferenceGrant',
      metadata: meta({ name: 'gw', namespace: 'certs' }),
      spec: {
        from: [{ group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: 'infra' }],
        to: [{ group: '', kind: 'Secret', name: 'client' }],
      },
      origin: {},
    };
    const objects = [
      ...base,
      moved,
      gateway('mtls', 8000, { name: 'client', namespace: 'certs' }),
      policy({ name: 'api' }, { name: 'api' }),
      route(['mtls'], [443]),
    ];
    const denied = translate(objects);
    assert.equal(
      statusOf(denied, 'Gateway', 'mtls')?.conditions.find((c) => c.type === 'ResolvedRefs')?.reason,
      'RefNotPermitted',
    );
    const granted = translate([...objects, grant]);
    const b = backendNamed(granted, 'apps/api:443+tls(BackendTLSPolicy apps/api, Gateway infra/mtls)');
    assert.equal(b.tls?.clientKeyPem, CLIENT.keyPem);
  });

  it('a key pair that does not match fails closed', () => {
    const other = issueCertificate({ commonName: 'x' });
    const bad: Secret = tlsSecret('client', { 'tls.crt': CLIENT.certPem, 'tls.key': other.keyPem }, 'infra');
    const result = translate([
      ...base,
      bad,
      gateway('mtls', 8000, { name: 'client' }),
      policy({ name: 'api' }, { name: 'api' }),
      route(['mtls'], [443]),
    ]);
    const b = backendNamed(result, 'apps/api:443+tls(BackendTLSPolicy apps/api, Gateway infra/mtls)');
    assert.deepEqual(b.target.kind === 'unavailable' ? b.target.status : b.target.kind, 500);
    const resolved = statusOf(result, 'Gateway', 'mtls')?.conditions.find((c) => c.type === 'ResolvedRefs');
    assert.equal(resolved?.reason, 'InvalidClientCertificateRef');
    assert.match(resolved?.message ?? '', /does not belong to the certificate/);
  });

  it('/api/config never prints the client key', () => {
    const result = translate([
      ...base,
      clientSecret,
      gateway('mtls', 8000, { name: 'client' }),
      policy({ name: 'api' }, { name: 'api' }),
      route(['mtls'], [443]),
    ]);
    const printed = JSON.stringify(redactedConfig(result.ir as IR));
    assert.ok(!printed.includes(CLIENT.keyPem.split('\n')[1] ?? 'x'), 'the key is not printed');
    assert.match(printed, /"clientKeyPem":"<redacted>"/);
    assert.ok(printed.includes(JSON.stringify(CLIENT.certPem).slice(1, 40)), 'the certificate is');
  });
});

describe('BackendTLSPolicy', () => {
  it('a CA bundle may hold several certificates; one that does not parse spoils it', () => {
    const bundle = `${CA.certPem}${OTHER_CA.certPem}`;
    const good = translate([
      ...base.filter((o) => o.kind !== 'ConfigMap'),
      configMap('ca', { 'ca.crt': bundle }),
      gateway('gw', 8000),
      policy({ name: 'api' }, { name: 'api' }),
      route(['gw'], [443]),
    ]);
    assert.equal(backendNamed(good, 'apps/api:443+tls(BackendTLSPolicy apps/api)').tls?.caPem, bundle.trim());
    const broken = `${CA.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    const bad = translate([
      ...base.filter((o) => o.kind !== 'ConfigMap'),
      configMap('ca', { 'ca.crt': broken }),
      gateway('gw', 8000),
      policy({ name: 'api' }, { name: 'api' }),
      route(['gw'], [443]),
    ]);
    const b = backendNamed(bad, 'apps/api:443+tls(BackendTLSPolicy apps/api)');
    assert.equal(b.target.kind, 'unavailable');
    assert.match(
      statusOf(bad, 'BackendTLSPolicy', 'api')?.conditions[1]?.message ?? '',
      /ConfigMap apps\/ca has a certificate in ca\.crt that cannot be parsed/,
    );
  });

  it('a Secret without ca.crt is an invalid CA reference', () => {
    const result = translate([
      ...base,
      { kind: 'Secret', metadata: meta({ name: 's', namespace: 'apps' }), type: 'Opaque', data: {}, origin: {} },
      gateway('gw', 8000),
      policy({ name: 'api' }, { name: 'api' }, { caCertificateRefs: [{ group: '', kind: 'Secret', name: 's' }] }),
      route(['gw'], [443]),
    ]);
    const [accepted, resolved] = statusOf(result, 'BackendTLSPolicy', 'api')?.conditions ?? [];
    assert.equal(accepted?.reason, 'NoValidCACertificate');
    assert.equal(resolved?.reason, 'InvalidCACertificateRef');
    assert.match(resolved?.message ?? '', /Secret apps\/s has no ca\.crt/);
  });

  it('between equals the older wins, then the name; a port policy beats an older whole-Service one', () => {
    const objects = [
      ...base,
      gateway('gw', 8000),
      policy({ name: 'b-old', creationTimestamp: '2024-01-01T00:00:00Z' }, { name: 'api' }, { hostname: 'b.internal' }),
      policy({ name: 'a-new', creationTimestamp: '2024-01-02T00:00:00Z' }, { name: 'api' }, { hostname: 'a.internal' }),
      policy(
        { name: 'z-port', creationTimestamp: '2024-01-03T00:00:00Z' },
        { name: 'api', sectionName: 'admin' },
        {
          hostname: 'admin.internal',
        },
      ),
      route(['gw'], [443, 8443]),
    ];
    const result = translate(objects);
    assert.equal(backendNamed(result, 'apps/api:443+tls(BackendTLSPolicy apps/b-old)').tls?.serverName, 'b.internal');
    assert.equal(
      backendNamed(result, 'apps/api:8443+tls(BackendTLSPolicy apps/z-port)').tls?.serverName,
      'admin.internal',
    );
    assert.equal(statusOf(result, 'BackendTLSPolicy', 'a-new')?.conditions[0]?.reason, 'Conflicted');
    assert.equal(statusOf(result, 'BackendTLSPolicy', 'b-old')?.conditions[0]?.reason, 'Accepted');
    // Same age: by name.
    const same = translate(
      objects.map((o) =>
        o.kind === 'BackendTLSPolicy' && o.metadata.name === 'a-new'
          ? { ...o, metadata: { ...o.metadata, creationTimestamp: '2024-01-01T00:00:00Z' } }
          : o,
      ),
    );
    assert.equal(statusOf(same, 'BackendTLSPolicy', 'b-old')?.conditions[0]?.reason, 'Conflicted');
    assert.ok(same.ir.backends.some((b) => b.name === 'apps/api:443+tls(BackendTLSPolicy apps/a-new)'));
  });

  it('applies to Services of its own namespace only, and to ExternalName Services', () => {
    const elsewhere = {
      ...policy({ name: 'api' }, { name: 'api' }),
      metadata: meta({ name: 'api', namespace: 'other' }),
    };
    const result = translate([...base, gateway('gw', 8000), elsewhere, route(['gw'], [443])]);
    assert.deepEqual(
      result.ir.backends.map((b) => b.name),
      ['apps/api:443'],
    );
    assert.equal(statusOf(result, 'BackendTLSPolicy', 'api'), undefined);

    const external = service({
      name: 'ext',
      namespace: 'apps',
      type: 'ExternalName',
      externalName: 'api.partner.example',
      ports: [],
    });
    const ext = translate([
      ...base,
      external,
      gateway('gw', 8000),
      policy(
        { name: 'ext' },
        { name: 'ext' },
        { hostname: 'api.partner.example', caCertificateRefs: [], wellKnownCACertificates: 'System' },
      ),
      route(['gw'], [443], 'ext'),
    ]);
    const b = backendNamed(ext, 'apps/ext:443+tls(BackendTLSPolicy apps/ext)');
    assert.deepEqual(b.target, { kind: 'dns', hostname: 'api.partner.example', port: 443 });
    assert.deepEqual(b.tls, { serverName: 'api.partner.example', verify: true });
  });

  it('status lists every Gateway whose served routes reach the Service, once each', () => {
    const result = translate([
      ...base,
      gateway('gw-a', 8000),
      gateway('gw-b', 8001),
      gateway('gw-idle', 8002),
      policy({ name: 'api' }, { name: 'api' }),
      route(['gw-b', 'gw-a'], [443, 8443]),
    ]);
    const s = statusOf(result, 'BackendTLSPolicy', 'api');
    assert.deepEqual(
      s?.ancestors?.map((a) => `${a.ancestorRef.namespace}/${a.ancestorRef.name}`),
      ['infra/gw-a', 'infra/gw-b'],
    );
    assert.equal(s?.ancestors?.[0]?.controllerName, GATEWAY_CONTROLLER_NAME);
    assert.equal(s?.conditions.length, 4);
  });
});
