import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repositoryManifests } from '../../../test/helpers/manifest-corpus.ts';
import type { Service } from '../../model/objects.ts';
import { yaml } from '../yaml.ts';
import { parseManifest, parseManifestText } from './parse.ts';

const service = (name: string, ns = 'default', port = 80): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  clusterIP: 127.0.10.1
  ports:
    - port: ${port}
`;

const names = (objects: readonly { kind: string; metadata: { name: string } }[]): string[] =>
  objects.map((o) => `${o.kind}/${o.metadata.name}`);

test('multi-document YAML: objects in file order, empty documents skipped, origins recorded', () => {
  const text = `---\n# only a comment\n---\n${service('a')}---\n---\n${service('b')}\n...\n`;
  const r = parseManifestText(text, 'm/app.yaml');
  assert.equal(r.fatal, false);
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(names(r.objects), ['Service/a', 'Service/b']);
  assert.deepEqual(r.objects[0]?.origin, { file: 'm/app.yaml', document: 1 });
  assert.deepEqual(r.objects[1]?.origin, { file: 'm/app.yaml', document: 3 });
});

test('empty and comment-only files hold nothing', () => {
  for (const text of ['', '\n', '# nothing\n', '---\n---\n']) {
    assert.deepEqual(parseManifestText(text, 'e.yaml'), { objects: [], diagnostics: [], fatal: false });
  }
  assert.deepEqual(parseManifestText('  \n', 'e.json'), { objects: [], diagnostics: [], fatal: false });
});

