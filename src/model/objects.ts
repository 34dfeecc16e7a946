// Typed views of the Kubernetes objects gatehouse reads: only the fields it uses.
// Decoders in decode.ts build these from `unknown`; nothing else constructs them from raw input.

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation: number;
  readonly creationTimestamp: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Where an object came from, for diagnostics: a file (and document index) or the API. */
export interface Origin {
  readonly file?: string;
  readonly document?: number;
  /** Read from the Kubernetes API: the object's path there, e.g. `/apis/networking.k8s.io/v1/namespaces/default/ingresses/web`. */
  readonly api?: string;
}

export interface ObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface ServiceBackendPort {
  readonly number?: number;
  readonly name?: string;
}

export interface IngressServiceBackend {
  readonly name: string;
  readonly port: ServiceBackendPort;
}

export interface IngressBackend {
  readonly service?: IngressServiceBackend;
  readonly resource?: { readonly apiGroup: string; readonly kind: string; readonly name: string };
}

export type IngressPathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface IngressPath {
  readonly path: string;
  readonly pathType: IngressPathType;
  readonly backend: IngressBackend;
}

export interface IngressRule {
  readonly host: string;
  readonly paths: readonly IngressPath[];
}

export interface IngressTLS {
  readonly hosts: readonly string[];
  readonly secretName: string;
}

export interface Ingress {
  readonly kind: 'Ingress';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly ingressClassName?: string;
    readonly defaultBackend?: IngressBackend;
    readonly rules: readonly IngressRule[];
    readonly tls: readonly IngressTLS[];
  };
  readonly origin: Origin;
}

export interface IngressClass {
  readonly kind: 'IngressClass';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly controller: string };
  readonly origin: Origin;
}

export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetPort?: number | string;
  readonly appProtocol?: string;
}

export interface Service {
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly type: string;
    readonly clusterIP?: string;
    readonly externalName?: string;
    readonly ports: readonly ServicePort[];
  };
  readonly origin: Origin;
}

export interface EndpointPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol?: string;
}

export interface Endpoint {
  readonly addresses: readonly string[];
  /** null means unknown, which consumers must treat as ready. */
  readonly ready: boolean | null;
  readonly serving: boolean | null;
  readonly terminating: boolean | null;
}

export interface EndpointSlice {
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  readonly addressType: string;
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly EndpointPort[];
  readonly origin: Origin;
}

export interface Secret {
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type: string;
  /** Decoded values (data is base64-decoded, stringData merged over it). */
  readonly data: Readonly<Record<string, string>>;
  readonly origin: Origin;
}

export interface ConfigMap {
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  /** `data` as written (`binaryData` is not read). */
  readonly data: Readonly<Record<string, string>>;
  readonly origin: Origin;
}

export interface Namespace {
  readonly kind: 'Namespace';
  readonly metadata: ObjectMeta;
  readonly origin: Origin;
}

// ---------------------------------------------------------------- Gateway API (gateway.networking.k8s.io)

/** A reference with group/kind defaults already applied by the decoder. */
export interface GroupKindRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  /** Absent means the referring object's namespace. */
  readonly namespace?: string;
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly {
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values: readonly string[];
  }[];
}

export interface GatewayClass {
  readonly kind: 'GatewayClass';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly controllerName: string };
  readonly origin: Origin;
}

export interface GatewayListener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  /** HTTP, HTTPS, TLS, TCP, UDP or an implementation-specific value, as written. */
  readonly protocol: string;
  readonly tls?: {
    readonly mode: 'Terminate' | 'Passthrough';
    /** Defaults applied: group "" and kind Secret. */
    readonly certificateRefs: readonly GroupKindRef[];
  };
  readonly allowedRoutes: {
    readonly namespaces: { readonly from: 'Same' | 'All' | 'Selector'; readonly selector?: LabelSelector };
    /** Empty means the kinds the protocol supports. Group defaults to gateway.networking.k8s.io. */
    readonly kinds: readonly { readonly group: string; readonly kind: string }[];
  };
}

