import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HTTPListener, TranslateResult, VirtualHost } from '../../ir/types.ts';
import type { KubeObject } from '../../model/objects.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { ingress, ingressClass, path, service, serviceBackend, servicePort, tlsSecret } from '../test-objects.ts';
import {
  INGRESS_CONTROLLER_NAME,
  type IngressTranslateOptions,
  normalisePrefix,
  translateIngresses,
} from './translate-ingress.ts';

const options: IngressTranslateOptions = {
  ingressClass: 'gatehouse',
  controllerName: INGRESS_CONTROLLER_NAME,
  upstream: 'service',
  httpPort: 8080,
  httpsPort: 8443,
};

const svc = (name: string) => service({ name, clusterIP: '127.0.10.1', ports: [servicePort('http', 80, 8080)] });

function translate(objects: KubeObject[], opts: Partial<IngressTranslateOptions> = {}): TranslateResult {
  return translateIngresses(new Snapshot(objects), { ...options, ...opts });
}

function listener(r: TranslateResult, name: 'ingress-http' | 'ingress-https'): HTTPListener {
  const l = r.ir.listeners.find((x) => x.name === name);
  assert.ok(l, `listener ${name}`);
  return l;
}

function vhost(
  r: TranslateResult,
  hostname: string,
  l: 'ingress-http' | 'ingress-https' = 'ingress-https',
): VirtualHost {
  const vh = listener(r, l).virtualHosts.find((v) => v.hostname === hostname);
  assert.ok(vh, `vhost ${hostname}`);
  return vh;
}

function paths(vh: VirtualHost): string[] {
  return vh.routes.map((r) => `${r.match.path.kind} ${r.match.path.value}`);
}

function routeBackends(vh: VirtualHost): string[] {
  return vh.routes.map((r) => (r.action.kind === 'forward' ? (r.action.backends[0]?.backend ?? '') : r.action.kind));
}

describe('normalisePrefix', () => {
  it('drops trailing slashes but keeps the root', () => {
    assert.equal(normalisePrefix('/'), '/');
    assert.equal(normalisePrefix('//'), '/');
    assert.equal(normalisePrefix('/foo/'), '/foo');
    assert.equal(normalisePrefix('/foo'), '/foo');
  });
});

