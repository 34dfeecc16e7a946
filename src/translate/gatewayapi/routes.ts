// One HTTPRoute → IR routes (one per rule × match), the backends they name, and the reference problems its
// ResolvedRefs condition reports. Independent of where the route attaches: that is decided by the caller. The
// backend, filter and action code is shared with GRPCRoute (grpc-routes.ts).
import { unsafeRegexReason } from '../../ir/regex-safety.ts';
import type {
  Backend,
  Diagnostic,
  HeaderMatch,
  HeaderModifier,
  Mirror,
  PathMatch,
  QueryParamMatch,
  Route,
  RouteAction,
  RouteFilters,
  RouteMatch,
  RouteTimeouts,
  SourceRef,
  URLRewrite,
  WeightedBackend,
} from '../../ir/types.ts';

import { parseGatewayDuration } from '../../model/decode-gatewayapi.ts';
import type {
  BackendObjectRef,
  GRPCRoute,
  HTTPHeaderFilter,
  HTTPHeaderMatch,
  HTTPPathModifier,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
} from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { type BackendConnection, resolveServiceBackend, serviceBackendName, type UpstreamMode } from '../backends.ts';
import { type BackendTLSIndex, type ClientCertificate, policyTLS } from './backend-tls.ts';
import { GATEWAY_API_GROUP } from './conditions.ts';

export type RefProblemReason = 'InvalidKind' | 'RefNotPermitted' | 'BackendNotFound';

export interface RefProblem {
  readonly reason: RefProblemReason;
  readonly message: string;
}

/** GRPCRoute precedence inputs of one match (see grpc-routes.ts). */
export interface GRPCPrecedence {
  /** 0: Exact method match, 1: RegularExpression, 2: no method match. */
  readonly type: number;
  readonly serviceLength: number;
  readonly methodLength: number;
}

/** One rule × match of a route, ready to be placed in virtual hosts. */
export interface BuiltMatch {
  readonly route: Route;
  readonly ruleIndex: number;
  readonly matchIndex: number;
  /** GRPCRoute matches only. */
  readonly grpc?: GRPCPrecedence;
}

export interface BuiltRoute {
  readonly matches: readonly BuiltMatch[];
  /** Every backend the routes name (forward targets, per-backend and rule mirrors, invalid placeholders). */
  readonly backends: readonly Backend[];
  readonly refProblems: readonly RefProblem[];
  /** Rules left out because a match in them cannot be served; reported as PartiallyInvalid / UnsupportedValue. */
  readonly invalidRules: readonly string[];
  readonly ruleCount: number;
  /** `namespace/name` of every Service the route's backends and mirrors reach (for BackendTLSPolicy status). */
  readonly services: ReadonlySet<string>;
  /** Whether a backend in use is reached over TLS (and so depends on the Gateway's client certificate). */
  readonly usesTLS: boolean;
}

/** How backends are reached: what BackendTLSPolicies say, and the client certificate of the Gateway served for. */
export interface BackendContext {
  readonly snapshot: Snapshot;
  readonly upstream: UpstreamMode;
  readonly backendTLS: BackendTLSIndex;
  /** The client certificate of the Gateway the route is built for; undefined when it has none. */
  readonly clientCertificate?: ClientCertificate | undefined;
}

const DIRECT_500_BODY = '';

export type RouteObject = HTTPRoute | GRPCRoute;

export interface Ctx {
  readonly snapshot: Snapshot;
  readonly upstream: UpstreamMode;
  readonly backendTLS: BackendTLSIndex;
  readonly clientCertificate: ClientCertificate | undefined;
  readonly route: RouteObject;
  readonly source: SourceRef;
  readonly backends: Map<string, Backend>;
  readonly refProblems: RefProblem[];
  readonly diagnostics: Diagnostic[];
  /** Backend name → `namespace/name` of the Service it reaches. */
  readonly serviceOf: Map<string, string>;
}