export interface Gateway {
  readonly kind: 'Gateway';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly gatewayClassName: string;
    readonly listeners: readonly GatewayListener[];
    /** `spec.tls` (Gateway API v1.4+): only `backend`, the client certificate presented to TLS backends, is read. */
    readonly tls?: {
      /** Defaults applied: group "" and kind Secret. */
      readonly backend?: { readonly clientCertificateRef?: GroupKindRef };
    };
  };
  readonly origin: Origin;
}

export interface ParentReference {
  /** Defaults: group gateway.networking.k8s.io, kind Gateway. */
  readonly group: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export type HTTPPathMatch = { readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value: string };

export interface HTTPHeaderMatch {
  readonly type: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

export interface HTTPRouteMatch {
  /** Defaults to PathPrefix "/". */
  readonly path: HTTPPathMatch;
  readonly headers: readonly HTTPHeaderMatch[];
  readonly queryParams: readonly HTTPHeaderMatch[];
  readonly method?: string;
}

export interface HTTPHeaderFilter {
  readonly set: readonly { readonly name: string; readonly value: string }[];
  readonly add: readonly { readonly name: string; readonly value: string }[];
  readonly remove: readonly string[];
}

export type HTTPPathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly replaceFullPath: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly replacePrefixMatch: string };

/** A backendRef with defaults applied: group "", kind Service, weight 1. */
export interface BackendObjectRef extends GroupKindRef {
  readonly port?: number;
}

export type HTTPRouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HTTPHeaderFilter }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HTTPHeaderFilter }
  | {
      readonly type: 'RequestRedirect';
      readonly requestRedirect: {
        readonly scheme?: 'http' | 'https';
        readonly hostname?: string;
        readonly path?: HTTPPathModifier;
        readonly port?: number;
        /** Defaults to 302. */
        readonly statusCode: number;
      };
    }
  | {
      readonly type: 'URLRewrite';
      readonly urlRewrite: { readonly hostname?: string; readonly path?: HTTPPathModifier };
    }
  | {
      readonly type: 'RequestMirror';
      readonly requestMirror: {
        readonly backendRef: BackendObjectRef;
        readonly percent?: number;
        readonly fraction?: { readonly numerator: number; readonly denominator: number };
      };
    }
  | {
      readonly type: 'ExtensionRef';
      readonly extensionRef: { readonly group: string; readonly kind: string; readonly name: string };
    };

export interface HTTPBackendRef extends BackendObjectRef {
  readonly weight: number;
  readonly filters: readonly HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  readonly name?: string;
  /** Defaults to one match: PathPrefix "/". */
  readonly matches: readonly HTTPRouteMatch[];
  readonly filters: readonly HTTPRouteFilter[];
  readonly backendRefs: readonly HTTPBackendRef[];
  /** Durations as written (Gateway API duration format, e.g. "10s", "500ms", "1m30s"); "0s" disables. */
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
}

export interface HTTPRoute {
  readonly kind: 'HTTPRoute';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly parentRefs: readonly ParentReference[];
    readonly hostnames: readonly string[];
    readonly rules: readonly HTTPRouteRule[];
  };
  readonly origin: Origin;
}

export interface GRPCMethodMatch {
  /** Defaults to Exact. */
  readonly type: 'Exact' | 'RegularExpression';
  /** Absent: any service. At least one of service and method is set. */
  readonly service?: string;
  /** Absent: any method. */
  readonly method?: string;
}

export interface GRPCRouteMatch {
  /** Absent: every service and method. */
  readonly method?: GRPCMethodMatch;
  readonly headers: readonly HTTPHeaderMatch[];
}

/** The filter types GRPCRoute defines: the HTTPRoute filters of the same names and shapes. */
export type GRPCRouteFilter = Extract<
  HTTPRouteFilter,
  { readonly type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'ExtensionRef' }
>;

