import { stringify } from 'yaml';

/** Small builders for the manifests end-to-end tests write; they produce what a user would write by hand. */

export type Manifest = Record<string, unknown>;

export function toYaml(objects: readonly Manifest[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

export function ingressClass(name = 'gatehouse', isDefault = false): Manifest {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: {
      name,
      ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}),
    },
    spec: { controller: 'gatehouse.dev/ingress-controller' },
  };
}

export interface ServiceSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly clusterIP: string;
  readonly port: number;
  readonly portName?: string;
  readonly targetPort: number;
  /** The Service port's appProtocol, e.g. `kubernetes.io/h2c`. */
  readonly appProtocol?: string;
  /** Pod addresses; each listens on targetPort. */
  readonly endpoints: readonly { readonly ip: string; readonly ready?: boolean }[];
}

/** A Service and its EndpointSlice. */
export function service(s: ServiceSpec): Manifest[] {
  const namespace = s.namespace ?? 'default';
  const portName = s.portName ?? 'http';
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace },
      spec: {
        clusterIP: s.clusterIP,
        ports: [
          {
            name: portName,
            port: s.port,
            targetPort: s.targetPort,
            ...(s.appProtocol === undefined ? {} : { appProtocol: s.appProtocol }),
          },
        ],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.name}-abc`, namespace, labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4',
      endpoints: s.endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true } })),
      ports: [{ name: portName, port: s.targetPort, protocol: 'TCP' }],
    },
  ];
}

export interface PathSpec {
  readonly path: string;
  readonly pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  readonly service: string;
  readonly port: number | string;
}

export interface IngressSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly className?: string;
  readonly annotations?: Record<string, string>;
  readonly creationTimestamp?: string;
  readonly defaultBackend?: { readonly service: string; readonly port: number | string };
  readonly tls?: readonly { readonly hosts: readonly string[]; readonly secretName: string }[];
  readonly rules: readonly { readonly host?: string; readonly paths: readonly PathSpec[] }[];
}

function backendRef(serviceName: string, port: number | string): Manifest {
  return { service: { name: serviceName, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

export function ingress(s: IngressSpec): Manifest {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: s.name,
      namespace: s.namespace ?? 'default',
      ...(s.annotations === undefined ? {} : { annotations: s.annotations }),
      ...(s.creationTimestamp === undefined ? {} : { creationTimestamp: s.creationTimestamp }),
    },
    spec: {
      ingressClassName: s.className ?? 'gatehouse',
      ...(s.defaultBackend === undefined
        ? {}
        : { defaultBackend: backendRef(s.defaultBackend.service, s.defaultBackend.port) }),
      ...(s.tls === undefined ? {} : { tls: s.tls }),
      rules: s.rules.map((r) => ({
        ...(r.host === undefined ? {} : { host: r.host }),
        http: {
          paths: r.paths.map((p) => ({
            path: p.path,
            pathType: p.pathType ?? 'Prefix',
            backend: backendRef(p.service, p.port),
          })),
        },
      })),
    },
  };
}

export function tlsSecret(name: string, certPem: string, keyPem: string, namespace = 'default'): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(certPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
  };
}

const GW = 'gateway.networking.k8s.io/v1';

export function gatewayClass(name = 'gatehouse', controllerName = 'gatehouse.dev/gateway-controller'): Manifest {
  return { apiVersion: GW, kind: 'GatewayClass', metadata: { name }, spec: { controllerName } };
}

export function namespace(name: string, labels: Record<string, string> = {}): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface ListenerSpec {
  readonly name: string;
  readonly port: number;
  readonly protocol?: string;
  readonly hostname?: string;
  readonly from?: 'Same' | 'All' | 'Selector';
  readonly selector?: Record<string, string>;
  /** HTTPS: Secrets served by the listener (`tls.mode` Terminate); namespace defaults to the Gateway's. */
  readonly certificateRefs?: readonly { readonly name: string; readonly namespace?: string }[];
}

export function gateway(
  name: string,
  listeners: readonly ListenerSpec[],
  ns = 'default',
  className = 'gatehouse',
): Manifest {
  return {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name, namespace: ns },
    spec: {
      gatewayClassName: className,
      listeners: listeners.map((l) => ({
        name: l.name,
        port: l.port,
        protocol: l.protocol ?? 'HTTP',
        ...(l.hostname === undefined ? {} : { hostname: l.hostname }),
        ...(l.certificateRefs === undefined ? {} : { tls: { mode: 'Terminate', certificateRefs: l.certificateRefs } }),
        allowedRoutes: {
          namespaces: {
            from: l.from ?? 'Same',
            ...(l.selector === undefined ? {} : { selector: { matchLabels: l.selector } }),
          },
        },
      })),
    },
  };
}

/** An HTTPRoute written as in the Gateway API documentation; `spec` is passed through as given. */
export function httpRoute(
  name: string,
  spec: Record<string, unknown>,
  ns = 'default',
  creationTimestamp?: string,
): Manifest {
  return {
    apiVersion: GW,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, ...(creationTimestamp === undefined ? {} : { creationTimestamp }) },
    spec,
  };
}

/** A ReferenceGrant in `ns` letting objects of kind `fromKind` in `fromNamespace` reference `toKind` objects there. */
export function referenceGrant(
  name: string,
  ns: string,
  from: { readonly kind: string; readonly namespace: string },
  to: { readonly group?: string; readonly kind: string; readonly name?: string },
): Manifest {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name, namespace: ns },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: from.kind, namespace: from.namespace }],
      to: [{ group: to.group ?? '', kind: to.kind, ...(to.name === undefined ? {} : { name: to.name }) }],
    },
  };
}

/** A GRPCRoute written as in the Gateway API documentation; `spec` is passed through as given. */
export function grpcRoute(name: string, spec: Record<string, unknown>, ns = 'default'): Manifest {
  return { apiVersion: GW, kind: 'GRPCRoute', metadata: { name, namespace: ns }, spec };
}

export interface BackendTLSPolicySpec {
  /** Services the policy applies to (in the policy's namespace). */
  readonly services: readonly string[];
  /** ConfigMaps holding the CA bundle under `ca.crt`. */
  readonly caConfigMaps: readonly string[];
  /** SNI sent to the backend and the name its certificate must carry. */
  readonly hostname: string;
}

/** A BackendTLSPolicy (gateway.networking.k8s.io/v1) targeting Services, validated by CA ConfigMaps. */
export function backendTLSPolicy(name: string, s: BackendTLSPolicySpec, ns = 'default'): Manifest {
  return {
    apiVersion: GW,
    kind: 'BackendTLSPolicy',
    metadata: { name, namespace: ns },
    spec: {
      targetRefs: s.services.map((service) => ({ group: '', kind: 'Service', name: service })),
      validation: {
        caCertificateRefs: s.caConfigMaps.map((cm) => ({ group: '', kind: 'ConfigMap', name: cm })),
        hostname: s.hostname,
      },
    },
  };
}

export function configMap(name: string, data: Record<string, string>, ns = 'default'): Manifest {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data };
}

/** A Secret of any type, its values given as text and written base64-encoded under `data`. */
export function secret(name: string, values: Record<string, string>, ns = 'default', type = 'Opaque'): Manifest {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) data[key] = Buffer.from(value).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type, data };
}
