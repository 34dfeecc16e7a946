/**
 * The HTTP/1.1 head parsers of the fast path (h1-connection.ts). They accept a deliberately narrow, strict subset of
 * RFC 9112 and never guess: a request head they do not fully understand is reported as SLOW and served by node's
 * own HTTP server (llhttp), which then decides — so the fast path can only ever accept what llhttp would read the
 * same way, and every refusal keeps the status and behaviour the slow path has always had.
 */

/** The client connection preface of HTTP/2 (RFC 9113 3.4): what a prior-knowledge h2c client sends first. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether `chunk` starts like the HTTP/2 preface: true (complete), false (not it), null (too short to say). */
export function prefaceState(chunk: Buffer): boolean | null {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (chunk[i] !== H2_PREFACE[i]) return false;
  return n === H2_PREFACE.length ? true : null;
}

/** The request head is not complete yet (and not over the size limit). */
export const INCOMPLETE = 0;
/** Not fast-path material: hand the connection to node's HTTP server from this request on. */
export const SLOW = 1;

/** RFC 9110 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Field value bytes accepted: VCHAR, SP, HTAB (no obs-text, no controls). */
const VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
VALUE[0x09] = 1;

/**
 * Response field values may also carry obs-text (0x80–0xFF), as node's HTTP client accepts: backends send raw UTF-8
 * in `Content-Disposition` file names, for instance. Requests with it go to node's parser instead.
 */
const RESPONSE_VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0xff; c++) RESPONSE_VALUE[c] = 1;
RESPONSE_VALUE[0x7f] = 0;
RESPONSE_VALUE[0x09] = 1;

/** origin-form request-target bytes: visible ASCII without `#` (a fragment never belongs in a request). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
TARGET[0x23] = 0;

/** The methods served on the fast path; anything else (CONNECT, WebDAV, unknown) goes to node's parser. */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

const CR = 13;
const LF = 10;
const VERSION_CRLF = Buffer.from('HTTP/1.1\r\n', 'latin1');
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** Where a field's name and value sit in the buffer, with what the parsers need from it. */
interface FieldScan {
  /** Offset just past the field line's CRLF, or -1 when the line is incomplete, -2 when it is malformed. */
  next: number;
  name: string;
  value: string;
}

const scan: FieldScan = { next: 0, name: '', value: '' };

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * The head as one string, from `start` through its blank line, when the buffer holds all of it: field names and
 * values are cut from it rather than each decoded from the buffer (one native call per head instead of two per
 * field). Null when the head is not complete yet; then each field is decoded by itself.
 */
function headText(buf: Buffer, start: number, limit: number): string | null {
  const end = buf.indexOf(HEAD_END, start);
  if (end < 0 || end + 4 > limit) return null;
  return buf.toString('latin1', start, end + 4);
}

/**
 * Scans one `name: value CRLF` line at `i` into `scan`. Strict: tchar name, no space before the colon, value of
 * VCHAR/SP/HTAB with optional whitespace trimmed, CRLF (a bare LF or CR is malformed); `end` bounds the scan.
 */
function scanField(buf: Buffer, i: number, end: number, values: Uint8Array, text: string | null, base: number): void {
  const start = i;
  while (i < end && TCHAR[buf[i] as number] === 1) i++;
  if (i === end) {
    scan.next = -1;
    return;
  }
  if (i === start || buf[i] !== COLON) {
    scan.next = -2;
    return;
  }
  const nameEnd = i;
  i++;
  while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
  const valueStart = i;
  let valueEnd = i;
  for (;;) {
    if (i === end) {
      scan.next = -1;
      return;
    }
    const c = buf[i] as number;
    if (c === CR) break;
    if (values[c] !== 1) {
      scan.next = -2;
      return;
    }
    i++;
    if (c !== SP && c !== HTAB) valueEnd = i;
  }
  if (i + 1 >= end) {
    scan.next = -1;
    return;
  }
  if (buf[i + 1] !== LF) {
    scan.next = -2;
    return;
  }
  if (text !== null && i + 2 - base <= text.length) {
    scan.name = text.slice(start - base, nameEnd - base);
    scan.value = text.slice(valueStart - base, valueEnd - base);
  } else {
    scan.name = buf.toString('latin1', start, nameEnd);
    scan.value = buf.toString('latin1', valueStart, valueEnd);
  }
  scan.next = i + 2;
}

