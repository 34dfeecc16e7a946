// Decoders for the Gateway API kinds (gateway.networking.k8s.io): GatewayClass, Gateway, HTTPRoute, GRPCRoute,
// TCPRoute, TLSRoute, BackendTLSPolicy, ReferenceGrant.
// They check what the standard-channel CRD schemas and their CEL rules check, and apply the schema defaults, so a
// manifest folder rejects what a cluster would reject and translators never have to re-derive a default.
import { isIP } from 'node:net';
import { unsafeRegexReason } from '../ir/regex-safety.ts';
import type { Ctx, Raw } from './decode-common.ts';
import { decodeMeta, get, isDns1123Label, isDns1123Subdomain, msgLabel, msgSubdomain } from './decode-common.ts';
import type {
  BackendObjectRef,
  BackendTLSPolicy,
  Gateway,
  GatewayClass,
  GatewayListener,
  GRPCBackendRef,
  GRPCMethodMatch,
  GRPCRoute,
  GRPCRouteFilter,
  GRPCRouteMatch,
  GRPCRouteRule,
  GroupKindRef,
  HTTPBackendRef,
  HTTPHeaderFilter,
  HTTPHeaderMatch,
  HTTPPathMatch,
  HTTPPathModifier,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  KubeObject,
  LabelSelector,
  Origin,
  ParentReference,
  PolicyTargetRef,
  ReferenceGrant,
  StreamBackendRef,
  StreamRouteRule,
  SubjectAltName,
  TCPRoute,
  TLSRoute,
} from './objects.ts';

export const gatewayAPIGroup = 'gateway.networking.k8s.io';

/** The versions read, all with one schema: the API serves v1beta1 and v1 from the same types. */
export const gatewayAPIVersions: readonly string[] = [`${gatewayAPIGroup}/v1`, `${gatewayAPIGroup}/v1beta1`];

/** BackendTLSPolicy versions read: v1alpha3 has the schema v1 kept. */
export const backendTLSPolicyVersions: readonly string[] = [`${gatewayAPIGroup}/v1`, `${gatewayAPIGroup}/v1alpha3`];

/** TCPRoute versions read: v1alpha2 (experimental channel, what most manifests use) and v1 (rules: exactly one). */
export const tcpRouteVersions: readonly string[] = [`${gatewayAPIGroup}/v1alpha2`, `${gatewayAPIGroup}/v1`];

/**
 * TLSRoute versions read: v1 (standard channel since v1.5: hostnames required, exactly one rule), v1alpha3 (hostnames
 * required) and v1alpha2 (hostnames optional, up to 16 rules).
 */
export const tlsRouteVersions: readonly string[] = [
  `${gatewayAPIGroup}/v1`,
  `${gatewayAPIGroup}/v1alpha3`,
  `${gatewayAPIGroup}/v1alpha2`,
];

// List limits from the CRD schemas.
const maxListeners = 64;
const maxCertificateRefs = 64;
const maxRouteKinds = 8;
const maxParentRefs = 32;
const maxHostnames = 16;
const maxRules = 16;
const maxMatchesPerRule = 64;
const maxMatchesPerRoute = 128;
const maxMatchConditions = 16;
const maxFilters = 16;
const maxBackendRefs = 16;
const maxHeaderEdits = 16;
const maxGrantEntries = 16;
const maxWeight = 1_000_000;
const maxGRPCMatchesPerRule = 8;
const maxPolicyTargetRefs = 16;
const maxCACertificateRefs = 8;
const maxSubjectAltNames = 5;
const maxPolicyOptions = 16;

