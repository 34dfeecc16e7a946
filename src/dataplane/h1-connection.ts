import { type Server, STATUS_CODES } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { CompiledHeaderModifier } from '../compile/route-filters.ts';
import type { H1Origin, H1Upstream, H1UpstreamUser } from '../upstream/h1-origin.ts';
import { READ_BUFFER_SIZE, upstreamEndedEarly } from '../upstream/h1-origin.ts';
import { peerAddress } from './client-address.ts';
import { classifyUpstreamError, GatehouseError, UPSTREAM_PROTOCOL, UPSTREAM_TIMEOUT } from './errors.ts';
import type { ExchangeRecord } from './exchange.ts';
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from './h1-chunked.ts';
import {
  INCOMPLETE,
  InvalidResponse,
  type ParsedRequest,
  type ParsedResponse,
  parseRequestHead,
  parseResponseHead,
  prefaceState,
  SLOW,
} from './h1-parse.ts';
import { connectionTokens } from './headers.ts';
import { sendMirrors } from './http-handler.ts';
import { type ListenerBinding, type RequestHead, type RoutingExchange, routeRequest } from './routing.ts';

/**
 * The HTTP/1.1 fast path for cleartext listeners: requests read and responses written on the sockets directly,
 * without node's IncomingMessage/ServerResponse streams or undici's dispatcher layers, which cost most of the CPU
 * a proxied request takes in Node.js. It serves the common case only. A request head outside the narrow subset
 * h1-parse.ts accepts, or a listener with a backend the fast path does not speak to (TLS, HTTP/2), hands the
 * connection — with every byte not yet consumed — to node's HTTP server for the rest of its life, which answers
 * exactly as it always did. Routing, forwarding headers, filters, metrics and logs are the shared ones.
 */

export type ConnectionListener = (this: Server, socket: Duplex) => void;

export interface H1Limits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly maxHeaderCount: number;
  readonly maxRequestsPerSocket: number;
}

/** Largest upstream response head accepted (node's own default limit for responses is 16 KiB; backends vary). */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** A local answer to a request with a body larger than this closes the connection instead of reading it all. */
const MAX_DISCARD = 64 * 1024;
/** Response bodies up to this size that arrive with their head are written together with it. */
const SMALL_BODY = 4096;
/** Request body held while the exchange waits for an upstream connection; past it the client is read no further. */
const MAX_PENDING_BODY = 64 * 1024;

const PHASE_IDLE = 0;
const PHASE_ACTIVE = 1;
const PHASE_CLOSED = 2;
const PHASE_HANDED = 3;

const DEADLINE_NONE = 0;
const DEADLINE_KEEPALIVE = 1;
const DEADLINE_HEAD = 2;
const DEADLINE_BODY = 3;

/** How the upstream response body is framed, and so when it ends. */
const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;
/** Until the backend closes: re-framed as chunked for the client, which keeps its connection. */
const BODY_UNTIL_CLOSE = 3;

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

interface H1Socket extends Socket {
  h1?: H1Connection | undefined;
}

/** The request fields routing reads through `headers`. */
class HeadFields {
  readonly host: string;
  readonly 'x-request-id': string | undefined;
  readonly te: string | undefined;
  constructor(r: ParsedRequest) {
    this.host = r.host;
    this['x-request-id'] = r.requestId;
    this.te = r.te;
  }
}

/** Per cleartext listener: starts fast-path connections, keeps their timeouts, and hands them over. */
export class H1Listener {
  readonly binding: ListenerBinding;
  readonly server: Server;
  readonly http1: ConnectionListener;
  /** Takes connections that open with the HTTP/2 preface (h2c with prior knowledge). */
  readonly h2: Http2Server;
  readonly limits: H1Limits;
  readonly connections = new Set<H1Connection>();
  readonly keepAliveHeader: string;
  /** Its port was closed: no new connections; the ones left close after their response. */
  closed = false;
  #dateSecond = 0;
  #date = '';

  constructor(binding: ListenerBinding, server: Server, http1: ConnectionListener, h2: Http2Server, limits: H1Limits) {
    this.binding = binding;
    this.server = server;
    this.http1 = http1;
    this.h2 = h2;
    this.limits = limits;
    // As node's HTTP server words it.
    this.keepAliveHeader =
      `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(limits.keepAliveTimeoutMs / 1000)}` +
      `${limits.maxRequestsPerSocket > 0 ? `, max=${limits.maxRequestsPerSocket}` : ''}\r\n`;
  }

