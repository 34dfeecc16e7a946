import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import {
  ACTION_DIRECT,
  ACTION_REDIRECT,
  type CompiledListener,
  type CompiledRoute,
  type CompiledTable,
} from '../compile/compile-table.ts';
import { type CompiledFilters, type CompiledMirror, rewritePath } from '../compile/route-filters.ts';
import type { MatchInput } from '../compile/route-matcher.ts';
import type { UpstreamBackend } from '../upstream/backend.ts';
import { plainAddress, type TrustedProxies } from './client-address.ts';
import { Exchange, type ExchangeSink, type GatehouseResponse, onResponseClose, onResponseDrain } from './exchange.ts';
import { upstreamRequestHeaders } from './headers.ts';
import { normalizePath } from './request-path.ts';

export interface HandlerContext extends ExchangeSink {
  /** The live route table; read once per request so a request finishes on the table it started with. */
  readonly table: CompiledTable | null;
  readonly trustedProxies: TrustedProxies;
  readonly maxHeaderCount: number;
  readonly draining: boolean;
  exchangeStarted(ex: Exchange): void;
  isRefused(socket: Socket): boolean;
}

/** Per listener: what the request handler needs to know about the socket it came in on. */
export interface ListenerBinding {
  listenerName: string;
  readonly port: number;
  readonly proto: 'http' | 'https';
  readonly context: HandlerContext;
}

class RequestMatch implements MatchInput {
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  readonly query: string;
  constructor(path: string, method: string, req: IncomingMessage, query: string) {
    this.path = path;
    this.method = method;
    this.headers = req.headersDistinct;
    this.query = query;
  }
}