export function newCtx(bc: BackendContext, route: RouteObject, source: SourceRef, diagnostics: Diagnostic[]): Ctx {
  return {
    snapshot: bc.snapshot,
    upstream: bc.upstream,
    backendTLS: bc.backendTLS,
    clientCertificate: bc.clientCertificate,
    route,
    source,
    backends: new Map(),
    refProblems: [],
    diagnostics,
    serviceOf: new Map(),
  };
}

export function problem(ctx: Ctx, severity: Diagnostic['severity'], message: string): void {
  ctx.diagnostics.push({ severity, object: ctx.source, message });
}

/** Trailing slashes never matter to a PathPrefix match (element-wise), so they are dropped to compare and order. */
function normalisePrefix(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(0, end);
}

export function validRegex(source: string): boolean {
  try {
    new RegExp(source);
  } catch {
    return false;
  }
  return unsafeRegexReason(source) === null;
}

/** A ReferenceGrant in the target namespace lets routes of `fromKind` in `fromNamespace` reach the Service. */
export function referenceGranted(
  snapshot: Snapshot,
  fromNamespace: string,
  toNamespace: string,
  name: string,
  fromKind: string = 'HTTPRoute',
): boolean {
  return snapshot.referenceGrants.some(
    (g) =>
      g.metadata.namespace === toNamespace &&
      g.spec.from.some((f) => f.group === GATEWAY_API_GROUP && f.kind === fromKind && f.namespace === fromNamespace) &&
      g.spec.to.some(
        (t) => t.group === '' && t.kind === 'Service' && (t.name === undefined || t.name === '' || t.name === name),
      ),
  );
}

type Resolution =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: RefProblemReason; readonly message: string };

/** Resolves a Service reference into an entry of the backend book, or says why it cannot be used. */
function resolveRef(ctx: Ctx, ref: BackendObjectRef, where: string): Resolution {
  const routeNs = ctx.route.metadata.namespace;
  const ns = ref.namespace ?? routeNs;
  const label = `${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} ${ns}/${ref.name}`;
  if (ref.group !== '' || ref.kind !== 'Service') {
    return { ok: false, reason: 'InvalidKind', message: `${where}: ${label}: only core Services are supported` };
  }
  if (ns !== routeNs && !referenceGranted(ctx.snapshot, routeNs, ns, ref.name, ctx.route.kind)) {
    return {
      ok: false,
      reason: 'RefNotPermitted',
      message: `${where}: Service ${ns}/${ref.name} is in another namespace and no ReferenceGrant in ${ns} allows it`,
    };
  }
  if (ref.port === undefined) {
    return { ok: false, reason: 'BackendNotFound', message: `${where}: Service ${ns}/${ref.name}: port is required` };
  }
  const service = ctx.snapshot.service(ns, ref.name);
  if (service === undefined) {
    return { ok: false, reason: 'BackendNotFound', message: `${where}: Service ${ns}/${ref.name} not found` };
  }
  // ExternalName Services often declare no ports: a numbered reference then stands for itself.
  if (service.spec.type !== 'ExternalName' && !service.spec.ports.some((p) => p.port === ref.port)) {
    return {
      ok: false,
      reason: 'BackendNotFound',
      message: `${where}: Service ${ns}/${ref.name} has no port ${ref.port}`,
    };
  }
  const serviceRef = { namespace: ns, name: ref.name, port: { number: ref.port } };
  const portName = service.spec.ports.find((p) => p.port === ref.port)?.name;
  const policy = ctx.backendTLS.policyFor(ns, ref.name, portName);
  const tls = policy === undefined ? undefined : policyTLS(policy, ctx.clientCertificate);
  // GRPCRoute backends always speak HTTP/2: h2c in cleartext, ALPN h2 over TLS.
  const protocol = ctx.route.kind === 'GRPCRoute' ? 'h2' : undefined;
  let how: BackendConnection | undefined;
  if (tls !== undefined) {
    const client = ctx.clientCertificate === undefined ? '' : `, ${ctx.clientCertificate.gateway}`;
    how = { ...(protocol !== undefined ? { protocol } : {}), tls: tls.tls, tlsKey: `${tls.info.label}${client}` };
  } else if (protocol !== undefined) {
    how = { protocol };
  }
  const name = serviceBackendName(serviceRef, how);
  if (!ctx.backends.has(name)) {
    const resolved = resolveServiceBackend(ctx.snapshot, serviceRef, ctx.upstream, ctx.source, how);
    for (const d of resolved.diagnostics) ctx.diagnostics.push({ ...d, message: `${where}: ${d.message}` });
    let backend = resolved.backend;
    if (tls !== undefined && !tls.ok) {
      // Never fall back to cleartext or to an unchecked certificate: the backend answers 500 and says why.
      problem(ctx, 'error', `${where}: backend ${name}: ${tls.problem}`);
      backend = { ...backend, target: { kind: 'unavailable', status: 500, reason: tls.problem } };
    }
    ctx.backends.set(name, backend);
    ctx.serviceOf.set(name, `${ns}/${ref.name}`);
  }
  return { ok: true, name };
}