  /** A new connection (`first`: bytes already read from it); its first request head is due in the headers timeout. */
  start(socket: Socket, first: Buffer | null): void {
    const conn = new H1Connection(this, socket as H1Socket);
    this.connections.add(conn);
    if (first !== null) conn.received(first);
    else conn.awaitFirstBytes();
  }

  /** The `Date` header value, computed once a second. */
  date(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.#dateSecond) {
      this.#dateSecond = second;
      this.#date = new Date(second * 1000).toUTCString();
    }
    return this.#date;
  }

  /** Applies connection deadlines (idle keep-alive, slow heads, slow bodies); called about once a second. */
  sweep(): void {
    const now = performance.now();
    for (const conn of this.connections) if (conn.deadlineKind !== DEADLINE_NONE && now >= conn.deadline) conn.expire();
  }

  /** Closes idle connections now; busy ones close after their current response. */
  closeIdle(): void {
    for (const conn of this.connections) conn.closeWhenIdle();
  }

  closeAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }
}

function onClientData(this: H1Socket, chunk: Buffer): void {
  this.h1?.received(chunk);
}

function onClientEnd(this: H1Socket): void {
  this.h1?.clientEnded();
}

function onClientClose(this: H1Socket): void {
  this.h1?.clientClosed();
}

function onClientDrain(this: H1Socket): void {
  this.h1?.clientDrained();
}

function onClientError(): void {
  // 'close' follows; an exchange in flight is counted as ended there.
}

function onClientFinish(this: H1Socket): void {
  this.destroy();
}

function onRequestTimeout(conn: H1Connection): void {
  conn.timer = null;
  conn.timedOut('route request timeout');
}

function onBackendTimeout(conn: H1Connection): void {
  conn.headTimer = null;
  conn.timedOut('backend request timeout');
}

/** One client connection on the fast path, and the one exchange it has in flight (requests are served in order). */
export class H1Connection implements RequestHead, RoutingExchange, ExchangeRecord, H1UpstreamUser {
  readonly listener: string;
  readonly socket: H1Socket;
  readonly owner: H1Listener;
  readonly peer: string;
  phase = PHASE_IDLE;
  /** Bytes read and not consumed yet: a partial head, or pipelined requests. */
  buf: Buffer | null = null;
  requests = 0;
  closeAfter = false;
  deadline = 0;
  deadlineKind = DEADLINE_NONE;
  /** Reading from the client is paused (upstream backpressure, or pipelined requests piling up). */
  clientPaused = false;
  /** Pieces of a request head that came after `buf` and have no line end yet. */
  partial: Buffer[] | null = null;
  partialLength = 0;
  #looping = false;

  // The exchange in flight (ExchangeRecord and RequestHead).
  start = 0;
  clientAddress = '';
  method = '';
  host = '';
  path = '';
  requestId = '';
  route = '';
  backend = '';
  upstream = '';
  status = 0;
  bytes = 0;
  errorCode = '';
  url = '';
  headers: HeadFields | { readonly host?: undefined } = {};
  rawHeaders: string[] = [];
  readonly httpVersionMajor = 1;
  #headersDistinct: Record<string, string[]> | null = null;

  request: ParsedRequest | null = null;
  origin: H1Origin | null = null;
  up: H1Upstream | null = null;
  waiting = false;
  upstreamHead = '';
  retried = false;
  bodyLeft = 0;
  pendingBody: Buffer[] | null = null;
  pendingBytes = 0;
  discard = false;
  answered = false;
  bodyPaused = false;
  responseHeaders: CompiledHeaderModifier | null = null;
  backendResponseHeaders: CompiledHeaderModifier | null = null;
  timer: NodeJS.Timeout | null = null;
  headTimer: NodeJS.Timeout | null = null;

  // The response.
  rbuf: Buffer | null = null;
  headParsed = false;
  headSent = false;
  bodyMode = BODY_NONE;
  respLeft = 0;
  scanner: ChunkedScanner | null = null;
  upReusable = true;
  gotResponseBytes = false;
  upstreamPaused = false;

  constructor(owner: H1Listener, socket: H1Socket) {
    this.owner = owner;
    this.socket = socket;
    this.listener = owner.binding.listenerName;
    this.peer = peerAddress(socket);
    socket.h1 = this;
    socket.on('data', onClientData);
    socket.on('end', onClientEnd);
    socket.on('close', onClientClose);
    socket.on('drain', onClientDrain);
    socket.on('error', onClientError);
  }