const kindRe = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const controllerRe =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;
// The CRD's pattern leaves its second alternative unanchored at the start; both are anchored here.
const protocolRe =
  /^(?:[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+)$/;
const headerNameRe = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const pathCharsRe = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const durationRe = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const durationPartRe = /([0-9]+)(ms|h|m|s)/g;
/** The GRPCMethodMatch CEL rules for Exact matches: a protobuf full name (case-insensitive) and an identifier. */
export const grpcServiceRe = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
export const grpcMethodRe = /^[A-Za-z_][A-Za-z_0-9]*$/;
const absoluteURIRe = /^(([^:/?#]+):)(\/\/([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?$/;
const annotationKeyRe =
  /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const msgGroup = 'must be empty (the core group) or a lowercase RFC 1123 subdomain (at most 253)';
const msgKind = "must be a kind: a letter, then letters, digits or '-', ending alphanumeric (at most 63)";
const msgController = 'must be a domain-prefixed path such as example.net/gateway-controller (at most 253)';
const msgProtocol =
  'must be HTTP, HTTPS, TLS, TCP, UDP or another alphanumeric name, or a domain-prefixed name such as example.com/proto (at most 255)';
const msgHeaderName = "must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~ (at most 256)";
const msgPathChars = "must contain only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes";
const msgGRPCService = 'must be a gRPC service name such as pkg.v1.Service (letters, digits, _ and .)';
const msgGRPCMethod = 'must be a gRPC method name: a letter or _, then letters, digits or _';
const msgDuration =
  'must be a Gateway API duration such as 10s, 500ms or 1m30s (1 to 4 parts, each up to 5 digits and h, m, s or ms)';

const pathMatchTypes: readonly HTTPPathMatch['type'][] = ['Exact', 'PathPrefix', 'RegularExpression'];
const valueMatchTypes: readonly HTTPHeaderMatch['type'][] = ['Exact', 'RegularExpression'];
const methods: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const tlsModes: readonly ('Terminate' | 'Passthrough')[] = ['Terminate', 'Passthrough'];
const fromNamespaces: readonly ('Same' | 'All' | 'Selector')[] = ['Same', 'All', 'Selector'];
const selectorOperators: readonly LabelSelector['matchExpressions'][number]['operator'][] = [
  'In',
  'NotIn',
  'Exists',
  'DoesNotExist',
];
const redirectSchemes: readonly ('http' | 'https')[] = ['http', 'https'];
const redirectStatusCodes: readonly number[] = [301, 302, 303, 307, 308];
const pathModifierTypes: readonly HTTPPathModifier['type'][] = ['ReplaceFullPath', 'ReplacePrefixMatch'];
const grpcMethodMatchTypes: readonly GRPCMethodMatch['type'][] = ['Exact', 'RegularExpression'];
const subjectAltNameTypes: readonly SubjectAltName['type'][] = ['Hostname', 'URI'];
const wellKnownCAs: readonly 'System'[] = ['System'];

type FilterType = HTTPRouteFilter['type'];
const filterTypes: readonly FilterType[] = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'RequestRedirect',
  'URLRewrite',
  'ExtensionRef',
];
const grpcFilterTypes: readonly GRPCRouteFilter['type'][] = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestMirror',
  'ExtensionRef',
];
/** The field that carries each filter type's configuration; CORS is a standard type gatehouse does not implement. */
const filterFields: Readonly<Record<string, string>> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
};
/** Filter types a filters list may hold at most once. */
const singleFilterTypes: ReadonlySet<string> = new Set([
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'CORS',
]);

// Exact and PathPrefix values that would match differently before and after normalisation.
const invalidPathSequences = ['//', '/./', '/../', '%2f', '%2F', '#'];
const invalidPathSuffixes = ['/..', '/.'];

const durationUnitMs: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/**
 * Milliseconds in a Gateway API duration (GEP-2257: e.g. "10s", "500ms", "1m30s"; "0s" is zero). Decoded objects
 * only hold valid durations; anything else throws a RangeError.
 */
export function parseGatewayDuration(s: string): number {
  if (!durationRe.test(s)) throw new RangeError(`not a Gateway API duration: ${JSON.stringify(s)}`);
  let ms = 0;
  for (const m of s.matchAll(durationPartRe)) ms += Number(m[1]) * (durationUnitMs[m[2] ?? ''] ?? 0);
  return ms;
}

export function decodeGatewayAPIObject(ctx: Ctx, kind: string, raw: Raw, origin: Origin): KubeObject | undefined {
  switch (kind) {
    case 'GatewayClass':
      return decodeGatewayClass(ctx, raw, origin);
    case 'Gateway':
      return decodeGateway(ctx, raw, origin);
    case 'HTTPRoute':
      return decodeHTTPRoute(ctx, raw, origin);
    case 'GRPCRoute':
      return decodeGRPCRoute(ctx, raw, origin);
    case 'TCPRoute':
      return decodeTCPRoute(ctx, raw, origin);
    case 'TLSRoute':
      return decodeTLSRoute(ctx, raw, origin);
    case 'BackendTLSPolicy':
      return decodeBackendTLSPolicy(ctx, raw, origin);
    case 'ReferenceGrant':
      return decodeReferenceGrant(ctx, raw, origin);
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- field readers

/** Object items of a list, after checking its length against the schema's bounds. */
function listOf(
  ctx: Ctx,
  o: Raw,
  key: string,
  path: string,
  max: number,
  required = false,
  min = 0,
): Array<[Raw, string]> {
  const v = get(o, key);
  if (Array.isArray(v)) {
    if (v.length < min) ctx.fail(path, 'must not be empty');
    if (v.length > max) ctx.fail(path, `must have at most ${max} items`);
  }
  return ctx.objects(o, key, path, required);
}

function stringsOf(ctx: Ctx, o: Raw, key: string, path: string, max: number): Array<[string, string]> {
  const items = ctx.list(o, key, path);
  if (items.length > max) ctx.fail(path, `must have at most ${max} items`);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v === 'string') out.push([v, `${path}[${i}]`]);
    else ctx.fail(`${path}[${i}]`, 'must be a string');
  }
  return out;
}

/** An enum field with no default: absent stays absent. */
function optionalOneOf<T extends string>(
  ctx: Ctx,
  o: Raw,
  key: string,
  path: string,
  allowed: readonly T[],
): T | undefined {
  return get(o, key) === undefined ? undefined : ctx.oneOf(o, key, path, allowed);
}

/** An API group; absent means `fallback`, while an explicit "" names the core group. */
function groupOf(ctx: Ctx, o: Raw, path: string, fallback: string): string {
  const v = ctx.str(o, 'group', path);
  if (v === undefined) return fallback;
  if (v !== '' && !isDns1123Subdomain(v)) ctx.fail(path, msgGroup);
  return v;
}

/** A group the schema requires to be written, though "" (the core group) is a valid value. */
function requiredGroupOf(ctx: Ctx, o: Raw, path: string): string {
  if (get(o, 'group') === undefined) {
    ctx.fail(path, 'required');
    return '';
  }
  return groupOf(ctx, o, path, '');
}

function kindOf(ctx: Ctx, o: Raw, path: string, fallback?: string): string {
  const v = ctx.str(o, 'kind', path, fallback === undefined);
  if (v === undefined) return fallback ?? '';
  if (v === '') {
    ctx.fail(path, 'must not be empty');
    return '';
  }
  if (v.length > 63 || !kindRe.test(v)) ctx.fail(path, msgKind);
  return v;
}

/** An object name as references hold it: any non-empty string of at most 253 characters. */
function objectNameOf(ctx: Ctx, o: Raw, key: string, path: string, required: boolean): string | undefined {
  const v = ctx.str(o, key, path, required);
  if (v === undefined) return undefined;
  if (v === '') {
    ctx.fail(path, 'must not be empty');
    return undefined;
  }
  if (v.length > 253) ctx.fail(path, 'must be at most 253 characters');
  return v;
}

function namespaceOf(ctx: Ctx, o: Raw, path: string, required = false): string | undefined {
  const v = ctx.str(o, 'namespace', path, required);
  if (v === undefined) return undefined;
  if (!isDns1123Label(v)) {
    ctx.fail(path, msgLabel);
    return undefined;
  }
  return v;
}

/** A listener, rule or port name: an RFC 1123 subdomain. */
function sectionNameOf(ctx: Ctx, o: Raw, key: string, path: string, required: boolean): string | undefined {
  const v = ctx.str(o, key, path, required);
  if (v === undefined) return undefined;
  if (!isDns1123Subdomain(v)) {
    ctx.fail(path, msgSubdomain);
    return undefined;
  }
  return v;
}

/** A DNS name, with a leading `*.` label when `wildcard`; IP addresses are refused although the CRD pattern lets IPv4 by. */
function checkHostname(ctx: Ctx, host: string, path: string, wildcard: boolean): boolean {
  if (host === '') {
    ctx.fail(path, 'must not be empty');
    return false;
  }
  if (isIP(host) !== 0) {
    ctx.fail(path, 'must be a DNS name, not an IP address');
    return false;
  }
  const name = wildcard && host.startsWith('*.') ? host.slice(2) : host;
  if (host.length > 253 || !isDns1123Subdomain(name)) {
    ctx.fail(path, wildcard ? `${msgSubdomain}, optionally prefixed with '*.'` : msgSubdomain);
    return false;
  }
  return true;
}

function hostnameOf(ctx: Ctx, o: Raw, key: string, path: string, wildcard: boolean): string | undefined {
  const v = ctx.str(o, key, path);
  if (v === undefined) return undefined;
  return checkHostname(ctx, v, path, wildcard) ? v : undefined;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * A value gatehouse writes into a request or response (header values, rewritten paths). The standard-channel schema
 * only bounds its length; a CR, LF or NUL would fail every request it applies to, so it is refused here.
 */
function writableValueOf(
  ctx: Ctx,
  o: Raw,
  key: string,
  path: string,
  max: number,
  required: boolean,
): string | undefined {
  const v = ctx.str(o, key, path, required);
  if (v === undefined) return undefined;
  if (v.length > max) ctx.fail(path, `must be at most ${max} characters`);
  else if (hasControlCharacter(v)) ctx.fail(path, 'must not contain control characters (such as CR, LF or NUL)');
  return v;
}

function headerNameOf(ctx: Ctx, o: Raw, path: string): string | undefined {
  const v = ctx.str(o, 'name', path, true);
  if (v === undefined) return undefined;
  if (v.length > 256 || !headerNameRe.test(v)) {
    ctx.fail(path, msgHeaderName);
    return undefined;
  }
  return v;
}

function checkRegex(ctx: Ctx, value: string, path: string): void {
  try {
    new RegExp(value);
  } catch (err) {
    ctx.fail(path, `must be a valid regular expression (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  const unsafe = unsafeRegexReason(value);
  if (unsafe !== null) ctx.fail(path, `regular expression ${unsafe}`);
}

function durationOf(ctx: Ctx, o: Raw, key: string, path: string): string | undefined {
  const v = ctx.str(o, key, path);
  if (v === undefined) return undefined;
  if (!durationRe.test(v)) {
    ctx.fail(path, msgDuration);
    return undefined;
  }
  return v;
}

function withOptional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

// ---------------------------------------------------------------- GatewayClass

function decodeGatewayClass(ctx: Ctx, raw: Raw, origin: Origin): GatewayClass {
  const metadata = decodeMeta(ctx, raw, false, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true);
  if (spec === undefined) return { kind: 'GatewayClass', metadata, spec: { controllerName: '' }, origin };
  const controllerName = ctx.str(spec, 'controllerName', 'spec.controllerName', true) ?? '';
  if (controllerName !== '' && (controllerName.length > 253 || !controllerRe.test(controllerName))) {
    ctx.fail('spec.controllerName', msgController);
  }
  return { kind: 'GatewayClass', metadata, spec: { controllerName }, origin };
}

// ---------------------------------------------------------------- Gateway

function decodeLabelSelector(ctx: Ctx, o: Raw, path: string): LabelSelector {
  const matchLabels = ctx.stringMap(o, 'matchLabels', `${path}.matchLabels`);
  const matchExpressions: LabelSelector['matchExpressions'][number][] = [];
  for (const [e, ep] of ctx.objects(o, 'matchExpressions', `${path}.matchExpressions`)) {
    const key = ctx.str(e, 'key', `${ep}.key`, true) ?? '';
    const operator = ctx.oneOf(e, 'operator', `${ep}.operator`, selectorOperators);
    const values = stringsOf(ctx, e, 'values', `${ep}.values`, Number.POSITIVE_INFINITY).map(([v]) => v);
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      ctx.fail(`${ep}.values`, `must not be empty for operator ${operator}`);
    }
    const rawValues = get(e, 'values');
    if ((operator === 'Exists' || operator === 'DoesNotExist') && Array.isArray(rawValues) && rawValues.length > 0) {
      ctx.fail(`${ep}.values`, `must be empty for operator ${operator}`);
    }
    if (operator !== undefined) matchExpressions.push({ key, operator, values });
  }
  return { matchLabels, matchExpressions };
}

function decodeCertificateRef(ctx: Ctx, o: Raw, path: string): GroupKindRef {
  const group = groupOf(ctx, o, `${path}.group`, '');
  const kind = kindOf(ctx, o, `${path}.kind`, 'Secret');
  const name = objectNameOf(ctx, o, 'name', `${path}.name`, true) ?? '';
  const namespace = namespaceOf(ctx, o, `${path}.namespace`);
  return { group, kind, name, ...withOptional('namespace', namespace) };
}

function decodeListenerTLS(ctx: Ctx, o: Raw, path: string): NonNullable<GatewayListener['tls']> {
  const mode = ctx.oneOf(o, 'mode', `${path}.mode`, tlsModes, 'Terminate') ?? 'Terminate';
  const certificateRefs: GroupKindRef[] = [];
  for (const [c, cp] of listOf(ctx, o, 'certificateRefs', `${path}.certificateRefs`, maxCertificateRefs)) {
    certificateRefs.push(decodeCertificateRef(ctx, c, cp));
  }
  const options = ctx.stringMap(o, 'options', `${path}.options`);
  if (mode === 'Terminate' && certificateRefs.length === 0 && Object.keys(options).length === 0) {
    ctx.fail(`${path}.certificateRefs`, 'must not be empty when mode is Terminate (unless options are set)');
  }
  return { mode, certificateRefs };
}

function decodeAllowedRoutes(ctx: Ctx, o: Raw, path: string): GatewayListener['allowedRoutes'] {
  const ns = ctx.obj(o, 'namespaces', `${path}.namespaces`) ?? {};
  const from = ctx.oneOf(ns, 'from', `${path}.namespaces.from`, fromNamespaces, 'Same') ?? 'Same';
  const selectorRaw = ctx.obj(ns, 'selector', `${path}.namespaces.selector`);
  const selector =
    selectorRaw === undefined ? undefined : decodeLabelSelector(ctx, selectorRaw, `${path}.namespaces.selector`);
  if (from === 'Selector' && selector === undefined && get(ns, 'selector') === undefined) {
    ctx.fail(`${path}.namespaces.selector`, 'required when from is Selector');
  }
  const kinds: { group: string; kind: string }[] = [];
  for (const [k, kp] of listOf(ctx, o, 'kinds', `${path}.kinds`, maxRouteKinds)) {
    kinds.push({ group: groupOf(ctx, k, `${kp}.group`, gatewayAPIGroup), kind: kindOf(ctx, k, `${kp}.kind`) });
  }
  // The selector means nothing for other values of `from`, so it is only carried where it applies.
  const namespaces = from === 'Selector' && selector !== undefined ? { from, selector } : { from };
  return { namespaces, kinds };
}

function protocolIs(protocol: string, ...names: string[]): boolean {
  const upper = protocol.toUpperCase();
  return names.includes(upper);
}

function decodeListener(ctx: Ctx, l: Raw, lp: string): GatewayListener {
  const name = sectionNameOf(ctx, l, 'name', `${lp}.name`, true) ?? '';
  const hostname = hostnameOf(ctx, l, 'hostname', `${lp}.hostname`, true);
  const port = ctx.port(l, 'port', `${lp}.port`, true) ?? 0;
  const protocol = ctx.str(l, 'protocol', `${lp}.protocol`, true) ?? '';
  if (protocol !== '' && (protocol.length > 255 || !protocolRe.test(protocol))) ctx.fail(`${lp}.protocol`, msgProtocol);
  const tlsRaw = ctx.obj(l, 'tls', `${lp}.tls`);
  const tls = tlsRaw === undefined ? undefined : decodeListenerTLS(ctx, tlsRaw, `${lp}.tls`);
  const allowedRoutes = decodeAllowedRoutes(
    ctx,
    ctx.obj(l, 'allowedRoutes', `${lp}.allowedRoutes`) ?? {},
    `${lp}.allowedRoutes`,
  );

  // The CEL rules on the listeners list, which compare protocols case-insensitively.
  if (tlsRaw !== undefined && protocolIs(protocol, 'HTTP', 'TCP', 'UDP')) {
    ctx.fail(`${lp}.tls`, `must not be set for protocol ${protocol}`);
  }
  if (tls !== undefined && tls.mode !== 'Terminate' && protocolIs(protocol, 'HTTPS')) {
    ctx.fail(`${lp}.tls.mode`, `must be Terminate for protocol ${protocol}`);
  }
  if (tlsRaw === undefined && get(l, 'tls') === undefined && protocolIs(protocol, 'TLS')) {
    ctx.fail(`${lp}.tls`, `required for protocol ${protocol}`);
  }
  if (get(l, 'hostname') !== undefined && protocolIs(protocol, 'TCP', 'UDP')) {
    ctx.fail(`${lp}.hostname`, `must not be set for protocol ${protocol}`);
  }

  return {
    name,
    ...withOptional('hostname', hostname),
    port,
    protocol,
    ...withOptional('tls', tls),
    allowedRoutes,
  };
}

function decodeGateway(ctx: Ctx, raw: Raw, origin: Origin): Gateway {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true);
  if (spec === undefined) return { kind: 'Gateway', metadata, spec: { gatewayClassName: '', listeners: [] }, origin };
  const gatewayClassName = objectNameOf(ctx, spec, 'gatewayClassName', 'spec.gatewayClassName', true) ?? '';
  const listeners: GatewayListener[] = [];
  const names = new Map<string, string>();
  const combinations = new Map<string, string>();
  for (const [l, lp] of listOf(ctx, spec, 'listeners', 'spec.listeners', maxListeners, true, 1)) {
    const listener = decodeListener(ctx, l, lp);
    listeners.push(listener);
    if (listener.name !== '') {
      const first = names.get(listener.name);
      if (first !== undefined) ctx.fail(`${lp}.name`, `duplicate listener name '${listener.name}' (also ${first})`);
      else names.set(listener.name, lp);
    }
    if (listener.port !== 0 && listener.protocol !== '') {
      const key = `${listener.port}/${listener.protocol}/${listener.hostname ?? ''}`;
      const first = combinations.get(key);
      if (first !== undefined) {
        const host = listener.hostname === undefined ? 'no hostname' : `hostname ${listener.hostname}`;
        ctx.fail(lp, `duplicate port ${listener.port}, protocol ${listener.protocol} and ${host} (also ${first})`);
      } else combinations.set(key, lp);
    }
  }
  const tlsRaw = ctx.obj(spec, 'tls', 'spec.tls');
  const backendRaw = tlsRaw === undefined ? undefined : ctx.obj(tlsRaw, 'backend', 'spec.tls.backend');
  const clientRaw =
    backendRaw === undefined
      ? undefined
      : ctx.obj(backendRaw, 'clientCertificateRef', 'spec.tls.backend.clientCertificateRef');
  const clientCertificateRef =
    clientRaw === undefined ? undefined : decodeCertificateRef(ctx, clientRaw, 'spec.tls.backend.clientCertificateRef');
  const tls =
    backendRaw === undefined ? undefined : { backend: withOptional('clientCertificateRef', clientCertificateRef) };
  return { kind: 'Gateway', metadata, spec: { gatewayClassName, listeners, ...withOptional('tls', tls) }, origin };
}

// ---------------------------------------------------------------- HTTPRoute

function defaultMatch(): HTTPRouteMatch {
  return { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] };
}

function decodeParentRef(ctx: Ctx, p: Raw, pp: string): ParentReference {
  const group = groupOf(ctx, p, `${pp}.group`, gatewayAPIGroup);
  const kind = kindOf(ctx, p, `${pp}.kind`, 'Gateway');
  const namespace = namespaceOf(ctx, p, `${pp}.namespace`);
  const name = objectNameOf(ctx, p, 'name', `${pp}.name`, true) ?? '';
  const sectionName = sectionNameOf(ctx, p, 'sectionName', `${pp}.sectionName`, false);
  const port = ctx.port(p, 'port', `${pp}.port`);
  return {
    group,
    kind,
    ...withOptional('namespace', namespace),
    name,
    ...withOptional('sectionName', sectionName),
    ...withOptional('port', port),
  };
}

function decodeParentRefs(ctx: Ctx, spec: Raw): ParentReference[] {
  const out: ParentReference[] = [];
  // The standard channel's CEL rules: references to one parent either all name a section or none does, and never
  // repeat one.
  const seen = new Map<string, { path: string; sections: Set<string>; withSection: boolean }>();
  for (const [p, pp] of listOf(ctx, spec, 'parentRefs', 'spec.parentRefs', maxParentRefs)) {
    const ref = decodeParentRef(ctx, p, pp);
    out.push(ref);
    const parent = `${ref.group}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
    const section = ref.sectionName ?? '';
    const first = seen.get(parent);
    if (first === undefined) {
      seen.set(parent, { path: pp, sections: new Set([section]), withSection: section !== '' });
      continue;
    }
    if (first.withSection !== (section !== '')) {
      ctx.fail(`${pp}.sectionName`, `must be set on every reference to the same parent or on none (see ${first.path})`);
    } else if (first.sections.has(section)) {
      ctx.fail(pp, `duplicate reference to the same parent and sectionName (see ${first.path})`);
    }
    first.sections.add(section);
  }
  return out;
}

function pathProblem(value: string): string | undefined {
  if (!value.startsWith('/')) return "must start with '/'";
  const bad = invalidPathSequences.find((s) => value.includes(s));
  if (bad !== undefined) return `must not contain '${bad}'`;
  const badEnd = invalidPathSuffixes.find((s) => value.endsWith(s));
  if (badEnd !== undefined) return `must not end with '${badEnd}'`;
  if (!pathCharsRe.test(value)) return msgPathChars;
  return undefined;
}

function decodePathMatch(ctx: Ctx, o: Raw, path: string): HTTPPathMatch {
  const type = ctx.oneOf(o, 'type', `${path}.type`, pathMatchTypes, 'PathPrefix') ?? 'PathPrefix';
  const value = ctx.str(o, 'value', `${path}.value`) ?? '/';
  if (value.length > 1024) ctx.fail(`${path}.value`, 'must be at most 1024 characters');
  else if (type === 'RegularExpression') checkRegex(ctx, value, `${path}.value`);
  else {
    const problem = pathProblem(value);
    if (problem !== undefined) ctx.fail(`${path}.value`, `${problem} for type ${type}`);
  }
  return { type, value };
}

/**
 * Header or query parameter matches. Header names are compared case-insensitively (a second entry for the same header
 * could never take effect); query parameter names exactly, as the API matches them.
 */
function decodeValueMatches(
  ctx: Ctx,
  m: Raw,
  key: 'headers' | 'queryParams',
  path: string,
  maxValue: number,
): HTTPHeaderMatch[] {
  const out: HTTPHeaderMatch[] = [];
  const seen = new Map<string, string>();
  for (const [h, hp] of listOf(ctx, m, key, path, maxMatchConditions)) {
    const type = ctx.oneOf(h, 'type', `${hp}.type`, valueMatchTypes, 'Exact') ?? 'Exact';
    const name = headerNameOf(ctx, h, `${hp}.name`);
    const value = ctx.str(h, 'value', `${hp}.value`, true);
    if (value !== undefined) {
      if (value.length > maxValue) ctx.fail(`${hp}.value`, `must be at most ${maxValue} characters`);
      else if (type === 'RegularExpression') checkRegex(ctx, value, `${hp}.value`);
    }
    if (name !== undefined) {
      const k = key === 'headers' ? name.toLowerCase() : name;
      const first = seen.get(k);
      if (first !== undefined) ctx.fail(`${hp}.name`, `duplicate name '${name}' (also ${first})`);
      else seen.set(k, hp);
    }
    out.push({ type, name: name ?? '', value: value ?? '' });
  }
  return out;
}

function decodeMatch(ctx: Ctx, m: Raw, mp: string): HTTPRouteMatch {
  const pathRaw = ctx.obj(m, 'path', `${mp}.path`);
  const path = pathRaw === undefined ? defaultMatch().path : decodePathMatch(ctx, pathRaw, `${mp}.path`);
  const headers = decodeValueMatches(ctx, m, 'headers', `${mp}.headers`, 4096);
  const queryParams = decodeValueMatches(ctx, m, 'queryParams', `${mp}.queryParams`, 1024);
  const method = optionalOneOf(ctx, m, 'method', `${mp}.method`, methods);
  return { path, headers, queryParams, ...withOptional('method', method) };
}

function decodeHeaderEdits(ctx: Ctx, o: Raw, key: 'set' | 'add', path: string): HTTPHeaderFilter['set'] {
  const out: { name: string; value: string }[] = [];
  const seen = new Map<string, string>();
  for (const [h, hp] of listOf(ctx, o, key, path, maxHeaderEdits)) {
    const name = headerNameOf(ctx, h, `${hp}.name`);
    const value = writableValueOf(ctx, h, 'value', `${hp}.value`, 4096, true);
    if (name !== undefined) {
      const k = name.toLowerCase();
      const first = seen.get(k);
      if (first !== undefined) ctx.fail(`${hp}.name`, `duplicate header name '${name}' (also ${first})`);
      else seen.set(k, hp);
    }
    out.push({ name: name ?? '', value: value ?? '' });
  }
  return out;
}

function decodeHeaderFilter(ctx: Ctx, o: Raw, path: string): HTTPHeaderFilter {
  const set = decodeHeaderEdits(ctx, o, 'set', `${path}.set`);
  const add = decodeHeaderEdits(ctx, o, 'add', `${path}.add`);
  const remove: string[] = [];
  const seen = new Map<string, string>();
  for (const [name, np] of stringsOf(ctx, o, 'remove', `${path}.remove`, maxHeaderEdits)) {
    const k = name.toLowerCase();
    const first = seen.get(k);
    if (first !== undefined) ctx.fail(np, `duplicate header name '${name}' (also ${first})`);
    else seen.set(k, np);
    remove.push(name);
  }
  return { set, add, remove };
}

function decodePathModifier(ctx: Ctx, o: Raw, path: string): HTTPPathModifier | undefined {
  const type = ctx.oneOf(o, 'type', `${path}.type`, pathModifierTypes);
  const full = writableValueOf(ctx, o, 'replaceFullPath', `${path}.replaceFullPath`, 1024, false);
  const prefix = writableValueOf(ctx, o, 'replacePrefixMatch', `${path}.replacePrefixMatch`, 1024, false);
  const hasFull = get(o, 'replaceFullPath') !== undefined;
  const hasPrefix = get(o, 'replacePrefixMatch') !== undefined;
  if (hasFull && type !== undefined && type !== 'ReplaceFullPath') {
    ctx.fail(`${path}.replaceFullPath`, `must not be set when type is ${type}`);
  }
  if (hasPrefix && type !== undefined && type !== 'ReplacePrefixMatch') {
    ctx.fail(`${path}.replacePrefixMatch`, `must not be set when type is ${type}`);
  }
  if (type === 'ReplaceFullPath') {
    if (!hasFull) ctx.fail(`${path}.replaceFullPath`, 'required when type is ReplaceFullPath');
    return { type, replaceFullPath: full ?? '' };
  }
  if (type === 'ReplacePrefixMatch') {
    if (!hasPrefix) ctx.fail(`${path}.replacePrefixMatch`, 'required when type is ReplacePrefixMatch');
    return { type, replacePrefixMatch: prefix ?? '' };
  }
  return undefined;
}

function decodeBackendObjectRef(ctx: Ctx, o: Raw, path: string): BackendObjectRef {
  const group = groupOf(ctx, o, `${path}.group`, '');
  const kind = kindOf(ctx, o, `${path}.kind`, 'Service');
  const name = objectNameOf(ctx, o, 'name', `${path}.name`, true) ?? '';
  const namespace = namespaceOf(ctx, o, `${path}.namespace`);
  const port = ctx.port(o, 'port', `${path}.port`);
  if (group === '' && kind === 'Service' && get(o, 'port') === undefined) {
    ctx.fail(`${path}.port`, 'required when the backend is a Service');
  }
  return { group, kind, name, ...withOptional('namespace', namespace), ...withOptional('port', port) };
}

function decodeMirror(ctx: Ctx, o: Raw, path: string): Extract<HTTPRouteFilter, { type: 'RequestMirror' }> {
  const backendRaw = ctx.obj(o, 'backendRef', `${path}.backendRef`, true);
  const backendRef =
    backendRaw === undefined
      ? { group: '', kind: 'Service', name: '' }
      : decodeBackendObjectRef(ctx, backendRaw, `${path}.backendRef`);
  const percent = ctx.int(o, 'percent', `${path}.percent`);
  if (percent !== undefined && (percent < 0 || percent > 100)) ctx.fail(`${path}.percent`, 'must be between 0 and 100');
  const fractionRaw = ctx.obj(o, 'fraction', `${path}.fraction`);
  let fraction: { numerator: number; denominator: number } | undefined;
  if (fractionRaw !== undefined) {
    const fp = `${path}.fraction`;
    const numerator = ctx.int(fractionRaw, 'numerator', `${fp}.numerator`, true) ?? 0;
    const denominator = ctx.int(fractionRaw, 'denominator', `${fp}.denominator`) ?? 100;
    if (numerator < 0) ctx.fail(`${fp}.numerator`, 'must not be negative');
    if (denominator < 1) ctx.fail(`${fp}.denominator`, 'must be at least 1');
    else if (numerator > denominator)
      ctx.fail(`${fp}.numerator`, `must not be greater than denominator (${denominator})`);
    fraction = { numerator, denominator };
  }
  if (get(o, 'percent') !== undefined && fractionRaw !== undefined) {
    ctx.fail(path, 'must set at most one of percent or fraction');
  }
  return {
    type: 'RequestMirror',
    requestMirror: { backendRef, ...withOptional('percent', percent), ...withOptional('fraction', fraction) },
  };
}

function decodeFilter(
  ctx: Ctx,
  f: Raw,
  fp: string,
  types: readonly FilterType[] = filterTypes,
): HTTPRouteFilter | undefined {
  // CORS is a standard HTTPRoute filter type; GRPCRoute does not define it, so it fails the enum there.
  if (get(f, 'type') === 'CORS' && types === filterTypes) {
    ctx.fail(`${fp}.type`, 'CORS filters are not supported');
    return undefined;
  }
  const type = ctx.oneOf(f, 'type', `${fp}.type`, types);
  if (type === undefined) return undefined;
  for (const [other, field] of Object.entries(filterFields)) {
    if (other !== type && get(f, field) !== undefined)
      ctx.fail(`${fp}.${field}`, `must not be set when type is ${type}`);
  }
  const field = filterFields[type] ?? '';
  const bp = `${fp}.${field}`;
  if (get(f, field) === undefined) {
    ctx.fail(bp, `required when type is ${type}`);
    return undefined;
  }
  const body = ctx.obj(f, field, bp);
  if (body === undefined) return undefined;
  switch (type) {
    case 'RequestHeaderModifier':
      return { type, requestHeaderModifier: decodeHeaderFilter(ctx, body, bp) };
    case 'ResponseHeaderModifier':
      return { type, responseHeaderModifier: decodeHeaderFilter(ctx, body, bp) };
    case 'RequestRedirect': {
      const scheme = optionalOneOf(ctx, body, 'scheme', `${bp}.scheme`, redirectSchemes);
      const hostname = hostnameOf(ctx, body, 'hostname', `${bp}.hostname`, false);
      const pathRaw = ctx.obj(body, 'path', `${bp}.path`);
      const path = pathRaw === undefined ? undefined : decodePathModifier(ctx, pathRaw, `${bp}.path`);
      const port = ctx.port(body, 'port', `${bp}.port`);
      let statusCode = ctx.int(body, 'statusCode', `${bp}.statusCode`) ?? 302;
      if (!redirectStatusCodes.includes(statusCode)) {
        ctx.fail(`${bp}.statusCode`, `must be one of ${redirectStatusCodes.join(', ')}`);
        statusCode = 302;
      }
      return {
        type,
        requestRedirect: {
          ...withOptional('scheme', scheme),
          ...withOptional('hostname', hostname),
          ...withOptional('path', path),
          ...withOptional('port', port),
          statusCode,
        },
      };
    }
    case 'URLRewrite': {
      const hostname = hostnameOf(ctx, body, 'hostname', `${bp}.hostname`, false);
      const pathRaw = ctx.obj(body, 'path', `${bp}.path`);
      const path = pathRaw === undefined ? undefined : decodePathModifier(ctx, pathRaw, `${bp}.path`);
      return { type, urlRewrite: { ...withOptional('hostname', hostname), ...withOptional('path', path) } };
    }
    case 'RequestMirror':
      return decodeMirror(ctx, body, bp);
    case 'ExtensionRef':
      return {
        type,
        extensionRef: {
          group: groupOf(ctx, body, `${bp}.group`, ''),
          kind: kindOf(ctx, body, `${bp}.kind`),
          name: objectNameOf(ctx, body, 'name', `${bp}.name`, true) ?? '',
        },
      };
  }
}

interface DecodedFilter {
  readonly filter: HTTPRouteFilter;
  readonly path: string;
}

function decodeFilters(ctx: Ctx, o: Raw, path: string, types: readonly FilterType[] = filterTypes): DecodedFilter[] {
  const out: DecodedFilter[] = [];
  const seen = new Map<string, string>();
  for (const [f, fp] of listOf(ctx, o, 'filters', path, maxFilters)) {
    const type = get(f, 'type');
    if (typeof type === 'string' && singleFilterTypes.has(type)) {
      const first = seen.get(type);
      if (first !== undefined) ctx.fail(fp, `only one ${type} filter is allowed (also ${first})`);
      else seen.set(type, fp);
    }
    const filter = decodeFilter(ctx, f, fp, types);
    if (filter !== undefined) out.push({ filter, path: fp });
  }
  if (seen.has('RequestRedirect') && seen.has('URLRewrite')) {
    ctx.fail(path, 'must not combine a RequestRedirect and a URLRewrite filter');
  }
  return out;
}

/** Where a filter rewrites the matched prefix, if it does. */
function replacePrefixPath(d: DecodedFilter): string | undefined {
  const f = d.filter;
  if (f.type === 'RequestRedirect' && f.requestRedirect.path?.type === 'ReplacePrefixMatch') {
    return `${d.path}.requestRedirect.path`;
  }
  if (f.type === 'URLRewrite' && f.urlRewrite.path?.type === 'ReplacePrefixMatch') return `${d.path}.urlRewrite.path`;
  return undefined;
}

function decodeHTTPBackendRef(
  ctx: Ctx,
  b: Raw,
  bp: string,
  types: readonly FilterType[] = filterTypes,
): { ref: HTTPBackendRef; filters: DecodedFilter[] } {
  const target = decodeBackendObjectRef(ctx, b, bp);
  let weight = ctx.int(b, 'weight', `${bp}.weight`) ?? 1;
  if (weight < 0 || weight > maxWeight) {
    ctx.fail(`${bp}.weight`, `must be between 0 and ${maxWeight}`);
    weight = 1;
  }
  const filters = decodeFilters(ctx, b, `${bp}.filters`, types);
  return { ref: { ...target, weight, filters: filters.map((d) => d.filter) }, filters };
}

function decodeTimeouts(ctx: Ctx, o: Raw, path: string): HTTPRouteRule['timeouts'] {
  const request = durationOf(ctx, o, 'request', `${path}.request`);
  const backendRequest = durationOf(ctx, o, 'backendRequest', `${path}.backendRequest`);
  if (request !== undefined && backendRequest !== undefined) {
    const requestMs = parseGatewayDuration(request);
    if (requestMs !== 0 && parseGatewayDuration(backendRequest) > requestMs) {
      ctx.fail(`${path}.backendRequest`, `must not be longer than request (${request})`);
    }
  }
  if (request === undefined && backendRequest === undefined) return undefined;
  return { ...withOptional('request', request), ...withOptional('backendRequest', backendRequest) };
}

function decodeRule(ctx: Ctx, r: Raw, rp: string): HTTPRouteRule {
  const name = sectionNameOf(ctx, r, 'name', `${rp}.name`, false);
  const matches: HTTPRouteMatch[] = [];
  for (const [m, mp] of listOf(ctx, r, 'matches', `${rp}.matches`, maxMatchesPerRule)) {
    matches.push(decodeMatch(ctx, m, mp));
  }
  if (matches.length === 0) matches.push(defaultMatch());
  const filters = decodeFilters(ctx, r, `${rp}.filters`);
  const backendRefs: HTTPBackendRef[] = [];
  const backendFilters: DecodedFilter[] = [];
  for (const [b, bp] of listOf(ctx, r, 'backendRefs', `${rp}.backendRefs`, maxBackendRefs)) {
    const { ref, filters: own } = decodeHTTPBackendRef(ctx, b, bp);
    backendRefs.push(ref);
    backendFilters.push(...own);
  }
  const timeoutsRaw = ctx.obj(r, 'timeouts', `${rp}.timeouts`);
  const timeouts = timeoutsRaw === undefined ? undefined : decodeTimeouts(ctx, timeoutsRaw, `${rp}.timeouts`);

  // The CEL rules on a rule.
  const rawBackendRefs = get(r, 'backendRefs');
  if (Array.isArray(rawBackendRefs) && rawBackendRefs.length > 0) {
    for (const d of filters) {
      if (d.filter.type === 'RequestRedirect')
        ctx.fail(d.path, 'a RequestRedirect filter must not be used with backendRefs');
    }
  }
  const onePrefixMatch = matches.length === 1 && matches[0]?.path.type === 'PathPrefix';
  if (!onePrefixMatch) {
    for (const d of [...filters, ...backendFilters]) {
      const p = replacePrefixPath(d);
      if (p !== undefined)
        ctx.fail(p, 'ReplacePrefixMatch requires the rule to have exactly one match, of type PathPrefix');
    }
  }
  return {
    ...withOptional('name', name),
    matches,
    filters: filters.map((d) => d.filter),
    backendRefs,
    ...withOptional('timeouts', timeouts),
  };
}

function decodeHTTPRoute(ctx: Ctx, raw: Raw, origin: Origin): HTTPRoute {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true) ?? {};
  const parentRefs = decodeParentRefs(ctx, spec);
  const hostnames: string[] = [];
  for (const [h, hp] of stringsOf(ctx, spec, 'hostnames', 'spec.hostnames', maxHostnames)) {
    if (checkHostname(ctx, h, hp, true)) hostnames.push(h);
  }
  const rules: HTTPRouteRule[] = [];
  if (get(spec, 'rules') === undefined) {
    rules.push({ matches: [defaultMatch()], filters: [], backendRefs: [] });
  } else {
    const names = new Map<string, string>();
    for (const [r, rp] of listOf(ctx, spec, 'rules', 'spec.rules', maxRules, false, 1)) {
      const rule = decodeRule(ctx, r, rp);
      rules.push(rule);
      if (rule.name !== undefined) {
        const first = names.get(rule.name);
        if (first !== undefined) ctx.fail(`${rp}.name`, `duplicate rule name '${rule.name}' (also ${first})`);
        else names.set(rule.name, rp);
      }
    }
    const total = rules.reduce((n, r) => n + r.matches.length, 0);
    if (total > maxMatchesPerRoute) {
      ctx.fail('spec.rules', `must have at most ${maxMatchesPerRoute} matches in all (has ${total})`);
    }
  }
  return { kind: 'HTTPRoute', metadata, spec: { parentRefs, hostnames, rules }, origin };
}

// ---------------------------------------------------------------- GRPCRoute

function isGRPCFilter(f: HTTPRouteFilter): f is GRPCRouteFilter {
  return (grpcFilterTypes as readonly string[]).includes(f.type);
}

function grpcFiltersOf(filters: readonly DecodedFilter[]): GRPCRouteFilter[] {
  return filters.map((d) => d.filter).filter(isGRPCFilter);
}

function decodeGRPCMethodMatch(ctx: Ctx, o: Raw, path: string): GRPCMethodMatch {
  const type = ctx.oneOf(o, 'type', `${path}.type`, grpcMethodMatchTypes, 'Exact') ?? 'Exact';
  const read = (key: 'service' | 'method', exactRe: RegExp, msg: string): string | undefined => {
    const v = ctx.str(o, key, `${path}.${key}`);
    if (v === undefined) return undefined;
    if (v.length > 1024) ctx.fail(`${path}.${key}`, 'must be at most 1024 characters');
    else if (type === 'Exact' && !exactRe.test(v)) ctx.fail(`${path}.${key}`, msg);
    else if (type === 'RegularExpression' && v !== '') checkRegex(ctx, v, `${path}.${key}`);
    // An empty regular expression part means the same as an absent one: anything.
    return v === '' ? undefined : v;
  };
  const service = read('service', grpcServiceRe, msgGRPCService);
  const method = read('method', grpcMethodRe, msgGRPCMethod);
  if (get(o, 'service') === undefined && get(o, 'method') === undefined) {
    ctx.fail(path, 'must set service, method or both');
  } else if (service === undefined && method === undefined && type === 'RegularExpression') {
    ctx.fail(path, 'must set a non-empty service, method or both');
  }
  return { type, ...withOptional('service', service), ...withOptional('method', method) };
}

function decodeGRPCMatch(ctx: Ctx, m: Raw, mp: string): GRPCRouteMatch {
  const methodRaw = ctx.obj(m, 'method', `${mp}.method`);
  const method = methodRaw === undefined ? undefined : decodeGRPCMethodMatch(ctx, methodRaw, `${mp}.method`);
  const headers = decodeValueMatches(ctx, m, 'headers', `${mp}.headers`, 4096);
  return { ...withOptional('method', method), headers };
}

function decodeGRPCRule(ctx: Ctx, r: Raw, rp: string): GRPCRouteRule {
  const name = sectionNameOf(ctx, r, 'name', `${rp}.name`, false);
  const matches: GRPCRouteMatch[] = [];
  for (const [m, mp] of listOf(ctx, r, 'matches', `${rp}.matches`, maxGRPCMatchesPerRule)) {
    matches.push(decodeGRPCMatch(ctx, m, mp));
  }
  // No matches: every call matches, which is what one empty match says.
  if (matches.length === 0) matches.push({ headers: [] });
  const filters = grpcFiltersOf(decodeFilters(ctx, r, `${rp}.filters`, grpcFilterTypes));
  const backendRefs: GRPCBackendRef[] = [];
  for (const [b, bp] of listOf(ctx, r, 'backendRefs', `${rp}.backendRefs`, maxBackendRefs)) {
    const { ref, filters: own } = decodeHTTPBackendRef(ctx, b, bp, grpcFilterTypes);
    backendRefs.push({ ...ref, filters: grpcFiltersOf(own) });
  }
  return { ...withOptional('name', name), matches, filters, backendRefs };
}

function decodeGRPCRoute(ctx: Ctx, raw: Raw, origin: Origin): GRPCRoute {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true) ?? {};
  const parentRefs = decodeParentRefs(ctx, spec);
  const hostnames: string[] = [];
  for (const [h, hp] of stringsOf(ctx, spec, 'hostnames', 'spec.hostnames', maxHostnames)) {
    if (checkHostname(ctx, h, hp, true)) hostnames.push(h);
  }
  const rules: GRPCRouteRule[] = [];
  const names = new Map<string, string>();
  let total = 0;
  for (const [r, rp] of listOf(ctx, spec, 'rules', 'spec.rules', maxRules)) {
    const rule = decodeGRPCRule(ctx, r, rp);
    rules.push(rule);
    const written = get(r, 'matches');
    total += Array.isArray(written) ? written.length : 0;
    if (rule.name !== undefined) {
      const first = names.get(rule.name);
      if (first !== undefined) ctx.fail(`${rp}.name`, `duplicate rule name '${rule.name}' (also ${first})`);
      else names.set(rule.name, rp);
    }
  }
  if (total > maxMatchesPerRoute) {
    ctx.fail('spec.rules', `must have at most ${maxMatchesPerRoute} matches in all (has ${total})`);
  }
  return { kind: 'GRPCRoute', metadata, spec: { parentRefs, hostnames, rules }, origin };
}

// ---------------------------------------------------------------- TCPRoute and TLSRoute

function decodeStreamBackendRef(ctx: Ctx, b: Raw, bp: string): StreamBackendRef {
  const target = decodeBackendObjectRef(ctx, b, bp);
  let weight = ctx.int(b, 'weight', `${bp}.weight`) ?? 1;
  if (weight < 0 || weight > maxWeight) {
    ctx.fail(`${bp}.weight`, `must be between 0 and ${maxWeight}`);
    weight = 1;
  }
  return { ...target, weight };
}

/**
 * The rules of a TCPRoute or TLSRoute: at least one, at most `maxRulesHere`; backendRefs at most 16, and at least
 * one when written (v1 requires them).
 */
function decodeStreamRules(ctx: Ctx, spec: Raw, maxRulesHere: number, backendRefsRequired: boolean): StreamRouteRule[] {
  const rules: StreamRouteRule[] = [];
  const names = new Map<string, string>();
  for (const [r, rp] of listOf(ctx, spec, 'rules', 'spec.rules', maxRulesHere, true, 1)) {
    const name = sectionNameOf(ctx, r, 'name', `${rp}.name`, false);
    const backendRefs: StreamBackendRef[] = [];
    const bp = `${rp}.backendRefs`;
    for (const [b, p] of listOf(ctx, r, 'backendRefs', bp, maxBackendRefs, backendRefsRequired, 1)) {
      backendRefs.push(decodeStreamBackendRef(ctx, b, p));
    }
    rules.push({ ...withOptional('name', name), backendRefs });
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) ctx.fail(`${rp}.name`, `duplicate rule name '${name}' (also ${first})`);
      else names.set(name, rp);
    }
  }
  return rules;
}

