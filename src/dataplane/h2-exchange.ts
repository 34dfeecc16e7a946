import {
  constants as h2constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { CompiledHeaderModifier } from '../compile/route-filters.ts';
import { asDispatchOptions, type UpstreamDispatchOptions } from '../upstream/backend.ts';
import { CLIENT_ABORTED, classifyUpstreamError, GatehouseError, UPSTREAM_TIMEOUT } from './errors.ts';
import type { ExchangeRecord } from './exchange.ts';
import { downstreamResponseHeaders } from './headers.ts';
import { sendMirrors } from './http-handler.ts';
import { type ListenerBinding, type RequestHead, routeRequest } from './routing.ts';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = h2constants;

/** An HTTP/2 stream that knows its exchange, so stream events need no per-request closures. */
interface ExchangeStream extends ServerHttp2Stream {
  exchange?: H2Exchange | null;
}

/** gRPC status codes gatehouse answers with itself. */
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_INTERNAL = 13;
export const GRPC_UNAVAILABLE = 14;

/**
 * The gRPC status for an HTTP status gatehouse would have answered (the gRPC project's HTTP-to-gRPC mapping;
 * a timeout gatehouse itself enforced is a deadline, not an unavailable server).
 */
export function grpcStatusFor(httpStatus: number, timedOut: boolean): number {
  if (timedOut) return GRPC_DEADLINE_EXCEEDED;
  switch (httpStatus) {
    case 400:
      return GRPC_INTERNAL;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return GRPC_UNIMPLEMENTED;
    // 500 is what gatehouse answers for an invalid backend reference; GRPCRoute asks for UNAVAILABLE there.
    case 500:
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_UNAVAILABLE;
    default:
      return httpStatus >= 500 ? GRPC_INTERNAL : 2;
  }
}

/** `grpc-timeout` (1–8 digits and a unit) in milliseconds, or 0 when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number {
  if (value === undefined || value.length < 2 || value.length > 9) return 0;
  const n = Number(value.slice(0, -1));
  if (!Number.isInteger(n) || n < 0) return 0;
  switch (value.charCodeAt(value.length - 1)) {
    case 72: // H
      return n * 3_600_000;
    case 77: // M
      return n * 60_000;
    case 83: // S
      return n * 1000;
    case 109: // m
      return n;
    case 117: // u
      return Math.ceil(n / 1000);
    case 110: // n
      return Math.ceil(n / 1_000_000);
    default:
      return 0;
  }
}

/** The head of an HTTP/2 request as routing reads it: pseudo-headers out, `:authority` as Host. */
class H2RequestHead implements RequestHead {
  readonly url: string;
  readonly headers: { readonly host: string; readonly 'x-request-id'?: string; readonly te?: string };
  readonly rawHeaders: string[];
  readonly httpVersionMajor = 2;
  readonly socket: { readonly servername?: string | false } | null;
  #distinct: Record<string, string[]> | null = null;

  constructor(
    path: string,
    authority: string,
    headers: IncomingHttpHeaders,
    rawHeaders: readonly string[],
    socket: { readonly servername?: string | false } | null,
  ) {
    this.url = path;
    this.socket = socket;
    const id = headers['x-request-id'];
    const te = headers.te;
    this.headers = {
      host: authority,
      ...(typeof id === 'string' ? { 'x-request-id': id } : {}),
      ...(typeof te === 'string' ? { te } : {}),
    };
    const raw: string[] = [];
    let hasHost = false;
    let cookie: string | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      if (name.charCodeAt(0) === 58) continue;
      if (name === 'host') hasHost = true;
      // HTTP/2 clients may split cookies into several fields; HTTP/1.1 wants one (RFC 9113 8.2.3).
      if (name === 'cookie') {
        cookie = cookie === null ? (rawHeaders[i + 1] as string) : `${cookie}; ${rawHeaders[i + 1]}`;
        continue;
      }
      raw.push(name, rawHeaders[i + 1] as string);
    }
    if (cookie !== null) raw.push('cookie', cookie);
    // HTTP/1.1 backends need a Host; HTTP/2 clients usually send only :authority.
    if (!hasHost) raw.push('host', authority);
    this.rawHeaders = raw;
  }

  get headersDistinct(): Record<string, string[]> {
    if (this.#distinct === null) {
      const d: Record<string, string[]> = {};
      const raw = this.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i] as string;
        const list = d[name];
        if (list === undefined) d[name] = [raw[i + 1] as string];
        else list.push(raw[i + 1] as string);
      }
      this.#distinct = d;
    }
    return this.#distinct;
  }
}

/** One request/response on an HTTP/2 stream; also the undici dispatch handler for its upstream request. */
export class H2Exchange implements Dispatcher.DispatchHandler, ExchangeRecord {
  readonly binding: ListenerBinding;
  readonly stream: ExchangeStream;
  readonly listener: string;
  readonly start: number;
  clientAddress: string;
  readonly grpc: boolean;
  method: string;
  host: string;
  path: string;
  requestId: string;
  route: string;
  backend: string;
  upstream: string;
  status: number;
  bytes: number;
  errorCode: string;
  controller: Dispatcher.DispatchController | null;
  upstreamActive: boolean;
  responseHeaders: CompiledHeaderModifier | null;
  backendResponseHeaders: CompiledHeaderModifier | null;
  timer: NodeJS.Timeout | null;
  timedOut: boolean;
  trailers: OutgoingHttpHeaders | null;
  ended: boolean;