function refFailed(ctx: Ctx, r: Extract<Resolution, { ok: false }>): void {
  ctx.refProblems.push({ reason: r.reason, message: r.message });
  problem(ctx, 'error', r.message);
}

/** A backend that answers 500 for its share of the traffic, as Gateway API asks for an unusable reference. */
function invalidBackend(ctx: Ctx, rule: number, k: number, reason: string): string {
  const { namespace, name } = ctx.route.metadata;
  // GRPCRoutes get a kind segment, so an HTTPRoute of the same namespace and name never shares the name.
  const kind = ctx.route.kind === 'GRPCRoute' ? 'grpcroute/' : '';
  const backendName = `invalid/${kind}${namespace}/${name}/rule/${rule}/backend/${k}`;
  ctx.backends.set(backendName, {
    name: backendName,
    source: ctx.source,
    target: { kind: 'unavailable', status: 500, reason },
  });
  return backendName;
}

function headerModifier(f: HTTPHeaderFilter): HeaderModifier {
  return {
    set: f.set.map((h) => ({ name: h.name, value: h.value })),
    add: f.add.map((h) => ({ name: h.name, value: h.value })),
    remove: [...f.remove],
  };
}

function pathModifier(p: HTTPPathModifier): NonNullable<URLRewrite['path']> {
  return p.type === 'ReplaceFullPath'
    ? { kind: 'ReplaceFullPath', value: p.replaceFullPath }
    : { kind: 'ReplacePrefixMatch', value: p.replacePrefixMatch };
}

function mirrorPercent(m: Extract<HTTPRouteFilter, { type: 'RequestMirror' }>['requestMirror']): number | string {
  if (m.percent !== undefined) return m.percent;
  if (m.fraction !== undefined) {
    const { numerator, denominator } = m.fraction;
    if (denominator <= 0 || numerator < 0 || numerator > denominator) {
      return `fraction ${numerator}/${denominator} is not a share between 0 and 1`;
    }
    return (numerator / denominator) * 100;
  }
  return 100;
}

interface FilterSet {
  requestHeaders?: HeaderModifier;
  responseHeaders?: HeaderModifier;
  urlRewrite?: URLRewrite;
  mirrors: Mirror[];
  redirect?: Extract<HTTPRouteFilter, { type: 'RequestRedirect' }>['requestRedirect'];
  /** Custom filters gatehouse cannot run: the traffic they would see must get an error instead. */
  extensionRefs: string[];
}

