import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { CompiledHeaderModifier } from '../compile/route-filters.ts';
import { CLIENT_ABORTED, classifyUpstreamError, GatehouseError, UPSTREAM_TIMEOUT } from './errors.ts';
import { downstreamResponseHeaders } from './headers.ts';

/** What the data plane logs and counts about one exchange, a plain request or a WebSocket tunnel. */
export interface ExchangeRecord {
  readonly listener: string;
  /** performance.now() at the start. */
  readonly start: number;
  readonly clientAddress: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly requestId: string;
  readonly route: string;
  readonly backend: string;
  readonly upstream: string;
  readonly status: number;
  /** Response bytes sent to the client (for a tunnel: bytes from the upstream). */
  readonly bytes: number;
  readonly errorCode: string;
}

/** What an exchange reports when it ends: the data plane logs it and counts it. */
export interface ExchangeSink {
  exchangeEnded(ex: ExchangeRecord): void;
  upstreamFailed(ex: ExchangeRecord, err: Error, code: string): void;
  /** After a framing or parsing refusal: nothing more is read from this connection (pipelined requests included). */
  refuseConnection(socket: Socket): void;
  /** Body bytes that passed through, in either direction. */
  bodyBytes(n: number): void;
}

export class GatehouseResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
  exchange: Exchange | null = null;
}

/**
 * One request/response through the proxy. It is also the undici dispatch handler, so the proxy path needs no
 * per-request closures: socket events find it through `res.exchange`.
 */
export class Exchange implements Dispatcher.DispatchHandler, ExchangeRecord {
  readonly sink: ExchangeSink;
  readonly req: IncomingMessage;
  readonly res: GatehouseResponse;
  readonly listener: string;
  readonly start: number;
  clientAddress: string;
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

  constructor(
    sink: ExchangeSink,
    req: IncomingMessage,
    res: GatehouseResponse,
    listener: string,
    clientAddress: string,
  ) {
    this.sink = sink;
    this.req = req;
    this.res = res;
    this.listener = listener;
    this.start = performance.now();
    this.clientAddress = clientAddress;
    this.method = req.method ?? '';
    this.host = '';
    this.path = req.url ?? '';
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
  }

  /** The route's whole-request timeout: 504 if the response has not started by then, else the response is cut. */
  startTimer(ms: number): void {
    this.timer = setTimeout(onExchangeTimeout, ms, this);
  }

  /** Answers locally (routing results, errors) with a short plain-text body. */
  respond(status: number, body: string, close: boolean): void {
    const res = this.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.status = status;
    const text = `${body}\n`;
    this.bytes = Buffer.byteLength(text);
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', this.bytes);
    res.setHeader('cache-control', 'no-store');
    if (close) {
      res.shouldKeepAlive = false;
      this.sink.refuseConnection(this.req.socket);
    }
    res.end(this.method === 'HEAD' ? undefined : text);
  }

  redirect(status: number, location: string): void {
    this.status = status;
    this.res.statusCode = status;
    this.res.setHeader('location', location);
    this.res.setHeader('content-length', 0);
    this.res.end();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.upstreamActive = true;
    if (this.res.destroyed) controller.abort(new GatehouseError(CLIENT_ABORTED, 499, 'client went away'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const res = this.res;
    if (res.destroyed) return;
    try {
      const out = downstreamResponseHeaders(headers);
      if (this.responseHeaders !== null) this.responseHeaders.applyObject(out as Record<string, string | string[]>);
      if (this.backendResponseHeaders !== null) {
        this.backendResponseHeaders.applyObject(out as Record<string, string | string[]>);
      }
      res.writeHead(statusCode, out);
    } catch (err) {
      // node refuses header values it could not write safely (CR, LF, NUL): the upstream answer is unusable.
      this.errorCode = 'GH_ERR_UPSTREAM_INVALID_HEADER';
      controller.abort(err as Error);
      return;
    }
    this.status = statusCode;
  }

  onBodySent(chunk: Buffer): void {
    this.sink.bodyBytes(chunk.length);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    this.sink.bodyBytes(chunk.length);
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.upstreamActive = false;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.upstreamActive = false;
    if (this.res.destroyed) return;
    if ((err as { code?: unknown }).code === CLIENT_ABORTED) return;
    const cls = classifyUpstreamError(err);
    if (this.errorCode === '') this.errorCode = cls.code;
    this.sink.upstreamFailed(this, err, this.errorCode);
    if (this.res.headersSent) {
      // Too late for a status: cut the response so the client sees it is incomplete.
      this.res.destroy();
      return;
    }
    this.respond(cls.status, cls.status === 504 ? 'upstream timed out' : 'upstream unavailable', false);
  }
}

function onExchangeTimeout(ex: Exchange): void {
  ex.timer = null;
  if (ex.upstreamActive && ex.controller !== null) {
    ex.controller.abort(new GatehouseError(UPSTREAM_TIMEOUT, 504, 'route request timeout'));
  } else if (!ex.res.headersSent) {
    ex.respond(504, 'upstream timed out', false);
  }
}

/** `res` 'close': the exchange is over, finished or not. */
export function onResponseClose(this: GatehouseResponse): void {
  const ex = this.exchange;
  if (ex === null) return;
  this.exchange = null;
  if (ex.timer !== null) {
    clearTimeout(ex.timer);
    ex.timer = null;
  }
  if (!this.writableFinished) {
    if (ex.status === 0 || !this.headersSent) ex.status = 499;
    if (ex.upstreamActive && ex.controller !== null) {
      ex.controller.abort(new GatehouseError(CLIENT_ABORTED, 499, 'client went away'));
    }
  }
  ex.sink.exchangeEnded(ex);
}

export function onResponseDrain(this: GatehouseResponse): void {
  const c = this.exchange?.controller;
  if (c?.paused === true) c.resume();
}
