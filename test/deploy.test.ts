// The Kubernetes manifests in deploy/ and the image recipe agree with each other and with the code: ports, flags,
// probe paths, controller names, least-privilege RBAC, the Linkerd and load-balancer settings, and the hardening.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { AdminServer, type AdminState } from '../src/admin/admin-server.ts';
import { parseServeArgs, SERVE_HELP, type ServeArgs } from '../src/cli/args.ts';
import { Metrics } from '../src/observe/metrics.ts';
import { defaultLeaderElection } from '../src/runtime/kubernetes-status.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER } from '../src/runtime/translate-all.ts';
import { httpRequest, loopbackAddress } from './helpers/net.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEPLOY = resolve(ROOT, 'deploy');
const NAMESPACE = 'gatehouse';

// Only the fields these checks read; everything arrives as `unknown` from the YAML parser.
interface Metadata {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface K8sObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: Metadata;
}
interface ContainerPort {
  readonly name?: string;
  readonly containerPort?: number;
  readonly protocol?: string;
}
interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port?: string | number };
}
interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  readonly seccompProfile?: { readonly type?: string };
}
interface Container {
  readonly name?: string;
  readonly image?: string;
  readonly args?: readonly string[];
  readonly env?: readonly {
    readonly name?: string;
    readonly value?: string;
    readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath?: string } };
  }[];
  readonly ports?: readonly ContainerPort[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources?: {
    readonly requests?: Record<string, string | number>;
    readonly limits?: Record<string, string | number>;
  };
  readonly securityContext?: SecurityContext;
}
interface Deployment extends K8sObject {
  readonly spec?: {
    readonly replicas?: number;
    readonly selector?: { readonly matchLabels?: Record<string, string> };
    readonly template?: {
      readonly metadata?: Metadata;
      readonly spec?: {
        readonly serviceAccountName?: string;
        readonly terminationGracePeriodSeconds?: number;
        readonly securityContext?: SecurityContext;
        readonly containers?: readonly Container[];
        readonly topologySpreadConstraints?: readonly { readonly topologyKey?: string }[];
        readonly affinity?: {
          readonly podAntiAffinity?: {
            readonly requiredDuringSchedulingIgnoredDuringExecution?: readonly { readonly topologyKey?: string }[];
            readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly {
              readonly podAffinityTerm?: { readonly topologyKey?: string };
            }[];
          };
        };
      };
    };
  };
}
interface Service extends K8sObject {
  readonly spec?: {
    readonly type?: string;
    readonly externalTrafficPolicy?: string;
    readonly selector?: Record<string, string>;
    readonly ports?: readonly {
      readonly name?: string;
      readonly port?: number;
      readonly targetPort?: string | number;
      readonly protocol?: string;
    }[];
  };
}
interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}
interface RoleObject extends K8sObject {
  readonly rules?: readonly PolicyRule[];
}
interface Binding extends K8sObject {
  readonly roleRef?: { readonly apiGroup?: string; readonly kind?: string; readonly name?: string };
  readonly subjects?: readonly { readonly kind?: string; readonly name?: string; readonly namespace?: string }[];
}
interface Kustomization {
  readonly namespace?: string;
  readonly resources?: readonly string[];
  readonly images?: readonly { readonly name?: string; readonly newName?: string; readonly newTag?: string }[];
}

interface LoadedDocument {
  readonly file: string;
  readonly value: K8sObject;
}

function manifestFiles(): string[] {
  return readdirSync(DEPLOY)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
}

