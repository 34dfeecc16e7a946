// One normalisation of the request path, used both to match routes and to forward: a proxy that
// routes on one form and forwards another lets `/public/%2e%2e/admin` reach the wrong backend.

const HEX = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

function isUnreserved(code: number): boolean {
  return (
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    (code >= 48 && code <= 57) ||
    code === 45 ||
    code === 46 ||
    code === 95 ||
    code === 126
  );
}

function isDoubleEncodedSeparator(path: string, at: number): boolean {
  const pair = path.slice(at, at + 2).toLowerCase();
  return pair === '2e' || pair === '2f' || pair === '5c';
}

/** Whether the path needs any work; most do not, and they are returned as they are. */
function isPlain(path: string): boolean {
  let prev = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // '%', '\\', '//' and '/.' all need the slow path
    if (c === 37 || c === 92) return false;
    if (prev === 47 && (c === 47 || c === 46)) return false;
    prev = c;
  }
  return true;
}

/**
 * Normalises an origin-form path (without the query): percent-encodings of unreserved characters are decoded,
 * other encodings upper-cased; `//` runs collapse; `.` and `..` segments are resolved.
 * Returns null for what is refused with 400: a path not starting with `/`, a malformed `%` escape, an encoded
 * `/`, `\` or NUL (their meaning differs between servers), double-encoded `.`, `/` or `\` (`%252e`), `..;`
 * segments, a literal `\`, and `..` above the root.
 */
export function normalizePath(path: string): string | null {
  if (path.charCodeAt(0) !== 47) return null;
  if (isPlain(path)) return path;
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 92) return null;
    if (c !== 37) {
      decoded += path[i];
      continue;
    }
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return null;
    const byte = hi * 16 + lo;
    if (byte === 0x2f || byte === 0x5c || byte === 0) return null;
    // `%252e` is `%2e` to a backend that decodes twice: refuse encoded-escape forms of `.`, `/` and `\`.
    if (byte === 0x25 && isDoubleEncodedSeparator(path, i + 3)) return null;
    decoded += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  const segments = decoded.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const seg = segments[i] as string;
    // `..;x` is `..` to servers that strip path parameters (Tomcat, Jetty): refuse rather than guess.
    if (seg.startsWith('..;') || seg.startsWith('.;')) return null;
    if (seg === '.' || (seg === '' && i !== last)) continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  // A trailing `.` or `..` names a directory, so the result keeps its trailing slash.
  const lastSeg = segments[last];
  if ((lastSeg === '.' || lastSeg === '..') && out[out.length - 1] !== '') out.push('');
  return `/${out.join('/')}`;
}
