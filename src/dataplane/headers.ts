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
 * Request headers gatehouse sets itself. From an untrusted peer they are dropped and replaced; `expect` was
 * already answered by the server; `l5d-dst-override` from a client would turn a Linkerd proxy in ingress mode
 * into an open relay, so it never passes.
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
 * `X-Original-URL` / `X-Rewrite-URL` let some frameworks re-route a request after the proxy chose its route.
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
  /** The address of the client as gatehouse sees it (after trusted hops). */
  readonly clientAddress: string;
  /** Whether the direct peer is a trusted proxy whose X-Forwarded-* headers are kept and extended. */
  readonly trustedPeer: boolean;
  readonly proto: 'http' | 'https';
  readonly port: number;
  readonly host: string;
  readonly requestId: string;
  /** For absolute-form requests: the authority that was routed on, which replaces the client's Host. */
  readonly hostOverride: string | null;
}

/**
 * The header list sent upstream, as a flat [name, value, ...] array built from the client's raw headers:
 * `Connection`-listed and hop-by-hop headers removed first, then gatehouse's own forwarding headers added.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], facts: ForwardedFacts): string[] {
  let listed: Set<string> | null = null;
  let priorXff = '';
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
    if (listed?.has(name) === true) continue;
    if (REPLACED_FROM_UNTRUSTED.has(name)) {
      if (!facts.trustedPeer) continue;
      if (name === 'x-forwarded-for') {
        priorXff = priorXff === '' ? value : `${priorXff}, ${value}`;
        continue;
      }
      if (name === 'x-forwarded-proto') hasProto = true;
      else if (name === 'x-forwarded-host') hasHost = true;
      else if (name === 'x-forwarded-port') hasPort = true;
    }
    if (name === 'x-request-id') hasRequestId = true;
    out.push(raw, value);
  }
  out.push('x-forwarded-for', priorXff === '' ? facts.clientAddress : `${priorXff}, ${facts.clientAddress}`);
  if (!hasProto) out.push('x-forwarded-proto', facts.proto);
  if (!hasHost && facts.host !== '') out.push('x-forwarded-host', facts.host);
  if (!hasPort) out.push('x-forwarded-port', String(facts.port));
  if (!facts.trustedPeer) out.push('x-real-ip', facts.clientAddress);
  if (!hasRequestId) out.push('x-request-id', facts.requestId);
  return out;
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
