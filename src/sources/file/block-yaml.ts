// A fast reader for the plain block YAML that manifests are nearly always written in, used before the full parser
// (the `yaml` package) on each document of a file. The full parser builds tokens, a syntax tree and a document
// model for every scalar, which makes a 10,000-path folder take well over a second to load; most of that work is
// for YAML features manifests do not use.
//
// The rule that keeps this safe: it reads a document only when the document stays inside a small subset it reads
// exactly as the full parser does, and answers "outside" (null) for anything else, including anything the full
// parser would call an error or warn about. The caller then parses the document with the full parser, so what is
// accepted, what is refused and every message stay the full parser's. A differential test holds it to that.
//
// The subset: block mappings with plain or quoted keys, block sequences (also compact `- key: value` maps), plain
// scalars on one line, single- and double-quoted scalars on one line (common escapes only), flow sequences and
// mappings written on one line, comments, and one leading `---`. Not in it: anchors, aliases, tags, block scalars,
// multi-line scalars and flow collections, complex keys, merge keys, directives, tabs, CR and control characters.
// Scalars resolve as the YAML 1.2 core schema does; numbers other than decimal integers are left to the full parser.

/** The values of a text's documents, in order: one per document (null for an empty document). */
export type BlockDocuments = readonly unknown[];

const OUTSIDE: unique symbol = Symbol('outside the subset');
type Read = unknown;

/** Deeper nesting than this is left to the full parser, so recursion here stays shallow. */
const maxDepth = 64;
/** The full parser refuses an implicit key whose source (quotes and escapes included) is over 1024 characters. */
const maxKeySource = 1000;

const SPACE = 32;
const HASH = 35;
const DASH = 45;
const COLON = 58;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;
const SLASH = 47;
const COMMA = 44;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/**
 * The documents of `text` when all of it is inside the subset, else null. `text` holds at most one document start
 * marker, at its very beginning (a file cut before each marker, as the file source does).
 */
export function readBlockDocuments(text: string): BlockDocuments | null {
  if (!allowedCharacters(text)) return null;
  const reader = new BlockReader(text);
  return reader.documents();
}

/** Tabs, CR, other control characters, BOM, surrogates and the Unicode line separators are left to the full parser. */
function allowedCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32) {
      if (c !== 10) return false;
    } else if (
      c >= 127 &&
      (c <= 159 || (c >= 0xd800 && c <= 0xdfff) || c === 0x2028 || c === 0x2029 || c === 0xfeff || c >= 0xfffe)
    ) {
      return false;
    }
  }
  return true;
}

class BlockReader {
  private readonly text: string;
  /** Content lines only (blank and comment-only lines are left out): start offset, indentation, end offset. */
  private readonly starts: number[] = [];
  private readonly indents: number[] = [];
  private readonly ends: number[] = [];
  private line = 0;
  private depth = 0;
  /** Where the last key or inline value read ended. */
  private cursor = 0;

  constructor(text: string) {
    this.text = text;
  }

  documents(): BlockDocuments | null {
    const text = this.text;
    let from = 0;
    const marked = text.startsWith('---');
    if (marked) {
      const end = lineEnd(text, 0);
      // `---` alone or with a comment; content on the marker line is left to the full parser.
      if (end > 3 && (text.charCodeAt(3) !== SPACE || !restIsEmpty(text, 3, end))) return null;
      from = end + 1;
    }
    if (!this.scanLines(from)) return null;
    if (this.starts.length === 0) return marked ? [null] : [];
    const root = this.node(0);
    if (root === OUTSIDE || this.line !== this.starts.length) return null;
    return [root];
  }

  private scanLines(from: number): boolean {
    const text = this.text;
    let start = from;
    while (start < text.length) {
      const end = lineEnd(text, start);
      const content = skipSpaces(text, start, end);
      if (content < end && text.charCodeAt(content) !== HASH) {
        // Another document marker or a document end marker: not for this reader (directives never get here).
        if (content === start && (text.startsWith('---', start) || text.startsWith('...', start))) return false;
        this.starts.push(start);
        this.indents.push(content - start);
        this.ends.push(end);
      }
      start = end + 1;
    }
    return true;
  }

  /** The block node whose first line is the current line, indented at least `minIndent`. */
  private node(minIndent: number): Read {
    const i = this.line;
    const indent = this.indents[i] as number;
    if (indent < minIndent) return OUTSIDE;
    if (++this.depth > maxDepth) return OUTSIDE;
    const at = (this.starts[i] as number) + indent;
    const value = this.isEntry(at, this.ends[i] as number) ? this.sequence(indent) : this.mapping(indent, at);
    this.depth--;
    return value;
  }