function collectFilters(ctx: Ctx, filters: readonly HTTPRouteFilter[], where: string): FilterSet {
  const set: FilterSet = { mirrors: [], extensionRefs: [] };
  const once = (type: string, already: boolean, i: number): boolean => {
    if (already) problem(ctx, 'warning', `${where}.filters[${i}]: ${type} given more than once; the first one is used`);
    return !already;
  };
  filters.forEach((f, i) => {
    switch (f.type) {
      case 'RequestHeaderModifier':
        if (once(f.type, set.requestHeaders !== undefined, i))
          set.requestHeaders = headerModifier(f.requestHeaderModifier);
        break;
      case 'ResponseHeaderModifier':
        if (once(f.type, set.responseHeaders !== undefined, i))
          set.responseHeaders = headerModifier(f.responseHeaderModifier);
        break;
      case 'URLRewrite':
        if (once(f.type, set.urlRewrite !== undefined, i)) {
          const r = f.urlRewrite;
          set.urlRewrite = {
            ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
            ...(r.path !== undefined ? { path: pathModifier(r.path) } : {}),
          };
        }
        break;
      case 'RequestRedirect':
        if (once(f.type, set.redirect !== undefined, i)) set.redirect = f.requestRedirect;
        break;
      case 'RequestMirror': {
        const m = f.requestMirror;
        const at = `${where}.filters[${i}].requestMirror`;
        const percent = mirrorPercent(m);
        if (typeof percent === 'string') {
          problem(ctx, 'error', `${at}: ${percent}; mirror ignored`);
          break;
        }
        const r = resolveRef(ctx, m.backendRef, `${at}.backendRef`);
        if (!r.ok) {
          refFailed(ctx, { ...r, message: `${r.message}; mirror dropped` });
          break;
        }
        set.mirrors.push({ backend: r.name, percent: Math.min(100, Math.max(0, percent)) });
        break;
      }
      case 'ExtensionRef': {
        const e = f.extensionRef;
        set.extensionRefs.push(`${where}.filters[${i}]: ExtensionRef ${e.group}/${e.kind} ${e.name}`);
        break;
      }
    }
  });
  if (set.redirect !== undefined && set.urlRewrite !== undefined) {
    problem(ctx, 'warning', `${where}: RequestRedirect and URLRewrite cannot be combined; URLRewrite ignored`);
    delete set.urlRewrite;
  }
  return set;
}

function routeFilters(set: FilterSet): RouteFilters | undefined {
  const filters: RouteFilters = {
    ...(set.requestHeaders !== undefined ? { requestHeaders: set.requestHeaders } : {}),
    ...(set.responseHeaders !== undefined ? { responseHeaders: set.responseHeaders } : {}),
    ...(set.urlRewrite !== undefined ? { urlRewrite: set.urlRewrite } : {}),
    ...(set.mirrors.length > 0 ? { mirrors: set.mirrors } : {}),
  };
  return Object.keys(filters).length > 0 ? filters : undefined;
}

function redirectAction(r: NonNullable<FilterSet['redirect']>): RouteAction {
  return {
    kind: 'redirect',
    ...(r.scheme !== undefined ? { scheme: r.scheme } : {}),
    ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
    ...(r.port !== undefined ? { port: r.port } : {}),
    ...(r.path !== undefined ? { path: pathModifier(r.path) } : {}),
    statusCode: r.statusCode,
  };
}

function direct500(): RouteAction {
  return { kind: 'direct', status: 500, body: DIRECT_500_BODY };
}