function apiVersionOf(raw: Raw): string {
  const v = get(raw, 'apiVersion');
  return typeof v === 'string' ? v : '';
}

function decodeTCPRoute(ctx: Ctx, raw: Raw, origin: Origin): TCPRoute {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true) ?? {};
  const v1 = apiVersionOf(raw) === `${gatewayAPIGroup}/v1`;
  const parentRefs = decodeParentRefs(ctx, spec);
  const rules = decodeStreamRules(ctx, spec, v1 ? 1 : maxRules, v1);
  return { kind: 'TCPRoute', metadata, spec: { parentRefs, rules }, origin };
}

function decodeTLSRoute(ctx: Ctx, raw: Raw, origin: Origin): TLSRoute {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true) ?? {};
  const version = apiVersionOf(raw);
  const v1 = version === `${gatewayAPIGroup}/v1`;
  const alpha2 = version === `${gatewayAPIGroup}/v1alpha2`;
  const parentRefs = decodeParentRefs(ctx, spec);
  // v1alpha2: optional, at most 16; v1alpha3: 1 to 16; v1: 1 to 1024.
  const hostnames: string[] = [];
  const written = stringsOf(ctx, spec, 'hostnames', 'spec.hostnames', v1 ? 1024 : maxHostnames);
  if (!alpha2 && written.length === 0) ctx.fail('spec.hostnames', 'must have at least one hostname');
  for (const [h, hp] of written) {
    if (checkHostname(ctx, h, hp, true)) hostnames.push(h);
  }
  const rules = decodeStreamRules(ctx, spec, v1 ? 1 : maxRules, v1);
  return { kind: 'TLSRoute', metadata, spec: { parentRefs, hostnames, rules }, origin };
}