  constructor(binding: ListenerBinding, stream: ExchangeStream, method: string, clientAddress: string, grpc: boolean) {
    this.binding = binding;
    this.stream = stream;
    this.listener = binding.listenerName;
    this.start = performance.now();
    this.clientAddress = clientAddress;
    this.grpc = grpc;
    this.method = method;
    this.host = '';
    this.path = '';
    this.requestId = '';
    this.route = '';
    this.backend = '';
    this.upstream = '';
    this.status = 0;
    this.bytes = 0;
    this.errorCode = '';
    this.controller = null;
    this.upstreamActive = false;
    this.responseHeaders = null;
    this.backendResponseHeaders = null;
    this.timer = null;
    this.timedOut = false;
    this.trailers = null;
    this.ended = false;
  }

  /** Answers locally; a gRPC call gets a trailers-only response with the matching grpc-status. */
  respond(status: number, body: string, _close: boolean): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      this.#fail();
      return;
    }
    if (this.grpc) {
      this.status = 200;
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(grpcStatusFor(status, this.timedOut)),
          'grpc-message': encodeURIComponent(body),
        },
        { endStream: true },
      );
      return;
    }
    this.status = status;
    const text = `${body}\n`;
    this.bytes = Buffer.byteLength(text);
    if (this.method === 'HEAD') {
      stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' }, { endStream: true });
      return;
    }
    stream.respond({
      ':status': status,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': this.bytes,
      'cache-control': 'no-store',
    });
    stream.end(text);
  }

  redirect(status: number, location: string): void {
    this.status = status;
    if (this.stream.destroyed) return;
    this.stream.respond({ ':status': status, location }, { endStream: true });
  }

  /** After the response has started, a failure can only end the stream: gRPC gets UNAVAILABLE in trailers. */
  #fail(): void {
    const stream = this.stream;
    if (this.grpc && !this.ended && !stream.writableEnded) {
      const code = this.timedOut ? GRPC_DEADLINE_EXCEEDED : GRPC_UNAVAILABLE;
      this.trailers = { 'grpc-status': String(code), 'grpc-message': 'upstream failed' };
      this.ended = true;
      stream.end();
      return;
    }
    stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.upstreamActive = true;
    if (this.stream.destroyed) controller.abort(new GatehouseError(CLIENT_ABORTED, 499, 'client went away'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    try {
      const out = downstreamResponseHeaders(headers);
      if (this.responseHeaders !== null) this.responseHeaders.applyObject(out as Record<string, string | string[]>);
      if (this.backendResponseHeaders !== null) {
        this.backendResponseHeaders.applyObject(out as Record<string, string | string[]>);
      }
      out[':status'] = statusCode;
      // grpc-status in the response head is a gRPC trailers-only answer: it must stay one HEADERS frame with
      // END_STREAM, or clients read the empty trailers that would follow as a missing status.
      if (this.grpc && headers['grpc-status'] !== undefined) {
        this.ended = true;
        stream.respond(out, { endStream: true });
      } else {
        stream.respond(out, { waitForTrailers: true });
      }
    } catch (err) {
      // node refuses header values it cannot send (CR, LF, NUL, connection-specific names).
      this.errorCode = 'GH_ERR_UPSTREAM_INVALID_HEADER';
      controller.abort(err as Error);
      return;
    }
    this.status = statusCode;
  }

  onBodySent(chunk: Buffer): void {
    this.binding.context.bodyBytes(chunk.length);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ended) return;
    this.bytes += chunk.length;
    this.binding.context.bodyBytes(chunk.length);
    if (!this.stream.write(chunk)) controller.pause();
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.upstreamActive = false;
    if (this.stream.destroyed || this.ended) return;
    let out: OutgoingHttpHeaders | null = null;
    for (const name in trailers) {
      const v = trailers[name];
      if (v === undefined || name.charCodeAt(0) === 58) continue;
      out ??= {};
      out[name] = v;
    }
    this.trailers = out;
    this.ended = true;
    this.stream.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.upstreamActive = false;
    if (this.stream.destroyed) return;
    if ((err as { code?: unknown }).code === CLIENT_ABORTED) return;
    const cls = classifyUpstreamError(err);
    if (this.errorCode === '') this.errorCode = cls.code;
    if (cls.code === UPSTREAM_TIMEOUT) this.timedOut = true;
    this.binding.context.upstreamFailed(this, err, this.errorCode);
    this.respond(cls.status, cls.status === 504 ? 'upstream timed out' : 'upstream unavailable', false);
  }
}

function onExchangeTimeout(ex: H2Exchange): void {
  ex.timer = null;
  ex.timedOut = true;
  if (ex.upstreamActive && ex.controller !== null) {
    ex.controller.abort(new GatehouseError(UPSTREAM_TIMEOUT, 504, 'request timeout'));
  } else if (!ex.stream.headersSent) {
    ex.respond(504, 'upstream timed out', false);
  }
}