/** Whether `name` equals the lower-case `lower`, ignoring ASCII case (lengths are compared first). */
function isName(name: string, lower: string): boolean {
  return name.length === lower.length && (name === lower || name.toLowerCase() === lower);
}

/** A decimal Content-Length of at most 15 digits, or -1 when it is anything else. */
function decimalLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Looks for `token` in a comma-separated `Connection` value, ignoring case and whitespace. */
export function hasToken(value: string, token: string): boolean {
  const v = value.length === token.length ? value : '';
  if (v !== '' && (v === token || v.toLowerCase() === token)) return true;
  if (value.indexOf(',') < 0) return value.trim().toLowerCase() === token;
  const parts = value.split(',');
  for (let i = 0; i < parts.length; i++) if ((parts[i] as string).trim().toLowerCase() === token) return true;
  return false;
}

/** A request head the fast path serves. */
export class ParsedRequest {
  readonly method: string;
  readonly target: string;
  /** Flat [name, value, ...] as received (names in their case, values without surrounding whitespace). */
  readonly rawHeaders: string[];
  /** Offset just past the head's final CRLF. */
  readonly headEnd: number;
  /** 0 when the request has no Content-Length. */
  readonly contentLength: number;
  readonly host: string;
  readonly requestId: string | undefined;
  readonly te: string | undefined;
  /** `Connection: close` was asked for. */
  readonly close: boolean;
  /** The head carried a Content-Length (`contentLength` is 0 either way when it is 0 or absent). */
  readonly hasContentLength: boolean;

  constructor(
    method: string,
    target: string,
    rawHeaders: string[],
    headEnd: number,
    contentLength: number,
    host: string,
    requestId: string | undefined,
    te: string | undefined,
    close: boolean,
    hasContentLength: boolean,
  ) {
    this.hasContentLength = hasContentLength;
    this.method = method;
    this.target = target;
    this.rawHeaders = rawHeaders;
    this.headEnd = headEnd;
    this.contentLength = contentLength;
    this.host = host;
    this.requestId = requestId;
    this.te = te;
    this.close = close;
  }
}

