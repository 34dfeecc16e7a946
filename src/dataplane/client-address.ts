// Who the client is. The rules (also in the README):
//
// 1. The peer is the address at the other end of the connection: the source address from the PROXY protocol
//    header when the listener takes PROXY protocol and the header carried one (v1 TCP4/TCP6, v2 PROXY over
//    TCP/IP), otherwise the socket's remote address. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as IPv4.
// 2. `--trusted-proxies CIDR,...` (none by default) names the proxies whose forwarding headers are believed.
//    The PROXY protocol header itself is not subject to it: a listener that takes PROXY protocol requires it
//    from every connection, so only put such listeners behind a balancer that always sends it.
// 3. A peer that is not trusted is the client, whatever its X-Forwarded-For says.
// 4. Behind a trusted peer, X-Forwarded-For (all its fields, joined in order) is walked from the right: trusted
//    addresses are skipped, and the first address that is not trusted is the client. If every entry is trusted
//    the leftmost one is the client. An entry that is not an IP address (`unknown`, a host name, garbage) stops
//    the walk, and the last trusted address walked so far (the peer itself when it is the rightmost entry) is
//    the client — nothing left of a bad entry is believed (nginx `real_ip_recursive on`). Entries may carry a
//    port (`192.0.2.1:4711`, `[2001:db8::1]:4711`, as some cloud balancers write them); the client address is
//    reported without it. Empty list elements (`a,,b`) are skipped.
// 5. Upstream, gatehouse sends (see upstreamRequestHeaders in headers.ts):
//    - X-Forwarded-For: from a trusted peer, the incoming value with the peer appended; otherwise just the peer.
//    - X-Forwarded-Proto / -Host / -Port: from a trusted peer, kept when present; otherwise (and when absent)
//      set to the listener's scheme, the request's Host and the listener's port.
//    - X-Real-IP: always the client address (rule 3/4), replacing any incoming value.
//    - Forwarded (RFC 7239): from a trusted peer, the incoming value with one element appended; otherwise one
//      element. The element is `for=<peer>;proto=<http|https>;host=<Host>`, an IPv6 peer quoted and bracketed
//      (`for="[2001:db8::1]"`), the host quoted when it is not an RFC 7230 token (e.g. when it has a port).
//    A client's `Connection` header cannot remove any of these.

import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import { parseCidr } from '../ir/cidr.ts';

/** Addresses of proxies in front of gatehouse whose X-Forwarded-* headers are believed. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly empty: boolean;

  /** Throws on a range that does not parse (`--trusted-proxies` is checked at startup). */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const c = parseCidr(cidr);
      if (typeof c === 'string' || c.address.includes('%')) throw new Error(`invalid trusted proxy range: ${cidr}`);
      this.#list.addSubnet(c.address, c.prefix, c.family === 4 ? 'ipv4' : 'ipv6');
    }
    this.empty = cidrs.length === 0;
  }

  /** Whether `address` (an IP address as node reports it, IPv4-mapped included) is trusted; false for non-IPs. */
  has(address: string): boolean {
    if (this.empty || address === '') return false;
    // BlockList matches IPv4-mapped IPv6 against IPv4 ranges itself; anything that is no address matches nothing.
    return this.#list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`: dual-stack sockets report IPv4 peers in mapped form. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * All X-Forwarded-For fields of a flat [name, value, ...] header list, joined with ", " in order, or null
 * when there are none (node joins repeated X-Forwarded-For in `headers` too, but HTTP/2 heads differ).
 */
export function forwardedForOf(rawHeaders: readonly string[]): string | null {
  let joined: string | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 15 || name.toLowerCase() !== 'x-forwarded-for') continue;
    const value = rawHeaders[i + 1] as string;
    joined = joined === null ? value : `${joined}, ${value}`;
  }
  return joined;
}

/**
 * The client address for a request from `peer` (already unmapped with `plainAddress`) carrying the joined
 * X-Forwarded-For value `forwardedFor` (null when absent): rules 3 and 4 above. Scans the header in place from
 * the right; allocates only the returned entry.
 */
export function clientAddressOf(peer: string, forwardedFor: string | null, trusted: TrustedProxies): string {
  if (forwardedFor === null || !trusted.has(peer)) return peer;
  let client = peer;
  let end = forwardedFor.length;
  while (end > 0) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    let start = comma + 1;
    let stop = end;
    end = Math.max(comma, 0);
    while (start < stop && isOws(forwardedFor.charCodeAt(start))) start++;
    while (stop > start && isOws(forwardedFor.charCodeAt(stop - 1))) stop--;
    if (start === stop) continue;
    const address = entryAddress(forwardedFor.slice(start, stop));
    if (address === null) return client;
    if (!trusted.has(address)) return address;
    client = address;
  }
  return client;
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * The IP address in one X-Forwarded-For entry — `addr`, `[ipv6]`, `[ipv6]:port` or `ipv4:port` — unmapped, or
 * null when the entry is not one of those. Zones (`fe80::1%eth0`) are refused: no proxy sends them to a peer.
 */
function entryAddress(entry: string): string | null {
  const family = isIP(entry);
  if (family === 4) return entry;
  if (family === 6) return entry.includes('%') ? null : plainAddress(entry);
  if (entry.charCodeAt(0) === 91 /* [ */) {
    const close = entry.indexOf(']');
    if (close < 0) return null;
    const rest = entry.length - close - 1;
    if (rest !== 0 && !(entry.charCodeAt(close + 1) === 58 && isPort(entry, close + 2))) return null;
    const inner = entry.slice(1, close);
    return isIPv6(inner) && !inner.includes('%') ? plainAddress(inner) : null;
  }
  const colon = entry.indexOf(':');
  if (colon < 0 || !isPort(entry, colon + 1)) return null;
  const host = entry.slice(0, colon);
  return isIPv4(host) ? host : null;
}

/** Whether `text` from `at` to its end is a decimal port (1-5 digits, ≤ 65535). */
function isPort(text: string, at: number): boolean {
  const n = text.length - at;
  if (n < 1 || n > 5) return false;
  let v = 0;
  for (let i = at; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    v = v * 10 + d;
  }
  return v <= 65535;
}

/** A client socket that came with a PROXY protocol header: the source it named. */
interface ProxiedSocket {
  proxySource?: string;
  _parent?: ProxiedSocket;
  remoteAddress?: string | undefined;
}

/** Remembers the PROXY protocol source of a raw connection (a TLS socket on top of it finds it too). */
export function setProxySource(socket: object, address: string): void {
  (socket as ProxiedSocket).proxySource = plainAddress(address);
}

/**
 * The peer of a client connection: the PROXY protocol source when the connection (or, for TLS, the raw
 * connection under it) carried one, else the socket's remote address.
 */
export function peerAddress(socket: object | null | undefined): string {
  if (socket === null || socket === undefined) return '';
  const s = socket as ProxiedSocket;
  if (s.proxySource !== undefined) return s.proxySource;
  const parent = s._parent;
  if (parent?.proxySource !== undefined) return parent.proxySource;
  return plainAddress(s.remoteAddress);
}