describe('translateIngresses', () => {
  it('always emits both listeners', () => {
    const r = translate([]);
    assert.deepEqual(r.ir, {
      listeners: [
        { name: 'ingress-http', protocol: 'HTTP', port: 8080, virtualHosts: [] },
        { name: 'ingress-https', protocol: 'HTTPS', port: 8443, tls: { certificates: [] }, virtualHosts: [] },
      ],
      backends: [],
      certificates: [],
    });
    assert.deepEqual(r.status, []);
    assert.deepEqual(r.diagnostics, []);
  });

  describe('class selection', () => {
    const rules = [{ host: 'a.example.com', paths: [path('/', serviceBackend('a', 80))] }];
    const selected = (objects: KubeObject[]) => listener(translate(objects), 'ingress-http').virtualHosts.length > 0;

    it('takes spec.ingressClassName equal to our class', () => {
      assert.ok(selected([ingress({ name: 'i', className: 'gatehouse', rules }), svc('a')]));
    });
    it('takes a class name whose IngressClass names our controller', () => {
      const cls = ingressClass('edge', INGRESS_CONTROLLER_NAME);
      assert.ok(selected([cls, ingress({ name: 'i', className: 'edge', rules }), svc('a')]));
    });
    it('ignores a foreign class, even with our legacy annotation', () => {
      const cls = ingressClass('nginx', 'k8s.io/ingress-nginx');
      const ing = ingress({
        name: 'i',
        className: 'nginx',
        annotations: { 'kubernetes.io/ingress.class': 'gatehouse' },
        rules,
      });
      const r = translate([cls, ing, svc('a')]);
      assert.equal(listener(r, 'ingress-http').virtualHosts.length, 0);
      assert.deepEqual(r.diagnostics, []);
    });
    it('honours the legacy annotation', () => {
      const ann = (v: string) => ingress({ name: 'i', annotations: { 'kubernetes.io/ingress.class': v }, rules });
      assert.ok(selected([ann('gatehouse'), svc('a')]));
      assert.ok(!selected([ann('nginx'), svc('a')]));
    });
    it('takes class-less Ingresses only when our IngressClass is the default', () => {
      const def = ingressClass('gatehouse', INGRESS_CONTROLLER_NAME, {
        'ingressclass.kubernetes.io/is-default-class': 'true',
      });
      const notDefault = ingressClass('gatehouse', INGRESS_CONTROLLER_NAME);
      const foreignDefault = ingressClass('nginx', 'k8s.io/ingress-nginx', {
        'ingressclass.kubernetes.io/is-default-class': 'true',
      });
      const ing = ingress({ name: 'i', rules });
      assert.ok(selected([def, ing, svc('a')]));
      assert.ok(!selected([notDefault, ing, svc('a')]));
      assert.ok(!selected([foreignDefault, ing, svc('a')]));
    });
  });

  it('orders Exact before Prefix and longer before shorter', () => {
    const b = serviceBackend('a', 80);
    const ing = ingress({
      name: 'i',
      className: 'gatehouse',
      rules: [
        {
          host: 'a.example.com',
          paths: [
            path('/', b),
            path('/aaa', b),
            path('/aaa/bbb/', b),
            path('/foo', b, 'Exact'),
            path('/aaa/bb', b, 'ImplementationSpecific'),
          ],
        },
      ],
    });
    const vh = vhost(translate([ing, svc('a')]), 'a.example.com');
    assert.deepEqual(paths(vh), ['Exact /foo', 'Prefix /aaa/bbb', 'Prefix /aaa/bb', 'Prefix /aaa', 'Prefix /']);
    assert.equal(vh.routes[0]?.name, 'ingress/default/i/rule/0/path/3');
  });

  it('breaks ties by age, then namespace/name, and keeps the winner of a conflict', () => {
    const young = ingress({
      name: 'a-young',
      className: 'gatehouse',
      creationTimestamp: '2024-06-01T00:00:00Z',
      rules: [
        {
          host: 'h.example.com',
          paths: [path('/x/', serviceBackend('young', 80)), path('/b', serviceBackend('young', 80))],
        },
      ],
    });
    const old = ingress({
      name: 'z-old',
      className: 'gatehouse',
      creationTimestamp: '2023-01-01T00:00:00Z',
      rules: [
        {
          host: 'H.example.com',
          paths: [path('/x', serviceBackend('old', 80)), path('/a', serviceBackend('old', 80))],
        },
      ],
    });
    const r = translate([young, old, svc('young'), svc('old')]);
    const vh = vhost(r, 'h.example.com');
    assert.deepEqual(paths(vh), ['Prefix /x', 'Prefix /a', 'Prefix /b']);
    assert.deepEqual(routeBackends(vh), ['default/old:80', 'default/old:80', 'default/young:80']);
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0]?.severity, 'warning');
    assert.deepEqual(r.diagnostics[0]?.object, { kind: 'Ingress', namespace: 'default', name: 'a-young' });
    assert.match(r.diagnostics[0]?.message ?? '', /Ingress default\/z-old/);
  });

  it('treats ImplementationSpecific and Prefix of the same path as a conflict', () => {
    const ing = ingress({
      name: 'i',
      className: 'gatehouse',
      rules: [
        {
          host: 'a.example.com',
          paths: [path('/p', serviceBackend('a', 80)), path('/p/', serviceBackend('a', 80), 'ImplementationSpecific')],
        },
      ],
    });
    const r = translate([ing, svc('a')]);
    assert.equal(vhost(r, 'a.example.com').routes.length, 1);
    assert.match(r.diagnostics[0]?.message ?? '', /same Ingress/);
  });

  it('maps hosts to exact, one-label wildcard and catch-all virtual hosts, sorted', () => {
    const b = serviceBackend('a', 80);
    const ing = ingress({
      name: 'i',
      className: 'gatehouse',
      rules: [
        { host: 'b.example.com', paths: [path('/', b)] },
        { host: '*.example.com', paths: [path('/', b)] },
        { host: '', paths: [path('/', b)] },
      ],
    });
    const vhs = listener(translate([ing, svc('a')]), 'ingress-http').virtualHosts;
    assert.deepEqual(
      vhs.map((v) => [v.name, v.hostname, v.hostMatch]),
      [
        ['ingress-http/*', '*', 'any'],
        ['ingress-http/*.example.com', '*.example.com', 'wildcard-one-label'],
        ['ingress-http/b.example.com', 'b.example.com', 'exact'],
      ],
    );
  });

  it('ends every virtual host with its default backend, falling back to the global one', () => {
    const withDefault = ingress({
      name: 'own',
      className: 'gatehouse',
      creationTimestamp: '2024-02-01T00:00:00Z',
      defaultBackend: serviceBackend('own-default', 80),
      rules: [{ host: 'own.example.com', paths: [path('/api', serviceBackend('a', 80))] }],
    });
    const global = ingress({
      name: 'global',
      className: 'gatehouse',
      creationTimestamp: '2024-01-01T00:00:00Z',
      defaultBackend: serviceBackend('global-default', 80),
    });
    const plain = ingress({
      name: 'plain',
      className: 'gatehouse',
      rules: [
        { host: 'plain.example.com', paths: [path('/api', serviceBackend('a', 80))] },
        { host: 'root.example.com', paths: [path('/', serviceBackend('a', 80))] },
      ],
    });
    const r = translate([withDefault, global, plain, svc('a'), svc('own-default'), svc('global-default')]);
    assert.deepEqual(routeBackends(vhost(r, 'own.example.com')), ['default/a:80', 'default/own-default:80']);
    assert.deepEqual(routeBackends(vhost(r, 'plain.example.com')), ['default/a:80', 'default/global-default:80']);
    assert.deepEqual(routeBackends(vhost(r, '*')), ['default/global-default:80']);
    assert.equal(vhost(r, '*').routes[0]?.name, 'ingress/default/global/default');
    // A catch-all path already takes everything: no unreachable default after it.
    assert.deepEqual(routeBackends(vhost(r, 'root.example.com')), ['default/a:80']);
    assert.deepEqual(
      r.ir.backends.map((b) => b.name),
      ['default/a:80', 'default/global-default:80', 'default/own-default:80'],
    );
  });

  it('adds nothing when no Ingress has a default backend', () => {
    const ing = ingress({
      name: 'i',
      className: 'gatehouse',
      rules: [{ host: 'a.example.com', paths: [path('/api', serviceBackend('a', 80))] }],
    });
    const r = translate([ing, svc('a')]);
    assert.deepEqual(paths(vhost(r, 'a.example.com')), ['Prefix /api']);
    assert.equal(
      listener(r, 'ingress-http').virtualHosts.some((v) => v.hostname === '*'),
      false,
    );
  });

  it('answers resource backends with 500 and a diagnostic', () => {
    const ing = ingress({
      name: 'i',
      className: 'gatehouse',
      rules: [
        {
          host: 'a.example.com',
          paths: [path('/', { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'assets' } })],
        },
      ],
    });
    const r = translate([ing]);
    assert.deepEqual(r.ir.backends[0]?.target, {
      kind: 'unavailable',
      status: 500,
      reason: 'resource backends are not supported (Bucket.k8s.example.com default/assets)',
    });
    assert.equal(r.diagnostics[0]?.severity, 'error');
  });

  describe('TLS', () => {
    const pem = { 'tls.crt': '-----BEGIN CERTIFICATE-----\n', 'tls.key': '-----BEGIN PRIVATE KEY-----\n' };
    const tlsIngress = (name: string, hosts: string[], secretName: string, annotations: Record<string, string> = {}) =>
      ingress({
        name,
        className: 'gatehouse',
        annotations,
        tls: [{ hosts, secretName }],
        rules: hosts.map((host) => ({ host, paths: [path('/', serviceBackend('a', 80))] })),
      });

    it('turns good Secrets into certificates, merging hosts of the same Secret', () => {
      const r = translate([
        tlsIngress('one', ['B.example.com'], 'cert'),
        tlsIngress('two', ['a.example.com'], 'cert'),
        tlsSecret('cert', pem),
        svc('a'),
      ]);
      assert.deepEqual(
        r.ir.certificates.map((c) => [c.name, c.hosts, c.source]),
        [['default/cert', ['a.example.com', 'b.example.com'], { kind: 'Secret', namespace: 'default', name: 'cert' }]],
      );
      assert.deepEqual(listener(r, 'ingress-https').tls, { certificates: ['default/cert'] });
      assert.deepEqual(r.diagnostics, []);
    });

    it('reports a missing or incomplete Secret and serves no certificate for it', () => {
      const r = translate([
        tlsIngress('one', ['a.example.com'], 'missing'),
        tlsIngress('two', ['b.example.com'], 'partial'),
        tlsSecret('partial', { 'tls.crt': pem['tls.crt'] }),
        svc('a'),
      ]);
      assert.deepEqual(r.ir.certificates, []);
      assert.deepEqual(
        r.diagnostics.map((d) => [d.severity, d.object?.name]),
        [
          ['error', 'one'],
          ['error', 'two'],
        ],
      );
    });

    it('serves plain HTTP for TLS hosts by default', () => {
      const r = translate([tlsIngress('one', ['a.example.com'], 'cert'), tlsSecret('cert', pem), svc('a')]);
      assert.equal(vhost(r, 'a.example.com', 'ingress-http').routes[0]?.action.kind, 'forward');
    });

    it('redirects plain HTTP for the TLS hosts of an Ingress with ssl-redirect or force-ssl-redirect', () => {
      for (const key of [
        'nginx.ingress.kubernetes.io/ssl-redirect',
        'nginx.ingress.kubernetes.io/force-ssl-redirect',
      ]) {
        const redirecting = tlsIngress('one', ['a.example.com'], 'cert', { [key]: 'true' });
        const other = ingress({
          name: 'other',
          className: 'gatehouse',
          rules: [{ host: 'a.example.com', paths: [path('/other', serviceBackend('a', 80))] }],
        });
        const r = translate([redirecting, other, tlsSecret('cert', pem), svc('a')]);
        const http = vhost(r, 'a.example.com', 'ingress-http');
        assert.deepEqual(
          http.routes.map((x) => [x.match.path.value, x.action]),
          [
            ['/other', { kind: 'forward', backends: [{ backend: 'default/a:80', weight: 1 }] }],
            ['/', { kind: 'redirect', scheme: 'https', statusCode: 308 }],
          ],
        );
        assert.ok(vhost(r, 'a.example.com').routes.every((x) => x.action.kind === 'forward'));
      }
    });

    it('with --ssl-redirect on, redirects TLS hosts unless the Ingress says ssl-redirect "false"', () => {
      const objects = [
        tlsIngress('one', ['a.example.com'], 'cert'),
        tlsIngress('two', ['b.example.com'], 'cert', { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' }),
        tlsIngress('three', ['c.example.com'], 'cert', {
          'nginx.ingress.kubernetes.io/ssl-redirect': 'false',
          'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true',
        }),
        tlsSecret('cert', pem),
        svc('a'),
      ];
      const r = translate(objects, { sslRedirect: true });
      const kinds = (host: string) => vhost(r, host, 'ingress-http').routes.map((x) => x.action.kind);
      assert.deepEqual(kinds('a.example.com'), ['redirect']);
      assert.deepEqual(kinds('b.example.com'), ['forward']);
      assert.deepEqual(kinds('c.example.com'), ['redirect']);
    });
  });

  it('gives the same result whatever order objects arrive in', () => {
    const objects: KubeObject[] = [
      ingress({
        name: 'b',
        className: 'gatehouse',
        defaultBackend: serviceBackend('a', 'http'),
        rules: [{ host: 'x.example.com', paths: [path('/p', serviceBackend('a', 80))] }],
      }),
      ingress({
        name: 'a',
        className: 'gatehouse',
        rules: [{ host: 'x.example.com', paths: [path('/p', serviceBackend('missing', 80))] }],
      }),
      svc('a'),
    ];
    const forward = translate(objects);
    const backward = translate([...objects].reverse());
    assert.deepEqual(forward, backward);
  });
});
