// Synthetic but realistic configurations and request streams for the micro benchmarks. Deterministic: the same
// sizes always give the same tables, manifests and requests, so runs compare.
import type { MatchInput } from '../../src/compile/route-matcher.ts';
import type { Backend, HTTPListener, IR, Route, RouteMatch, VirtualHost } from '../../src/ir/types.ts';

/** Services the generated routes spread over (each its own loopback cluster IP, as on one machine). */
export const SERVICES = 100;

/** A small linear congruential generator: reproducible sequences without Math.random. */
export class Lcg {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (Math.imul(this.#state, 1664525) + 1013904223) >>> 0;
    return this.#state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

export function hostName(i: number): string {
  return `app-${i}.bench.example.com`;
}

function serviceAddress(s: number): string {
  return `127.0.${100 + (s >> 8)}.${(s & 255) + 1}`;
}

interface RouteShape {
  readonly path: RouteMatch['path'];
  readonly method?: string;
  readonly header?: { readonly name: string; readonly value: string };
}

/**
 * The routes of one virtual host, in precedence order as the translators emit them (Exact before Prefix, longer
 * prefixes first, more specific matches first). Odd hosts have no `/` catch-all, so some paths miss.
 */
function hostShapes(host: number): readonly RouteShape[] {
  return [
    { path: { kind: 'Exact', value: '/healthz' } },
    { path: { kind: 'Exact', value: '/api/v1/login' }, method: 'POST' },
    { path: { kind: 'Prefix', value: '/api/v1/users' }, header: { name: 'x-canary', value: 'always' } },
    { path: { kind: 'Prefix', value: '/api/v1/users' } },
    { path: { kind: 'Prefix', value: '/api/v1/orders' } },
    { path: { kind: 'Prefix', value: '/static/assets' } },
    { path: { kind: 'Prefix', value: '/api/v2' } },
    { path: { kind: 'Prefix', value: '/static' } },
    { path: { kind: 'Prefix', value: '/api' } },
    host % 2 === 0 ? { path: { kind: 'Prefix', value: '/' } } : { path: { kind: 'Exact', value: '/favicon.ico' } },
  ];
}

export const ROUTES_PER_HOST = 10;

/**
 * One HTTP listener with `hosts` virtual hosts of `routesPerHost` routes each (at most 10), spread over
 * SERVICES backends; plus one Ingress-style wildcard host.
 */
export function routeTableIR(hosts: number, routesPerHost = ROUTES_PER_HOST): IR {
  const backends: Backend[] = [];
  const services = Math.min(SERVICES, hosts * routesPerHost);
  for (let s = 0; s < services; s++) {
    backends.push({
      name: `bench/svc-${s}:80`,
      source: { kind: 'Service', namespace: 'bench', name: `svc-${s}` },
      target: { kind: 'static', endpoints: [{ address: serviceAddress(s), port: 80 }] },
    });
  }
  const virtualHosts: VirtualHost[] = [];
  for (let h = 0; h < hosts; h++) {
    const hostname = hostName(h);
    const routes: Route[] = hostShapes(h)
      .slice(0, routesPerHost)
      .map((shape, r) => ({
        name: `ingress/bench/app-${h}/rule/0/path/${r}`,
        source: { kind: 'Ingress', namespace: 'bench', name: `app-${h}` },
        match: {
          path: shape.path,
          headers:
            shape.header === undefined ? [] : [{ name: shape.header.name, kind: 'Exact', value: shape.header.value }],
          queryParams: [],
          ...(shape.method === undefined ? {} : { method: shape.method }),
        },
        action: { kind: 'forward', backends: [{ backend: `bench/svc-${(h + r) % services}:80`, weight: 1 }] },
      }));
    virtualHosts.push({ name: `ingress-http/${hostname}`, hostname, hostMatch: 'exact', routes });
  }
  virtualHosts.push({
    name: 'ingress-http/*.apps.bench.example.com',
    hostname: '*.apps.bench.example.com',
    hostMatch: 'wildcard-one-label',
    routes: [
      {
        name: 'ingress/bench/apps/rule/0/path/0',
        source: { kind: 'Ingress', namespace: 'bench', name: 'apps' },
        match: { path: { kind: 'Prefix', value: '/' }, headers: [], queryParams: [] },
        action: { kind: 'forward', backends: [{ backend: 'bench/svc-0:80', weight: 1 }] },
      },
    ],
  });
  const listener: HTTPListener = { name: 'ingress-http', protocol: 'HTTP', port: 8080, virtualHosts };
  return { listeners: [listener], backends, certificates: [] };
}

/** What the data plane hands the matcher: the request's distinct headers, as node parses them. */
class BenchMatchInput implements MatchInput {
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly query: string;
  constructor(path: string, method: string, headers: Record<string, readonly string[]>, query: string) {
    this.path = path;
    this.method = method;
    this.headers = headers;
    this.query = query;
  }
}

export interface BenchRequest {
  /** Lower-case, without port, as the data plane passes it to the host router. */
  readonly host: string;
  readonly input: MatchInput;
}

/** Paths clients send: every depth of the route table, with ids and file names below the matched prefixes. */
const PATHS: readonly { readonly path: string; readonly method?: string; readonly canary?: boolean }[] = [
  { path: '/healthz' },
  { path: '/api/v1/login', method: 'POST' },
  { path: '/api/v1/users/48213/profile' },
  { path: '/api/v1/users/48213', canary: true },
  { path: '/api/v1/orders/2026/11/98765' },
  { path: '/api/v2/catalog/items/31' },
  { path: '/api/v3/ping' },
  { path: '/static/assets/app.3f2a9c.js' },
  { path: '/static/img/logo.png' },
  { path: '/' },
  { path: '/about/team' },
  { path: '/favicon.ico' },
];

/**
 * A stream of requests over a table built by routeTableIR(hosts): about 80 % name a configured host (every path
 * depth; on odd hosts `/` and `/about/team` miss), 10 % the wildcard and 10 % an unknown host (a miss).
 */
export function benchRequests(hosts: number, count: number): BenchRequest[] {
  const rng = new Lcg(42);
  const out: BenchRequest[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rng.below(10);
    const host =
      kind === 0
        ? `unknown-${rng.below(1000)}.example.org`
        : kind === 1
          ? `t${rng.below(50)}.apps.bench.example.com`
          : hostName(rng.below(hosts));
    const p = PATHS[rng.below(PATHS.length)] as (typeof PATHS)[number];
    const headers: Record<string, readonly string[]> = {
      host: [host],
      'user-agent': ['Mozilla/5.0 (X11; Linux x86_64) bench'],
      accept: ['application/json, text/plain, */*'],
      'accept-encoding': ['gzip, deflate, br'],
      'x-request-id': [`req-${i}`],
    };
    if (p.canary === true) headers['x-canary'] = ['always'];
    out.push({
      host,
      input: new BenchMatchInput(p.path, p.method ?? 'GET', headers, i % 7 === 0 ? 'page=2&sort=asc' : ''),
    });
  }
  return out;
}

/** Where the generated Services send traffic; by default each its own loopback address on port 8080. */
export interface ServiceTargets {
  readonly address: (service: number) => string;
  /** The Service port, which the Ingresses name and `--upstream service` connects to. */
  readonly servicePort: number;
  readonly targetPort: number;
}

const DEFAULT_TARGETS: ServiceTargets = { address: serviceAddress, servicePort: 80, targetPort: 8080 };

function servicesYaml(namespace: string, targets: ServiceTargets = DEFAULT_TARGETS): string {
  const docs: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const ip = targets.address(s);
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: svc-${s}, namespace: ${namespace} }
spec:
  clusterIP: ${ip}
  ports: [{ name: http, port: ${targets.servicePort}, targetPort: ${targets.targetPort} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-${s}-abc
  namespace: ${namespace}
  labels: { kubernetes.io/service-name: svc-${s} }
addressType: IPv4
endpoints: [{ addresses: ["${ip}"], conditions: { ready: true } }]
ports: [{ name: http, port: ${targets.targetPort}, protocol: TCP }]
`);
  }
  return docs.join('---\n');
}

const INGRESS_PATHS: readonly { readonly path: string; readonly type: 'Exact' | 'Prefix' }[] = [
  { path: '/healthz', type: 'Exact' },
  { path: '/api/v1/login', type: 'Exact' },
  { path: '/api/v1/users', type: 'Prefix' },
  { path: '/api/v1/orders', type: 'Prefix' },
  { path: '/api/v2', type: 'Prefix' },
  { path: '/api', type: 'Prefix' },
  { path: '/static/assets', type: 'Prefix' },
  { path: '/static', type: 'Prefix' },
  { path: '/docs', type: 'Prefix' },
  { path: '/', type: 'Prefix' },
];

const INGRESS_CLASS_YAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: gatehouse }
spec: { controller: gatehouse.dev/ingress-controller }
`;

/**
 * The Ingress of host `h`: `pathsPerHost` paths (Exact and Prefix) over the Services, plus `extraPaths` (Exact, to
 * the Service `svc-changed`, which the fixture does not define), which the change benchmarks add one at a time.
 */
export function hostIngressYaml(
  h: number,
  pathsPerHost = INGRESS_PATHS.length,
  extraPaths: readonly string[] = [],
  servicePort = 80,
): string {
  const paths = INGRESS_PATHS.slice(0, pathsPerHost)
    .map(
      (p, i) => `          - path: ${p.path}
            pathType: ${p.type}
            backend: { service: { name: svc-${(h + i) % SERVICES}, port: { number: ${servicePort} } } }`,
    )
    .concat(
      extraPaths.map(
        (p) => `          - path: ${p}
            pathType: Exact
            backend: { service: { name: svc-changed, port: { number: ${servicePort} } } }`,
      ),
    )
    .join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-${h}
  namespace: bench
  creationTimestamp: "2026-01-01T00:${String(Math.floor(h / 60) % 60).padStart(2, '0')}:${String(h % 60).padStart(2, '0')}Z"
spec:
  ingressClassName: gatehouse
  rules:
    - host: ${hostName(h)}
      http:
        paths:
${paths}
`;
}

/** The IngressClass and the SERVICES Services with their EndpointSlices, as one multi-document YAML text. */
export function ingressBaseManifest(targets: ServiceTargets = DEFAULT_TARGETS): string {
  return [INGRESS_CLASS_YAML, servicesYaml('bench', targets)].join('---\n');
}

/**
 * An IngressClass, SERVICES Services with EndpointSlices, and one Ingress per host with `pathsPerHost` paths
 * (Exact and Prefix), as one multi-document YAML text.
 */
export function ingressManifest(
  hosts: number,
  pathsPerHost = INGRESS_PATHS.length,
  targets: ServiceTargets = DEFAULT_TARGETS,
): string {
  const docs = [ingressBaseManifest(targets)];
  for (let h = 0; h < hosts; h++) docs.push(hostIngressYaml(h, pathsPerHost, [], targets.servicePort));
  return docs.join('---\n');
}

/**
 * A GatewayClass, one Gateway with an HTTP listener on port 8000, SERVICES Services, and `routes` HTTPRoutes, each
 * for its own hostname with four rules: a header-matched weighted split, a path prefix, an Exact path with a
 * header modifier, and a catch-all.
 */
export function httpRouteManifest(routes: number): string {
  const docs = [
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: gatehouse }
spec: { controllerName: gatehouse.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: bench }
spec:
  gatewayClassName: gatehouse
  listeners:
    - { name: http, port: 8000, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } } }
`,
    servicesYaml('bench'),
  ];
  for (let r = 0; r < routes; r++) {
    const a = r % SERVICES;
    const b = (r + 1) % SERVICES;
    docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route-${r}
  namespace: bench
  creationTimestamp: "2026-01-01T00:${String(Math.floor(r / 60) % 60).padStart(2, '0')}:${String(r % 60).padStart(2, '0')}Z"
spec:
  parentRefs: [{ name: edge }]
  hostnames: ["${hostName(r)}"]
  rules:
    - matches:
        - path: { type: PathPrefix, value: /api }
          headers: [{ name: x-canary, value: always }]
      backendRefs:
        - { name: svc-${a}, port: 80, weight: 90 }
        - { name: svc-${b}, port: 80, weight: 10 }
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs: [{ name: svc-${a}, port: 80 }]
    - matches: [{ path: { type: Exact, value: /healthz } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-route, value: route-${r} }] }
      backendRefs: [{ name: svc-${b}, port: 80 }]
    - backendRefs: [{ name: svc-${a}, port: 80 }]
`);
  }
  return docs.join('---\n');
}
