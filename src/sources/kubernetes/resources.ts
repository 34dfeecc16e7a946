// The API resources the Kubernetes source lists and watches, and the paths to them. The versions tried for each
// kind are exactly those the decoders read (model/decode.ts), newest stable first: where a CRD serves several, the
// first one it serves is used, and a version the decoders do not read is never requested.
import { alsoReadApiVersions, readApiVersions } from '../../model/decode.ts';
import type { Kind } from '../../model/objects.ts';

export interface ResourceType {
  readonly kind: Kind;
  /** API group; '' for the core group. */
  readonly group: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Versions to try, in order of preference. */
  readonly versions: readonly string[];
}

/** Kubernetes version order: GA, then beta, then alpha, each by number, highest first. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (m === null) return [-1, 0, 0];
    const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [sa, ma, na] = rank(a);
  const [sb, mb, nb] = rank(b);
  return sb - sa || mb - ma || nb - na || (a < b ? -1 : a > b ? 1 : 0);
}

/** The versions of `group` the decoders read for `kind`, preferred first. */
function versionsRead(kind: Kind, group: string): string[] {
  const all = new Set<string>();
  for (const apiVersion of [readApiVersions[kind] ?? '', ...(alsoReadApiVersions[kind] ?? [])]) {
    const slash = apiVersion.lastIndexOf('/');
    const g = slash < 0 ? '' : apiVersion.slice(0, slash);
    const v = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    if (apiVersion !== '' && g === group) all.add(v);
  }
  return [...all].sort(compareVersions);
}

function resource(kind: Kind, group: string, plural: string, namespaced: boolean): ResourceType {
  return { kind, group, plural, namespaced, versions: versionsRead(kind, group) };
}

const gw = 'gateway.networking.k8s.io';

/** Everything watched for the configuration, in the order it is listed at start. */
export const watchedResources: readonly ResourceType[] = [
  resource('Namespace', '', 'namespaces', false),
  resource('Service', '', 'services', true),
  resource('EndpointSlice', 'discovery.k8s.io', 'endpointslices', true),
  resource('IngressClass', 'networking.k8s.io', 'ingressclasses', false),
  resource('Ingress', 'networking.k8s.io', 'ingresses', true),
  resource('GatewayClass', gw, 'gatewayclasses', false),
  resource('Gateway', gw, 'gateways', true),
  resource('HTTPRoute', gw, 'httproutes', true),
  resource('GRPCRoute', gw, 'grpcroutes', true),
  resource('TCPRoute', gw, 'tcproutes', true),
  resource('TLSRoute', gw, 'tlsroutes', true),
  resource('ReferenceGrant', gw, 'referencegrants', true),
  resource('BackendTLSPolicy', gw, 'backendtlspolicies', true),
];

/** Read one object at a time, only when something references it (see references.ts). */
export const secrets: ResourceType = resource('Secret', '', 'secrets', true);
export const configMaps: ResourceType = resource('ConfigMap', '', 'configmaps', true);

export function apiVersionOf(r: ResourceType, version: string): string {
  return r.group === '' ? version : `${r.group}/${version}`;
}

/** The collection path: cluster-wide, or in `namespace` for a namespaced resource when one is given. */
export function collectionPath(r: ResourceType, version: string, namespace?: string): string {
  const prefix = r.group === '' ? `/api/${version}` : `/apis/${r.group}/${version}`;
  return r.namespaced && namespace !== undefined && namespace !== ''
    ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
    : `${prefix}/${r.plural}`;
}

/** One object's path, used as its origin. */
export function objectPath(r: ResourceType, version: string, namespace: string, name: string): string {
  return `${collectionPath(r, version, r.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
}
