// One TCPRoute or TLSRoute → the IR stream route it serves (without hostnames: those depend on the listener it
// attaches to), the backends it names, and the reference problems its ResolvedRefs condition reports.
//
// Layer-4 routes have no matches, so a rule is nothing but a weighted set of backends. Gateway API v1 allows exactly
// one rule; v1alpha2 allowed up to 16 without saying what several would mean, so the first rule is served and the
// others are reported (PartiallyInvalid). BackendTLSPolicies do not apply: the bytes are piped as they come.
import type { Backend, Diagnostic, SourceRef, StreamRoute, WeightedBackend } from '../../ir/types.ts';
import type { StreamBackendRef, TCPRoute, TLSRoute } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { resolveServiceBackend, type UpstreamMode } from '../backends.ts';
import type { RoutePolicy } from './annotations.ts';
import { type RefProblem, type RefProblemReason, referenceGranted } from './routes.ts';

export type StreamRouteObject = TCPRoute | TLSRoute;

/** A stream route before attachment: everything but its hostnames. */
export type StreamRouteTemplate = Omit<StreamRoute, 'hostnames'>;

export interface BuiltStreamRoute {
  /** Undefined when the route has no rule to serve (never for decoded objects: the CRDs require one). */
  readonly route: StreamRouteTemplate | undefined;
  /** The backends `route` names, invalid placeholders included. */
  readonly backends: readonly Backend[];
  readonly refProblems: readonly RefProblem[];
  /** Rules left out (all but the first); reported as PartiallyInvalid / UnsupportedValue. */
  readonly invalidRules: readonly string[];
  readonly ruleCount: number;
}

/** `tcproute` or `tlsroute`: the kind segment of route and placeholder backend names. */
export function streamKindSegment(route: StreamRouteObject): string {
  return route.kind === 'TCPRoute' ? 'tcproute' : 'tlsroute';
}

export interface StreamBuildContext {
  readonly snapshot: Snapshot;
  readonly upstream: UpstreamMode;
}

type Resolution =
  | { readonly ok: true; readonly backend: Backend }
  | { readonly ok: false; readonly reason: RefProblemReason; readonly message: string };

function resolveStreamRef(
  bc: StreamBuildContext,
  route: StreamRouteObject,
  source: SourceRef,
  ref: StreamBackendRef,
  where: string,
  diagnostics: Diagnostic[],
): Resolution {
  const routeNs = route.metadata.namespace;
  const ns = ref.namespace ?? routeNs;
  const label = `${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} ${ns}/${ref.name}`;
  if (ref.group !== '' || ref.kind !== 'Service') {
    return { ok: false, reason: 'InvalidKind', message: `${where}: ${label}: only core Services are supported` };
  }
  // Checked before existence, so a route cannot learn which Services exist in namespaces that did not grant it.
  if (ns !== routeNs && !referenceGranted(bc.snapshot, routeNs, ns, ref.name, route.kind)) {
    return {
      ok: false,
      reason: 'RefNotPermitted',
      message: `${where}: Service ${ns}/${ref.name} is in another namespace and no ReferenceGrant in ${ns} allows it`,
    };
  }
  if (ref.port === undefined) {
    return { ok: false, reason: 'BackendNotFound', message: `${where}: Service ${ns}/${ref.name}: port is required` };
  }
  const service = bc.snapshot.service(ns, ref.name);
  if (service === undefined) {
    return { ok: false, reason: 'BackendNotFound', message: `${where}: Service ${ns}/${ref.name} not found` };
  }
  if (service.spec.type !== 'ExternalName' && !service.spec.ports.some((p) => p.port === ref.port)) {
    return {
      ok: false,
      reason: 'BackendNotFound',
      message: `${where}: Service ${ns}/${ref.name} has no port ${ref.port}`,
    };
  }
  const resolved = resolveServiceBackend(
    bc.snapshot,
    { namespace: ns, name: ref.name, port: { number: ref.port } },
    bc.upstream,
    source,
  );
  for (const d of resolved.diagnostics) diagnostics.push({ ...d, message: `${where}: ${d.message}` });
  return { ok: true, backend: resolved.backend };
}

export function buildStreamRoute(
  bc: StreamBuildContext,
  route: StreamRouteObject,
  source: SourceRef,
  policy: RoutePolicy,
  diagnostics: Diagnostic[],
): BuiltStreamRoute {
  const { namespace, name } = route.metadata;
  const segment = streamKindSegment(route);
  const problem = (severity: Diagnostic['severity'], message: string): void => {
    diagnostics.push({ severity, object: source, message });
  };
  const rules = route.spec.rules;
  const invalidRules = rules
    .slice(1)
    .map((_, i) => `spec.rules[${i + 1}]: only the first rule of a ${route.kind} is served; rule ignored`);
  for (const message of invalidRules) problem('warning', message);
  const rule = rules[0];
  if (rule === undefined) return { route: undefined, backends: [], refProblems: [], invalidRules, ruleCount: 0 };

  const byName = new Map<string, Backend>();
  const refProblems: RefProblem[] = [];
  const backends: WeightedBackend[] = rule.backendRefs.map((ref, k) => {
    const where = `spec.rules[0].backendRefs[${k}]`;
    const r = resolveStreamRef(bc, route, source, ref, where, diagnostics);
    let backend: Backend;
    if (r.ok) {
      backend = r.backend;
    } else {
      refProblems.push({ reason: r.reason, message: r.message });
      problem('error', `${r.message}; connections given to this backend are closed`);
      const placeholder = `invalid/${segment}/${namespace}/${name}/rule/0/backend/${k}`;
      backend = { name: placeholder, source, target: { kind: 'unavailable', status: 500, reason: r.message } };
    }
    if (!byName.has(backend.name)) byName.set(backend.name, backend);
    return { backend: backend.name, weight: ref.weight };
  });
  if (backends.length === 0) {
    problem('warning', 'spec.rules[0]: no backendRefs; every connection is closed');
  } else if (backends.every((b) => b.weight === 0)) {
    problem('warning', 'spec.rules[0]: every backendRef has weight 0; every connection is closed');
  }
  const template: StreamRouteTemplate = {
    name: `${segment}/${namespace}/${name}/rule/0`,
    source,
    backends,
    ...(policy.allow !== undefined ? { allow: policy.allow } : {}),
    ...(policy.sendProxyProtocol !== undefined ? { sendProxyProtocol: policy.sendProxyProtocol } : {}),
    ...(policy.idleTimeoutMs !== undefined ? { idleTimeoutMs: policy.idleTimeoutMs } : {}),
  };
  return { route: template, backends: [...byName.values()], refProblems, invalidRules, ruleCount: rules.length };
}