/** The rule's action and the filters that go with it. GRPCRoute rules have the same shape, with fewer filter types. */
export function ruleAction(
  ctx: Ctx,
  rule: Pick<HTTPRouteRule, 'filters' | 'backendRefs'>,
  i: number,
): { action: RouteAction; filters?: RouteFilters } {
  const where = `spec.rules[${i}]`;
  const set = collectFilters(ctx, rule.filters, where);
  if (set.extensionRefs.length > 0) {
    for (const e of set.extensionRefs) {
      const message = `${e} is not supported; the rule answers 500`;
      ctx.refProblems.push({ reason: 'InvalidKind', message });
      problem(ctx, 'error', message);
    }
    return { action: direct500() };
  }
  if (set.redirect !== undefined) {
    if (rule.backendRefs.length > 0) {
      problem(ctx, 'warning', `${where}: backendRefs are ignored: the rule redirects`);
    }
    // A redirect answers at once: only response headers still have something to change.
    const filters = set.responseHeaders !== undefined ? { responseHeaders: set.responseHeaders } : undefined;
    return { action: redirectAction(set.redirect), ...(filters !== undefined ? { filters } : {}) };
  }
  const filters = routeFilters(set);
  const withFilters = (action: RouteAction) => ({ action, ...(filters !== undefined ? { filters } : {}) });
  if (rule.backendRefs.length === 0) {
    problem(ctx, 'warning', `${where}: no backendRefs; matching requests are answered 500`);
    return { action: direct500() };
  }

  const sets = rule.backendRefs.map((ref, k) => collectFilters(ctx, ref.filters, `${where}.backendRefs[${k}]`));
  // A redirect on the only backendRef is the rule's redirect; among several it has no weight-free meaning.
  const only = sets.length === 1 ? sets[0] : undefined;
  if (only?.redirect !== undefined && only.extensionRefs.length === 0) {
    const responseHeaders = only.responseHeaders ?? set.responseHeaders;
    return {
      action: redirectAction(only.redirect),
      ...(responseHeaders !== undefined ? { filters: { responseHeaders } } : {}),
    };
  }

  const backends: WeightedBackend[] = rule.backendRefs.map((ref, k) => {
    const at = `${where}.backendRefs[${k}]`;
    const bset = sets[k] as FilterSet;
    const r = resolveRef(ctx, ref, at);
    let name: string;
    if (!r.ok) {
      refFailed(ctx, r);
      name = invalidBackend(ctx, i, k, r.message);
    } else if (bset.extensionRefs.length > 0 || bset.redirect !== undefined) {
      const what = bset.extensionRefs[0] ?? `${at}: RequestRedirect on one of several backendRefs`;
      const message = `${what} is not supported; this backend's share answers 500`;
      if (bset.extensionRefs.length > 0) ctx.refProblems.push({ reason: 'InvalidKind', message });
      problem(ctx, 'error', message);
      name = invalidBackend(ctx, i, k, message);
    } else {
      name = r.name;
    }
    const bfilters = routeFilters(bset);
    return { backend: name, weight: ref.weight, ...(bfilters !== undefined ? { filters: bfilters } : {}) };
  });
  if (backends.every((b) => b.weight === 0)) {
    problem(ctx, 'warning', `${where}: every backendRef has weight 0; matching requests are answered 500`);
  }
  return withFilters({ kind: 'forward', backends });
}

function timeoutsOf(ctx: Ctx, rule: HTTPRouteRule, i: number): RouteTimeouts | undefined {
  const t = rule.timeouts;
  if (t === undefined) return undefined;
  const read = (field: 'request' | 'backendRequest'): number | undefined => {
    const text = t[field];
    if (text === undefined) return undefined;
    let ms: number;
    try {
      ms = parseGatewayDuration(text);
    } catch {
      // Decoders only let valid durations through; typed objects built elsewhere may not be so careful.
      problem(ctx, 'error', `spec.rules[${i}].timeouts.${field}: "${text}" is not a duration; ignored`);
      return undefined;
    }
    // Zero switches the timeout off.
    return ms === 0 ? undefined : ms;
  };
  const requestMs = read('request');
  const backendRequestMs = read('backendRequest');
  if (requestMs === undefined && backendRequestMs === undefined) return undefined;
  return {
    ...(requestMs !== undefined ? { requestMs } : {}),
    ...(backendRequestMs !== undefined ? { backendRequestMs } : {}),
  };
}

/** IR header matches, or a reason they cannot be served. Only the first entry for a name counts. */
export function headerMatchesOf(list: readonly HTTPHeaderMatch[]): HeaderMatch[] | string {
  // Header names compare case-insensitively.
  const headers: HeaderMatch[] = [];
  const seenHeaders = new Set<string>();
  for (const h of list) {
    const key = h.name.toLowerCase();
    if (seenHeaders.has(key)) continue;
    seenHeaders.add(key);
    if (h.type === 'RegularExpression' && !validRegex(h.value)) {
      return `header ${h.name} regular expression "${h.value}" is not valid`;
    }
    headers.push({ name: h.name, kind: h.type, value: h.value });
  }
  return headers;
}

