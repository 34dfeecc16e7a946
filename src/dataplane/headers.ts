import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 7.6.1, plus the legacy ones proxies still see) never cross the proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Forwarding headers gatehouse sets itself. From an untrusted peer they are dropped and replaced; from a trusted
 * one X-Forwarded-For and Forwarded are extended and the X-Forwarded-* others kept; X-Real-IP is always replaced.
 */
const REPLACED_FROM_UNTRUSTED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'forwarded',
]);
/**
 * `expect` was already answered by the server; `l5d-dst-override` from a client would turn a Linkerd proxy in
 * ingress mode into an open relay, so it never passes; `X-Original-URL` / `X-Rewrite-URL` let some frameworks
 * re-route a request after the proxy chose its route.
 */
const ALWAYS_DROPPED_REQUEST = new Set(['expect', 'l5d-dst-override', 'x-original-url', 'x-rewrite-url']);

/**
 * What `Connection` may not remove: the request's identity and framing stay under the proxy's control
 * (a client listing `Host` would otherwise make the backend see the upstream address as the host).
 */
const NOT_REMOVABLE_BY_CONNECTION = new Set(['host', 'content-length']);

/** Header names listed in `Connection` (lower-case), or null when there are none. */
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined || value === '') return null;
  // The values nearly every peer sends list no field names.
  if (value.length === 10 || value.length === 5) {
    const v = value.toLowerCase();
    if (v === 'keep-alive' || v === 'close') return null;
  }
  let tokens: Set<string> | null = null;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive' || NOT_REMOVABLE_BY_CONNECTION.has(t)) continue;
    tokens ??= new Set();
    tokens.add(t);
  }
  return tokens;
}

export interface ForwardedFacts {
  /**
   * The address at the other end of the connection: the PROXY protocol source when the listener takes PROXY
   * protocol and the header carried one, else the socket's remote address (unmapped, see plainAddress).
   */
  readonly peer: string;
  /** The client as gatehouse sees it: the peer, or what trusted hops reported (clientAddressOf). */
  readonly clientAddress: string;
  /** Whether the peer is a trusted proxy whose forwarding headers are kept and extended. */
  readonly trustedPeer: boolean;
  readonly proto: 'http' | 'https';
  readonly port: number;
  /** The request's authority as received (Host or `:authority`), port included; '' when there was none. */
  readonly host: string;
  readonly requestId: string;
  /** For absolute-form requests: the authority that was routed on, which replaces the client's Host. */
  readonly hostOverride: string | null;
}

/**
 * The header list sent upstream, as a flat [name, value, ...] array built from the client's raw headers:
 * `Connection`-listed and hop-by-hop headers removed first, then gatehouse's own forwarding headers added
 * (the rules are in client-address.ts).
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], facts: ForwardedFacts): string[] {
  let listed: Set<string> | null = null;
  let priorXff = '';
  let priorForwarded = '';
  let hasProto = false;
  let hasHost = false;
  let hasPort = false;
  let hasRequestId = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === 'connection') {
      const t = connectionTokens(rawHeaders[i + 1]);
      if (t !== null) {
        listed ??= new Set();
        for (const x of t) listed.add(x);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string;
    const name = raw.toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (HOP_BY_HOP.has(name) || ALWAYS_DROPPED_REQUEST.has(name)) continue;
    // `Transfer_Encoding` is no header to HTTP, but CGI-style backends fold `_` into `-` (nginx drops these too).
    if (name.includes('_')) continue;
    if (name === 'host' && facts.hostOverride !== null) {
      out.push('host', facts.hostOverride);
      continue;
    }
    // Checked before `Connection` listing: these are gatehouse's to drop or extend, and the client address was
    // already derived from the X-Forwarded-For that a listing would remove.
    if (REPLACED_FROM_UNTRUSTED.has(name)) {
      if (!facts.trustedPeer || name === 'x-real-ip') continue;
      if (name === 'x-forwarded-for') {
        priorXff = priorXff === '' ? value : `${priorXff}, ${value}`;
        continue;
      }
      if (name === 'forwarded') {
        priorForwarded = priorForwarded === '' ? value : `${priorForwarded}, ${value}`;
        continue;
      }
      if (name === 'x-forwarded-proto') hasProto = true;
      else if (name === 'x-forwarded-host') hasHost = true;
      else if (name === 'x-forwarded-port') hasPort = true;
      out.push(raw, value);
      continue;
    }
    if (listed?.has(name) === true) continue;
    if (name === 'x-request-id') hasRequestId = true;
    out.push(raw, value);
  }
  const peer = facts.peer;
  out.push('x-forwarded-for', priorXff === '' ? peer : `${priorXff}, ${peer}`);
  if (!hasProto) out.push('x-forwarded-proto', facts.proto);
  if (!hasHost && facts.host !== '') out.push('x-forwarded-host', facts.host);
  if (!hasPort) out.push('x-forwarded-port', String(facts.port));
  out.push('x-real-ip', facts.clientAddress);
  const element = forwardedElement(peer, facts.proto, facts.host);
  out.push('forwarded', priorForwarded === '' ? element : `${priorForwarded}, ${element}`);
  if (!hasRequestId) out.push('x-request-id', facts.requestId);
  return out;
}

/** RFC 7230 `token` characters, which RFC 7239 values may use unquoted. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * One RFC 7239 forwarded-element: `for=<peer>;proto=<proto>[;host=<host>]`. An IPv6 `for` is bracketed and
 * quoted (`:` and `[` are no token characters); an unknown peer is `unknown`; a host that is not a token (a
 * port, an IPv6 literal) is a quoted-string.
 */
export function forwardedElement(peer: string, proto: 'http' | 'https', host: string): string {
  let node: string;
  if (peer === '') node = 'unknown';
  else if (peer.includes(':')) node = `"[${peer}]"`;
  else node = peer;
  const element = `for=${node};proto=${proto}`;
  return host === '' ? element : `${element};host=${forwardedValue(host)}`;
}

/** A token as is, anything else as an RFC 7230 quoted-string (`"` and `\` escaped). */
function forwardedValue(value: string): string {
  if (TOKEN.test(value)) return value;
  let quoted = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '"' || c === '\\') quoted += '\\';
    quoted += c;
  }
  return `${quoted}"`;
}

/** Response headers for the client: hop-by-hop and `Connection`-listed ones removed. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const c = headers['connection'];
  const listed = connectionTokens(Array.isArray(c) ? c.join(',') : c);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) === true) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
