// Builds the status an object should have from what it has now and what translation says: pure functions, no I/O.
// Only gatehouse's part changes — its own `parents[]`/`ancestors[]` entries (by controllerName) on routes and
// policies, conditions/listeners/addresses on its Gateways and GatewayClasses, the load-balancer points of its
// Ingresses — and every condition keeps its lastTransitionTime unless it changed.
import type { Condition, ParentRefStatus, StatusEntry } from '../ir/types.ts';
import { asArray, asRecord, asString } from './kube-api.ts';
import { gatewayAddresses, ingressPoints, type PublishAddress } from './publish.ts';
import { ROUTE_KINDS, type StatusKind } from './resources.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** CRD limits: route `status.parents` and policy `status.ancestors`. */
const MAX_PARENTS = 32;
const MAX_ANCESTORS = 16;
const MAX_MESSAGE = 32_768;
/** CRD limit on `conditions` lists. */
const MAX_CONDITIONS = 8;

export interface BuildContext {
  /** Whose entries are ours: the Gateway API controllerName. */
  readonly controllerName: string;
  /** The object's `metadata.generation`, for conditions the translator did not stamp. */
  readonly generation: number | undefined;
  /** `lastTransitionTime` for conditions that changed. */
  readonly now: string;
  /** Published addresses; null when unknown (Gateway addresses are then left as they are). */
  readonly addresses: readonly PublishAddress[] | null;
}

/** RFC 3339 in whole seconds, as Kubernetes writes `metav1.Time`. */
export function metaTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function byType(previous: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const item of asArray(previous)) {
    const c = asRecord(item);
    const type = asString(c?.['type']);
    if (c !== null && type !== undefined && !out.has(type)) out.set(type, c);
  }
  return out;
}

/**
 * Translator conditions in Kubernetes form: `observedGeneration` stamped (the translator's, which is the
 * generation it read, else the object's), `lastTransitionTime` kept from the previous condition of the same type
 * when its status, reason and message are unchanged. One condition per type (the API keys them by type).
 */
export function kubeConditions(
  desired: readonly Condition[],
  previous: unknown,
  ctx: BuildContext,
): Record<string, unknown>[] {
  const before = byType(previous);
  const out: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const c of desired) {
    if (seen.has(c.type) || out.length >= MAX_CONDITIONS) continue;
    seen.add(c.type);
    const message = c.message.length > MAX_MESSAGE ? c.message.slice(0, MAX_MESSAGE) : c.message;
    const generation = c.observedGeneration ?? ctx.generation;
    const p = before.get(c.type);
    const unchanged =
      p !== undefined && p['status'] === c.status && p['reason'] === c.reason && p['message'] === message;
    const kept = unchanged ? asString(p['lastTransitionTime']) : undefined;
    out.push({
      type: c.type,
      status: c.status,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime: kept ?? ctx.now,
      reason: c.reason,
      message,
    });
  }
  return out;
}

function refKey(ref: unknown, defaultNamespace: string): string {
  const r = asRecord(ref) ?? {};
  const port = r['port'];
  return [
    asString(r['group']) ?? GATEWAY_GROUP,
    asString(r['kind']) ?? 'Gateway',
    asString(r['namespace']) ?? defaultNamespace,
    asString(r['name']) ?? '',
    asString(r['sectionName']) ?? '',
    typeof port === 'number' ? String(port) : '',
  ].join('|');
}

function refOut(ref: ParentRefStatus): Record<string, unknown> {
  return {
    group: ref.group,
    kind: ref.kind,
    namespace: ref.namespace,
    name: ref.name,
    ...(ref.sectionName === undefined ? {} : { sectionName: ref.sectionName }),
    ...(ref.port === undefined ? {} : { port: ref.port }),
  };
}

/** A parent that is a Service belongs to the mesh (GAMMA): never ours to answer for. */
function isMeshRef(ref: ParentRefStatus): boolean {
  return ref.kind === 'Service' || ref.group === '' || ref.group === 'core';
}

