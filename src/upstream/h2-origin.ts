import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { UpstreamDispatchOptions } from './backend.ts';
import type { UpstreamTLSOptions } from './pools.ts';

/**
 * HTTP/2 to one backend origin (h2c with prior knowledge, or ALPN h2 over TLS) on node:http2, with the same
 * dispatch/handler contract as undici's pools. undici's own HTTP/2 client drops response data that is still
 * buffered when trailers arrive while the response is paused for backpressure (it stops listening for data on
 * 'trailers'), which truncates gRPC responses to slow clients; here 'end' — after every byte — completes.
 */

export interface H2OriginOptions {
  readonly connectTimeoutMs: number;
  /** Time to response headers, and the longest silence between body chunks. */
  readonly timeoutMs: number;
  /** A connection without streams for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Connections to the origin; a new one is opened when every open one is at its peer's stream limit. */
  readonly maxConnections: number;
}

/** Errors with the codes the data plane classifies (undici's, so both clients read the same). */
class UpstreamH2Error extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UpstreamH2Error';
    this.code = code;
  }
}

/** The underlying cause of an HTTP/2 stream error (node wraps connect and TLS failures in ERR_HTTP2_STREAM_CANCEL). */
function rootCause(err: Error): Error {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause : err;
}

const { NGHTTP2_CANCEL } = constants;

/** One connection and how many streams it carries. */
class Connection {
  readonly session: ClientHttp2Session;
  streams = 0;
  constructor(session: ClientHttp2Session) {
    this.session = session;
  }

  get usable(): boolean {
    const s = this.session;
    return !s.closed && !s.destroyed && this.streams < (s.remoteSettings.maxConcurrentStreams ?? 100);
  }
}

interface ConnectionSession extends ClientHttp2Session {
  connection?: Connection;
  origin?: H2Origin;
}

function onSessionTimeout(this: ConnectionSession): void {
  if (this.connection !== undefined && this.connection.streams === 0) this.close();
}

function onSessionClose(this: ConnectionSession): void {
  const c = this.connection;
  if (c !== undefined) this.origin?.forget(c);
}

function onSessionError(): void {
  // Streams of the session report the failure to their requests; the session is gone either way.
}

/** One request on a stream: the controller undici handlers expect. */
class H2Request implements Dispatcher.DispatchController {
  readonly handler: Dispatcher.DispatchHandler;
  readonly connection: Connection;
  readonly stream: ClientHttp2Stream;
  readonly timeoutMs: number;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  #done = false;
  trailers: IncomingHttpHeaders | null = null;
  timer: NodeJS.Timeout | null = null;

  constructor(
    handler: Dispatcher.DispatchHandler,
    connection: Connection,
    stream: ClientHttp2Stream,
    timeoutMs: number,
  ) {
    this.handler = handler;
    this.connection = connection;
    this.stream = stream;
    this.timeoutMs = timeoutMs;
  }

  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    if (this.#done) return;
    this.#aborted = true;
    this.#reason = reason;
    this.stream.close(NGHTTP2_CANCEL);
    this.fail(reason);
  }

  pause(): void {
    this.#paused = true;
    this.stream.pause();
  }

  resume(): void {
    this.#paused = false;
    this.stream.resume();
  }

  /** Ends the request once: with an error. */
  fail(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.release();
    this.handler.onResponseError?.(this, err);
  }

  /** Ends the request once: complete, with its trailers. */
  complete(): void {
    if (this.#done) return;
    this.#done = true;
    this.release();
    this.handler.onResponseEnd?.(this, this.trailers ?? {});
  }

  release(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.connection.streams--;
  }
}

interface RequestStream extends ClientHttp2Stream {
  request?: H2Request;
}

function requestOf(stream: ClientHttp2Stream): H2Request {
  return (stream as RequestStream).request as H2Request;
}

function onHeadersTimeout(r: H2Request): void {
  r.timer = null;
  r.abort(new UpstreamH2Error('UND_ERR_HEADERS_TIMEOUT', 'upstream did not answer in time'));
}

function onBodyTimeout(this: ClientHttp2Stream): void {
  requestOf(this).abort(new UpstreamH2Error('UND_ERR_BODY_TIMEOUT', 'upstream body timed out'));
}

function onStreamResponse(this: ClientHttp2Stream, headers: IncomingHttpHeaders): void {
  const r = requestOf(this);
  if (r.timer !== null) {
    clearTimeout(r.timer);
    r.timer = null;
  }
  this.setTimeout(r.timeoutMs, onBodyTimeout);
  const status = Number(headers[':status']);
  const out: IncomingHttpHeaders = {};
  for (const name in headers) if (name.charCodeAt(0) !== 58) out[name] = headers[name];
  r.handler.onResponseStart?.(r, status, out, '');
}

function onStreamData(this: ClientHttp2Stream, chunk: Buffer): void {
  const r = requestOf(this);
  if (r.aborted) return;
  r.handler.onResponseData?.(r, chunk);
}

function onStreamTrailers(this: ClientHttp2Stream, trailers: IncomingHttpHeaders): void {
  requestOf(this).trailers = trailers;
}

function onStreamEnd(this: ClientHttp2Stream): void {
  requestOf(this).complete();
}

function onStreamError(this: ClientHttp2Stream, err: Error): void {
  requestOf(this).fail(rootCause(err));
}

function onStreamClose(this: ClientHttp2Stream): void {
  const r = requestOf(this);
  // A stream reset by the backend, or closed before its end, is a failed request.
  r.fail(new UpstreamH2Error('UND_ERR_SOCKET', `upstream stream closed (code ${this.rstCode})`));
}

async function sendBody(
  stream: ClientHttp2Stream,
  body: Readable | AsyncIterable<Uint8Array>,
  r: H2Request,
): Promise<void> {
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (stream.destroyed) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      r.handler.onBodySent?.(buf);
      if (!stream.write(buf)) {
        await new Promise<void>((resolve) => {
          stream.once('drain', resolve);
          stream.once('close', resolve);
        });
      }
    }
    if (!stream.destroyed) stream.end();
  } catch (err) {
    r.abort(err as Error);
  }
}