function countHost(rawHeaders: readonly string[]): number {
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
  if (colon >= 0) {
    if (!/^\d{0,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (!/^[A-Za-z0-9._-]*$/.test(host)) return null;
  return host.toLowerCase();
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

export function handleRequest(binding: ListenerBinding, req: IncomingMessage, res: GatehouseResponse): void {
  const ctx = binding.context;
  // A request pipelined behind one whose framing was refused is not trusted: the two may have been split wrong.
  if (ctx.isRefused(req.socket)) {
    req.socket.destroy();
    return;
  }
  const peer = plainAddress(req.socket.remoteAddress);
  const ex = new Exchange(ctx, req, res, binding.listenerName, peer);
  res.exchange = ex;
  res.on('close', onResponseClose);
  ctx.exchangeStarted(ex);
  if (ctx.draining) res.shouldKeepAlive = false;

  const raw = req.rawHeaders;
  if (raw.length / 2 > ctx.maxHeaderCount) {
    ex.respond(431, 'too many request headers', true);
    return;
  }
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    ex.respond(505, 'HTTP version not supported', true);
    return;
  }
  // HTTP/1.0 has no chunked framing; node would keep reading the connection as if it had (a desync).
  if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
    ex.respond(400, 'transfer-encoding is not allowed in HTTP/1.0', true);
    return;
  }
  if (countHost(raw) > 1) {
    ex.respond(400, 'more than one Host header', true);
    return;
  }

  let target = req.url ?? '';
  let authority = req.headers.host ?? '';
  let absoluteForm = false;
  if (target.charCodeAt(0) !== 47) {
    absoluteForm = true;
    // absolute-form: its authority replaces Host (RFC 9112 3.2.2)
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (m === null) {
      ex.respond(400, 'invalid request target', true);
      return;
    }
    authority = m[1] as string;
    target = m[2] === '' ? '/' : (m[2] as string);
  }
  const host = hostOf(authority);
  if (host === null) {
    ex.respond(400, 'invalid Host header', true);
    return;
  }
  ex.host = host;
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const path = normalizePath(rawPath);
  if (path === null) {
    ex.path = rawPath;
    ex.respond(400, 'invalid request path', true);
    return;
  }
  ex.path = path;

  const table = ctx.table;
  const listener: CompiledListener | undefined = table?.listeners.get(binding.listenerName);
  if (listener === undefined) {
    ex.respond(404, 'not found', false);
    return;
  }
  const vhost = listener.hosts.lookup(host);
  const route = vhost === null ? null : vhost.routes.match(new RequestMatch(path, ex.method, req, query));
  if (route === null) {
    ex.respond(404, 'not found', false);
    return;
  }
  ex.route = route.name;
  const pathAndQuery = q < 0 ? path : `${path}?${query}`;

  if (route.action === ACTION_REDIRECT) {
    const status = route.redirect?.statusCode ?? 302;
    ex.redirect(status, locationFor(route, binding.proto, host, binding.port, path, q < 0 ? '' : query));
    return;
  }
  if (route.action === ACTION_DIRECT) {
    ex.respond(route.directStatus, route.directBody, false);
    return;
  }

  const chosen = route.pickBackend();
  if (chosen < 0) {
    ex.respond(500, 'no backend for this route', false);
    return;
  }
  const backend = route.backends[chosen] as UpstreamBackend;
  ex.backend = backend.name;
  if (backend.unavailableStatus !== 0) {
    ex.respond(backend.unavailableStatus, backend.reason, false);
    return;
  }

  const trusted = ctx.trustedProxies.has(peer);
  const incomingId = req.headers['x-request-id'];
  ex.requestId = typeof incomingId === 'string' && incomingId !== '' ? incomingId : randomUUID();
  const routeFilters = route.filters;
  const backendFilters = route.backendFilters[chosen] ?? null;
  let upstreamPath = pathAndQuery;
  let hostOverride: string | null = absoluteForm ? authority : null;
  if (routeFilters !== null) {
    if (routeFilters.rewritePath !== null) {
      const rewritten = rewritePath(path, routeFilters.rewritePath, route.matchedPrefix);
      upstreamPath = q < 0 ? rewritten : `${rewritten}?${query}`;
    }
    if (routeFilters.rewriteHost !== null) hostOverride = routeFilters.rewriteHost;
  }
  let headers = upstreamRequestHeaders(raw, {
    clientAddress: peer,
    trustedPeer: trusted,
    proto: binding.proto,
    port: binding.port,
    host: authority,
    requestId: ex.requestId,
    hostOverride,
  });
  if (routeFilters?.requestHeaders != null) headers = routeFilters.requestHeaders.applyFlat(headers);
  if (backendFilters?.requestHeaders != null) headers = backendFilters.requestHeaders.applyFlat(headers);
  ex.responseHeaders = routeFilters?.responseHeaders ?? null;
  ex.backendResponseHeaders = backendFilters?.responseHeaders ?? null;
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (routeFilters !== null && routeFilters.mirrors.length > 0)
    sendMirrors(routeFilters, upstreamPath, ex.method, headers);
  const index = backend.pick();
  ex.upstream = backend.origins[index] as string;
  res.on('drain', onResponseDrain);
  const options: Dispatcher.DispatchOptions = {
    path: upstreamPath,
    method: ex.method,
    headers,
    body: hasBody ? req : null,
    ...(route.backendTimeoutMs > 0 ? { headersTimeout: route.backendTimeoutMs } : {}),
  };
  if (route.requestTimeoutMs > 0) ex.startTimer(route.requestTimeoutMs);
  backend.pool(index).dispatch(options, ex);
}

/** Discards a mirrored request's response; mirrors are fire and forget and never affect the client. */
class MirrorSink implements Dispatcher.DispatchHandler {
  onRequestStart(): void {}
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {}
  onResponseError(): void {}
}
const MIRROR_SINK = new MirrorSink();

/**
 * Copies of the request (head only: bodies are not mirrored, so a mirror can never hold back the client's
 * upload) to each mirror backend, chosen by its percentage.
 */
function sendMirrors(filters: CompiledFilters, path: string, method: string, headers: readonly string[]): void {
  let mirrorHeaders: string[] | null = null;
  for (let i = 0; i < filters.mirrors.length; i++) {
    const m = filters.mirrors[i] as CompiledMirror;
    if (m.ratio < 1 && Math.random() >= m.ratio) continue;
    if (mirrorHeaders === null) {
      mirrorHeaders = [];
      for (let j = 0; j < headers.length; j += 2) {
        const name = (headers[j] as string).toLowerCase();
        if (name === 'content-length' || name === 'transfer-encoding') continue;
        mirrorHeaders.push(headers[j] as string, headers[j + 1] as string);
      }
    }
    const b = m.backend;
    b.pool(b.pick()).dispatch({ path, method, headers: mirrorHeaders, body: null }, MIRROR_SINK);
  }
}
