// PROXY protocol v1 (text) and v2 (binary), as HAProxy's doc/proxy-protocol.txt specifies them: a load balancer
// in front of gatehouse prefixes each TCP connection with the addresses of the connection it relays, so the
// client address survives a layer 4 hop. The spec leaves little room, and the room it leaves is closed here:
//
// - A listener configured for PROXY protocol takes it on every connection and never guesses whether a header is
//   there (spec section 2: guessing lets anyone spoof their address). v1 and v2 are both accepted, told apart by
//   their first byte.
// - v1: exactly `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n`, single spaces, addresses of the stated family
//   (IPv4 dotted quads without leading zeros, IPv6 as inet_pton reads it but without a zone), ports 0-65535
//   without leading zeros, at most 107 bytes with the CRLF; a lone CR or LF ends nothing and is invalid.
//   `PROXY UNKNOWN` (optionally followed by anything printable, which the spec says to ignore) carries no
//   addresses: the connection's own endpoints stand.
// - v2: the 12-byte signature, version 2, command LOCAL or PROXY, and one of the family/transport bytes the spec
//   lists. PROXY with TCP over IPv4/IPv6 carries addresses; PROXY with the other listed combinations (UNSPEC,
//   UDP, UNIX) falls back to the connection's own endpoints, as the spec asks of receivers that do not implement
//   them; LOCAL (health checks from the balancer itself) ignores the whole block. Unknown commands, versions or
//   family bytes are invalid. The address block must fit in the announced length; the TLVs after it must tile
//   the rest exactly, and a CRC32C TLV, when present, must match (the spec makes checking it a MUST for receivers
//   that support it). The whole v2 header is capped at MAX_V2_HEADER bytes (the wire format allows 64 KiB; what
//   balancers send — addresses plus a few TLVs such as AWS's VPC endpoint id or a TLS summary — is far smaller),
//   so a peer cannot make gatehouse buffer more than that before the first request byte.
// - Addresses are returned the way node reports `socket.remoteAddress`: IPv6 compressed and lower-case, an
//   IPv4-mapped IPv6 source as `::ffff:a.b.c.d` (callers unmap it with `plainAddress`, as for socket addresses).

import { isIPv4, isIPv6, type Socket, SocketAddress } from 'node:net';

export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly kind: 'ok';
  /** Header bytes to drop from the front of the stream. */
  readonly length: number;
  readonly version: 1 | 2;
  /** LOCAL: the balancer's own connection (health check): use the socket's endpoints. */
  readonly command: 'PROXY' | 'LOCAL';
  /** The relayed connection's client; absent for LOCAL, v1 UNKNOWN and v2 families other than TCP over IP. */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
}

export interface ProxyInvalid {
  readonly kind: 'invalid';
  readonly reason: string;
}

export interface ProxyIncomplete {
  readonly kind: 'incomplete';
}

export interface ProxyTimeout {
  readonly kind: 'timeout';
}

export type ProxyParse = ProxyHeader | ProxyInvalid | ProxyIncomplete;
export type ProxyReadResult = ProxyHeader | ProxyInvalid | ProxyTimeout;

/** Longest v1 line, CRLF included (spec 2.1: `PROXY UNKNOWN` with two full IPv6 addresses and ports). */
export const MAX_V1_HEADER = 107;
/** Largest v2 header gatehouse accepts (16-byte fixed part + addresses + TLVs); see the comment at the top. */
export const MAX_V2_HEADER = 4096;
/** The spec asks receivers that time out to allow at least 3 s, enough for a TCP retransmit. */
export const DEFAULT_PROXY_HEADER_TIMEOUT_MS = 5000;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
const CR = 0x0d;
const LF = 0x0a;

const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const FAM_UNSPEC = 0x00;
const FAM_TCP4 = 0x11;
const FAM_UDP4 = 0x12;
const FAM_TCP6 = 0x21;
const FAM_UDP6 = 0x22;
const FAM_UNIX_STREAM = 0x31;
const FAM_UNIX_DGRAM = 0x32;
const TLV_CRC32C = 0x03;

const INCOMPLETE: ProxyIncomplete = { kind: 'incomplete' };

function invalid(reason: string): ProxyInvalid {
  return { kind: 'invalid', reason };
}