function onWantTrailers(this: ExchangeStream): void {
  const ex = this.exchange;
  const trailers = ex?.trailers ?? null;
  try {
    this.sendTrailers(trailers ?? {});
  } catch {
    this.close(NGHTTP2_INTERNAL_ERROR);
  }
}

function onStreamDrain(this: ExchangeStream): void {
  const c = this.exchange?.controller;
  if (c?.paused === true) c.resume();
}

function onStreamClose(this: ExchangeStream): void {
  const ex = this.exchange;
  if (ex === undefined || ex === null) return;
  this.exchange = null;
  if (ex.timer !== null) {
    clearTimeout(ex.timer);
    ex.timer = null;
  }
  if (this.rstCode !== h2constants.NGHTTP2_NO_ERROR || !ex.ended) {
    if (!ex.ended && (ex.status === 0 || !this.headersSent)) ex.status = 499;
    // A reset stream frees the upstream request at once (rapid reset must not pile up upstream work).
    if (ex.upstreamActive && ex.controller !== null) {
      ex.controller.abort(new GatehouseError(CLIENT_ABORTED, 499, 'client went away'));
    }
  }
  ex.binding.context.exchangeEnded(ex);
}

function onStreamError(): void {
  // Stream errors (resets, protocol errors) surface as 'close'; the exchange is settled there.
}

/** Handles one HTTP/2 request stream: the same checks, router and policies as HTTP/1.1. */
export function handleStream(
  binding: ListenerBinding,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: string[],
  peer: string,
): void {
  const ctx = binding.context;
  const method = headers[':method'] ?? '';
  const ct = headers['content-type'];
  const grpc = typeof ct === 'string' && ct.startsWith('application/grpc');
  const es = stream as ExchangeStream;
  const ex = new H2Exchange(binding, es, method, peer, grpc);
  es.exchange = ex;
  es.on('close', onStreamClose);
  es.on('error', onStreamError);
  es.on('wantTrailers', onWantTrailers);
  ctx.exchangeStarted(ex);

  if (rawHeaders.length / 2 > ctx.maxHeaderCount) {
    ex.respond(431, 'too many request headers', false);
    return;
  }
  if (method === 'CONNECT') {
    ex.respond(405, 'CONNECT is not supported', false);
    return;
  }
  const path = headers[':path'];
  const authority = headers[':authority'];
  const hostHeader = headers.host;
  if (typeof path !== 'string' || path === '') {
    ex.respond(400, 'missing :path', false);
    return;
  }
  // RFC 9113 8.3.1: when both are present they must agree, or routing and the backend could see different hosts.
  if (authority !== undefined && hostHeader !== undefined && authority !== hostHeader) {
    ex.respond(400, ':authority and host differ', false);
    return;
  }
  const host = authority ?? hostHeader;
  if (host === undefined || host === '') {
    ex.respond(400, 'missing :authority', false);
    return;
  }
  if (path.charCodeAt(0) !== 47) {
    ex.respond(400, 'invalid :path', false);
    return;
  }

  const head = new H2RequestHead(
    path,
    host,
    headers,
    rawHeaders,
    (stream.session?.socket as { servername?: string | false } | undefined) ?? null,
  );
  const plan = routeRequest(binding, head, ex, peer);
  if (plan === null) return;
  const routeFilters = plan.routeFilters;
  ex.responseHeaders = routeFilters?.responseHeaders ?? null;
  ex.backendResponseHeaders = plan.backendFilters?.responseHeaders ?? null;
  if (routeFilters !== null && routeFilters.mirrors.length > 0) {
    sendMirrors(routeFilters, plan.upstreamPath, method, plan.headers);
  }
  const backend = plan.backend;
  const route = plan.route;
  const index = backend.pick();
  ex.upstream = backend.origins[index] as string;
  es.on('drain', onStreamDrain);
  const options: UpstreamDispatchOptions = {
    path: plan.upstreamPath,
    method,
    headers: plan.headers,
    // undici destroys a stream body once sent, which for HTTP/2 would also end the response side: hand it an
    // iterator that leaves the stream open.
    body: stream.endAfterHeaders ? null : stream.iterator({ destroyOnReturn: false }),
    ...(route.backendTimeoutMs > 0 ? { headersTimeout: route.backendTimeoutMs } : {}),
    ...(backend.servername !== undefined ? { servername: backend.servername } : {}),
  };
  let timeoutMs = route.requestTimeoutMs;
  if (grpc) {
    const deadline = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    if (deadline > 0 && (timeoutMs === 0 || deadline < timeoutMs)) timeoutMs = deadline;
  }
  if (timeoutMs > 0) ex.timer = setTimeout(onExchangeTimeout, timeoutMs, ex);
  backend.pool(index).dispatch(asDispatchOptions(options), ex);
}

/** Closes a stream that arrived while the data plane cannot take it. */
export function refuseStream(stream: ServerHttp2Stream): void {
  stream.close(NGHTTP2_CANCEL);
}