export class H2Origin {
  readonly #authority: string;
  readonly #scheme: 'http' | 'https';
  readonly #tls: (UpstreamTLSOptions & { readonly servername?: string }) | null;
  readonly #options: H2OriginOptions;
  readonly #connections: Connection[] = [];
  #closed = false;

  /** `origin` is `http://host:port`; with `tls` the connection is TLS (ALPN h2). */
  constructor(
    origin: string,
    tls: (UpstreamTLSOptions & { readonly servername?: string }) | null,
    options: H2OriginOptions,
  ) {
    this.#authority = origin.replace(/^http:\/\//, tls === null ? 'http://' : 'https://');
    this.#scheme = tls === null ? 'http' : 'https';
    this.#tls = tls;
    this.#options = options;
  }

  forget(c: Connection): void {
    const i = this.#connections.indexOf(c);
    if (i >= 0) this.#connections.splice(i, 1);
  }

  #connection(): Connection {
    for (const c of this.#connections) if (c.usable) return c;
    if (this.#connections.length >= this.#options.maxConnections) {
      // Every connection is at its stream limit: queue on the least busy one (node holds the stream until a slot frees).
      let best = this.#connections[0] as Connection;
      for (const c of this.#connections) if (c.streams < best.streams && !c.session.closed) best = c;
      if (!best.session.closed && !best.session.destroyed) return best;
    }
    const t = this.#tls;
    const session = connect(this.#authority, {
      settings: { enablePush: false },
      maxSessionMemory: 32,
      ...(t === null
        ? {}
        : {
            ...t,
            ALPNProtocols: ['h2'],
            ...(t.servername !== undefined ? { servername: t.servername } : {}),
          }),
    }) as ConnectionSession;
    const c = new Connection(session);
    session.connection = c;
    session.origin = this;
    session.setTimeout(this.#options.idleTimeoutMs, onSessionTimeout);
    session.on('close', onSessionClose);
    session.on('error', onSessionError);
    const connectTimer = setTimeout(() => {
      if (!session.connecting) return;
      session.destroy(new UpstreamH2Error('UND_ERR_CONNECT_TIMEOUT', 'connect timeout'));
    }, this.#options.connectTimeoutMs);
    session.once('connect', () => clearTimeout(connectTimer));
    session.once('close', () => clearTimeout(connectTimer));
    this.#connections.push(c);
    return c;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      handler.onResponseError?.(
        { aborted: true, paused: false, reason: null, abort() {}, pause() {}, resume() {} },
        new UpstreamH2Error('UND_ERR_CLOSED', 'upstream closed'),
      );
      return false;
    }
    const headers: OutgoingHttpHeaders = {
      ':method': options.method,
      ':path': options.path,
      ':scheme': this.#scheme,
    };
    const flat = options.headers as readonly string[];
    for (let i = 0; i < flat.length; i += 2) {
      const name = (flat[i] as string).toLowerCase();
      const value = flat[i + 1] as string;
      if (name === 'host') {
        headers[':authority'] = value;
        continue;
      }
      const prior = headers[name];
      if (prior === undefined) headers[name] = value;
      else if (Array.isArray(prior)) prior.push(value);
      else headers[name] = [String(prior), value];
    }
    const body = (options as UpstreamDispatchOptions).body ?? null;
    const connection = this.#connection();
    let stream: ClientHttp2Stream;
    try {
      stream = connection.session.request(headers, { endStream: body === null });
    } catch (err) {
      handler.onResponseError?.(
        { aborted: true, paused: false, reason: null, abort() {}, pause() {}, resume() {} },
        err as Error,
      );
      return false;
    }
    connection.streams++;
    const timeoutMs = options.headersTimeout ?? this.#options.timeoutMs;
    const r = new H2Request(handler, connection, stream, this.#options.timeoutMs);
    (stream as RequestStream).request = r;
    r.timer = setTimeout(onHeadersTimeout, timeoutMs, r);
    stream.on('response', onStreamResponse);
    stream.on('data', onStreamData);
    stream.on('trailers', onStreamTrailers);
    stream.on('end', onStreamEnd);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    handler.onRequestStart?.(r, {});
    if (body !== null && typeof body !== 'string' && !Buffer.isBuffer(body) && !(body instanceof Uint8Array)) {
      void sendBody(stream, body as Readable | AsyncIterable<Uint8Array>, r);
    } else if (body !== null) {
      stream.end(body);
    }
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#connections.map((c) => new Promise<void>((resolve) => c.session.close(() => resolve()))));
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    for (const c of this.#connections) c.session.destroy();
  }
}