function header(
  length: number,
  version: 1 | 2,
  command: 'PROXY' | 'LOCAL',
  source: ProxyAddress | null,
  destination: ProxyAddress | null,
): ProxyHeader {
  if (source === null || destination === null) return { kind: 'ok', length, version, command };
  return { kind: 'ok', length, version, command, source, destination };
}

/** Whether the first `n` bytes of `buf` equal those of `expected` (n ≤ both lengths). */
function samePrefix(buf: Buffer, expected: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[i] !== expected[i]) return false;
  return true;
}

/**
 * Parses a PROXY protocol header at the start of `buf`. `incomplete` means more bytes are needed (and that the
 * bytes so far can still begin a valid header); `invalid` is final: the connection must be closed.
 */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  return invalid('not a PROXY protocol header');
}

function parseV1(buf: Buffer): ProxyParse {
  const prefix = Math.min(buf.length, V1_PREFIX.length);
  if (!samePrefix(buf, V1_PREFIX, prefix)) return invalid('not a PROXY protocol header');
  const limit = Math.min(buf.length, MAX_V1_HEADER);
  let cr = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = buf[i] as number;
    if (c === CR) {
      cr = i;
      break;
    }
    // Only printable ASCII belongs on the line; anything else (a lone LF included) is decided at once.
    if (c < 0x20 || c > 0x7e) return invalid('v1 header has a byte that is not printable ASCII');
  }
  if (cr < 0) return buf.length >= MAX_V1_HEADER ? invalid('v1 header has no CRLF within 107 bytes') : INCOMPLETE;
  if (cr + 1 >= MAX_V1_HEADER) return invalid('v1 header has no CRLF within 107 bytes');
  if (cr + 1 >= buf.length) return INCOMPLETE;
  if (buf[cr + 1] !== LF) return invalid('v1 header has a CR without LF');
  const length = cr + 2;
  const line = buf.toString('latin1', V1_PREFIX.length, cr);
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return header(length, 1, 'PROXY', null, null);
  const parts = line.split(' ');
  if (parts.length !== 5) return invalid('v1 header does not have exactly five space-separated fields');
  const [proto, src, dst, sport, dport] = parts as [string, string, string, string, string];
  let source: string | null;
  let destination: string | null;
  if (proto === 'TCP4') {
    source = isIPv4(src) ? src : null;
    destination = isIPv4(dst) ? dst : null;
  } else if (proto === 'TCP6') {
    source = canonicalIPv6(src);
    destination = canonicalIPv6(dst);
  } else {
    return invalid('v1 header names a protocol other than TCP4, TCP6 or UNKNOWN');
  }
  if (source === null || destination === null) return invalid(`v1 header has an address that is not ${proto}`);
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp < 0 || dp < 0) return invalid('v1 header has an invalid port');
  return header(length, 1, 'PROXY', { address: source, port: sp }, { address: destination, port: dp });
}

/** A decimal port 0-65535 without leading zeros, or -1. */
function v1Port(text: string): number {
  if (text.length === 0 || text.length > 5) return -1;
  if (text.length > 1 && text.charCodeAt(0) === 48) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= 65535 ? n : -1;
}

/** node's textual form of an IPv6 literal (as `remoteAddress` shows it), or null; zones are refused. */
function canonicalIPv6(text: string): string | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  return new SocketAddress({ address: text, family: 'ipv6' }).address;
}

