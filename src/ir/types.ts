// The route table: plain, readonly, serialisable data. It is what translators produce, what
// /api/config prints and what compile/ turns into lookups. No Kubernetes or Node vocabulary here.

export interface SourceRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly section?: string;
}

export type PathMatch =
  | { readonly kind: 'Exact'; readonly value: string }
  /** Element-wise prefix: `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar`. */
  | { readonly kind: 'Prefix'; readonly value: string }
  | { readonly kind: 'RegularExpression'; readonly value: string };

export interface HeaderMatch {
  readonly name: string;
  readonly kind: 'Exact' | 'RegularExpression';
  readonly value: string;
}

export interface QueryParamMatch {
  readonly name: string;
  readonly kind: 'Exact' | 'RegularExpression';
  readonly value: string;
}

export interface RouteMatch {
  readonly path: PathMatch;
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly QueryParamMatch[];
  readonly method?: string;
}

export interface HeaderValue {
  readonly name: string;
  readonly value: string;
}

/** Header changes, applied in the order remove, set, add (names compared case-insensitively). */
export interface HeaderModifier {
  readonly set: readonly HeaderValue[];
  readonly add: readonly HeaderValue[];
  readonly remove: readonly string[];
}

export type PathModifier =
  | { readonly kind: 'ReplaceFullPath'; readonly value: string }
  /** Replaces the part of the path the route's Prefix match covered (element-wise) with `value`. */
  | { readonly kind: 'ReplacePrefixMatch'; readonly value: string };

export interface URLRewrite {
  readonly hostname?: string;
  readonly path?: PathModifier;
}

export interface Mirror {
  /** Name of an entry in IR.backends. */
  readonly backend: string;
  /** Share of requests mirrored, 0–100 (fractions allowed). */
  readonly percent: number;
}

/** What a route does to a request besides choosing where it goes. Absent fields: nothing to do. */
export interface RouteFilters {
  readonly requestHeaders?: HeaderModifier;
  readonly responseHeaders?: HeaderModifier;
  readonly urlRewrite?: URLRewrite;
  readonly mirrors?: readonly Mirror[];
}

export interface RouteTimeouts {
  /** Whole request, from the start of the request to the end of the response (504 when exceeded before headers). */
  readonly requestMs?: number;
  /** One attempt at the backend: time to response headers. */
  readonly backendRequestMs?: number;
}

export interface WeightedBackend {
  /** Name of an entry in IR.backends. */
  readonly backend: string;
  readonly weight: number;
  /** Filters that apply only when this backend is chosen (Gateway API per-backendRef filters). */
  readonly filters?: RouteFilters;
}

export interface ForwardAction {
  readonly kind: 'forward';
  readonly backends: readonly WeightedBackend[];
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly scheme?: 'http' | 'https';
  readonly hostname?: string;
  readonly port?: number;
  readonly path?: PathModifier;
  readonly statusCode: number;
}