  get headersDistinct(): Record<string, string[]> {
    if (this.#headersDistinct !== null) return this.#headersDistinct;
    const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const prior = out[name];
      if (prior === undefined) out[name] = [raw[i + 1] as string];
      else prior.push(raw[i + 1] as string);
    }
    this.#headersDistinct = out;
    return out;
  }

  awaitFirstBytes(): void {
    this.#setDeadline(DEADLINE_HEAD, this.owner.limits.headersTimeoutMs);
  }

  /** Bytes from the client. */
  received(chunk: Buffer): void {
    if (this.phase === PHASE_ACTIVE && this.bodyLeft > 0) {
      const n = Math.min(this.bodyLeft, chunk.length);
      this.bodyLeft -= n;
      this.#forwardBody(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (this.bodyLeft === 0) this.#bodyComplete();
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    if (this.phase === PHASE_ACTIVE) {
      this.#append(chunk);
      // Pipelined requests wait for the response in flight; a client that piles them up is read no further.
      if ((this.buf as Buffer).length > this.owner.limits.maxHeaderSize) this.#pauseClient();
      return;
    }
    if (this.phase !== PHASE_IDLE) return;
    if (this.buf !== null || this.partial !== null) {
      // A head arriving in pieces is parsed again only when a line ends (or the size limit is reached), so a
      // client trickling bytes costs one copy per line, not one parse and copy per byte.
      this.partial ??= [];
      this.partial.push(chunk);
      this.partialLength += chunk.length;
      if (chunk.indexOf(10) < 0 && (this.buf?.length ?? 0) + this.partialLength < this.owner.limits.maxHeaderSize) {
        return;
      }
      if (this.buf !== null) this.partial.unshift(this.buf);
      this.buf = Buffer.concat(this.partial);
      this.partial = null;
      this.partialLength = 0;
    } else {
      this.buf = chunk;
    }
    this.#next();
  }

  #append(chunk: Buffer): void {
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
  }