function parseV2(buf: Buffer): ProxyParse {
  const prefix = Math.min(buf.length, V2_SIGNATURE.length);
  if (!samePrefix(buf, V2_SIGNATURE, prefix)) return invalid('not a PROXY protocol header');
  if (buf.length <= V2_SIGNATURE.length) return INCOMPLETE;
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return invalid('v2 header has a version other than 2');
  const command = verCmd & 0x0f;
  if (command !== CMD_LOCAL && command !== CMD_PROXY) return invalid('v2 header has an unknown command');
  if (buf.length < 14) return INCOMPLETE;
  const fam = buf[13] as number;
  const addressBytes = v2AddressBytes(fam);
  if (addressBytes < 0) return invalid('v2 header has an unknown address family or transport');
  if (buf.length < V2_FIXED) return INCOMPLETE;
  const total = V2_FIXED + buf.readUInt16BE(14);
  if (total > MAX_V2_HEADER) return invalid(`v2 header is longer than ${MAX_V2_HEADER} bytes`);
  if (buf.length < total) return INCOMPLETE;
  // LOCAL: "discard the protocol block including the family" (spec 2.2); only the length matters.
  if (command === CMD_LOCAL) return header(total, 2, 'LOCAL', null, null);
  if (fam === FAM_UNSPEC) return header(total, 2, 'PROXY', null, null);
  if (total - V2_FIXED < addressBytes) return invalid('v2 header is too short for its address family');
  const problem = checkTlvs(buf, V2_FIXED + addressBytes, total);
  if (problem !== null) return invalid(problem);
  if (fam === FAM_TCP4) {
    return header(
      total,
      2,
      'PROXY',
      { address: ipv4Text(buf, 16), port: buf.readUInt16BE(24) },
      { address: ipv4Text(buf, 20), port: buf.readUInt16BE(26) },
    );
  }
  if (fam === FAM_TCP6) {
    return header(
      total,
      2,
      'PROXY',
      { address: ipv6Text(buf, 16), port: buf.readUInt16BE(48) },
      { address: ipv6Text(buf, 32), port: buf.readUInt16BE(50) },
    );
  }
  // UDP and UNIX sockets are valid combinations gatehouse does not relay: the spec asks receivers to fall back
  // to UNSPEC for them, i.e. to use the connection's own endpoints.
  return header(total, 2, 'PROXY', null, null);
}

/** Size of the address block for a v2 family/transport byte; 0 for UNSPEC; -1 for a value the spec does not list. */
function v2AddressBytes(fam: number): number {
  switch (fam) {
    case FAM_UNSPEC:
      return 0;
    case FAM_TCP4:
    case FAM_UDP4:
      return 12;
    case FAM_TCP6:
    case FAM_UDP6:
      return 36;
    case FAM_UNIX_STREAM:
    case FAM_UNIX_DGRAM:
      return 216;
    default:
      return -1;
  }
}

/** The TLVs in buf[start, end) must tile it exactly; a CRC32C TLV must be 4 bytes and match. Null when fine. */
function checkTlvs(buf: Buffer, start: number, end: number): string | null {
  let at = start;
  while (at < end) {
    if (at + 3 > end) return 'v2 header has a truncated TLV';
    const type = buf[at] as number;
    const len = buf.readUInt16BE(at + 1);
    const next = at + 3 + len;
    if (next > end) return 'v2 header has a TLV longer than the header';
    if (type === TLV_CRC32C) {
      if (len !== 4) return 'v2 header has a CRC32C TLV that is not 4 bytes';
      if (!crcMatches(buf, end, at + 3)) return 'v2 header fails its CRC32C check';
    }
    at = next;
  }
  return null;
}

function ipv4Text(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function ipv6Text(buf: Buffer, at: number): string {
  let text = buf.readUInt16BE(at).toString(16);
  for (let i = 2; i < 16; i += 2) text += `:${buf.readUInt16BE(at + i).toString(16)}`;
  return new SocketAddress({ address: text, family: 'ipv6' }).address;
}

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 appendix B computes it.
const CRC32C_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC32C_TABLE[n] = c >>> 0;
}