// ---------------------------------------------------------------- BackendTLSPolicy

function decodePolicyTargetRefs(ctx: Ctx, spec: Raw): PolicyTargetRef[] {
  const out: PolicyTargetRef[] = [];
  // The CEL rules on targetRefs: references to one target either all name a section or none does, and never
  // repeat one.
  const seen = new Map<string, { path: string; sections: Set<string>; withSection: boolean }>();
  for (const [t, tp] of listOf(ctx, spec, 'targetRefs', 'spec.targetRefs', maxPolicyTargetRefs, true, 1)) {
    const group = requiredGroupOf(ctx, t, `${tp}.group`);
    const kind = kindOf(ctx, t, `${tp}.kind`);
    const name = objectNameOf(ctx, t, 'name', `${tp}.name`, true) ?? '';
    const sectionName = sectionNameOf(ctx, t, 'sectionName', `${tp}.sectionName`, false);
    out.push({ group, kind, name, ...withOptional('sectionName', sectionName) });
    const target = `${group}/${kind}/${name}`;
    const section = sectionName ?? '';
    const first = seen.get(target);
    if (first === undefined) {
      seen.set(target, { path: tp, sections: new Set([section]), withSection: section !== '' });
      continue;
    }
    if (first.withSection !== (section !== '')) {
      ctx.fail(`${tp}.sectionName`, `must be set on every reference to the same target or on none (see ${first.path})`);
    } else if (first.sections.has(section)) {
      ctx.fail(tp, `duplicate reference to the same target and sectionName (see ${first.path})`);
    }
    first.sections.add(section);
  }
  return out;
}