export interface GRPCBackendRef extends BackendObjectRef {
  readonly weight: number;
  readonly filters: readonly GRPCRouteFilter[];
}

export interface GRPCRouteRule {
  readonly name?: string;
  /** At least one; a rule written without matches gets one empty match, which matches every call. */
  readonly matches: readonly GRPCRouteMatch[];
  readonly filters: readonly GRPCRouteFilter[];
  readonly backendRefs: readonly GRPCBackendRef[];
}

export interface GRPCRoute {
  readonly kind: 'GRPCRoute';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly parentRefs: readonly ParentReference[];
    readonly hostnames: readonly string[];
    /** May be empty (GRPCRoute has no default rule). */
    readonly rules: readonly GRPCRouteRule[];
  };
  readonly origin: Origin;
}

/** A backendRef of a TCPRoute or TLSRoute, defaults applied: group "", kind Service, weight 1. */
export interface StreamBackendRef extends BackendObjectRef {
  readonly weight: number;
}

/** A TCPRoute or TLSRoute rule: connections go to its backendRefs by weight. */
export interface StreamRouteRule {
  readonly name?: string;
  /** May be empty in v1alpha2 (the connection is then refused). */
  readonly backendRefs: readonly StreamBackendRef[];
}

/** TCPRoute (v1alpha2, and v1 where a cluster serves it): every connection on the listener's port. */
export interface TCPRoute {
  readonly kind: 'TCPRoute';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly parentRefs: readonly ParentReference[];
    /** At least one. */
    readonly rules: readonly StreamRouteRule[];
  };
  readonly origin: Origin;
}

/** TLSRoute (v1alpha2, v1alpha3 and v1): connections chosen by the SNI name of the TLS ClientHello. */
export interface TLSRoute {
  readonly kind: 'TLSRoute';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly parentRefs: readonly ParentReference[];
    /** SNI names, exact or `*.suffix`, as written; empty (v1alpha2 only) means the listener's. */
    readonly hostnames: readonly string[];
    /** At least one. */
    readonly rules: readonly StreamRouteRule[];
  };
  readonly origin: Origin;
}

/** A policy's `targetRefs` entry (LocalPolicyTargetReferenceWithSectionName). */
export interface PolicyTargetRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  /** For a Service: the name of one of its ports. */
  readonly sectionName?: string;
}

export type SubjectAltName =
  | { readonly type: 'Hostname'; readonly hostname: string }
  | { readonly type: 'URI'; readonly uri: string };

export interface BackendTLSPolicy {
  readonly kind: 'BackendTLSPolicy';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly targetRefs: readonly PolicyTargetRef[];
    readonly validation: {
      /** Objects in the policy's namespace holding PEM CA certificates under `ca.crt`; empty when wellKnownCACertificates is set. */
      readonly caCertificateRefs: readonly { readonly group: string; readonly kind: string; readonly name: string }[];
      readonly wellKnownCACertificates?: 'System';
      /** SNI sent to the backend, and the name its certificate must carry (unless subjectAltNames are given). */
      readonly hostname: string;
      readonly subjectAltNames: readonly SubjectAltName[];
    };
    readonly options: Readonly<Record<string, string>>;
  };
  readonly origin: Origin;
}

export interface ReferenceGrant {
  readonly kind: 'ReferenceGrant';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
    readonly to: readonly { readonly group: string; readonly kind: string; readonly name?: string }[];
  };
  readonly origin: Origin;
}

export type KubeObject =
  | Ingress
  | IngressClass
  | Service
  | EndpointSlice
  | Secret
  | ConfigMap
  | Namespace
  | GatewayClass
  | Gateway
  | HTTPRoute
  | GRPCRoute
  | TCPRoute
  | TLSRoute
  | BackendTLSPolicy
  | ReferenceGrant;
export type Kind = KubeObject['kind'];

export function objectKey(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

export function keyOf(o: KubeObject): string {
  return objectKey(o.kind, o.metadata.namespace, o.metadata.name);
}
