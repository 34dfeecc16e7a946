import type { Condition, SourceRef } from '../../ir/types.ts';
import type { ObjectMeta } from '../../model/objects.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_CONTROLLER_NAME = 'gatehouse.dev/gateway-controller';

export function condition(type: string, ok: boolean, reason: string, message: string, meta: ObjectMeta): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: meta.generation };
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first, then namespace/name: the tie-break DESIGN.md fixes for both route APIs. */
export function compareAge(a: ObjectMeta, b: ObjectMeta): number {
  return (
    compareStrings(a.creationTimestamp, b.creationTimestamp) ||
    compareStrings(a.namespace, b.namespace) ||
    compareStrings(a.name, b.name)
  );
}

export function sourceOf(kind: string, meta: ObjectMeta, section?: string): SourceRef {
  return section === undefined
    ? { kind, namespace: meta.namespace, name: meta.name }
    : { kind, namespace: meta.namespace, name: meta.name, section };
}
