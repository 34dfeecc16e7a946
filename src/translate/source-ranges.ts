// Client address allow-lists written as annotations (ingress-nginx's `allowlist-source-range`, gatehouse's
// `gatehouse.dev/source-ranges`): a comma-separated list of CIDRs or bare addresses. Shared by the Ingress and
// Gateway API translators so both read the same syntax and fail the same way.
import { parseCidr } from '../ir/cidr.ts';
import type { SourceRanges } from '../ir/types.ts';

export interface ParsedSourceRanges {
  /**
   * The ranges, trimmed and without repeats, in the order written. Undefined: nothing was written (a blank value
   * counts as unset). Empty: something was wrong, and the route admits nobody (fail closed).
   */
  readonly allow: SourceRanges | undefined;
  /** What is wrong with each entry that does not parse. */
  readonly problems: readonly string[];
}

/** Reads a comma-separated list of CIDRs; any entry that does not parse makes the whole list admit nobody. */
export function parseSourceRanges(value: string | undefined): ParsedSourceRanges {
  if (value === undefined) return { allow: undefined, problems: [] };
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return { allow: undefined, problems: [] };
  const allow: string[] = [];
  const problems: string[] = [];
  for (const e of entries) {
    const parsed = parseCidr(e);
    if (typeof parsed === 'string') problems.push(parsed);
    else if (!allow.includes(e)) allow.push(e);
  }
  return problems.length > 0 ? { allow: [], problems } : { allow, problems };
}