/** CRC32C of `buf[0, end)`, reading the 4 bytes at `zeroAt` as zeros (where the checksum itself sits). */
export function crc32c(buf: Uint8Array, end: number, zeroAt = -1): number {
  let crc = 0xffffffff;
  for (let i = 0; i < end; i++) {
    const byte = zeroAt >= 0 && i >= zeroAt && i < zeroAt + 4 ? 0 : (buf[i] as number);
    crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crcMatches(buf: Buffer, end: number, valueAt: number): boolean {
  return crc32c(buf, end, valueAt) === buf.readUInt32BE(valueAt);
}

// --- Reading the header off an accepted socket -------------------------------------------------------------

const kRead = Symbol('gatehouse.proxyHeader');
interface Tagged {
  [kRead]?: HeaderRead;
}

/** One socket's header read. Node callbacks find it through a symbol, so no closure is made per connection. */
class HeaderRead {
  readonly socket: Socket;
  readonly done: (result: ProxyReadResult) => void;
  buffered: Buffer | null;
  timer: NodeJS.Timeout | null;

  constructor(socket: Socket, done: (result: ProxyReadResult) => void) {
    this.socket = socket;
    this.done = done;
    this.buffered = null;
    this.timer = null;
  }
}

/**
 * Reads the PROXY protocol header off a freshly accepted socket and calls `done` once: with the header, with
 * `invalid` (malformed, or the connection ended or failed first), or with `timeout` when `timeoutMs` passed
 * without a complete header (a deadline for the whole header, not an idle timer, so a byte-at-a-time sender
 * gets no longer). At most MAX_V2_HEADER bytes plus one read are ever buffered.
 *
 * On `ok` the socket is left paused, its listeners from here removed, and the bytes that followed the header
 * put back with `unshift`: hand it on (an HTTP/2 session or TLS socket reads the buffered bytes itself; node's
 * HTTP/1 server needs `socket.resume()` after `server.emit('connection', socket)`).
 * On `invalid` and `timeout` the socket is destroyed right after `done` returns (no bytes are answered: the
 * spec says to drop the connection); `done` may still read its addresses for a log line.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, done: (result: ProxyReadResult) => void): void {
  const read = new HeaderRead(socket, done);
  (socket as Tagged)[kRead] = read;
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onEnd);
  read.timer = setTimeout(onTimeout, timeoutMs, read);
  // A server with `pauseOnConnect` hands over a paused socket; adding a 'data' listener would not start it.
  socket.resume();
}

function onData(this: Socket, chunk: Buffer): void {
  const read = (this as Tagged)[kRead];
  if (read === undefined) return;
  const buf = read.buffered === null ? chunk : Buffer.concat([read.buffered, chunk]);
  const result = parseProxyHeader(buf);
  if (result.kind === 'incomplete') {
    read.buffered = buf;
    return;
  }
  if (result.kind === 'invalid') {
    fail(read, result);
    return;
  }
  const socket = read.socket;
  // Pause before detaching: a flowing stream without 'data' listeners would drop what it reads next.
  socket.pause();
  detach(read);
  socket.removeListener('error', onError);
  if (buf.length > result.length) socket.unshift(buf.subarray(result.length));
  read.done(result);
}

function onEnd(this: Socket): void {
  const read = (this as Tagged)[kRead];
  if (read !== undefined) fail(read, invalid('connection closed before a complete PROXY header'));
}

function onError(this: Socket, err: Error): void {
  const read = (this as Tagged)[kRead];
  if (read !== undefined) fail(read, invalid(`connection failed before a complete PROXY header: ${err.message}`));
}

function onTimeout(read: HeaderRead): void {
  read.timer = null;
  if ((read.socket as Tagged)[kRead] === read) fail(read, { kind: 'timeout' });
}

function detach(read: HeaderRead): void {
  const socket = read.socket;
  if (read.timer !== null) clearTimeout(read.timer);
  read.timer = null;
  read.buffered = null;
  delete (socket as Tagged)[kRead];
  socket.removeListener('data', onData);
  socket.removeListener('end', onEnd);
  socket.removeListener('close', onEnd);
}

/** The 'error' listener stays on: a destroyed socket may still report the error that preceded it. */
function fail(read: HeaderRead, result: ProxyInvalid | ProxyTimeout): void {
  detach(read);
  try {
    read.done(result);
  } finally {
    read.socket.destroy();
  }
}

// --- Sending a header to a backend ---------------------------------------------------------------------------

/** An address to send: IPv4-mapped IPv6 is unmapped, a zone dropped; family 0 when it is no IP address. */
class SendAddress {
  readonly text: string;
  readonly family: 0 | 4 | 6;
  readonly port: number;

  constructor(a: ProxyAddress) {
    let text = a.address;
    const zone = text.indexOf('%');
    if (zone >= 0) text = text.slice(0, zone);
    if (text.startsWith('::ffff:') && isIPv4(text.slice(7))) text = text.slice(7);
    const portOk = Number.isInteger(a.port) && a.port >= 0 && a.port <= 65535;
    this.text = text;
    this.family = !portOk ? 0 : isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
    this.port = a.port;
  }
}

/**
 * A v1 line for a backend. Both IPv4: TCP4. Otherwise TCP6, an IPv4 side written IPv4-mapped (as HAProxy does,
 * so a client's address survives a dual-stack hop), IPv6 written as hex groups only (the spec's wording; some
 * receivers do not take a dotted tail). Either side not an IP address and port: `PROXY UNKNOWN`, which the
 * spec reserves for when the line cannot be filled in correctly.
 */
export function encodeProxyV1(src: ProxyAddress, dst: ProxyAddress): Buffer {
  const s = new SendAddress(src);
  const d = new SendAddress(dst);
  if (s.family === 0 || d.family === 0) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  if (s.family === 4 && d.family === 4) {
    return Buffer.from(`PROXY TCP4 ${s.text} ${d.text} ${s.port} ${d.port}\r\n`, 'latin1');
  }
  const b = Buffer.allocUnsafe(32);
  ipv6Bytes(s, b, 0);
  ipv6Bytes(d, b, 16);
  return Buffer.from(`PROXY TCP6 ${ipv6Hex(b, 0)} ${ipv6Hex(b, 16)} ${s.port} ${d.port}\r\n`, 'latin1');
}

/**
 * A v2 header for a backend: PROXY with TCP over IPv4 when both sides are IPv4, TCP over IPv6 otherwise (IPv4
 * mapped, as for v1). Either side not an IP address and port: LOCAL with AF_UNSPEC and no address block, as
 * HAProxy sends — the receiver then uses the connection's endpoints, which the spec makes it accept
 * unconditionally, whereas PROXY with AF_UNSPEC may be refused. No TLVs.
 */
export function encodeProxyV2(src: ProxyAddress, dst: ProxyAddress): Buffer {
  const s = new SendAddress(src);
  const d = new SendAddress(dst);
  if (s.family === 0 || d.family === 0) {
    const out = Buffer.alloc(V2_FIXED);
    V2_SIGNATURE.copy(out, 0);
    out[12] = 0x20 | CMD_LOCAL;
    out[13] = FAM_UNSPEC;
    return out;
  }
  const v4 = s.family === 4 && d.family === 4;
  const addressBytes = v4 ? 12 : 36;
  const out = Buffer.alloc(V2_FIXED + addressBytes);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x20 | CMD_PROXY;
  out[13] = v4 ? FAM_TCP4 : FAM_TCP6;
  out.writeUInt16BE(addressBytes, 14);
  if (v4) {
    ipv4Bytes(s.text, out, 16);
    ipv4Bytes(d.text, out, 20);
    out.writeUInt16BE(s.port, 24);
    out.writeUInt16BE(d.port, 26);
  } else {
    ipv6Bytes(s, out, 16);
    ipv6Bytes(d, out, 32);
    out.writeUInt16BE(s.port, 48);
    out.writeUInt16BE(d.port, 50);
  }
  return out;
}

/** Writes a dotted quad (already validated) as 4 bytes. */
function ipv4Bytes(text: string, out: Buffer, at: number): void {
  let n = 0;
  let i = at;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 46) {
      out[i++] = n;
      n = 0;
    } else {
      n = n * 10 + (c - 48);
    }
  }
  out[i] = n;
}