function decodeSubjectAltName(ctx: Ctx, o: Raw, path: string): SubjectAltName | undefined {
  const type = ctx.oneOf(o, 'type', `${path}.type`, subjectAltNameTypes);
  const hostname = ctx.str(o, 'hostname', `${path}.hostname`);
  const uri = ctx.str(o, 'uri', `${path}.uri`);
  if (type !== 'Hostname' && hostname !== undefined && hostname !== '') {
    ctx.fail(`${path}.hostname`, 'must not be set unless type is Hostname');
  }
  if (type !== 'URI' && uri !== undefined && uri !== '') ctx.fail(`${path}.uri`, 'must not be set unless type is URI');
  if (type === 'Hostname') {
    if (hostname === undefined || hostname === '') {
      ctx.fail(`${path}.hostname`, 'required when type is Hostname');
      return undefined;
    }
    return checkHostname(ctx, hostname, `${path}.hostname`, true) ? { type, hostname } : undefined;
  }
  if (type === 'URI') {
    if (uri === undefined || uri === '') {
      ctx.fail(`${path}.uri`, 'required when type is URI');
      return undefined;
    }
    if (uri.length > 253 || !absoluteURIRe.test(uri)) {
      ctx.fail(
        `${path}.uri`,
        'must be an absolute URI with a scheme and an authority, such as spiffe://example.com/sa',
      );
      return undefined;
    }
    return { type, uri };
  }
  return undefined;
}

