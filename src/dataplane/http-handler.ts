import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import {
  ACTION_DIRECT,
  ACTION_REDIRECT,
  type CompiledListener,
  type CompiledRoute,
  type CompiledTable,
} from '../compile/compile-table.ts';
import type { MatchInput } from '../compile/route-matcher.ts';
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

function locationFor(route: CompiledRoute, proto: string, host: string, port: number, pathAndQuery: string): string {
  const r = route.redirect;
  if (r === null) return pathAndQuery;
  const scheme = r.scheme ?? proto;
  const hostname = r.hostname ?? host;
  let portPart = '';
  if (r.port !== undefined) {
    if (!((scheme === 'http' && r.port === 80) || (scheme === 'https' && r.port === 443))) portPart = `:${r.port}`;
  } else if (scheme === proto && !((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443))) {
    // Without an explicit port the listener's port is kept only when the scheme does not change.
    portPart = `:${port}`;
  }
  return `${scheme}://${hostname}${portPart}${pathAndQuery}`;
}

export function handleRequest(binding: ListenerBinding, req: IncomingMessage, res: GatehouseResponse): void {
  const ctx = binding.context;
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
  if (target.charCodeAt(0) !== 47) {
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
    ex.redirect(status, locationFor(route, binding.proto, host, binding.port, pathAndQuery));
    return;
  }
  if (route.action === ACTION_DIRECT) {
    ex.respond(route.directStatus, route.directBody, false);
    return;
  }

  const backend = route.pickBackend();
  if (backend === null) {
    ex.respond(500, 'no backend for this route', false);
    return;
  }
  ex.backend = backend.name;
  if (backend.unavailableStatus !== 0) {
    ex.respond(backend.unavailableStatus, backend.reason, false);
    return;
  }

  const trusted = ctx.trustedProxies.has(peer);
  const incomingId = req.headers['x-request-id'];
  ex.requestId = typeof incomingId === 'string' && incomingId !== '' ? incomingId : randomUUID();
  const headers = upstreamRequestHeaders(raw, {
    clientAddress: peer,
    trustedPeer: trusted,
    proto: binding.proto,
    port: binding.port,
    host: authority,
    requestId: ex.requestId,
  });
  const index = backend.pick();
  ex.upstream = backend.origins[index] as string;
  res.on('drain', onResponseDrain);
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  const options: Dispatcher.DispatchOptions = {
    path: pathAndQuery,
    method: ex.method,
    headers,
    body: hasBody ? req : null,
  };
  backend.pool(index).dispatch(options, ex);
}