  #pauseClient(): void {
    if (this.clientPaused) return;
    this.clientPaused = true;
    this.socket.pause();
  }

  #resumeClient(): void {
    if (!this.clientPaused || this.bodyPaused) return;
    this.clientPaused = false;
    this.socket.resume();
  }

  /** Starts the requests buffered, one at a time, until one is in flight or the buffer holds no complete head. */
  #next(): void {
    if (this.#looping) return;
    this.#looping = true;
    try {
      while (this.phase === PHASE_IDLE && this.buf !== null) {
        const limits = this.owner.limits;
        if (this.requests === 0 && this.buf[0] === 0x50) {
          const preface = prefaceState(this.buf);
          if (preface === true) {
            this.#handOver(true);
            return;
          }
          if (preface === null) {
            if (this.deadlineKind !== DEADLINE_HEAD) this.#setDeadline(DEADLINE_HEAD, limits.headersTimeoutMs);
            return;
          }
        }
        const r = parseRequestHead(this.buf, 0, limits.maxHeaderSize, limits.maxHeaderCount);
        if (r === INCOMPLETE) {
          if (this.deadlineKind !== DEADLINE_HEAD) this.#setDeadline(DEADLINE_HEAD, limits.headersTimeoutMs);
          return;
        }
        const listener = this.owner.binding.context.table?.listeners.get(this.listener);
        if (r === SLOW || (listener !== undefined && !listener.fastH1)) {
          this.#handOver(false);
          return;
        }
        this.#begin(r);
      }
    } finally {
      this.#looping = false;
    }
  }

  #setDeadline(kind: number, ms: number): void {
    this.deadlineKind = kind;
    this.deadline = performance.now() + ms;
  }

  /**
   * From this request on, node's HTTP server reads the connection (with what is buffered put back first); `h2`:
   * its HTTP/2 server, for a connection that opened with the preface.
   */
  #handOver(h2: boolean): void {
    const socket = this.socket;
    this.phase = PHASE_HANDED;
    this.owner.connections.delete(this);
    socket.h1 = undefined;
    socket.off('data', onClientData);
    socket.off('end', onClientEnd);
    socket.off('close', onClientClose);
    socket.off('drain', onClientDrain);
    socket.off('error', onClientError);
    socket.pause();
    if (this.buf !== null) socket.unshift(this.buf);
    this.buf = null;
    // node's HTTP/2 session reads what is already buffered itself; the HTTP/1 parser needs the stream flowing.
    if (h2) {
      this.owner.h2.emit('connection', socket);
      return;
    }
    this.owner.http1.call(this.owner.server, socket);
    socket.resume();
  }

  #begin(r: ParsedRequest): void {
    const buf = this.buf as Buffer;
    this.buf = r.headEnd === buf.length ? null : buf.subarray(r.headEnd);
    const ctx = this.owner.binding.context;
    this.phase = PHASE_ACTIVE;
    this.requests++;
    this.deadlineKind = DEADLINE_NONE;
    if (r.close || ctx.draining || this.requests >= this.owner.limits.maxRequestsPerSocket) this.closeAfter = true;
    this.start = performance.now();
    this.request = r;
    this.clientAddress = this.peer;
    this.method = r.method;
    this.url = r.target;
    this.path = r.target;
    this.host = '';
    this.requestId = '';
    this.route = '';
    this.backend = '';
    this.upstream = '';
    this.status = 0;
    this.bytes = 0;
    this.errorCode = '';
    this.headers = new HeadFields(r);
    this.rawHeaders = r.rawHeaders;
    this.#headersDistinct = null;
    this.bodyLeft = r.contentLength;
    this.retried = false;
    this.discard = false;
    this.answered = false;
    this.headParsed = false;
    this.headSent = false;
    this.gotResponseBytes = false;
    this.upReusable = true;
    this.bodyMode = BODY_NONE;
    this.scanner = null;
    this.rbuf = null;
    ctx.exchangeStarted(this);

    const plan = routeRequest(this.owner.binding, this, this, this.peer);
    if (plan === null) {
      this.#answeredLocally();
      return;
    }
    const backend = plan.backend;
    const index = backend.pick();
    const origin = backend.h1Origin(index);
    this.upstream = backend.origins[index] as string;
    if (origin === null) {
      // The table changed under this listener to a backend the fast path does not speak to.
      this.respond(502, 'upstream unavailable', false);
      this.#answeredLocally();
      return;
    }
    const routeFilters = plan.routeFilters;
    this.responseHeaders = routeFilters?.responseHeaders ?? null;
    this.backendResponseHeaders = plan.backendFilters?.responseHeaders ?? null;
    if (routeFilters !== null && routeFilters.mirrors.length > 0) {
      sendMirrors(routeFilters, plan.upstreamPath, this.method, plan.headers);
    }
    const head = upstreamHead(
      this.method,
      plan.upstreamPath,
      plan.headers,
      routeFilters !== null || plan.backendFilters !== null ? (r.hasContentLength ? r.contentLength : -1) : null,
    );
    if (head === null) {
      this.errorCode = 'GH_ERR_INVALID_HEADER';
      this.respond(500, 'invalid request header from a filter', false);
      this.#answeredLocally();
      return;
    }
    this.upstreamHead = head;
    const route = plan.route;
    if (route.requestTimeoutMs > 0) this.timer = setTimeout(onRequestTimeout, route.requestTimeoutMs, this);
    if (route.backendTimeoutMs > 0) this.headTimer = setTimeout(onBackendTimeout, route.backendTimeoutMs, this);
    this.origin = origin;
    this.waiting = true;
    origin.acquire(this, false);
    this.#takeInitialBody();
  }

  /** The body bytes that came with the head. */
  #takeInitialBody(): void {
    if (this.bodyLeft === 0) return;
    const buf = this.buf;
    if (buf !== null) {
      const n = Math.min(this.bodyLeft, buf.length);
      this.bodyLeft -= n;
      this.buf = n === buf.length ? null : buf.subarray(n);
      this.#forwardBody(n === buf.length ? buf : buf.subarray(0, n));
    }
    if (this.bodyLeft > 0) this.#setDeadline(DEADLINE_BODY, this.owner.limits.requestTimeoutMs);
    else this.#bodyComplete();
  }

  #forwardBody(part: Buffer): void {
    this.owner.binding.context.bodyBytes(part.length);
    if (this.discard) return;
    const up = this.up;
    if (up === null) {
      // Waiting for an upstream connection (at the connection limit): hold at most a little of the body.
      this.pendingBody ??= [];
      this.pendingBody.push(part);
      this.pendingBytes += part.length;
      if (this.pendingBytes > MAX_PENDING_BODY) {
        this.bodyPaused = true;
        this.#pauseClient();
      }
      return;
    }
    if (!up.socket.write(part)) {
      this.bodyPaused = true;
      this.#pauseClient();
    }
  }

  #bodyComplete(): void {
    if (this.deadlineKind === DEADLINE_BODY) this.deadlineKind = DEADLINE_NONE;
    if (this.discard) this.#finish();
  }

  /** Routing answered (or the request could not be forwarded): the rest of its body is read and dropped. */
  #answeredLocally(): void {
    if (this.bodyLeft === 0) {
      this.#finish();
      return;
    }
    if (this.closeAfter || this.bodyLeft > MAX_DISCARD) {
      this.closeAfter = true;
      this.bodyLeft = 0;
      this.#finish();
      return;
    }
    this.discard = true;
    this.#takeInitialBody();
  }

  upstreamReady(up: H1Upstream): void {
    this.waiting = false;
    if (this.phase !== PHASE_ACTIVE) {
      (this.origin as H1Origin).release(up, true);
      return;
    }
    this.up = up;
    const socket = up.socket;
    const pending = this.pendingBody;
    if (pending === null) {
      // The common case, a head alone: one write, no cork.
      socket.write(this.upstreamHead, 'latin1');
      return;
    }
    socket.cork();
    socket.write(this.upstreamHead, 'latin1');
    let flowing = true;
    this.pendingBody = null;
    this.pendingBytes = 0;
    for (let i = 0; i < pending.length; i++) flowing = socket.write(pending[i] as Buffer);
    socket.uncork();
    if (this.bodyPaused && flowing) {
      this.bodyPaused = false;
      this.#resumeClient();
    }
  }

  upstreamDrain(_up: H1Upstream): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.#resumeClient();
  }

  /** `chunk` lies in the connection's read buffer: it is copied to be kept, and written to the client only. */
  upstreamData(up: H1Upstream, chunk: Buffer): void {
    if (up !== this.up) return;
    this.gotResponseBytes = true;
    if (!this.headParsed) {
      const rbuf = this.rbuf === null ? chunk : Buffer.concat([this.rbuf, chunk]);
      this.rbuf = null;
      this.#responseHead(up, rbuf);
    } else {
      this.#responseBody(up, chunk);
    }
    // A write that did not complete at once (or one cut by a destroy) may still point into the read buffer: the
    // next read gets a new one, and this one is garbage once the write is done.
    if (this.socket.writableLength !== 0 || this.socket.destroyed) {
      up.bufferTaken = true;
      this.owner.binding.context.bodyBytes(READ_BUFFER_SIZE);
    }
  }

  #responseHead(up: H1Upstream, rbuf: Buffer): void {
    let start = 0;
    let r: ParsedResponse;
    for (;;) {
      const parsed = parseResponseHead(rbuf, start, MAX_RESPONSE_HEAD);
      if (parsed === INCOMPLETE) {
        this.rbuf = Buffer.from(start === 0 ? rbuf : rbuf.subarray(start));
        return;
      }
      if (parsed instanceof InvalidResponse) {
        this.#fail(new GatehouseError(UPSTREAM_PROTOCOL, 502, `invalid upstream response: ${parsed.reason}`));
        return;
      }
      r = parsed;
      if (r.status >= 200) break;
      // Interim responses (100, 102, 103) are not passed on; a 101 was never asked for.
      if (r.status === 101) {
        this.#fail(new GatehouseError(UPSTREAM_PROTOCOL, 502, 'unexpected 101 from upstream'));
        return;
      }
      start = r.headEnd;
      if (start === rbuf.length) return;
    }
    this.headParsed = true;
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
    if (r.close) this.upReusable = false;
    const status = r.status;
    let framing = '';
    if (this.method === 'HEAD' || status === 204 || status === 304) {
      this.bodyMode = BODY_NONE;
    } else if (r.chunked) {
      this.bodyMode = BODY_CHUNKED;
      this.scanner = new ChunkedScanner();
      framing = 'transfer-encoding: chunked\r\n';
    } else if (r.contentLength >= 0) {
      this.bodyMode = BODY_LENGTH;
      this.respLeft = r.contentLength;
    } else {
      this.bodyMode = BODY_UNTIL_CLOSE;
      this.upReusable = false;
      framing = 'transfer-encoding: chunked\r\n';
    }
    const head = this.#downstreamHead(status, r.rawHeaders, framing);
    this.status = status;
    this.headSent = true;
    const bodyStart = r.headEnd;
    const bodyEnd = bodyStart + this.respLeft;
    if (this.bodyMode === BODY_LENGTH && bodyEnd <= rbuf.length && this.respLeft <= SMALL_BODY) {
      // A small body that came with the head (the common case): head and body in one write of one string, which
      // costs less than a corked pair of writes (latin1 maps every byte to itself, so the body goes out as it came).
      const n = this.respLeft;
      this.respLeft = 0;
      if (bodyEnd < rbuf.length) this.upReusable = false;
      this.bytes += n;
      this.socket.write(n === 0 ? head : head + rbuf.toString('latin1', bodyStart, bodyEnd), 'latin1');
      this.#responseComplete(up);
      return;
    }
    this.socket.cork();
    this.socket.write(head, 'latin1');
    if (this.bodyMode === BODY_NONE) {
      if (r.headEnd < rbuf.length) this.upReusable = false;
      this.socket.uncork();
      this.#responseComplete(up);
      return;
    }
    if (r.headEnd < rbuf.length) this.#responseBody(up, rbuf.subarray(r.headEnd));
    else if (this.bodyMode === BODY_LENGTH && this.respLeft === 0) this.#responseComplete(up);
    this.socket.uncork();
  }

  #downstreamHead(status: number, raw: readonly string[], framing: string): string {
    let headers = raw;
    let listed: Set<string> | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        const t = connectionTokens(raw[i + 1]);
        if (t !== null) {
          listed ??= new Set();
          for (const x of t) listed.add(x);
        }
      }
    }
    if (this.responseHeaders !== null) headers = this.responseHeaders.applyFlat(headers);
    if (this.backendResponseHeaders !== null) headers = this.backendResponseHeaders.applyFlat(headers);
    let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let hasDate = false;
    let hasLength = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (isHopByHop(name)) continue;
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        // Repeated equal lengths (the parser refused unequal ones) go out once: clients refuse repeats.
        if (hasLength) continue;
        hasLength = true;
      }
      if (listed?.has(name.toLowerCase()) === true) continue;
      if (name.length === 4 && name.toLowerCase() === 'date') hasDate = true;
      out += `${name}: ${headers[i + 1] as string}\r\n`;
    }
    if (!hasDate) out += `date: ${this.owner.date()}\r\n`;
    out += framing;
    out += this.closeAfter ? 'connection: close\r\n\r\n' : `${this.owner.keepAliveHeader}\r\n`;
    return out;
  }

  #responseBody(up: H1Upstream, d: Buffer): void {
    switch (this.bodyMode) {
      case BODY_LENGTH: {
        const n = Math.min(this.respLeft, d.length);
        this.respLeft -= n;
        if (n < d.length) this.upReusable = false;
        this.#write(up, n === d.length ? d : d.subarray(0, n));
        if (this.respLeft === 0) this.#responseComplete(up);
        return;
      }
      case BODY_CHUNKED: {
        const end = (this.scanner as ChunkedScanner).scan(d, 0);
        if (end === CHUNKED_ERROR) {
          this.#fail(new GatehouseError(UPSTREAM_PROTOCOL, 502, 'invalid chunked encoding from upstream'));
          return;
        }
        if (end === CHUNKED_MORE) {
          this.#write(up, d);
          return;
        }
        if (end < d.length) this.upReusable = false;
        this.#write(up, end === d.length ? d : d.subarray(0, end));
        this.#responseComplete(up);
        return;
      }
      case BODY_UNTIL_CLOSE: {
        if (d.length === 0) return;
        this.socket.write(`${d.length.toString(16)}\r\n`, 'latin1');
        this.#write(up, d);
        this.socket.write(CRLF, 'latin1');
        return;
      }
      default:
        this.upReusable = false;
    }
  }

  /** Response bytes from the upstream read buffer, which allocates nothing to reclaim (see upstreamData). */
  #write(up: H1Upstream, d: Buffer): void {
    this.bytes += d.length;
    if (!this.socket.write(d) && !this.upstreamPaused) {
      this.upstreamPaused = true;
      up.socket.pause();
    }
  }

  clientDrained(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    this.up?.socket.resume();
  }

  /** The whole response came from the backend. */
  #responseComplete(up: H1Upstream): void {
    if (this.upstreamPaused) {
      this.upstreamPaused = false;
      up.socket.resume();
    }
    this.up = null;
    // A backend that answered before reading the whole request body: the connection cannot carry another request.
    if (this.bodyLeft > 0) {
      this.upReusable = false;
      this.closeAfter = true;
    }
    (this.origin as H1Origin).release(up, this.upReusable);
    this.#finish();
  }

  upstreamClosed(up: H1Upstream, err: Error | null): void {
    if (up !== this.up) return;
    this.up = null;
    if (this.upstreamPaused) this.upstreamPaused = false;
    if (err === null && this.headParsed && this.bodyMode === BODY_UNTIL_CLOSE) {
      this.socket.write(LAST_CHUNK, 'latin1');
      this.#finish();
      return;
    }
    // A kept-alive connection the backend closed just as it was reused: the request never reached it.
    if (
      !this.gotResponseBytes &&
      up.reused &&
      isResetLike(err) &&
      IDEMPOTENT.has(this.method) &&
      !this.retried &&
      (this.request as ParsedRequest).contentLength === 0 &&
      this.phase === PHASE_ACTIVE
    ) {
      this.retried = true;
      this.waiting = true;
      (this.origin as H1Origin).acquire(this, true);
      return;
    }
    this.#fail(err ?? upstreamEndedEarly());
  }

  /** The backend failed this exchange: an error answer if nothing was sent yet, else a cut response. */
  #fail(err: Error): void {
    const cls = classifyUpstreamError(err);
    if (this.errorCode === '') this.errorCode = cls.code;
    this.owner.binding.context.upstreamFailed(this, err, this.errorCode);
    const up = this.up;
    this.up = null;
    if (up !== null) (this.origin as H1Origin).release(up, false);
    if (this.waiting) {
      this.waiting = false;
      (this.origin as H1Origin).cancel(this);
    }
    if (this.headSent) {
      // What was already written goes out (a corked head with it), then the cut.
      this.socket.uncork();
      this.socket.destroy();
      return;
    }
    // The rest of the request body will not be read: the connection closes after the answer.
    this.respond(cls.status, cls.status === 504 ? 'upstream timed out' : 'upstream unavailable', this.bodyLeft > 0);
    this.bodyLeft = 0;
    this.#finish();
  }

  timedOut(message: string): void {
    if (this.phase !== PHASE_ACTIVE || this.answered) return;
    const err = new GatehouseError(UPSTREAM_TIMEOUT, 504, message);
    if (this.headSent) {
      this.errorCode = UPSTREAM_TIMEOUT;
      this.owner.binding.context.upstreamFailed(this, err, UPSTREAM_TIMEOUT);
      this.socket.destroy();
      return;
    }
    this.#fail(err);
  }

  /** A local answer: routing results and errors, with a short plain-text body. */
  respond(status: number, body: string, close: boolean): void {
    if (this.headSent) {
      this.socket.destroy();
      return;
    }
    if (close) this.closeAfter = true;
    const text = `${body}\n`;
    this.status = status;
    this.answered = true;
    this.headSent = true;
    const length = Buffer.byteLength(text);
    this.bytes = length;
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${length}\r\ncache-control: no-store\r\ndate: ${this.owner.date()}\r\n` +
      (this.closeAfter ? 'connection: close\r\n\r\n' : `${this.owner.keepAliveHeader}\r\n`);
    this.socket.write(this.method === 'HEAD' ? head : head + text, 'utf8');
  }

  redirect(status: number, location: string): void {
    this.status = status;
    this.answered = true;
    this.headSent = true;
    if (/[\r\n\0]/.test(location)) {
      this.headSent = false;
      this.respond(500, 'invalid redirect location', false);
      return;
    }
    this.socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\nlocation: ${location}\r\ncontent-length: 0\r\n` +
        `date: ${this.owner.date()}\r\n` +
        (this.closeAfter ? 'connection: close\r\n\r\n' : `${this.owner.keepAliveHeader}\r\n`),
      'utf8',
    );
  }

  /** The exchange is over: counted and logged, then the next request (or the close the client asked for). */
  #finish(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
    // A request body not read to its end (the backend answered first) leaves the connection out of step.
    if (this.bodyLeft > 0 && !this.discard) this.closeAfter = true;
    this.phase = PHASE_IDLE;
    this.discard = false;
    this.origin = null;
    this.request = null;
    this.pendingBody = null;
    this.pendingBytes = 0;
    // Whatever upstream write was pending belongs to an exchange that is over.
    this.bodyPaused = false;
    this.responseHeaders = null;
    this.backendResponseHeaders = null;
    this.owner.binding.context.exchangeEnded(this);
    if (this.closeAfter) {
      this.phase = PHASE_CLOSED;
      this.buf = null;
      this.socket.once('finish', onClientFinish);
      this.socket.end();
      return;
    }
    this.#setDeadline(DEADLINE_KEEPALIVE, this.owner.limits.keepAliveTimeoutMs);
    if (this.clientPaused && !this.bodyPaused) {
      this.clientPaused = false;
      this.socket.resume();
    }
    if (this.buf !== null) this.#next();
  }

  /**
   * The client sent FIN. As node's HTTP server does (without `allowHalfOpen`), the request in flight is abandoned
   * and the connection closed once what was written has gone out.
   */
  clientEnded(): void {
    this.#abandon();
    this.phase = PHASE_CLOSED;
    this.socket.end();
  }

  clientClosed(): void {
    this.owner.connections.delete(this);
    this.#abandon();
    this.phase = PHASE_CLOSED;
    this.socket.h1 = undefined;
  }

  /** The client is gone: the exchange in flight, if any, ends as 499 and its upstream connection is closed. */
  #abandon(): void {
    if (this.phase !== PHASE_ACTIVE) return;
    this.phase = PHASE_CLOSED;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.headTimer !== null) clearTimeout(this.headTimer);
    this.timer = null;
    this.headTimer = null;
    const up = this.up;
    this.up = null;
    if (up !== null) (this.origin as H1Origin).release(up, false);
    if (this.waiting) (this.origin as H1Origin).cancel(this);
    if (!this.headSent || this.status === 0) this.status = 499;
    this.owner.binding.context.exchangeEnded(this);
  }

  /** A connection deadline passed (see H1Listener.sweep). */
  expire(): void {
    const kind = this.deadlineKind;
    this.deadlineKind = DEADLINE_NONE;
    if (kind === DEADLINE_HEAD && this.phase === PHASE_IDLE) {
      // A connection that never said anything is closed without an answer.
      if (this.buf === null) {
        this.socket.destroy();
        return;
      }
      this.phase = PHASE_CLOSED;
      this.socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      this.socket.once('finish', onClientFinish);
      return;
    }
    if (kind === DEADLINE_BODY && this.phase === PHASE_ACTIVE && this.bodyLeft > 0) {
      if (this.headSent) {
        this.socket.destroy();
        return;
      }
      const up = this.up;
      this.up = null;
      if (up !== null) (this.origin as H1Origin).release(up, false);
      if (this.waiting) {
        this.waiting = false;
        (this.origin as H1Origin).cancel(this);
      }
      this.errorCode = 'GH_ERR_REQUEST_TIMEOUT';
      this.respond(408, 'request timeout', true);
      this.bodyLeft = 0;
      this.#finish();
      return;
    }
    if (kind === DEADLINE_KEEPALIVE && this.phase === PHASE_IDLE) this.socket.destroy();
  }

  /** Draining: close now if idle, else after the response in flight. */
  closeWhenIdle(): void {
    if (this.phase === PHASE_ACTIVE) this.closeAfter = true;
    else if (this.phase === PHASE_IDLE) this.socket.destroy();
  }
}