function decodePolicyOptions(ctx: Ctx, o: Raw): Record<string, string> {
  const options = ctx.stringMap(o, 'options', 'spec.options');
  const keys = Object.keys(options);
  if (keys.length > maxPolicyOptions) ctx.fail('spec.options', `must have at most ${maxPolicyOptions} entries`);
  for (const k of keys) {
    const name = k.slice(k.lastIndexOf('/') + 1);
    if (k.length > 317 || name.length > 63 || !annotationKeyRe.test(k)) {
      ctx.fail(`spec.options[${k}]`, 'key must be a name, optionally prefixed by a DNS subdomain and /');
    }
    if ((options[k] ?? '').length > 4096) ctx.fail(`spec.options[${k}]`, 'must be at most 4096 characters');
  }
  return options;
}

function decodeBackendTLSPolicy(ctx: Ctx, raw: Raw, origin: Origin): BackendTLSPolicy {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true);
  if (spec === undefined) {
    const validation = { caCertificateRefs: [], hostname: '', subjectAltNames: [] };
    return { kind: 'BackendTLSPolicy', metadata, spec: { targetRefs: [], validation, options: {} }, origin };
  }
  const targetRefs = decodePolicyTargetRefs(ctx, spec);
  const vp = 'spec.validation';
  const v = ctx.obj(spec, 'validation', vp, true) ?? {};
  const caCertificateRefs: BackendTLSPolicy['spec']['validation']['caCertificateRefs'][number][] = [];
  for (const [c, cp] of listOf(ctx, v, 'caCertificateRefs', `${vp}.caCertificateRefs`, maxCACertificateRefs)) {
    caCertificateRefs.push({
      group: requiredGroupOf(ctx, c, `${cp}.group`),
      kind: kindOf(ctx, c, `${cp}.kind`),
      name: objectNameOf(ctx, c, 'name', `${cp}.name`, true) ?? '',
    });
  }
  const wellKnownCACertificates = optionalOneOf(
    ctx,
    v,
    'wellKnownCACertificates',
    `${vp}.wellKnownCACertificates`,
    wellKnownCAs,
  );
  const hasRefs = caCertificateRefs.length > 0;
  if (hasRefs && wellKnownCACertificates !== undefined) {
    ctx.fail(vp, 'must not set both caCertificateRefs and wellKnownCACertificates');
  } else if (!hasRefs && get(v, 'wellKnownCACertificates') === undefined) {
    ctx.fail(vp, 'must set caCertificateRefs or wellKnownCACertificates');
  }
  const hostname = ctx.str(v, 'hostname', `${vp}.hostname`, true) ?? '';
  if (hostname !== '') checkHostname(ctx, hostname, `${vp}.hostname`, false);
  const subjectAltNames: SubjectAltName[] = [];
  for (const [a, ap] of listOf(ctx, v, 'subjectAltNames', `${vp}.subjectAltNames`, maxSubjectAltNames)) {
    const san = decodeSubjectAltName(ctx, a, ap);
    if (san !== undefined) subjectAltNames.push(san);
  }
  const options = decodePolicyOptions(ctx, spec);
  return {
    kind: 'BackendTLSPolicy',
    metadata,
    spec: {
      targetRefs,
      validation: {
        caCertificateRefs,
        ...withOptional('wellKnownCACertificates', wellKnownCACertificates),
        hostname,
        subjectAltNames,
      },
      options,
    },
    origin,
  };
}