  /** `-` followed by a space or the end of the line: a sequence entry. */
  private isEntry(at: number, end: number): boolean {
    return this.text.charCodeAt(at) === DASH && (at + 1 === end || this.text.charCodeAt(at + 1) === SPACE);
  }

  private currentIsEntry(indent: number): boolean {
    const i = this.line;
    return this.isEntry((this.starts[i] as number) + indent, this.ends[i] as number);
  }

  private sequence(indent: number): Read {
    const text = this.text;
    const items: unknown[] = [];
    const count = this.starts.length;
    for (;;) {
      const i = this.line;
      const end = this.ends[i] as number;
      const at = skipSpaces(text, (this.starts[i] as number) + indent + 1, end);
      let item: Read;
      if (at === end || text.charCodeAt(at) === HASH) {
        this.line++;
        item = this.line < count && (this.indents[this.line] as number) > indent ? this.node(indent + 1) : null;
      } else if (this.isEntry(at, end)) {
        return OUTSIDE; // `- - x`: compact nested sequences
      } else if (this.key(at, end) !== OUTSIDE) {
        this.depth++;
        item = this.depth > maxDepth ? OUTSIDE : this.mapping(at - (this.starts[i] as number), at);
        this.depth--;
      } else {
        item = this.lineValue(at, end);
        this.line++;
        if (this.line < count && (this.indents[this.line] as number) > indent) return OUTSIDE;
      }
      if (item === OUTSIDE) return OUTSIDE;
      items.push(item);
      if (this.line >= count) return items;
      const next = this.indents[this.line] as number;
      if (next < indent) return items;
      if (next > indent) return OUTSIDE;
      if (!this.currentIsEntry(indent)) return items; // the next key of a mapping this sequence is a value of
    }
  }

  /** A block mapping at `indent` whose first key starts at `at` on the current line (mid-line after `- `). */
  private mapping(indent: number, at: number): Read {
    const text = this.text;
    const map: Record<string, unknown> = {};
    const count = this.starts.length;
    let keyAt = at;
    for (;;) {
      const i = this.line;
      const end = this.ends[i] as number;
      const key = this.key(keyAt, end);
      if (key === OUTSIDE || Object.hasOwn(map, key)) return OUTSIDE; // a duplicate key is the full parser's error
      const valueAt = skipSpaces(text, this.cursor, end);
      let value: Read;
      if (valueAt === end || text.charCodeAt(valueAt) === HASH) {
        this.line++;
        if (this.line >= count) value = null;
        else {
          const next = this.indents[this.line] as number;
          if (next > indent) value = this.node(indent + 1);
          else if (next === indent && this.currentIsEntry(indent)) value = this.node(indent);
          else value = null;
        }
      } else {
        value = this.lineValue(valueAt, end);
        this.line++;
        if (this.line < count && (this.indents[this.line] as number) > indent) return OUTSIDE;
      }
      if (value === OUTSIDE) return OUTSIDE;
      map[key] = value;
      if (this.line >= count) return map;
      const next = this.indents[this.line] as number;
      if (next < indent) return map;
      if (next > indent || this.currentIsEntry(indent)) return OUTSIDE;
      keyAt = (this.starts[this.line] as number) + indent;
    }
  }

  /**
   * A mapping key at `at` followed by `:` and a space or the line's end: plain (letters, digits, `_ . / -`, resolving
   * to a string) or quoted. Leaves the cursor after the `:`.
   */
  private key(at: number, end: number): string | typeof OUTSIDE {
    const text = this.text;
    const first = text.charCodeAt(at);
    let key: string | typeof OUTSIDE;
    let colon: number;
    if (first === DQUOTE || first === SQUOTE) {
      const quoted = first === DQUOTE ? this.doubleQuoted(at, end) : this.singleQuoted(at, end);
      if (typeof quoted !== 'string') return OUTSIDE;
      key = quoted;
      colon = this.cursor;
      if (text.charCodeAt(colon) !== COLON) return OUTSIDE;
    } else {
      colon = plainKeyEnd(text, at, end);
      if (colon < 0) return OUTSIDE;
      key = text.slice(at, colon);
      if (typeof resolvePlain(key) !== 'string') return OUTSIDE;
    }
    if (colon + 1 < end && text.charCodeAt(colon + 1) !== SPACE) return OUTSIDE;
    if (colon - at > maxKeySource || key === '__proto__') return OUTSIDE;
    this.cursor = colon + 1;
    return key;
  }