test('kind: List and typed lists are expanded; typed-list items inherit kind and apiVersion', () => {
  const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: shop}
  - apiVersion: v1
    kind: ServiceList
    items:
      - metadata: {name: inner, namespace: shop}
        spec: {ports: [{port: 81}]}
---
apiVersion: networking.k8s.io/v1
kind: IngressClassList
items:
  - metadata: {name: gatehouse}
    spec: {controller: gatehouse.dev/ingress-controller}
---
kind: List
items: null
`;
  const r = parseManifestText(text, 'l.yaml');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(names(r.objects), ['Namespace/shop', 'Service/inner', 'IngressClass/gatehouse']);
  assert.equal((r.objects[1] as Service).spec.ports[0]?.port, 81);
  assert.deepEqual(r.objects[2]?.origin, { file: 'l.yaml', document: 1 });
});

test('JSON files, including a List', () => {
  const text = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } },
    ],
  });
  const r = parseManifestText(text, 'x.json');
  assert.equal(r.fatal, false);
  assert.deepEqual(names(r.objects), ['Namespace/a', 'Namespace/b']);
  assert.deepEqual(r.objects[0]?.origin, { file: 'x.json', document: 0 });
});

test('broken JSON is fatal and names the file and line', () => {
  const r = parseManifestText('{\n  "kind": "Namespace",\n}', 'bad.json');
  assert.equal(r.fatal, true);
  assert.deepEqual(r.objects, []);
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]?.severity, 'error');
  assert.equal(r.diagnostics[0]?.file, 'bad.json');
  assert.match(r.diagnostics[0]?.message ?? '', /^bad\.json:3:1: invalid JSON: /);
});

test('a YAML syntax error anywhere makes the whole file fatal, naming file and line', () => {
  const text = `${service('a')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n   bad: indent\n`;
  const r = parseManifestText(text, 'dir/broken.yaml');
  assert.equal(r.fatal, true);
  assert.deepEqual(r.objects, []);
  assert.equal(r.diagnostics.length, 1);
  const d = r.diagnostics[0];
  assert.equal(d?.file, 'dir/broken.yaml');
  assert.match(d?.message ?? '', /^dir\/broken\.yaml:14:9: invalid YAML: Nested mappings/);
});

test('duplicate keys and alias bombs are fatal', () => {
  assert.equal(parseManifestText('a: 1\na: 2\n', 'd.yaml').fatal, true);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    bomb.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  const r = parseManifestText(bomb.join('\n'), 'bomb.yaml');
  assert.equal(r.fatal, true);
  assert.match(r.diagnostics[0]?.message ?? '', /^bomb\.yaml:1: invalid YAML: /);
});

test('invalid objects are reported by file, object and reason; valid neighbours are kept', () => {
  const text = `${service('a')}---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: foo}
spec:
  rules:
    - http:
        paths:
          - path: /
            pathType: Regex
            backend: {service: {name: a, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: gh}
spec: {}
`;
  const r = parseManifest(text, 'path/to/file.yaml');
  assert.equal(r.fatal, false);
  assert.deepEqual(names(r.objects), ['Service/a']);
  assert.deepEqual(r.diagnostics, [
    {
      severity: 'error',
      file: 'path/to/file.yaml',
      object: { kind: 'Ingress', namespace: 'default', name: 'foo' },
      message:
        'path/to/file.yaml: Ingress default/foo: spec.rules[0].http.paths[0].pathType: must be one of Exact, Prefix, ImplementationSpecific',
    },
    {
      severity: 'error',
      file: 'path/to/file.yaml',
      object: { kind: 'IngressClass', namespace: '', name: 'gh' },
      message: 'path/to/file.yaml: IngressClass gh: spec.controller: required',
    },
  ]);
  assert.deepEqual(r.invalid, [
    { kind: 'Ingress', namespace: 'default', name: 'foo' },
    { kind: 'IngressClass', namespace: '', name: 'gh' },
  ]);
  assert.equal('invalid' in parseManifestText(text, 'f.yaml'), false);
});

test('unnamed invalid objects are located by document and list item', () => {
  const r = parseManifest(
    'apiVersion: v1\nkind: Service\nmetadata: {}\n---\nkind: List\nitems: [{apiVersion: v1, kind: Namespace}, 42]\n',
    'u.yaml',
  );
  assert.deepEqual(
    r.diagnostics.map((d) => d.message),
    [
      'u.yaml: Service in document 1: metadata.name: required; spec.ports: required',
      'u.yaml: Namespace in document 2, item 1: metadata.name: required',
      'u.yaml: document 2, item 2: must be an object',
    ],
  );
  assert.deepEqual(r.invalid, []);
  assert.ok(r.diagnostics.every((d) => d.object === undefined));
});

test('unknown kinds are skipped silently; old versions of known kinds get a warning', () => {
  const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old, namespace: shop}
spec: {backend: {serviceName: a, servicePort: 80}}
`;
  const r = parseManifestText(text, 'k.yaml');
  assert.deepEqual(r.objects, []);
  assert.deepEqual(r.diagnostics, [
    {
      severity: 'warning',
      file: 'k.yaml',
      object: { kind: 'Ingress', namespace: 'shop', name: 'old' },
      message:
        'k.yaml: Ingress shop/old: apiVersion extensions/v1beta1 is not read (use networking.k8s.io/v1); ignored',
    },
  ]);
});

test('an object defined twice in one file: the first wins, the second is reported', () => {
  const r = parseManifestText(`${service('a', 'default', 80)}---\n${service('a', 'default', 81)}`, 'twice.yaml');
  assert.equal(r.objects.length, 1);
  assert.equal((r.objects[0] as Service).spec.ports[0]?.port, 80);
  assert.equal(r.diagnostics.length, 1);
  assert.match(r.diagnostics[0]?.message ?? '', /^twice\.yaml: Service default\/a: defined more than once/);
});