/**
 * Parses the request head starting at `start`. Returns INCOMPLETE (wait for more bytes), SLOW (hand over to node's
 * parser, which answers or serves it), or the head. SLOW covers everything outside the narrow subset: HTTP/1.0 and
 * other versions, other methods, absolute-form and asterisk-form targets, Transfer-Encoding, Upgrade, Expect, a
 * `Connection: upgrade`, duplicate or non-decimal Content-Length, a missing or repeated Host, obs-fold, obs-text,
 * bare LF, heads over `maxHeaderSize` bytes or `maxHeaderCount` fields, and anything malformed.
 */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  maxHeaderSize: number,
  maxHeaderCount: number,
): ParsedRequest | typeof INCOMPLETE | typeof SLOW {
  const limit = Math.min(buf.length, start + maxHeaderSize);
  const incomplete = buf.length - start >= maxHeaderSize ? SLOW : INCOMPLETE;
  const text = headText(buf, start, limit);
  let i = start;
  while (i < limit && buf[i] !== SP) {
    const c = buf[i] as number;
    if (c < 0x41 || c > 0x5a) return SLOW;
    i++;
  }
  if (i === limit) return incomplete;
  const method = text !== null ? text.slice(0, i - start) : buf.toString('latin1', start, i);
  if (!METHODS.has(method)) return SLOW;
  i++;
  const targetStart = i;
  if (i < limit && buf[i] !== 0x2f) return SLOW;
  while (i < limit && TARGET[buf[i] as number] === 1) i++;
  if (i === limit) return incomplete;
  if (buf[i] !== SP) return SLOW;
  const target = text !== null ? text.slice(targetStart - start, i - start) : buf.toString('latin1', targetStart, i);
  i++;
  // "HTTP/1.1" CRLF, compared as far as it has come so that anything else is refused at once.
  const versionEnd = Math.min(limit, i + 10);
  for (let k = 0; i + k < versionEnd; k++) if (buf[i + k] !== VERSION_CRLF[k]) return SLOW;
  if (versionEnd - i < 10) return incomplete;
  i += 10;
  const rawHeaders: string[] = [];
  let contentLength = -1;
  let host: string | undefined;
  let requestId: string | undefined;
  let te: string | undefined;
  let close = false;
  for (;;) {
    if (i >= limit || (i + 1 >= limit && buf[i] === CR)) return incomplete;
    if (buf[i] === CR) {
      if (buf[i + 1] !== LF) return SLOW;
      i += 2;
      break;
    }
    if (rawHeaders.length >= maxHeaderCount * 2) return SLOW;
    scanField(buf, i, limit, VALUE, text, start);
    if (scan.next === -1) return incomplete;
    if (scan.next === -2) return SLOW;
    i = scan.next;
    const name = scan.name;
    const value = scan.value;
    switch (name.length) {
      case 2:
        if (isName(name, 'te')) te = te === undefined ? value : `${te}, ${value}`;
        break;
      case 4:
        if (isName(name, 'host')) {
          if (host !== undefined) return SLOW;
          host = value;
        }
        break;
      case 6:
        if (isName(name, 'expect')) return SLOW;
        break;
      case 7:
        if (isName(name, 'upgrade')) return SLOW;
        break;
      case 10:
        if (isName(name, 'connection')) {
          if (hasToken(value, 'upgrade')) return SLOW;
          if (hasToken(value, 'close')) close = true;
        }
        break;
      case 12:
        if (isName(name, 'x-request-id') && requestId === undefined) requestId = value;
        break;
      case 14:
        if (isName(name, 'content-length')) {
          if (contentLength !== -1) return SLOW;
          contentLength = decimalLength(value);
          if (contentLength < 0) return SLOW;
        }
        break;
      case 17:
        if (isName(name, 'transfer-encoding')) return SLOW;
        break;
    }
    rawHeaders.push(name, value);
  }
  if (host === undefined) return SLOW;
  const length = Math.max(contentLength, 0);
  return new ParsedRequest(method, target, rawHeaders, i, length, host, requestId, te, close, contentLength >= 0);
}

/** An upstream response head, or why it cannot be used. */
export class ParsedResponse {
  readonly status: number;
  /** HTTP/1.x minor version of the status line. */
  readonly minor: number;
  /** Flat [name, value, ...] as received. */
  readonly rawHeaders: string[];
  readonly headEnd: number;
  /** -1 when there is none. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The upstream asked to close the connection (or spoke HTTP/1.0 without keep-alive). */
  readonly close: boolean;

  constructor(
    status: number,
    minor: number,
    rawHeaders: string[],
    headEnd: number,
    contentLength: number,
    chunked: boolean,
    close: boolean,
  ) {
    this.status = status;
    this.minor = minor;
    this.rawHeaders = rawHeaders;
    this.headEnd = headEnd;
    this.contentLength = contentLength;
    this.chunked = chunked;
    this.close = close;
  }
}