/** The IR match, or a reason it cannot be served. */
function matchOf(m: HTTPRouteMatch): RouteMatch | string {
  let path: PathMatch;
  const p = m.path;
  if (p.type === 'RegularExpression') {
    if (!validRegex(p.value)) return `path regular expression "${p.value}" is not valid`;
    path = { kind: 'RegularExpression', value: p.value };
  } else {
    if (!p.value.startsWith('/')) return `path "${p.value}" does not start with "/"`;
    path = p.type === 'Exact' ? { kind: 'Exact', value: p.value } : { kind: 'Prefix', value: normalisePrefix(p.value) };
  }
  const headers = headerMatchesOf(m.headers);
  if (typeof headers === 'string') return headers;
  const queryParams: QueryParamMatch[] = [];
  const seenQuery = new Set<string>();
  for (const q of m.queryParams) {
    if (seenQuery.has(q.name)) continue;
    seenQuery.add(q.name);
    if (q.type === 'RegularExpression' && !validRegex(q.value)) {
      return `query parameter ${q.name} regular expression "${q.value}" is not valid`;
    }
    queryParams.push({ name: q.name, kind: q.type, value: q.value });
  }
  return { path, headers, queryParams, ...(m.method !== undefined ? { method: m.method } : {}) };
}

export function buildHTTPRoute(
  bc: BackendContext,
  route: HTTPRoute,
  source: SourceRef,
  diagnostics: Diagnostic[],
): BuiltRoute {
  const ctx = newCtx(bc, route, source, diagnostics);
  const { namespace, name } = route.metadata;
  const matches: BuiltMatch[] = [];
  const invalidRules: string[] = [];
  route.spec.rules.forEach((rule, i) => {
    const irMatches: RouteMatch[] = [];
    for (const [j, m] of rule.matches.entries()) {
      const match = matchOf(m);
      if (typeof match === 'string') {
        const message = `spec.rules[${i}].matches[${j}]: ${match}; rule ignored`;
        problem(ctx, 'error', message);
        invalidRules.push(message);
        return;
      }
      irMatches.push(match);
    }
    const { action, filters } = ruleAction(ctx, rule, i);
    const timeouts = timeoutsOf(ctx, rule, i);
    irMatches.forEach((match, j) => {
      matches.push({
        ruleIndex: i,
        matchIndex: j,
        route: {
          name: `httproute/${namespace}/${name}/rule/${i}/match/${j}`,
          source,
          match,
          action,
          ...(filters !== undefined ? { filters } : {}),
          ...(timeouts !== undefined ? { timeouts } : {}),
        },
      });
    });
  });
  return finishBuilt(ctx, matches, invalidRules, route.spec.rules.length);
}

/** The built route, with only the backends its routes still name. */
export function finishBuilt(
  ctx: Ctx,
  matches: readonly BuiltMatch[],
  invalidRules: readonly string[],
  ruleCount: number,
): BuiltRoute {
  // Redirects and 500s drop backendRefs and mirrors after they were checked: keep only backends still in use.
  const used = new Set<string>();
  const useFilters = (f: RouteFilters | undefined): void => {
    for (const m of f?.mirrors ?? []) used.add(m.backend);
  };
  for (const { route: r } of matches) {
    useFilters(r.filters);
    if (r.action.kind !== 'forward') continue;
    for (const b of r.action.backends) {
      used.add(b.backend);
      useFilters(b.filters);
    }
  }
  const backends = [...ctx.backends.values()].filter((b) => used.has(b.name));
  const services = new Set<string>();
  for (const b of backends) {
    const service = ctx.serviceOf.get(b.name);
    if (service !== undefined) services.add(service);
  }
  return {
    matches,
    backends,
    refProblems: ctx.refProblems,
    invalidRules,
    ruleCount,
    services,
    usesTLS: backends.some((b) => b.tls !== undefined),
  };
}
