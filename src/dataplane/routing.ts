import type { Socket } from 'node:net';
import {
  ACTION_DIRECT,
  ACTION_REDIRECT,
  type CompiledListener,
  type CompiledRoute,
  type CompiledTable,
} from '../compile/compile-table.ts';
import { type CompiledFilters, rewritePath } from '../compile/route-filters.ts';
import type { MatchInput } from '../compile/route-matcher.ts';
import type { UpstreamBackend } from '../upstream/backend.ts';
import { clientAddressOf, forwardedForOf, type TrustedProxies } from './client-address.ts';
import type { ExchangeRecord, ExchangeSink } from './exchange.ts';
import { upstreamRequestHeaders } from './headers.ts';
import { normalizePath } from './request-path.ts';

export interface HandlerContext extends ExchangeSink {
  /** The live route table; read once per request so a request finishes on the table it started with. */
  readonly table: CompiledTable | null;
  readonly trustedProxies: TrustedProxies;
  readonly maxHeaderCount: number;
  readonly draining: boolean;
  exchangeStarted(ex: ExchangeRecord): void;
  isRefused(socket: Socket): boolean;
  /** An X-Request-Id for a request that came without one. */
  nextRequestId(): string;
}

/**
 * What routing reads of a request head. node's IncomingMessage has it; so does the head of an HTTP/2 stream
 * (with `:authority` as `host`), so both versions share one router.
 */
export interface RequestHead {
  readonly url?: string | undefined;
  readonly headers: {
    readonly host?: string | undefined;
    readonly 'x-request-id'?: string | string[] | undefined;
    readonly te?: string | undefined;
  };
  readonly headersDistinct: Readonly<Record<string, readonly string[] | undefined>>;
  /** Flat [name, value, ...], without HTTP/2 pseudo-headers. */
  readonly rawHeaders: readonly string[];
  readonly httpVersionMajor: number;
  /** The connection; a TLS one has `servername`, the SNI name the client sent. */
  readonly socket?: object | null;
}

/** Per listener: what the request handler needs to know about the socket it came in on. */
export interface ListenerBinding {
  listenerName: string;
  readonly port: number;
  readonly proto: 'http' | 'https';
  readonly context: HandlerContext;
}

/** The part of an exchange that routing fills in, and answers through when the request goes no further. */
export interface RoutingExchange {
  readonly method: string;
  /** Starts as the peer; routing replaces it with the client address the trusted hops report. */
  clientAddress: string;
  host: string;
  path: string;
  route: string;
  backend: string;
  requestId: string;
  respond(status: number, body: string, close: boolean): void;
  redirect(status: number, location: string): void;
}

/** Where a routed request goes and what it carries there. */
export class ForwardPlan {
  readonly route: CompiledRoute;
  readonly backend: UpstreamBackend;
  readonly routeFilters: CompiledFilters | null;
  readonly backendFilters: CompiledFilters | null;
  /** Path and query for the upstream request, after rewrites. */
  readonly upstreamPath: string;
  /** Flat [name, value, ...] request headers for the upstream, forwarding headers and filters applied. */
  readonly headers: string[];

  constructor(
    route: CompiledRoute,
    backend: UpstreamBackend,
    routeFilters: CompiledFilters | null,
    backendFilters: CompiledFilters | null,
    upstreamPath: string,
    headers: string[],
  ) {
    this.route = route;
    this.backend = backend;
    this.routeFilters = routeFilters;
    this.backendFilters = backendFilters;
    this.upstreamPath = upstreamPath;
    this.headers = headers;
  }
}

class RequestMatch implements MatchInput {
  readonly path: string;
  readonly method: string;
  readonly query: string;
  readonly #req: RequestHead;
  constructor(path: string, method: string, req: RequestHead, query: string) {
    this.path = path;
    this.method = method;
    this.#req = req;
    this.query = query;
  }

  /** Read only by routes with header matches: building it costs a map of every header. */
  get headers(): Readonly<Record<string, readonly string[] | undefined>> {
    return this.#req.headersDistinct;
  }
}

/** How many `Host` fields the head carries; node keeps only the first, so duplicates are found on the raw list. */
export function countHost(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

/** Lower-case host without port, or null when it is not a plausible host name or address literal. */
export function hostOf(authority: string): string | null {
  let host = authority;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return null;
    const rest = host.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    return host.slice(0, end + 1).toLowerCase();
  }
  const colon = host.indexOf(':');
  let end = host.length;
  if (colon >= 0) {
    if (end - colon - 1 > 5) return null;
    for (let i = colon + 1; i < end; i++) {
      const c = host.charCodeAt(i);
      if (c < 48 || c > 57) return null;
    }
    end = colon;
  }
  // [A-Za-z0-9._-], checked by hand: this runs on every request.
  let upper = false;
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c >= 97 && c <= 122) continue;
    if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 95) continue;
    if (c >= 65 && c <= 90) {
      upper = true;
      continue;
    }
    return null;
  }
  if (end !== host.length) host = host.slice(0, end);
  return upper ? host.toLowerCase() : host;
}