/** Hop-by-hop response fields (the same list as headers.ts), by length first so most names are never lower-cased. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te';
    case 7: {
      const n = name.toLowerCase();
      return n === 'trailer' || n === 'upgrade';
    }
    case 10: {
      const n = name.toLowerCase();
      return n === 'connection' || n === 'keep-alive';
    }
    case 14:
      return name.toLowerCase() === 'http2-settings';
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}

/** Bytes a header line or request target may not carry (filters and rewrites come from configuration). */
const UNSAFE = /[^\t\x20-\x7e\x80-\xff]/;

/** RFC 9110 field names. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The upstream request head, or null when a configured header or rewritten path holds unsafe characters. What the
 * client sent was checked by the parser and gatehouse's own fields are safe by construction, so only requests that
 * filters touched are checked again (`filtered`: not null). Filters never decide the framing: on such requests the
 * body length is the client's (`filtered`: its Content-Length, -1 for none), whatever a filter set or removed.
 */
function upstreamHead(
  method: string,
  path: string,
  headers: readonly string[],
  filtered: number | null,
): string | null {
  const check = filtered !== null;
  if (check && (UNSAFE.test(path) || path.includes(' '))) return null;
  let out = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const value = headers[i + 1] as string;
    if (check) {
      if (!FIELD_NAME.test(name) || UNSAFE.test(value)) return null;
      if (isHopByHop(name) || (name.length === 14 && name.toLowerCase() === 'content-length')) continue;
    }
    out += `${name}: ${value}\r\n`;
  }
  if (filtered !== null && filtered >= 0) out += `content-length: ${filtered}\r\n`;
  return `${out}connection: keep-alive\r\n\r\n`;
}

/** Methods a request of may be sent again when the connection it went out on turned out closed (RFC 9110 9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** A clean close or a reset: what a backend closing an idle keep-alive connection looks like. */
function isResetLike(err: Error | null): boolean {
  if (err === null) return true;
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