function loadFile(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(resolve(DEPLOY, file), 'utf8'));
  const values: unknown[] = [];
  for (const doc of docs) {
    assert.deepEqual(
      doc.errors.map((e) => e.message),
      [],
      `${file} must parse`,
    );
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

const KUSTOMIZATION = 'kustomization.yaml';

function loadManifests(): LoadedDocument[] {
  const out: LoadedDocument[] = [];
  for (const file of manifestFiles()) {
    if (file === KUSTOMIZATION) continue;
    for (const value of loadFile(file)) {
      assert.equal(typeof value, 'object', `${file}: every document is a mapping`);
      out.push({ file, value: value as K8sObject });
    }
  }
  return out;
}

function only<T extends K8sObject>(docs: readonly LoadedDocument[], kind: string, name?: string): T & K8sObject {
  const found = docs.filter((d) => d.value.kind === kind && (name === undefined || d.value.metadata?.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name === undefined ? '' : ` ${name}`} in deploy/`);
  return found[0]!.value as T;
}

function gatehouseContainer(d: Deployment): Container {
  const containers = d.spec?.template?.spec?.containers ?? [];
  const c = containers.find((x) => x.name === 'gatehouse');
  assert.ok(c, 'the Deployment has a container named gatehouse');
  return c;
}

function containerPort(c: Container, name: string): number {
  const p = (c.ports ?? []).find((x) => x.name === name);
  assert.ok(p?.containerPort !== undefined, `container port ${name} is declared`);
  return p.containerPort;
}

/** A port as a Service targetPort or probe port names it: by number, or by the container port's name. */
function resolvePort(c: Container, port: string | number | undefined): number {
  assert.ok(port !== undefined, 'port is set');
  return typeof port === 'number' ? port : containerPort(c, port);
}

/** The Deployment's `serve` flags through the CLI's own parser, so an unknown flag or bad value fails here. */
function parseDeploymentArgs(args: readonly string[]): ServeArgs {
  assert.equal(args[0], 'serve');
  return parseServeArgs(args.slice(1));
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** The defaults the code documents in `gatehouse serve --help` for a flag: "(default N)". */
function helpDefault(flag: string): string {
  const line = SERVE_HELP.split('\n').find((l) => l.trimStart().startsWith(`${flag} `));
  assert.ok(line, `${flag} is in SERVE_HELP`);
  const m = /\(default ([^)]+)\)/.exec(line);
  assert.ok(m?.[1], `${flag} has a documented default`);
  return m[1];
}

test('every manifest parses and kustomization.yaml lists exactly the manifests in deploy/', () => {
  const files = manifestFiles();
  assert.ok(files.includes(KUSTOMIZATION), 'deploy/kustomization.yaml exists');
  const [k, ...rest] = loadFile(KUSTOMIZATION) as Kustomization[];
  assert.equal(rest.length, 0);
  assert.ok(k);
  assert.equal(k.namespace, NAMESPACE);
  const manifests = files.filter((f) => f !== KUSTOMIZATION);
  for (const f of [
    'namespace.yaml',
    'serviceaccount.yaml',
    'rbac.yaml',
    'deployment.yaml',
    'pdb.yaml',
    'service.yaml',
    'classes.yaml',
  ]) {
    assert.ok(manifests.includes(f), `deploy/${f} exists`);
  }
  assert.deepEqual([...(k.resources ?? [])].sort(), manifests);

  const docs = loadManifests();
  const namespaced = new Set(['ServiceAccount', 'Deployment', 'Service', 'PodDisruptionBudget', 'Role', 'RoleBinding']);
  for (const { file, value } of docs) {
    assert.ok(value.apiVersion, `${file}: apiVersion`);
    assert.ok(value.kind, `${file}: kind`);
    assert.ok(value.metadata?.name, `${file}: ${value.kind} has a name`);
    if (namespaced.has(value.kind)) {
      assert.equal(value.metadata.namespace, NAMESPACE, `${file}: ${value.kind} ${value.metadata.name} namespace`);
    }
  }
  assert.equal(only(docs, 'Namespace').metadata?.name, NAMESPACE);

  // The kustomization's image entry is the one the Deployment names, so `kustomize edit set image` reaches it.
  const image = gatehouseContainer(only<Deployment>(docs, 'Deployment')).image;
  assert.equal(image, 'gatehouse:latest');
  assert.deepEqual(
    (k.images ?? []).map((i) => i.name),
    ['gatehouse'],
  );
});

test('kubectl kustomize renders deploy/ (where kubectl is installed)', (t) => {
  const r = spawnSync('kubectl', ['kustomize', DEPLOY], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) {
    t.skip(`kubectl not available: ${r.error.message}`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  const kinds = parseAllDocuments(r.stdout)
    .map((d) => (d.toJS() as K8sObject | null)?.kind)
    .sort();
  assert.deepEqual(kinds, [
    'ClusterRole',
    'ClusterRoleBinding',
    'Deployment',
    'GatewayClass',
    'IngressClass',
    'Namespace',
    'PodDisruptionBudget',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
  ]);
});

test('Deployment: container ports equal its flags and the code defaults; every flag is one the CLI knows', () => {
  const docs = loadManifests();
  const d = only<Deployment>(docs, 'Deployment', 'gatehouse');
  const c = gatehouseContainer(d);
  const args = c.args ?? [];

  const defaults = parseServeArgs(['--manifests', DEPLOY]);
  assert.equal(defaults.httpPort, 8080);
  assert.equal(defaults.httpsPort, 8443);
  assert.equal(defaults.adminPort, 9901);
  assert.equal(helpDefault('--http-port'), String(defaults.httpPort));
  assert.equal(helpDefault('--https-port'), String(defaults.httpsPort));
  assert.equal(helpDefault('--admin-port'), String(defaults.adminPort));

  assert.deepEqual(
    (c.ports ?? []).map((p) => [p.name, p.containerPort, p.protocol ?? 'TCP']),
    [
      ['http', defaults.httpPort, 'TCP'],
      ['https', defaults.httpsPort, 'TCP'],
      ['admin', defaults.adminPort, 'TCP'],
    ],
  );

  assert.equal(args[0], 'serve');
  assert.ok(args.includes('--kubernetes'), 'the Deployment runs cluster mode');
  const parsed = parseDeploymentArgs(args);
  assert.equal(parsed.httpPort, containerPort(c, 'http'));
  assert.equal(parsed.httpsPort, containerPort(c, 'https'));
  assert.equal(parsed.adminPort, containerPort(c, 'admin'));
  // Probes come from the kubelet over the pod IP, so the admin port cannot stay on loopback.
  assert.equal(parsed.adminAddress, '0.0.0.0');

  const svc = only<Service>(docs, 'Service', 'gatehouse');
  assert.equal(flagValue(args, '--publish-service'), `${svc.metadata?.namespace}/${svc.metadata?.name}`);
  assert.equal(d.spec?.replicas, 2);
  assert.equal(d.spec?.template?.spec?.serviceAccountName, only(docs, 'ServiceAccount').metadata?.name);
});

test('Deployment: probes hit the admin contract paths and mean what they should', async () => {
  const docs = loadManifests();
  const d = only<Deployment>(docs, 'Deployment', 'gatehouse');
  const c = gatehouseContainer(d);
  const admin = containerPort(c, 'admin');
  const readiness = c.readinessProbe?.httpGet;
  const liveness = c.livenessProbe?.httpGet;
  assert.equal(readiness?.path, '/readyz');
  assert.equal(liveness?.path, '/healthz');
  assert.equal(resolvePort(c, readiness?.port), admin);
  assert.equal(resolvePort(c, liveness?.port), admin);
  assert.match(SERVE_HELP, /--admin-port N .*\/healthz \/readyz/);

  // The admin server answers the probe paths as the contract says: liveness always, readiness once serving.
  let ready = false;
  const state: AdminState = { ready: () => ready, config: () => null, status: () => [], diagnostics: () => [] };
  const server = new AdminServer(state, new Metrics());
  const host = loopbackAddress(211);
  await server.listen(0, host);
  try {
    const port = server.address().port;
    const get = async (path: string | undefined) => (await httpRequest({ host, port, path: path ?? '/' })).status;
    assert.equal(await get(liveness?.path), 200);
    assert.equal(await get(readiness?.path), 503);
    ready = true;
    assert.equal(await get(readiness?.path), 200);
  } finally {
    await server.close();
  }

  // The kubelet waits longer than gatehouse drains before it kills the process.
  const parsed = parseDeploymentArgs(c.args ?? []);
  const grace = d.spec?.template?.spec?.terminationGracePeriodSeconds;
  assert.ok(grace !== undefined && grace * 1000 > parsed.drainTimeoutMs, 'terminationGracePeriodSeconds > drain');
});

test('Deployment: hardened security context, resources, spread across nodes; PDB keeps one', () => {
  const docs = loadManifests();
  const d = only<Deployment>(docs, 'Deployment', 'gatehouse');
  const pod = d.spec?.template?.spec;
  const c = gatehouseContainer(d);
  const sc = c.securityContext;
  assert.ok(sc);
  assert.equal(sc.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot, true);
  assert.equal(sc.runAsUser ?? pod?.securityContext?.runAsUser, 10001);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.notEqual(sc.privileged, true);
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.equal(sc.capabilities?.add, undefined);
  assert.equal(sc.seccompProfile?.type ?? pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');

  for (const kind of ['requests', 'limits'] as const) {
    for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r] !== undefined, `resources.${kind}.${r}`);
  }

  const hostname = 'kubernetes.io/hostname';
  const spread = (pod?.topologySpreadConstraints ?? []).some((t) => t.topologyKey === hostname);
  const anti = pod?.affinity?.podAntiAffinity;
  const antiAffinity =
    (anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []).some((t) => t.topologyKey === hostname) ||
    (anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).some(
      (t) => t.podAffinityTerm?.topologyKey === hostname,
    );
  assert.ok(spread || antiAffinity, 'replicas are spread across nodes');

  const podLabels = d.spec?.template?.metadata?.labels ?? {};
  const matches = (selector: Record<string, string> | undefined): boolean =>
    selector !== undefined &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  assert.ok(matches(d.spec?.selector?.matchLabels), 'the Deployment selects its own pods');
  const pdb = only<
    K8sObject & { spec?: { minAvailable?: number; selector?: { matchLabels?: Record<string, string> } } }
  >(docs, 'PodDisruptionBudget');
  assert.equal(pdb.spec?.minAvailable, 1);
  assert.ok(matches(pdb.spec?.selector?.matchLabels), 'the PodDisruptionBudget selects the gatehouse pods');
  assert.ok(matches(only<Service>(docs, 'Service').spec?.selector), 'the Service selects the gatehouse pods');
});

test('Service: LoadBalancer 80→http and 443→https on the container ports, client IP preserved, admin private', () => {
  const docs = loadManifests();
  const c = gatehouseContainer(only<Deployment>(docs, 'Deployment', 'gatehouse'));
  const svc = only<Service>(docs, 'Service', 'gatehouse');
  assert.equal(svc.spec?.type, 'LoadBalancer');
  assert.equal(svc.spec?.externalTrafficPolicy, 'Local');
  const ports = (svc.spec?.ports ?? []).map((p) => [p.name, p.port, resolvePort(c, p.targetPort), p.protocol ?? 'TCP']);
  assert.deepEqual(ports, [
    ['http', 80, containerPort(c, 'http'), 'TCP'],
    ['https', 443, containerPort(c, 'https'), 'TCP'],
  ]);
  assert.deepEqual([containerPort(c, 'http'), containerPort(c, 'https')], [8080, 8443]);
});

test('Linkerd: injected, and inbound traffic ports (the container ports, not 80/443) skip the proxy', () => {
  const docs = loadManifests();
  const d = only<Deployment>(docs, 'Deployment', 'gatehouse');
  const c = gatehouseContainer(d);
  const annotations = d.spec?.template?.metadata?.annotations ?? {};
  assert.equal(annotations['linkerd.io/inject'], 'enabled');
  const skip = annotations['config.linkerd.io/skip-inbound-ports'];
  assert.equal(typeof skip, 'string', 'skip-inbound-ports is a quoted string');
  const skipped = (skip ?? '')
    .split(',')
    .map((s) => Number(s.trim()))
    .sort((a, b) => a - b);
  assert.deepEqual(skipped, [containerPort(c, 'http'), containerPort(c, 'https')]);
  assert.ok(!skipped.includes(80) && !skipped.includes(443), 'Service ports are not what the pod sees');
  assert.ok(!skipped.includes(containerPort(c, 'admin')), 'the admin port stays behind the proxy');
  // Nothing may keep outbound traffic (to Services) out of the mesh.
  assert.equal(annotations['config.linkerd.io/skip-outbound-ports'], undefined);
});

// Every permission the controller needs, and nothing else: [apiGroup, resource, verbs].
const CLUSTER_GRANTS: readonly (readonly [string, string, readonly string[]])[] = [
  // `get` only where status is written (read before the PUT) and on Services (--publish-service).
  ['networking.k8s.io', 'ingresses', ['get', 'list', 'watch']],
  ['networking.k8s.io', 'ingressclasses', ['list', 'watch']],
  ['networking.k8s.io', 'ingresses/status', ['update']],
  ...['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'tcproutes', 'tlsroutes', 'backendtlspolicies'].map(
    (r) => ['gateway.networking.k8s.io', r, ['get', 'list', 'watch']] as const,
  ),
  ['gateway.networking.k8s.io', 'referencegrants', ['list', 'watch']],
  ...['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'tcproutes', 'tlsroutes', 'backendtlspolicies'].map(
    (r) => ['gateway.networking.k8s.io', `${r}/status`, ['update']] as const,
  ),
  ['', 'services', ['get', 'list', 'watch']],
  ['', 'namespaces', ['list', 'watch']],
  ['', 'configmaps', ['list', 'watch']],
  ['', 'secrets', ['list', 'watch']],
  ['discovery.k8s.io', 'endpointslices', ['list', 'watch']],
];

/** Flattens rules to "group|resource" → sorted verbs, refusing wildcards and non-resource or per-name rules. */
function grants(role: RoleObject): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const rule of role.rules ?? []) {
    assert.equal(rule.nonResourceURLs, undefined, 'no nonResourceURLs');
    assert.equal(rule.resourceNames, undefined, 'no resourceNames (they would not narrow list/watch anyway)');
    const groups = rule.apiGroups ?? [];
    const resources = rule.resources ?? [];
    const verbs = rule.verbs ?? [];
    for (const v of [...groups, ...resources, ...verbs]) assert.ok(!v.includes('*'), `no wildcard (${v})`);
    assert.ok(groups.length > 0 && resources.length > 0 && verbs.length > 0, 'every rule is complete');
    for (const g of groups) {
      for (const r of resources) {
        const key = `${g}|${r}`;
        const set = out.get(key) ?? new Set<string>();
        for (const v of verbs) set.add(v);
        out.set(key, set);
      }
    }
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

test('RBAC: the ClusterRole reads and writes only status; Secrets only by list/watch; leases only in its namespace', () => {
  const docs = loadManifests();
  const cr = only<RoleObject>(docs, 'ClusterRole', 'gatehouse');
  const granted = grants(cr);
  const expected = new Map(CLUSTER_GRANTS.map(([g, r, v]) => [`${g}|${r}`, [...v].sort()]));
  assert.deepEqual(Object.fromEntries([...granted].sort()), Object.fromEntries([...expected].sort()));
  // The properties behind that table, stated on their own.
  const writes = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate'];
  for (const [key, verbs] of granted) {
    const [, resource = ''] = key.split('|');
    const written = verbs.filter((v) => writes.includes(v));
    if (resource.endsWith('/status')) assert.deepEqual(written, ['update'], key);
    else assert.deepEqual(written, [], `${key} is read-only`);
  }
  // Secrets are read one by one through list/watch with a name field selector; `get` is not needed.
  assert.deepEqual(granted.get('|secrets'), ['list', 'watch']);

  const role = only<RoleObject>(docs, 'Role');
  assert.equal(role.metadata?.namespace, NAMESPACE);
  assert.deepEqual(Object.fromEntries(grants(role)), { 'coordination.k8s.io|leases': ['create', 'get', 'update'] });

  const sa = only(docs, 'ServiceAccount');
  const subject = [{ kind: 'ServiceAccount', name: sa.metadata?.name, namespace: NAMESPACE }];
  const crb = only<Binding>(docs, 'ClusterRoleBinding');
  assert.deepEqual(crb.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    name: cr.metadata?.name,
  });
  assert.deepEqual(crb.subjects, subject);
  const rb = only<Binding>(docs, 'RoleBinding');
  assert.equal(rb.metadata?.namespace, NAMESPACE);
  assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
  assert.deepEqual(rb.subjects, subject);
});

test('leader election: the Lease is where the Role allows it, and each replica has its own identity', () => {
  const docs = loadManifests();
  const d = only<Deployment>(docs, 'Deployment', 'gatehouse');
  const c = gatehouseContainer(d);
  const fieldOf = (name: string) => c.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
  // The downward API gives each pod its own name and the namespace it runs in.
  assert.equal(fieldOf('POD_NAME'), 'metadata.name');
  assert.equal(fieldOf('POD_NAMESPACE'), 'metadata.namespace');
  const args = parseDeploymentArgs(c.args ?? []);
  assert.equal(args.leaderElection, true);
  assert.equal(args.leaseNamespace, undefined, 'the Lease follows POD_NAMESPACE');
  const lease = defaultLeaderElection(
    { POD_NAME: 'gatehouse-abc', POD_NAMESPACE: d.metadata?.namespace ?? '' },
    { name: args.leaseName },
  );
  assert.deepEqual(lease, { namespace: NAMESPACE, name: 'gatehouse-leader', identity: 'gatehouse-abc' });
  const role = only<RoleObject>(docs, 'Role');
  assert.equal(role.metadata?.namespace, lease.namespace);
});

test('classes name the controllers the code serves', () => {
  const docs = loadManifests();
  const ic = only<K8sObject & { spec?: { controller?: string } }>(docs, 'IngressClass');
  assert.equal(ic.apiVersion, 'networking.k8s.io/v1');
  assert.equal(ic.metadata?.name, parseServeArgs(['--manifests', DEPLOY]).ingressClass);
  assert.equal(ic.spec?.controller, INGRESS_CONTROLLER);
  const gc = only<K8sObject & { spec?: { controllerName?: string } }>(docs, 'GatewayClass');
  assert.equal(gc.apiVersion, 'gateway.networking.k8s.io/v1');
  assert.equal(gc.metadata?.name, 'gatehouse');
  assert.equal(gc.spec?.controllerName, GATEWAY_CONTROLLER);
});

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function dockerfile(): { readonly op: string; readonly rest: string }[] {
  const text = readFileSync(resolve(DEPLOY, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: (m[1] ?? '').toUpperCase(), rest: m[2] ?? '' };
    });
}

test('Dockerfile: Node 24 base, runs as the non-root user the Deployment names, exposes the container ports', () => {
  const lines = dockerfile();
  const argDefaults = new Map<string, string>();
  for (const l of lines.filter((x) => x.op === 'ARG')) {
    const [name = '', value = ''] = l.rest.split('=');
    argDefaults.set(name, value);
  }
  const bases = lines
    .filter((l) => l.op === 'FROM')
    .map((l) => (l.rest.split(/\s+/)[0] ?? '').replace(/^\$\{(\w+)\}$/, (_, n: string) => argDefaults.get(n) ?? ''));
  assert.ok(bases.length >= 2, 'a build stage and a final stage');
  for (const b of bases) assert.match(b, /^(node:24[-.]|gcr\.io\/distroless\/nodejs24)/, `Node 24 base: ${b}`);

  const users = lines.filter((l) => l.op === 'USER');
  const user = users.at(-1)?.rest.split(':')[0];
  assert.ok(user !== undefined && /^\d+$/.test(user), 'USER is numeric, so runAsNonRoot can verify it');
  assert.notEqual(Number(user), 0);
  const d = only<Deployment>(loadManifests(), 'Deployment', 'gatehouse');
  assert.equal(Number(user), gatehouseContainer(d).securityContext?.runAsUser);

  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const entry = lines.find((l) => l.op === 'ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry?.rest ?? 'null'), ['node', pkg.bin['gatehouse']]);
  const cmd = lines.find((l) => l.op === 'CMD');
  assert.deepEqual(JSON.parse(cmd?.rest ?? 'null'), ['serve', '--kubernetes']);

  const exposed = lines
    .filter((l) => l.op === 'EXPOSE')
    .flatMap((l) => l.rest.split(/\s+/))
    .map(Number)
    .sort((a, b) => a - b);
  const c = gatehouseContainer(d);
  assert.deepEqual(exposed, [containerPort(c, 'http'), containerPort(c, 'https'), containerPort(c, 'admin')]);

  const install = lines.find((l) => l.op === 'RUN' && /\bnpm ci\b/.test(l.rest));
  assert.ok(install, 'dependencies come from package-lock.json (npm ci)');
  assert.match(install.rest, /--omit=dev/);

  // What the image copies from the build context exists and is not excluded by .dockerignore.
  const ignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const p of ['node_modules', '.git', 'test', 'testdata']) assert.ok(ignore.includes(p), `.dockerignore: ${p}`);
  const copied = lines
    .filter((l) => l.op === 'COPY' && !l.rest.startsWith('--from'))
    .flatMap((l) => l.rest.split(/\s+/).slice(0, -1));
  assert.ok(copied.includes('src') && copied.includes('package.json'), 'the image gets the sources');
  for (const p of copied) {
    assert.ok(existsSync(resolve(ROOT, p)), `COPY ${p} exists`);
    assert.ok(!ignore.includes(p), `COPY ${p} is not in .dockerignore`);
  }
});