function locationFor(
  route: CompiledRoute,
  proto: string,
  host: string,
  port: number,
  path: string,
  query: string,
): string {
  const r = route.redirect;
  const rewritten = r?.path === undefined ? path : rewritePath(path, r.path, route.matchedPrefix);
  const pathAndQuery = query === '' ? rewritten : `${rewritten}?${query}`;
  if (r === null) return pathAndQuery;
  const scheme = r.scheme ?? proto;
  const hostname = r.hostname ?? host;
  // Without an explicit port: a redirect that names a scheme goes to that scheme's well-known port; one that
  // does not keeps the listener's port (Gateway API RequestRedirect rules).
  const target = r.port ?? (r.scheme !== undefined ? (scheme === 'https' ? 443 : 80) : port);
  const wellKnown = (scheme === 'http' && target === 80) || (scheme === 'https' && target === 443);
  const portPart = wellKnown ? '' : `:${target}`;
  return `${scheme}://${hostname}${portPart}${pathAndQuery}`;
}

/**
 * Routes a request head the same way whatever carries it (a plain request or a WebSocket upgrade): request
 * target and Host, one path normalisation, route lookup, redirects and direct responses, backend choice,
 * rewrites and the upstream header list. Answers through `ex` and returns null when the request goes no
 * further; otherwise returns where to forward it.
 */
export function routeRequest(
  binding: ListenerBinding,
  req: RequestHead,
  ex: RoutingExchange,
  peer: string,
): ForwardPlan | null {
  const ctx = binding.context;
  let target = req.url ?? '';
  let authority = req.headers.host ?? '';
  let absoluteForm = false;
  if (target.charCodeAt(0) !== 47) {
    absoluteForm = true;
    // absolute-form: its authority replaces Host (RFC 9112 3.2.2)
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (m === null) {
      ex.respond(400, 'invalid request target', true);
      return null;
    }
    authority = m[1] as string;
    target = m[2] === '' ? '/' : (m[2] as string);
  }
  const host = hostOf(authority);
  if (host === null) {
    ex.respond(400, 'invalid Host header', true);
    return null;
  }
  ex.host = host;
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const path = normalizePath(rawPath);
  if (path === null) {
    ex.path = rawPath;
    ex.respond(400, 'invalid request path', true);
    return null;
  }
  ex.path = path;

  const table = ctx.table;
  const listener: CompiledListener | undefined = table?.listeners.get(binding.listenerName);
  if (listener === undefined) {
    ex.respond(404, 'not found', false);
    return null;
  }
  if (binding.proto === 'https') {
    const sni = (req.socket as { servername?: unknown } | null | undefined)?.servername;
    if (
      typeof sni === 'string' &&
      sni !== '' &&
      listener.misdirected(sni.toLowerCase(), host, req.httpVersionMajor === 2)
    ) {
      ex.respond(421, 'misdirected request', false);
      return null;
    }
  }
  const vhost = listener.hosts.lookup(host);
  const route = vhost === null ? null : vhost.routes.match(new RequestMatch(path, ex.method, req, query));
  if (route === null) {
    ex.respond(404, 'not found', false);
    return null;
  }
  ex.route = route.name;

  const trustedPeer = ctx.trustedProxies.has(peer);
  const clientAddress = trustedPeer ? clientAddressOf(peer, forwardedForOf(req.rawHeaders), ctx.trustedProxies) : peer;
  ex.clientAddress = clientAddress;
  if (route.allow !== null && !route.allow.allows(clientAddress)) {
    ex.respond(403, 'forbidden', false);
    return null;
  }

  if (route.action === ACTION_REDIRECT) {
    const status = route.redirect?.statusCode ?? 302;
    ex.redirect(status, locationFor(route, binding.proto, host, binding.port, path, query));
    return null;
  }
  if (route.action === ACTION_DIRECT) {
    ex.respond(route.directStatus, route.directBody, false);
    return null;
  }

  const chosen = route.pickBackend();
  if (chosen < 0) {
    ex.respond(500, 'no backend for this route', false);
    return null;
  }
  const backend = route.backends[chosen] as UpstreamBackend;
  ex.backend = backend.name;
  if (backend.unavailableStatus !== 0) {
    ex.respond(backend.unavailableStatus, backend.reason, false);
    return null;
  }

  const incomingId = req.headers['x-request-id'];
  ex.requestId = typeof incomingId === 'string' && incomingId !== '' ? incomingId : ctx.nextRequestId();
  const routeFilters = route.filters;
  const backendFilters = route.backendFilters[chosen] ?? null;
  let upstreamPath = q < 0 ? path : `${path}?${query}`;
  let hostOverride: string | null = absoluteForm ? authority : null;
  if (routeFilters !== null) {
    if (routeFilters.rewritePath !== null) {
      const rewritten = rewritePath(path, routeFilters.rewritePath, route.matchedPrefix);
      upstreamPath = q < 0 ? rewritten : `${rewritten}?${query}`;
    }
    if (routeFilters.rewriteHost !== null) hostOverride = routeFilters.rewriteHost;
  }
  let headers = upstreamRequestHeaders(req.rawHeaders, {
    peer,
    clientAddress,
    trustedPeer,
    proto: binding.proto,
    port: binding.port,
    host: authority,
    requestId: ex.requestId,
    hostOverride,
  });
  if (routeFilters?.requestHeaders != null) headers = routeFilters.requestHeaders.applyFlat(headers);
  if (backendFilters?.requestHeaders != null) headers = backendFilters.requestHeaders.applyFlat(headers);
  // `TE: trailers` is the one TE value HTTP/2 allows; gRPC servers may insist on it.
  if (backend.http2 && req.headers.te === 'trailers') headers.push('te', 'trailers');
  return new ForwardPlan(route, backend, routeFilters, backendFilters, upstreamPath, headers);
}
