/**
 * Reads the server name (SNI) from a TLS ClientHello without terminating TLS, for passthrough routing. The
 * handshake message may span several TLS records; it is reassembled up to MAX_CLIENT_HELLO bytes.
 */

/** A ClientHello larger than this is refused (post-quantum key shares make them ~2 KiB; 16 KiB is one record). */
export const MAX_CLIENT_HELLO = 16 * 1024 + 5;

export type ClientHelloParse =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `serverName` null: the ClientHello carries no SNI. */
  | { readonly kind: 'ok'; readonly serverName: string | null };

const INCOMPLETE: ClientHelloParse = { kind: 'incomplete' };
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const SERVER_NAME_EXTENSION = 0;
const HOST_NAME = 0;

function invalid(reason: string): ClientHelloParse {
  return { kind: 'invalid', reason };
}

/** The handshake bytes carried by the complete TLS records at the start of `buf`, and whether more may follow. */
function handshakeBytes(buf: Buffer): { readonly data: Buffer; readonly error: string | null } {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= buf.length) {
    if (buf[offset] !== HANDSHAKE) return { data: Buffer.alloc(0), error: 'not a TLS handshake record' };
    if (buf[offset + 1] !== 3) return { data: Buffer.alloc(0), error: 'not a TLS record version' };
    const len = buf.readUInt16BE(offset + 3);
    if (len === 0 || len > 16384) return { data: Buffer.alloc(0), error: 'bad TLS record length' };
    if (offset + 5 + len > buf.length) break;
    parts.push(buf.subarray(offset + 5, offset + 5 + len));
    offset += 5 + len;
  }
  return { data: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), error: null };
}

export function parseClientHello(buf: Buffer): ClientHelloParse {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== HANDSHAKE) return invalid('not a TLS handshake');
  if (buf.length > MAX_CLIENT_HELLO * 2) return invalid('ClientHello too large');
  const { data, error } = handshakeBytes(buf);
  if (error !== null) return invalid(error);
  if (data.length < 4) return INCOMPLETE;
  if (data[0] !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
  const bodyLength = data.readUIntBE(1, 3);
  if (bodyLength > MAX_CLIENT_HELLO) return invalid('ClientHello too large');
  if (data.length < 4 + bodyLength) return INCOMPLETE;
  const body = data.subarray(4, 4 + bodyLength);
  // client_version (2) + random (32)
  let p = 34;
  if (p + 1 > body.length) return invalid('truncated ClientHello');
  p += 1 + (body[p] as number); // session_id
  if (p + 2 > body.length) return invalid('truncated ClientHello');
  p += 2 + body.readUInt16BE(p); // cipher_suites
  if (p + 1 > body.length) return invalid('truncated ClientHello');
  p += 1 + (body[p] as number); // compression_methods
  if (p > body.length) return invalid('truncated ClientHello');
  if (p === body.length) return { kind: 'ok', serverName: null }; // no extensions
  if (p + 2 > body.length) return invalid('truncated extensions');
  const end = p + 2 + body.readUInt16BE(p);
  if (end > body.length) return invalid('truncated extensions');
  p += 2;
  while (p + 4 <= end) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return invalid('truncated extension');
    if (type === SERVER_NAME_EXTENSION) return serverNameOf(body.subarray(p, p + len));
    p += len;
  }
  if (p !== end) return invalid('malformed extensions');
  return { kind: 'ok', serverName: null };
}

function serverNameOf(ext: Buffer): ClientHelloParse {
  if (ext.length < 2) return invalid('malformed server_name extension');
  const listEnd = 2 + ext.readUInt16BE(0);
  if (listEnd > ext.length) return invalid('malformed server_name extension');
  let p = 2;
  while (p + 3 <= listEnd) {
    const type = ext[p] as number;
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + len > listEnd) return invalid('malformed server_name extension');
    if (type === HOST_NAME) {
      const name = ext.toString('latin1', p, p + len);
      // RFC 6066: a DNS host name, ASCII, no trailing dot; anything else cannot be routed on.
      if (len === 0 || len > 253 || !/^[A-Za-z0-9._-]+$/.test(name)) return invalid('invalid SNI host name');
      return { kind: 'ok', serverName: name.toLowerCase() };
    }
    p += len;
  }
  return { kind: 'ok', serverName: null };
}