// ---------------------------------------------------------------- ReferenceGrant

function decodeReferenceGrant(ctx: Ctx, raw: Raw, origin: Origin): ReferenceGrant {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const specRaw = ctx.obj(raw, 'spec', 'spec');
  const from: ReferenceGrant['spec']['from'][number][] = [];
  const to: ReferenceGrant['spec']['to'][number][] = [];
  if (specRaw !== undefined) {
    for (const [f, fp] of listOf(ctx, specRaw, 'from', 'spec.from', maxGrantEntries, true, 1)) {
      from.push({
        group: requiredGroupOf(ctx, f, `${fp}.group`),
        kind: kindOf(ctx, f, `${fp}.kind`),
        namespace: namespaceOf(ctx, f, `${fp}.namespace`, true) ?? '',
      });
    }
    for (const [t, tp] of listOf(ctx, specRaw, 'to', 'spec.to', maxGrantEntries, true, 1)) {
      const name = objectNameOf(ctx, t, 'name', `${tp}.name`, false);
      to.push({
        group: requiredGroupOf(ctx, t, `${tp}.group`),
        kind: kindOf(ctx, t, `${tp}.kind`),
        ...withOptional('name', name),
      });
    }
  }
  return { kind: 'ReferenceGrant', metadata, spec: { from, to }, origin };
}
