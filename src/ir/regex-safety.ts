// User-supplied regular expressions run on every matching request with JavaScript's backtracking engine, so a
// pattern like `(a+)+$` could hold the event loop for seconds on a crafted path. Rather than depend on a native
// linear-time engine, gatehouse accepts only patterns whose worst case stays polynomial and small: no nested
// repetition, no backreferences or lookaround, and a bounded length. Inputs are bounded too (header size).

export const MAX_REGEX_LENGTH = 1024;

/** True when the quantifier starting at `i` repeats (`*`, `+`, `{n,}`, `{n,m}` with m > 1); `?` does not. */
function repeatsAt(source: string, i: number): boolean {
  const c = source[i];
  if (c === '*' || c === '+') return true;
  if (c !== '{') return false;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
  if (m === null) return false;
  if (m[2] === undefined) return Number(m[1]) > 1;
  return m[3] === '' || Number(m[3]) > 1;
}

/**
 * Why a pattern is refused, or null when it is acceptable. The pattern must also compile (checked separately).
 */
export function unsafeRegexReason(source: string): string | null {
  if (source.length > MAX_REGEX_LENGTH) return `is longer than ${MAX_REGEX_LENGTH} characters`;
  // Each open group: whether something inside it repeats.
  const groups: boolean[] = [];
  let lastGroupRepeats = false;
  let afterGroup = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'uses a backreference, which can take exponential time';
      i++;
      afterGroup = false;
      continue;
    }
    if (c === '[') {
      // Skip the character class; its contents are literal for this purpose.
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') {
        if (source[i] === '\\') i++;
        i++;
      }
      afterGroup = false;
      continue;
    }
    if (c === '(') {
      if (
        source.startsWith('(?=', i) ||
        source.startsWith('(?!', i) ||
        source.startsWith('(?<=', i) ||
        source.startsWith('(?<!', i)
      ) {
        return 'uses lookaround, which gatehouse does not accept';
      }
      groups.push(false);
      afterGroup = false;
      continue;
    }
    if (c === ')') {
      lastGroupRepeats = groups.pop() ?? false;
      afterGroup = true;
      continue;
    }
    if (repeatsAt(source, i)) {
      if (afterGroup && lastGroupRepeats)
        return 'repeats a group that itself repeats (nested quantifiers take exponential time)';
      if (groups.length > 0) groups[groups.length - 1] = true;
      // A repeated group marks its parent as repeating too.
      afterGroup = false;
      continue;
    }
    if (afterGroup && lastGroupRepeats && groups.length > 0 && c !== '?') groups[groups.length - 1] = true;
    afterGroup = false;
  }
  return null;
}