test('YAML values keep Kubernetes semantics: quoted numbers are strings, timestamps stay strings, merge keys work', () => {
  const text = `apiVersion: v1
kind: Service
metadata:
  name: a
  creationTimestamp: 2024-01-02T03:04:05Z
  annotations: &ann
    x: "1"
spec:
  ports: [{port: "80"}]
---
base: &base {apiVersion: v1, kind: Namespace}
---
<<: {apiVersion: v1, kind: Namespace}
metadata: {name: merged}
`;
  const r = parseManifestText(text, 'v.yaml');
  assert.deepEqual(
    r.diagnostics.map((d) => d.message),
    ['v.yaml: Service default/a: spec.ports[0].port: must be an integer', 'v.yaml: document 2: kind: required'],
  );
  assert.deepEqual(names(r.objects), ['Namespace/merged']);
  const ok = parseManifestText(text.replace('port: "80"', 'port: 80'), 'v.yaml');
  assert.equal(ok.objects[0]?.metadata.creationTimestamp, '2024-01-02T03:04:05Z');
});

test('a multi-document Gateway API file: all four kinds, v1 and v1beta1, old versions warned, invalid ones named', () => {
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: infra}
spec:
  gatewayClassName: gatehouse
  listeners:
  - {name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: edge, namespace: infra}]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-shop, namespace: backends}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: HTTPRoute
metadata: {name: old, namespace: shop}
spec: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken, namespace: shop}
spec:
  rules:
  - matches: [{path: {type: Exact, value: api}}]
`;
  const r = parseManifest(text, 'gw.yaml');
  assert.equal(r.fatal, false);
  assert.deepEqual(names(r.objects), [
    'GatewayClass/gatehouse',
    'Gateway/edge',
    'HTTPRoute/shop',
    'ReferenceGrant/allow-shop',
  ]);
  assert.deepEqual(
    r.objects.map((o) => [o.metadata.namespace, o.origin.document]),
    [
      ['', 0],
      ['infra', 1],
      ['shop', 2],
      ['backends', 3],
    ],
  );
  assert.deepEqual(r.diagnostics, [
    {
      severity: 'warning',
      file: 'gw.yaml',
      object: { kind: 'HTTPRoute', namespace: 'shop', name: 'old' },
      message:
        'gw.yaml: HTTPRoute shop/old: apiVersion gateway.networking.k8s.io/v1alpha2 is not read (use gateway.networking.k8s.io/v1); ignored',
    },
    {
      severity: 'error',
      file: 'gw.yaml',
      object: { kind: 'HTTPRoute', namespace: 'shop', name: 'broken' },
      message:
        "gw.yaml: HTTPRoute shop/broken: spec.rules[0].matches[0].path.value: must start with '/' for type Exact",
    },
  ]);
  assert.deepEqual(r.invalid, [{ kind: 'HTTPRoute', namespace: 'shop', name: 'broken' }]);
});

/** Every YAML text the repository holds, plus edge cases of document markers: the piecewise parse must agree. */
function corpus(): { file: string; text: string }[] {
  const out = repositoryManifests();
  const svc = service('a');
  const edge = [
    `a: |\n  x\n---\n${svc}`,
    `a: |\n  x\n  ---\n  y\nb: 1\n---\n${svc}`,
    `${svc}...\n# after the end\n---\n${service('b')}`,
    `${svc}...\n${service('b')}---\n${service('c')}`,
    `# lead\n---\n${svc}--- \n${service('b')}---\t\n---\r\n${service('c')}`,
    `--- |\n  text\n---\n${svc}---foo: 1\n`,
    `${svc.replaceAll('\n', '\r\n')}---\r\n${service('b').replaceAll('\n', '\r\n')}`,
    `\ufeff---\n${svc}---\n${service('b')}`,
    `key: plain\n  multi\n---\n${svc}`,
    `%YAML 1.2\n---\n${svc}`,
    `${svc}---\n%TAG ! tag:example.com,2000:\n---\n${service('b')}`,
    `a: "x\n---\ny"\n---\n${svc}`,
    `a: [1,\n---\n2]\n---\n${svc}`,
    `&a x: 1\n---\n*a : 2\n`,
    `${svc}---\nkind: Service\napiVersion: v1\nmetadata: {name: a, namespace: default}\n`,
    `apiVersion: v1\nkind: List\nitems: [{kind: Service}]\n---\n${svc}`,
    `apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 0}]}\n---\n${service('b')}`,
    `apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n---\n${svc}`,
    `a: 1\na: 2\n---\n${svc}`,
    '',
    '---',
    '---\n',
    '\n---\n---\n',
  ];
  edge.forEach((text, i) => {
    out.push({ file: `edge-${i}.yaml`, text });
  });
  return out;
}

