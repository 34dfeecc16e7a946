// Where each kind whose status gatehouse writes lives in the API. Gateway API kinds are served in several versions
// depending on the CRDs a cluster has installed; the writer tries them in order and remembers the one that answers.

export type StatusKind =
  | 'GatewayClass'
  | 'Gateway'
  | 'HTTPRoute'
  | 'GRPCRoute'
  | 'TCPRoute'
  | 'TLSRoute'
  | 'BackendTLSPolicy'
  | 'Ingress';

export interface Resource {
  readonly group: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Most preferred first. */
  readonly versions: readonly string[];
}

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export const RESOURCES: Readonly<Record<StatusKind, Resource>> = {
  GatewayClass: { group: GATEWAY_GROUP, plural: 'gatewayclasses', namespaced: false, versions: ['v1', 'v1beta1'] },
  Gateway: { group: GATEWAY_GROUP, plural: 'gateways', namespaced: true, versions: ['v1', 'v1beta1'] },
  HTTPRoute: { group: GATEWAY_GROUP, plural: 'httproutes', namespaced: true, versions: ['v1', 'v1beta1'] },
  GRPCRoute: { group: GATEWAY_GROUP, plural: 'grpcroutes', namespaced: true, versions: ['v1', 'v1alpha2'] },
  TCPRoute: { group: GATEWAY_GROUP, plural: 'tcproutes', namespaced: true, versions: ['v1alpha2', 'v1'] },
  TLSRoute: { group: GATEWAY_GROUP, plural: 'tlsroutes', namespaced: true, versions: ['v1', 'v1alpha3', 'v1alpha2'] },
  BackendTLSPolicy: {
    group: GATEWAY_GROUP,
    plural: 'backendtlspolicies',
    namespaced: true,
    versions: ['v1', 'v1alpha3'],
  },
  Ingress: { group: 'networking.k8s.io', plural: 'ingresses', namespaced: true, versions: ['v1'] },
};

export const ROUTE_KINDS: ReadonlySet<string> = new Set(['HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute']);

export function isStatusKind(kind: string): kind is StatusKind {
  return Object.hasOwn(RESOURCES, kind);
}

export function objectPath(
  resource: Resource,
  version: string,
  namespace: string,
  name: string,
  subresource?: 'status',
): string {
  const base = resource.group === '' ? `/api/${version}` : `/apis/${resource.group}/${version}`;
  const scope = resource.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const sub = subresource === undefined ? '' : `/${subresource}`;
  return `${base}${scope}/${resource.plural}/${encodeURIComponent(name)}${sub}`;
}

export function servicePath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`;
}
