import type { LabelSelector } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';

/** Set on every Namespace by the API server (Kubernetes 1.22+); manifest folders rarely write it. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Labels of a namespace as the API server would report them. A namespace missing from the snapshot still
 * carries its name label, so `kubernetes.io/metadata.name` selectors work without a Namespace manifest.
 */
export function namespaceLabels(snapshot: Snapshot, name: string): Readonly<Record<string, string>> {
  const ns = snapshot.namespace(name);
  return { ...(ns?.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name };
}

/** Kubernetes label selector semantics: every matchLabels entry and every expression must hold; empty matches all. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (labels[key] !== value) return false;
  }
  for (const e of selector.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && e.values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