test('the piecewise parse gives what the whole parse gives, for every YAML file of the repository and edge cases', () => {
  const files = corpus();
  assert.ok(files.length > 100);
  for (const { file, text } of files) {
    const whole = parseManifest(text, file, null, false);
    const pieces = parseManifest(text, file);
    assert.deepEqual(
      { ...pieces, cache: null },
      { ...whole, cache: null },
      `${file}: the piecewise parse differs from the whole parse`,
    );
  }
});

test('a re-parse keeps the objects of unchanged documents and numbers documents as a whole parse does', () => {
  const docs = ['a', 'b', 'c', 'd'].map((n) => service(n));
  const first = parseManifest(docs.join('---\n'), 'f.yaml');
  assert.notEqual(first.cache, null);
  // `c` changed: a, b and d are the very same objects.
  const changed = [docs[0], docs[1], service('c', 'default', 81), docs[3]].join('---\n');
  const second = parseManifest(changed, 'f.yaml', first.cache);
  assert.deepEqual({ ...second, cache: null }, { ...parseManifest(changed, 'f.yaml', null, false), cache: null });
  assert.equal(second.objects[0], first.objects[0]);
  assert.equal(second.objects[1], first.objects[1]);
  assert.notEqual(second.objects[2], first.objects[2]);
  assert.equal((second.objects[2] as Service).spec.ports[0]?.port, 81);
  assert.equal(second.objects[3], first.objects[3]);
  // A document inserted at the top moves every later one: their origins are renumbered.
  const inserted = [service('z'), changed].join('---\n');
  const third = parseManifest(inserted, 'f.yaml', second.cache);
  assert.deepEqual({ ...third, cache: null }, { ...parseManifest(inserted, 'f.yaml', null, false), cache: null });
  assert.deepEqual(
    third.objects.map((o) => o.origin.document),
    [0, 1, 2, 3, 4],
  );
  // Another file's cache is not used (origins name the file).
  const other = parseManifest(changed, 'g.yaml', second.cache);
  assert.equal(other.objects[0]?.origin.file, 'g.yaml');
  assert.notEqual(other.objects[0], second.objects[0]);
  // A text that turned invalid is parsed as a whole, with the whole parse's diagnostics.
  const broken = `${changed}---\na: [1\n`;
  assert.deepEqual(parseManifest(broken, 'f.yaml', second.cache), parseManifest(broken, 'f.yaml', null, false));
});

test('the YAML parser is the browser build of the yaml package, and parses what its Node build parses', async () => {
  const nodeBuild = await import('yaml');
  assert.notEqual(
    yaml.parseAllDocuments,
    nodeBuild.parseAllDocuments,
    'the Node build was loaded: see src/sources/yaml.ts',
  );
  for (const { file, text } of corpus()) {
    const a = nodeBuild.parseAllDocuments(text, { prettyErrors: false, merge: true, uniqueKeys: true });
    const b = yaml.parseAllDocuments(text, { prettyErrors: false, merge: true, uniqueKeys: true });
    const js = (docs: typeof a): unknown =>
      'empty' in docs
        ? docs.errors.map((e) => e.code)
        : docs.map((d) => {
            try {
              return { errors: d.errors.map((e) => e.code), warnings: d.warnings.map((w) => w.code), value: d.toJS() };
            } catch (err) {
              return (err as Error).message;
            }
          });
    assert.deepEqual(js(b), js(a), file);
  }
});