  /** A scalar or a flow collection from `at`, with nothing but a comment after it. */
  private lineValue(at: number, end: number): Read {
    const text = this.text;
    const c = text.charCodeAt(at);
    let value: Read;
    if (c === DQUOTE) value = this.doubleQuoted(at, end);
    else if (c === SQUOTE) value = this.singleQuoted(at, end);
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) value = this.flowCollection(at, end);
    else {
      if (c === DASH ? at + 1 >= end || text.charCodeAt(at + 1) === SPACE : isIndicator(c)) return OUTSIDE;
      return plain(text, at, end);
    }
    return value !== OUTSIDE && restIsEmpty(text, this.cursor, end) ? value : OUTSIDE;
  }

  /**
   * A flow sequence or mapping on one line, `[a, "b"]` or `{ k: v, l: [1, 2] }`, of scalars and flow collections:
   * no empty entries, no trailing comma, keys as in block mappings followed by `: `. Cursor after the close.
   */
  private flowCollection(at: number, end: number): Read {
    if (++this.depth > maxDepth) return OUTSIDE;
    const text = this.text;
    const isMap = text.charCodeAt(at) === OPEN_BRACE;
    const close = isMap ? CLOSE_BRACE : CLOSE_BRACKET;
    const items: unknown[] = [];
    const map: Record<string, unknown> = {};
    let i = skipSpaces(text, at + 1, end);
    if (text.charCodeAt(i) === close) {
      this.cursor = i + 1;
      this.depth--;
      return isMap ? map : items;
    }
    for (;;) {
      let key = '';
      if (isMap) {
        const k = this.key(i, end);
        if (k === OUTSIDE || Object.hasOwn(map, k)) return OUTSIDE;
        key = k;
        i = skipSpaces(text, this.cursor, end);
      }
      const item = this.flowValue(i, end);
      if (item === OUTSIDE) return OUTSIDE;
      if (isMap) map[key] = item;
      else items.push(item);
      i = skipSpaces(text, this.cursor, end);
      const sep = text.charCodeAt(i);
      if (sep === close) {
        this.cursor = i + 1;
        this.depth--;
        return isMap ? map : items;
      }
      if (sep !== COMMA) return OUTSIDE;
      i = skipSpaces(text, i + 1, end);
      if (i >= end || text.charCodeAt(i) === close || text.charCodeAt(i) === COMMA) return OUTSIDE;
    }
  }

  /** A value inside a flow collection: quoted, a flow collection, or plain up to `,` `]` `}`. Cursor after it. */
  private flowValue(at: number, end: number): Read {
    const text = this.text;
    const c = text.charCodeAt(at);
    if (c === DQUOTE) return this.doubleQuoted(at, end);
    if (c === SQUOTE) return this.singleQuoted(at, end);
    if (c === OPEN_BRACKET || c === OPEN_BRACE) return this.flowCollection(at, end);
    if (at >= end || isIndicator(c)) return OUTSIDE;
    // In a flow collection `-` starts a plain scalar only before a character that is neither a space nor `, [ ] { }`.
    if (c === DASH) {
      const d = text.charCodeAt(at + 1);
      if (at + 1 >= end || d === SPACE || isFlowIndicator(d)) return OUTSIDE;
    }
    let stop = at;
    while (stop < end) {
      const d = text.charCodeAt(stop);
      if (d === COMMA || d === CLOSE_BRACKET || d === CLOSE_BRACE) break;
      // Inside flow collections these would start another construct or end the scalar differently.
      if (d === OPEN_BRACKET || d === OPEN_BRACE || d === COLON || d === HASH || d === DQUOTE || d === SQUOTE) {
        return OUTSIDE;
      }
      stop++;
    }
    this.cursor = stop;
    return resolvePlain(text.slice(at, trimSpacesBefore(text, at, stop)));
  }

  /** A single-quoted scalar on one line. Cursor after the closing quote. */
  private singleQuoted(at: number, end: number): Read {
    const text = this.text;
    let out = '';
    let from = at + 1;
    for (;;) {
      const q = text.indexOf("'", from);
      if (q < 0 || q >= end) return OUTSIDE; // runs onto the next line
      out += text.slice(from, q);
      if (q + 1 < end && text.charCodeAt(q + 1) === SQUOTE) {
        out += "'";
        from = q + 2;
        continue;
      }
      this.cursor = q + 1;
      return out;
    }
  }

  /** A double-quoted scalar on one line with the common escapes. Cursor after the closing quote. */
  private doubleQuoted(at: number, end: number): Read {
    const text = this.text;
    let out = '';
    let from = at + 1;
    for (let i = from; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === DQUOTE) {
        this.cursor = i + 1;
        return out + text.slice(from, i);
      }
      if (c !== BACKSLASH) continue;
      out += text.slice(from, i);
      if (i + 1 >= end) return OUTSIDE;
      const e = text.charCodeAt(i + 1);
      if (e === BACKSLASH || e === DQUOTE || e === SLASH) out += text[i + 1];
      else if (e === 110) out += '\n';
      else if (e === 116) out += '\t';
      else if (e === 114) out += '\r';
      else if (e === 117) {
        const hex = text.slice(i + 2, i + 6);
        if (i + 6 > end || !/^[0-9a-fA-F]{4}$/.test(hex)) return OUTSIDE;
        const code = Number.parseInt(hex, 16);
        if (code >= 0xd800 && code <= 0xdfff) return OUTSIDE;
        out += String.fromCharCode(code);
        i += 4;
      } else return OUTSIDE;
      i++;
      from = i + 1;
    }
    return OUTSIDE; // runs onto the next line
  }
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl;
}

