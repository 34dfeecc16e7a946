import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CompiledFilters, CompiledMirror } from '../compile/route-filters.ts';
import { asDispatchOptions, type UpstreamDispatchOptions } from '../upstream/backend.ts';
import { peerAddress } from './client-address.ts';
import { Exchange, type GatehouseResponse, onResponseClose, onResponseDrain } from './exchange.ts';
import { countHost, type ListenerBinding, routeRequest } from './routing.ts';

export function handleRequest(binding: ListenerBinding, req: IncomingMessage, res: GatehouseResponse): void {
  const ctx = binding.context;
  // A request pipelined behind one whose framing was refused is not trusted: the two may have been split wrong.
  if (ctx.isRefused(req.socket)) {
    req.socket.destroy();
    return;
  }
  const peer = peerAddress(req.socket);
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

  const plan = routeRequest(binding, req, ex, peer);
  if (plan === null) return;
  const routeFilters = plan.routeFilters;
  const upstreamPath = plan.upstreamPath;
  const headers = plan.headers;
  ex.responseHeaders = routeFilters?.responseHeaders ?? null;
  ex.backendResponseHeaders = plan.backendFilters?.responseHeaders ?? null;
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (routeFilters !== null && routeFilters.mirrors.length > 0)
    sendMirrors(routeFilters, upstreamPath, ex.method, headers);
  const backend = plan.backend;
  const route = plan.route;
  const index = backend.pick();
  ex.upstream = backend.origins[index] as string;
  res.on('drain', onResponseDrain);
  const options: UpstreamDispatchOptions = {
    path: upstreamPath,
    method: ex.method,
    headers,
    body: hasBody ? req : null,
    ...(route.backendTimeoutMs > 0 ? { headersTimeout: route.backendTimeoutMs } : {}),
    ...(backend.servername !== undefined ? { servername: backend.servername } : {}),
  };
  if (route.requestTimeoutMs > 0) ex.startTimer(route.requestTimeoutMs);
  backend.pool(index).dispatch(asDispatchOptions(options), ex);
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
export function sendMirrors(filters: CompiledFilters, path: string, method: string, headers: readonly string[]): void {
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
    const options: UpstreamDispatchOptions =
      b.servername === undefined
        ? { path, method, headers: mirrorHeaders, body: null }
        : { path, method, headers: mirrorHeaders, body: null, servername: b.servername };
    b.pool(b.pick()).dispatch(asDispatchOptions(options), MIRROR_SINK);
  }
}