interface OwnedEntry {
  readonly ref: ParentRefStatus;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

/**
 * Replaces our entries of a `parents`/`ancestors` list, keeping other controllers' entries where they are; ours
 * follow them, in translation order, as many as the list's limit leaves room for.
 */
function mergeOwned(
  previous: unknown,
  refField: 'parentRef' | 'ancestorRef',
  desired: readonly OwnedEntry[],
  max: number,
  namespace: string,
  ctx: BuildContext,
): Record<string, unknown>[] {
  const others: Record<string, unknown>[] = [];
  const oursBefore = new Map<string, Record<string, unknown>>();
  for (const item of asArray(previous)) {
    const e = asRecord(item);
    if (e === null) continue;
    if (e['controllerName'] === ctx.controllerName) oursBefore.set(refKey(e[refField], namespace), e);
    else others.push(e);
  }
  const out = [...others];
  const seen = new Set<string>();
  for (const d of desired) {
    // An entry needs at least one condition (CRD validation).
    if (d.controllerName !== ctx.controllerName || isMeshRef(d.ref) || d.conditions.length === 0) continue;
    const ref = refOut(d.ref);
    const key = refKey(ref, namespace);
    if (seen.has(key) || out.length >= max) continue;
    seen.add(key);
    out.push({
      [refField]: ref,
      controllerName: ctx.controllerName,
      conditions: kubeConditions(d.conditions, oursBefore.get(key)?.['conditions'], ctx),
    });
  }
  return out;
}

/** Our part of the status, as translation gives it: the cache key of what was last written. */
export function desiredPart(entry: StatusEntry | null, addresses: readonly PublishAddress[] | null): unknown {
  if (entry === null) return { addresses };
  const { kind, conditions, parents, listeners, ancestors } = entry;
  switch (kind) {
    case 'Gateway':
      return { conditions, listeners, addresses };
    case 'GatewayClass':
      return { conditions };
    case 'BackendTLSPolicy':
      return { ancestors };
    default:
      return { parents };
  }
}

/**
 * The status `kind` should have. `entry` null: nothing of ours any more — for routes and policies, our entries
 * are removed; for Ingresses (which have no entry), the published addresses.
 */
export function buildStatus(
  kind: StatusKind,
  entry: StatusEntry | null,
  current: Record<string, unknown>,
  namespace: string,
  ctx: BuildContext,
): Record<string, unknown> {
  if (kind === 'Ingress') {
    if (ctx.addresses === null) return current;
    const points = ingressPoints(ctx.addresses);
    return { ...current, loadBalancer: points.length > 0 ? { ingress: points } : {} };
  }
  if (ROUTE_KINDS.has(kind)) {
    const desired = (entry?.parents ?? []).map((p) => ({ ...p, ref: p.parentRef }));
    const parents = mergeOwned(current['parents'], 'parentRef', desired, MAX_PARENTS, namespace, ctx);
    return parents.length === 0 && current['parents'] === undefined ? current : { ...current, parents };
  }
  if (kind === 'BackendTLSPolicy') {
    const desired = (entry?.ancestors ?? []).map((a) => ({ ...a, ref: a.ancestorRef }));
    const ancestors = mergeOwned(current['ancestors'], 'ancestorRef', desired, MAX_ANCESTORS, namespace, ctx);
    return ancestors.length === 0 && current['ancestors'] === undefined ? current : { ...current, ancestors };
  }
  if (entry === null) return current;
  if (kind === 'GatewayClass') {
    return { ...current, conditions: kubeConditions(entry.conditions, current['conditions'], ctx) };
  }
  // Gateway: the whole of conditions, listeners and (when known) addresses is ours.
  const listenersBefore = new Map<string, Record<string, unknown>>();
  for (const item of asArray(current['listeners'])) {
    const l = asRecord(item);
    const name = asString(l?.['name']);
    if (l !== null && name !== undefined) listenersBefore.set(name, l);
  }
  const next: Record<string, unknown> = {
    ...current,
    conditions: kubeConditions(entry.conditions, current['conditions'], ctx),
    listeners: (entry.listeners ?? []).slice(0, 64).map((l) => ({
      name: l.name,
      supportedKinds: l.supportedKinds.map((k) => ({ group: k.group, kind: k.kind })),
      attachedRoutes: l.attachedRoutes,
      conditions: kubeConditions(l.conditions, listenersBefore.get(l.name)?.['conditions'], ctx),
    })),
  };
  if (ctx.addresses !== null) {
    if (ctx.addresses.length > 0) next['addresses'] = gatewayAddresses(ctx.addresses);
    else delete next['addresses'];
  }
  return next;
}

/** JSON with object keys sorted and every `lastTransitionTime` left out: equal means nothing to write. */
export function comparable(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'lastTransitionTime') return undefined;
    const o = asRecord(v);
    if (o === null) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) sorted[k] = o[k];
    return sorted;
  });
}