function skipSpaces(text: string, from: number, end: number): number {
  let i = from;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  return i;
}

/** Letters, digits and `_ . / -`: the characters of the plain keys the subset reads. */
function isKeyChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 46 ||
    c === 47 ||
    c === 45
  );
}

/** The offset of the `:` ending a plain key at `at` (`key:` then a space or the line's end), else -1. */
function plainKeyEnd(text: string, at: number, end: number): number {
  const first = text.charCodeAt(at);
  if (first === DASH || !isKeyChar(first)) return -1;
  let i = at + 1;
  while (i < end && isKeyChar(text.charCodeAt(i))) i++;
  if (i >= end || text.charCodeAt(i) !== COLON) return -1;
  return i + 1 === end || text.charCodeAt(i + 1) === SPACE ? i : -1;
}

/** Only spaces, or spaces then a comment, from `from` to the line's end. */
function restIsEmpty(text: string, from: number, end: number): boolean {
  const i = skipSpaces(text, from, end);
  return i === end || (i > from && text.charCodeAt(i) === HASH);
}

/** Characters that start something other than a plain scalar (or that YAML reserves). */
function isIndicator(c: number): boolean {
  // ? : , ] } # & * ! | > % @ `
  return (
    c === 63 ||
    c === 58 ||
    c === 44 ||
    c === 93 ||
    c === 125 ||
    c === 35 ||
    c === 38 ||
    c === 42 ||
    c === 33 ||
    c === 124 ||
    c === 62 ||
    c === 37 ||
    c === 64 ||
    c === 96
  );
}

function plain(text: string, at: number, end: number): Read {
  let stop = end;
  for (let i = at + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === HASH && text.charCodeAt(i - 1) === SPACE) {
      stop = i;
      break;
    }
    // `: ` or a final `:` would make a mapping here, which the full parser refuses on one line.
    if (c === COLON && (i + 1 === end || text.charCodeAt(i + 1) === SPACE)) return OUTSIDE;
  }
  return resolvePlain(text.slice(at, trimSpacesBefore(text, at, stop)));
}

/** `stop` moved back over the spaces before it, not past `at`. */
function trimSpacesBefore(text: string, at: number, stop: number): number {
  let i = stop;
  while (i > at && text.charCodeAt(i - 1) === SPACE) i--;
  return i;
}

/** `, [ ] { }`: inside a flow collection they end a plain scalar or start another collection. */
function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === OPEN_BRACKET || c === CLOSE_BRACKET || c === OPEN_BRACE || c === CLOSE_BRACE;
}

const nullPattern = /^(?:~|[Nn]ull|NULL)?$/;
const boolPattern = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const intPattern = /^[-+]?[0-9]+$/;
// The core schema's other numbers: octal, hexadecimal, infinity and NaN, and floats with and without exponent.
const otherNumberPattern =
  /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/;

const canResolve = new Uint8Array(128);
for (const ch of '0123456789+-.~nNtTfF') canResolve[ch.charCodeAt(0)] = 1;

/** A plain scalar as the YAML 1.2 core schema resolves it; numbers other than decimal integers are OUTSIDE. */
function resolvePlain(s: string): Read {
  const c = s.charCodeAt(0);
  // Only digits, `+ - . ~` and `n N t T f F` can start a null, a boolean or a number.
  if (c >= 128 || canResolve[c] === 0) return s;
  if (nullPattern.test(s)) return null;
  if (boolPattern.test(s)) return c === 116 || c === 84;
  if (intPattern.test(s)) return Number.parseInt(s, 10);
  if (otherNumberPattern.test(s)) return OUTSIDE;
  return s;
}