/** Why an upstream response head was refused (the exchange answers 502). */
export class InvalidResponse {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * Parses an upstream response head at `start`: `HTTP/1.1` or `HTTP/1.0`, a three-digit status, any reason phrase,
 * strict fields as for requests. Framing per RFC 9112 6.3: Transfer-Encoding must be exactly `chunked` (with
 * Content-Length too, or any other coding, it is refused as a smuggling risk); repeated Content-Length values must
 * agree.
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  maxHeaderSize: number,
): ParsedResponse | InvalidResponse | typeof INCOMPLETE {
  const limit = Math.min(buf.length, start + maxHeaderSize);
  const tooBig = buf.length - start >= maxHeaderSize;
  if (limit - start < 14) return tooBig ? new InvalidResponse('response head too large') : INCOMPLETE;
  const text = headText(buf, start, limit);
  let i = start;
  if (
    buf[i] !== 0x48 ||
    buf[i + 1] !== 0x54 ||
    buf[i + 2] !== 0x54 ||
    buf[i + 3] !== 0x50 ||
    buf[i + 4] !== 0x2f ||
    buf[i + 5] !== 0x31 ||
    buf[i + 6] !== 0x2e ||
    (buf[i + 7] !== 0x31 && buf[i + 7] !== 0x30) ||
    buf[i + 8] !== SP
  ) {
    return new InvalidResponse('invalid status line');
  }
  const minor = (buf[i + 7] as number) - 0x30;
  const d0 = (buf[i + 9] as number) - 48;
  const d1 = (buf[i + 10] as number) - 48;
  const d2 = (buf[i + 11] as number) - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return new InvalidResponse('invalid status code');
  const status = d0 * 100 + d1 * 10 + d2;
  i += 12;
  if (buf[i] === SP) {
    i++;
    while (i < limit && buf[i] !== CR) {
      const c = buf[i] as number;
      if (VALUE[c] !== 1 && c < 0x80) return new InvalidResponse('invalid reason phrase');
      i++;
    }
  }
  if (i + 1 >= limit) return tooBig ? new InvalidResponse('response head too large') : INCOMPLETE;
  if (buf[i] !== CR || buf[i + 1] !== LF) return new InvalidResponse('invalid status line');
  i += 2;
  const rawHeaders: string[] = [];
  let contentLength = -1;
  let chunked = false;
  let transferEncoding = false;
  let closeAsked = false;
  let keepAliveAsked = false;
  for (;;) {
    if (i >= limit || (i + 1 >= limit && buf[i] === CR))
      return tooBig ? new InvalidResponse('response head too large') : INCOMPLETE;
    if (buf[i] === CR) {
      if (buf[i + 1] !== LF) return new InvalidResponse('invalid header line');
      i += 2;
      break;
    }
    scanField(buf, i, limit, RESPONSE_VALUE, text, start);
    if (scan.next === -1) return tooBig ? new InvalidResponse('response head too large') : INCOMPLETE;
    if (scan.next === -2) return new InvalidResponse('invalid header line');
    i = scan.next;
    const name = scan.name;
    const value = scan.value;
    if (name.length === 14 && isName(name, 'content-length')) {
      const n = decimalLength(value);
      if (n < 0 || (contentLength !== -1 && contentLength !== n)) {
        return new InvalidResponse('invalid content-length');
      }
      contentLength = n;
    } else if (name.length === 17 && isName(name, 'transfer-encoding')) {
      if (transferEncoding || value.toLowerCase() !== 'chunked') {
        return new InvalidResponse('unsupported transfer-encoding');
      }
      transferEncoding = true;
      chunked = true;
    } else if (name.length === 10 && isName(name, 'connection')) {
      if (hasToken(value, 'close')) closeAsked = true;
      else if (hasToken(value, 'keep-alive')) keepAliveAsked = true;
    }
    rawHeaders.push(name, value);
  }
  if (chunked && contentLength !== -1) return new InvalidResponse('both content-length and transfer-encoding');
  // HTTP/1.0 stays open only when asked to, and any `close` wins.
  const close = closeAsked || (minor === 0 && !keepAliveAsked);
  return new ParsedResponse(status, minor, rawHeaders, i, contentLength, chunked, close);
}