export interface DirectResponseAction {
  readonly kind: 'direct';
  readonly status: number;
  readonly body: string;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface Route {
  /** Stable name used by metrics, logs and state, e.g. `ingress/ns/name/rule/0/path/1`. */
  readonly name: string;
  readonly source: SourceRef;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly filters?: RouteFilters;
  readonly timeouts?: RouteTimeouts;
  /** Client addresses this route serves; others get 403. */
  readonly allow?: SourceRanges;
}

export type HostMatchKind =
  /** `foo.example.com` only. */
  | 'exact'
  /** `*.example.com` covers exactly one more label (Ingress). */
  | 'wildcard-one-label'
  /** `*.example.com` covers one or more labels (Gateway API). */
  | 'wildcard'
  /** Any host. */
  | 'any';

export interface VirtualHost {
  readonly name: string;
  /** Lower-case; `*` for any, `*.suffix` for wildcards. */
  readonly hostname: string;
  readonly hostMatch: HostMatchKind;
  /** In precedence order: the first route whose match holds wins. */
  readonly routes: readonly Route[];
}

export interface ListenerTLS {
  /** Names of entries in IR.certificates, served by SNI. */
  readonly certificates: readonly string[];
  /** Served when SNI is missing or matches no certificate; absent means the built-in self-signed one. */
  readonly defaultCertificate?: string;
  /**
   * Gateway API: the HTTPS listeners sharing this port, by hostname (`*` for none; Gateway wildcard semantics).
   * A request whose Host belongs to another of them than the connection's SNI gets 421 (Misdirected Request).
   */
  readonly listenerHostnames?: readonly ListenerHostname[];
}

export interface ListenerHostname {
  /** `namespace/gateway/listener`. */
  readonly listener: string;
  readonly hostname: string;
}

export interface HTTPListener {
  readonly name: string;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly port: number;
  readonly tls?: ListenerTLS;
  /** Accept (and require) a PROXY protocol v1/v2 header on every connection; the client address comes from it. */
  readonly proxyProtocol?: boolean;
  readonly virtualHosts: readonly VirtualHost[];
}

/** Source addresses a route admits (CIDRs, IPv4 or IPv6); absent: everyone. Decided on the client address. */
export type SourceRanges = readonly string[];

/** A layer-4 route: connections (not requests) to backends, chosen per connection by weight. */
export interface StreamRoute {
  /** Stable name, e.g. `tcproute/ns/name/rule/0`, `tlsroute/ns/name/rule/0`, `tcp-services/1234`. */
  readonly name: string;
  readonly source: SourceRef;
  /**
   * TLS listeners: the SNI names this route takes (exact or `*.suffix`, lower-case; Gateway API wildcard
   * semantics, one or more labels). Empty: any name (and no SNI). TCP listeners: always empty.
   */
  readonly hostnames: readonly string[];
  readonly backends: readonly WeightedBackend[];
  readonly allow?: SourceRanges;
  /** Send a PROXY protocol header (v1 or v2) to the backend before the client's bytes. */
  readonly sendProxyProtocol?: 1 | 2;
  /** Close the connection after this long without bytes either way; absent: the listener default. */
  readonly idleTimeoutMs?: number;
}

/**
 * A layer-4 listener. `TCP`: every connection goes to the first route (a port has one TCP route). `TLS`
 * passthrough: the SNI name of the ClientHello picks the route, TLS is not terminated; `TLS` terminate: TLS
 * is terminated with `tls` certificates and the plaintext is piped.
 */
export interface StreamListener {
  readonly name: string;
  readonly protocol: 'TCP' | 'TLS';
  readonly port: number;
  readonly tlsMode?: 'Passthrough' | 'Terminate';
  /** For `Terminate`. */
  readonly tls?: ListenerTLS;
  /** Accept (and require) a PROXY protocol v1/v2 header on every connection. */
  readonly proxyProtocol?: boolean;
  /** In precedence order: exact SNI names before wildcards, longer suffixes first. */
  readonly routes: readonly StreamRoute[];
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export type BackendTarget =
  /** Fixed addresses: a Service's cluster IP, or ready endpoints, balanced round-robin. */
  | { readonly kind: 'static'; readonly endpoints: readonly Endpoint[] }
  /** A DNS name resolved at connect time (ExternalName Services). */
  | { readonly kind: 'dns'; readonly hostname: string; readonly port: number }
  /** Nothing to connect to: answered locally with this status (500: invalid reference; 503: nothing ready). */
  | { readonly kind: 'unavailable'; readonly status: 500 | 503; readonly reason: string };

/** How gatehouse connects to a backend over TLS (origination). */
export interface UpstreamTLS {
  /** SNI sent, and the name the backend's certificate must carry; absent: no SNI, the certificate is not name-checked. */
  readonly serverName?: string;
  /** Whether the backend's certificate chain (and name, when `serverName` is set) is verified. */
  readonly verify: boolean;
  /** PEM trust anchors; absent (with `verify`): the system's CAs. */
  readonly caPem?: string;
  /** Client certificate and key (PEM) presented to the backend: mutual TLS. */
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
}

export interface Backend {
  /**
   * `namespace/service:port`, with a suffix when the same port is reached another way (`+h2c`, `+tls`, `+h2+tls`,
   * and the configuring object when TLS settings differ), so every name stands for one way of connecting.
   */
  readonly name: string;
  readonly source: SourceRef;
  readonly target: BackendTarget;
  /** Absent: HTTP/1.1. `h2`: HTTP/2, with prior knowledge in cleartext (h2c) or by ALPN over TLS. */
  readonly protocol?: 'h2';
  /** Absent: cleartext. */
  readonly tls?: UpstreamTLS;
}

export interface Certificate {
  /**
   * `namespace/secret` for Ingress; `<listener>/namespace/secret` for Gateway listeners, since which hosts a
   * Secret serves there depends on the port's listeners.
   */
  readonly name: string;
  readonly source: SourceRef;
  /**
   * Host names this certificate is served for (exact or `*.suffix`), lower-case. Empty: its own DNS names, when a
   * listener lists it in `tls.certificates`.
   */
  readonly hosts: readonly string[];
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IR {
  readonly listeners: readonly HTTPListener[];
  /** Layer-4 listeners; absent when there are none. */
  readonly streamListeners?: readonly StreamListener[];
  readonly backends: readonly Backend[];
  readonly certificates: readonly Certificate[];
}

export const emptyIR: IR = { listeners: [], backends: [], certificates: [] };

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

export interface ParentRefStatus {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

/** One `status.parents[]` entry of a route, as Gateway API writes it. */
export interface RouteParentStatus {
  readonly parentRef: ParentRefStatus;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

/** One `status.ancestors[]` entry of a policy (e.g. BackendTLSPolicy), as Gateway API writes it. */
export interface PolicyAncestorStatus {
  readonly ancestorRef: ParentRefStatus;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

/** One `status.listeners[]` entry of a Gateway. */
export interface ListenerStatus {
  readonly name: string;
  readonly attachedRoutes: number;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  readonly conditions: readonly Condition[];
}

/**
 * The status of one object. For routes `conditions` holds the conditions of every parent entry gatehouse
 * writes (so a reader that does not look at `parents` still sees them); `parents` keeps them apart.
 */
export interface StatusEntry {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly conditions: readonly Condition[];
  readonly parents?: readonly RouteParentStatus[];
  readonly listeners?: readonly ListenerStatus[];
  /** Policies: one entry per ancestor (Gateway) gatehouse answers for; `conditions` holds them all, in order. */
  readonly ancestors?: readonly PolicyAncestorStatus[];
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly object?: SourceRef;
  readonly file?: string;
  readonly message: string;
}

export interface TranslateResult {
  readonly ir: IR;
  readonly status: readonly StatusEntry[];
  readonly diagnostics: readonly Diagnostic[];
}