/** Writes an address (already validated, IPv4 or IPv6 without zone) as 16 bytes, IPv4 as `::ffff:a.b.c.d`. */
function ipv6Bytes(a: SendAddress, out: Buffer, at: number): void {
  out.fill(0, at, at + 16);
  if (a.family === 4) {
    out[at + 10] = 0xff;
    out[at + 11] = 0xff;
    ipv4Bytes(a.text, out, at + 12);
    return;
  }
  const text = a.text;
  const gap = text.indexOf('::');
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  // Groups before the gap fill from the front, groups after it from the back.
  writeGroups(head, out, at, true, at + 16);
  if (gap >= 0) writeGroups(tail, out, at, false, at + 16);
}

/** Writes colon-separated hex groups (the last may be a dotted quad) from the front or ending at `end`. */
function writeGroups(part: string, out: Buffer, at: number, fromFront: boolean, end: number): void {
  if (part === '') return;
  const groups = part.split(':');
  const last = groups[groups.length - 1] as string;
  const dotted = last.includes('.');
  const bytes = (groups.length - (dotted ? 1 : 0)) * 2 + (dotted ? 4 : 0);
  let i = fromFront ? at : end - bytes;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g] as string;
    if (dotted && g === groups.length - 1) {
      ipv4Bytes(group, out, i);
      i += 4;
    } else {
      out.writeUInt16BE(Number.parseInt(group, 16), i);
      i += 2;
    }
  }
}

/** 16 bytes as RFC 5952 text without a dotted tail: lower-case hex, longest run (≥ 2) of zero groups as `::`. */
function ipv6Hex(b: Buffer, at: number): string {
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && b.readUInt16BE(at + g * 2) === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  if (bestLen < 2) bestStart = -1;
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += '::';
      g += bestLen - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += b.readUInt16BE(at + g * 2).toString(16);
  }
  return text;
}
