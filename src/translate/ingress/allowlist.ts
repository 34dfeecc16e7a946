// ingress-nginx's client address allow-list: `nginx.ingress.kubernetes.io/allowlist-source-range`, and its older
// name `whitelist-source-range` (ingress-nginx reads the new name first and the old one as an alias). A
// comma-separated list of CIDRs or addresses; it applies to every route of the Ingress, its default route
// included. A list that cannot be read admits nobody, as ingress-nginx denies the location (fail closed).
import type { Diagnostic, SourceRanges, SourceRef } from '../../ir/types.ts';
import type { Ingress } from '../../model/objects.ts';
import { parseSourceRanges } from '../source-ranges.ts';

export const ALLOWLIST_ANNOTATION = 'nginx.ingress.kubernetes.io/allowlist-source-range';
export const WHITELIST_ANNOTATION = 'nginx.ingress.kubernetes.io/whitelist-source-range';

/** The addresses an Ingress admits; undefined when it sets neither annotation (or only blank values). */
export function ingressAllowOf(ing: Ingress, source: SourceRef, diagnostics: Diagnostic[]): SourceRanges | undefined {
  const annotations = ing.metadata.annotations;
  const allowlist = annotations[ALLOWLIST_ANNOTATION]?.trim();
  const whitelist = annotations[WHITELIST_ANNOTATION]?.trim();
  const useAllowlist = allowlist !== undefined && allowlist !== '';
  const value = useAllowlist ? allowlist : whitelist;
  const key = useAllowlist ? ALLOWLIST_ANNOTATION : WHITELIST_ANNOTATION;
  if (useAllowlist && whitelist !== undefined && whitelist !== '' && whitelist !== allowlist) {
    diagnostics.push({
      severity: 'warning',
      object: source,
      message: `annotations ${ALLOWLIST_ANNOTATION} and ${WHITELIST_ANNOTATION} differ; ${ALLOWLIST_ANNOTATION} is used`,
    });
  }
  const parsed = parseSourceRanges(value);
  if (parsed.problems.length > 0) {
    diagnostics.push({
      severity: 'error',
      object: source,
      message: `annotation ${key}: ${parsed.problems.join('; ')}; every route of the Ingress answers 403 until it is fixed`,
    });
  }
  return parsed.allow;
}
