import { createHash } from 'node:crypto';
import {
  type ClientRequest,
  type ClientRequestArgs,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { CompiledHeaderModifier } from '../compile/route-filters.ts';
import type { UpstreamAddress } from '../upstream/backend.ts';
import { peerAddress } from './client-address.ts';
import {
  classifyUpstreamError,
  GatehouseError,
  TUNNEL_IDLE,
  UPSTREAM_INVALID_UPGRADE,
  UPSTREAM_PROTOCOL,
  UPSTREAM_TIMEOUT,
} from './errors.ts';
import type { ExchangeRecord } from './exchange.ts';
import { downstreamResponseHeaders } from './headers.ts';
import { countHost, type HandlerContext, type ListenerBinding, type RoutingExchange, routeRequest } from './routing.ts';

export interface WebSocketLimits {
  /** An established tunnel with no traffic either way for this long is closed. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Time for the upstream to answer the upgrade once connected; a route's backend timeout takes precedence. */
  readonly responseTimeoutMs: number;
  /** Bound on the upstream's response head. */
  readonly maxHeaderSize: number;
}

export interface WebSocketContext extends HandlerContext {
  readonly webSocketLimits: WebSocketLimits;
  /**
   * Upgraded connections are no longer their server's to close (closeAllConnections skips them), so a drain
   * cuts those still open itself when its time is up.
   */
  upgradeStarted(client: Duplex): void;
  upgradeEnded(client: Duplex): void;
}

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Base64 of 16 bytes: 22 characters, the last carrying 2 bits, then `==` (RFC 6455 4.1). */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const VERSION = /^\d{1,3}$/;
/** A refusal (403, 426, ...) is relayed whole or not at all; its body is small or it is not a refusal. */
const MAX_REFUSAL_BODY = 64 * 1024;
/** Time a refused client gets to read its answer and close before the connection is cut. */
const LINGER_MS = 5_000;

const HANDSHAKE = 0;
/** A local answer or relayed refusal was written; waiting for the client connection to close. */
const ANSWERED = 1;
const TUNNEL = 2;
/** The client went away before the handshake finished. */
const ABANDONED = 3;

const kExchange = Symbol('gatehouse.websocket');
interface Tagged {
  [kExchange]?: WebSocketExchange;
}

function exchangeOf(o: object): WebSocketExchange {
  return (o as Tagged)[kExchange] as WebSocketExchange;
}

function expectedAccept(key: string): string {
  return createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** `name: value\r\n` lines, or null when a name or value could not be written safely. */
function headerLines(headers: OutgoingHttpHeaders): string | null {
  let out = '';
  try {
    for (const name in headers) {
      const v = headers[name];
      if (v === undefined) continue;
      validateHeaderName(name);
      if (Array.isArray(v)) {
        for (const x of v) {
          validateHeaderValue(name, x);
          out += `${name}: ${x}\r\n`;
        }
      } else {
        const x = String(v);
        validateHeaderValue(name, x);
        out += `${name}: ${x}\r\n`;
      }
    }
  } catch {
    return null;
  }
  return out;
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
}

/** Response headers for the client: hop-by-hop removed, then the route's and backend's modifiers. */
function relayedHeaders(ex: WebSocketExchange, res: IncomingMessage): OutgoingHttpHeaders {
  const out = downstreamResponseHeaders(res.headers);
  delete out['content-length'];
  if (ex.responseHeaders !== null) ex.responseHeaders.applyObject(out as Record<string, string | string[]>);
  if (ex.backendResponseHeaders !== null) {
    ex.backendResponseHeaders.applyObject(out as Record<string, string | string[]>);
  }
  return out;
}

/**
 * One WebSocket upgrade: routed like a request, then either answered (locally, or with the upstream's
 * refusal) or turned into a tunnel once the upstream has accepted with a valid 101. Node objects involved
 * (sockets, the upstream request) find it through a symbol, so no closure is made per connection.
 */
class WebSocketExchange implements RoutingExchange, ExchangeRecord {
  readonly ctx: WebSocketContext;
  readonly client: Socket;
  /** Bytes the client sent after its request head: held back until the upstream has accepted. */
  readonly clientHead: Buffer;
  readonly listener: string;
  readonly start: number;
  clientAddress: string;
  readonly method: string;
  host: string;
  path: string;
  requestId: string;
  route: string;
  backend: string;
  upstream: string;
  status: number;
  bytes: number;
  errorCode: string;
  phase: number;
  accept: string;
  responseTimeoutMs: number;
  responseHeaders: CompiledHeaderModifier | null;
  backendResponseHeaders: CompiledHeaderModifier | null;
  upstreamRequest: ClientRequest | null;
  upstreamSocket: Socket | null;
  refusal: IncomingMessage | null;
  refusalBody: Buffer[];
  refusalBytes: number;
  timer: NodeJS.Timeout | null;
  clientClosed: boolean;
  upstreamClosed: boolean;
  ended: boolean;

  constructor(ctx: WebSocketContext, req: IncomingMessage, client: Socket, head: Buffer, listener: string) {
    this.ctx = ctx;
    this.client = client;
    this.clientHead = head;
    this.listener = listener;
    this.start = performance.now();
    this.clientAddress = peerAddress(client);
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
    this.phase = HANDSHAKE;
    this.accept = '';
    this.responseTimeoutMs = 0;
    this.responseHeaders = null;
    this.backendResponseHeaders = null;
    this.upstreamRequest = null;
    this.upstreamSocket = null;
    this.refusal = null;
    this.refusalBody = [];
    this.refusalBytes = 0;
    this.timer = null;
    this.clientClosed = false;
    this.upstreamClosed = false;
    this.ended = false;
  }

  respond(status: number, body: string, _close: boolean): void {
    const text = `${body}\n`;
    this.answer(
      status,
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\n`,
      text,
    );
  }

  redirect(status: number, location: string): void {
    const lines = headerLines({ location, 'content-length': 0 });
    if (lines === null) this.respond(500, 'invalid redirect', true);
    else this.answer(status, lines, '');
  }

  /**
   * Writes a final answer and closes: nothing after an upgrade request on this connection is read as
   * HTTP. The connection ends gracefully (the client reads the answer, then closes) within LINGER_MS.
   */
  answer(status: number, lines: string, body: string | Buffer): void {
    this.clearTimer();
    const client = this.client;
    if (this.phase !== HANDSHAKE || client.destroyed) {
      client.destroy();
      return;
    }
    this.phase = ANSWERED;
    this.status = status;
    this.bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    client.write(`${statusLine(status)}${lines}connection: close\r\n\r\n`);
    client.setTimeout(LINGER_MS);
    client.on('timeout', onSocketTimeout);
    // Discard what the client still sends so its close is seen.
    client.resume();
    client.end(body);
  }

  clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  upstreamFailed(err: Error): void {
    this.clearTimer();
    if (this.phase !== HANDSHAKE) return;
    const cls = classifyUpstreamError(err);
    if (this.errorCode === '') this.errorCode = cls.code;
    this.ctx.upstreamFailed(this, err, this.errorCode);
    this.respond(cls.status, cls.status === 504 ? 'upstream timed out' : 'upstream unavailable', true);
  }

  openTunnel(upstream: Socket, upstreamHead: Buffer, head101: string): void {
    this.phase = TUNNEL;
    this.status = 101;
    this.upstreamSocket = upstream;
    const client = this.client;
    (upstream as Tagged)[kExchange] = this;
    upstream.on('error', onUpstreamSocketError);
    upstream.on('close', onUpstreamSocketClose);
    upstream.on('data', onUpstreamData);
    client.on('data', onClientData);
    const idle = this.ctx.webSocketLimits.idleTimeoutMs;
    upstream.setTimeout(idle);
    upstream.on('timeout', onSocketTimeout);
    client.setTimeout(idle);
    client.on('timeout', onSocketTimeout);
    client.write(head101);
    if (upstreamHead.length > 0) {
      this.bytes += upstreamHead.length;
      client.write(upstreamHead);
    }
    if (this.clientHead.length > 0) upstream.write(this.clientHead);
    // pipe carries backpressure both ways, and each side's end to the other (half-close).
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Closes both sides at once. */
  destroyBoth(): void {
    this.client.destroy();
    this.upstreamSocket?.destroy();
    this.upstreamRequest?.destroy();
  }

  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.clearTimer();
    this.ctx.upgradeEnded(this.client);
    this.ctx.exchangeEnded(this);
  }
}

function refusal(req: IncomingMessage, maxHeaderCount: number): { status: number; reason: string } | null {
  const raw = req.rawHeaders;
  if (raw.length / 2 > maxHeaderCount) return { status: 431, reason: 'too many request headers' };
  const h = req.headers;
  const upgrade = h.upgrade;
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    // h2c among others: a tunnel of any other protocol would carry requests past the router.
    return { status: 400, reason: 'only WebSocket upgrades are supported' };
  }
  if (req.httpVersion !== '1.1') return { status: 400, reason: 'a WebSocket upgrade needs HTTP/1.1' };
  if (req.method !== 'GET') return { status: 400, reason: 'a WebSocket upgrade needs GET' };
  if (!hasToken(h.connection, 'upgrade')) return { status: 400, reason: 'Connection does not list upgrade' };
  // node does not require Host on upgrades; duplicates are invisible in `headers`.
  if (countHost(raw) !== 1) return { status: 400, reason: 'exactly one Host header is needed' };
  // Body bytes of an upgrade request would travel into the tunnel unframed.
  if (h['content-length'] !== undefined || h['transfer-encoding'] !== undefined) {
    return { status: 400, reason: 'a WebSocket upgrade carries no body' };
  }
  const key = h['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) return { status: 400, reason: 'invalid Sec-WebSocket-Key' };
  const version = h['sec-websocket-version'];
  if (version === undefined || !VERSION.test(version)) {
    return { status: 400, reason: 'invalid Sec-WebSocket-Version' };
  }
  return null;
}

/** The upgrade request's headers: those routing built, with exactly one Upgrade and one Connection. */
function upgradeHeaders(planned: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < planned.length; i += 2) {
    const name = (planned[i] as string).toLowerCase();
    // A header filter may have set either; the handshake needs exactly these values.
    if (name === 'upgrade' || name === 'connection') continue;
    out.push(planned[i] as string, planned[i + 1] as string);
  }
  out.push('Upgrade', 'websocket', 'Connection', 'Upgrade');
  return out;
}

/** `createConnection` for the upgrade request: half-open allowed, so each direction closes on its own. */
/** Request options for a tunnel to a TLS backend: the backend's TLS settings ride along to the connector. */
interface TunnelRequestArgs extends ClientRequestArgs {
  upstreamTLS?: ConnectionOptions;
}

function connectUpstream(options: TunnelRequestArgs): Socket {
  const host = options.host ?? '';
  const port = Number(options.port);
  if (options.upstreamTLS !== undefined) {
    const socket = tlsConnect({ ...options.upstreamTLS, host, port, ALPNProtocols: ['http/1.1'] });
    socket.setNoDelay(true);
    return socket;
  }
  return netConnect({ host, port, allowHalfOpen: true, noDelay: true });
}

/** The server's 'upgrade' event. */
export function handleUpgrade(
  binding: ListenerBinding,
  ctx: WebSocketContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const client = socket as Socket;
  if (ctx.isRefused(client)) {
    client.destroy();
    return;
  }
  const ex = new WebSocketExchange(ctx, req, client, head, binding.listenerName);
  (client as Tagged)[kExchange] = ex;
  client.on('error', onClientError);
  client.on('close', onClientClose);
  ctx.exchangeStarted(ex);
  ctx.upgradeStarted(client);

  const refused = refusal(req, ctx.maxHeaderCount);
  if (refused !== null) {
    ex.respond(refused.status, refused.reason, true);
    return;
  }
  const plan = routeRequest(binding, req, ex, ex.clientAddress);
  if (plan === null) return;
  ex.accept = expectedAccept(req.headers['sec-websocket-key'] as string);
  ex.responseHeaders = plan.routeFilters?.responseHeaders ?? null;
  ex.backendResponseHeaders = plan.backendFilters?.responseHeaders ?? null;
  const backend = plan.backend;
  const index = backend.pick();
  const address = backend.addresses[index] as UpstreamAddress;
  ex.upstream = backend.origins[index] as string;
  const limits = ctx.webSocketLimits;
  ex.responseTimeoutMs = plan.route.backendTimeoutMs > 0 ? plan.route.backendTimeoutMs : limits.responseTimeoutMs;

  let up: ClientRequest;
  try {
    up = httpRequest({
      host: address.host,
      port: address.port,
      method: 'GET',
      path: plan.upstreamPath,
      headers: upgradeHeaders(plan.headers),
      setHost: false,
      createConnection: connectUpstream,
      maxHeaderSize: limits.maxHeaderSize,
      insecureHTTPParser: false,
      ...(backend.tlsConnect !== null ? { upstreamTLS: backend.tlsConnect } : {}),
    } as TunnelRequestArgs);
  } catch (err) {
    // node refuses to write a path or header it considers unsafe (a rewrite or header filter produced it).
    ex.errorCode = UPSTREAM_PROTOCOL;
    ex.upstreamFailed(err as Error);
    return;
  }
  ex.upstreamRequest = up;
  (up as Tagged)[kExchange] = ex;
  up.on('socket', onUpstreamRequestSocket);
  up.on('upgrade', onUpstreamUpgrade);
  up.on('response', onUpstreamResponse);
  up.on('error', onUpstreamRequestError);
  ex.timer = setTimeout(onHandshakeTimeout, limits.connectTimeoutMs, ex);
  up.end();
}

function onHandshakeTimeout(ex: WebSocketExchange): void {
  ex.timer = null;
  ex.upstreamRequest?.destroy(new GatehouseError(UPSTREAM_TIMEOUT, 504, 'upstream did not answer the upgrade in time'));
}

function onUpstreamRequestSocket(this: ClientRequest, socket: Socket): void {
  (socket as Tagged)[kExchange] = exchangeOf(this);
  socket.once('connect', onUpstreamConnect);
}

function onUpstreamConnect(this: Socket): void {
  const ex = exchangeOf(this);
  if (ex.phase !== HANDSHAKE) return;
  ex.clearTimer();
  ex.timer = setTimeout(onHandshakeTimeout, ex.responseTimeoutMs, ex);
}

function onUpstreamRequestError(this: ClientRequest, err: Error): void {
  exchangeOf(this).upstreamFailed(err);
}

function onUpstreamUpgrade(this: ClientRequest, res: IncomingMessage, socket: Socket, head: Buffer): void {
  const ex = exchangeOf(this);
  ex.clearTimer();
  if (ex.phase !== HANDSHAKE || ex.client.destroyed) {
    socket.destroy();
    return;
  }
  const h = res.headers;
  if (
    res.statusCode !== 101 ||
    h['sec-websocket-accept'] !== ex.accept ||
    h.upgrade === undefined ||
    h.upgrade.trim().toLowerCase() !== 'websocket'
  ) {
    socket.destroy();
    ex.errorCode = UPSTREAM_INVALID_UPGRADE;
    ex.upstreamFailed(new GatehouseError(UPSTREAM_INVALID_UPGRADE, 502, 'upstream accepted the upgrade wrongly'));
    return;
  }
  const out = relayedHeaders(ex, res);
  // The handshake is the one the client asked for, whatever the header filters say.
  out['sec-websocket-accept'] = ex.accept;
  const lines = headerLines(out);
  if (lines === null) {
    socket.destroy();
    ex.errorCode = UPSTREAM_PROTOCOL;
    ex.upstreamFailed(new GatehouseError(UPSTREAM_PROTOCOL, 502, 'upstream upgrade headers cannot be relayed'));
    return;
  }
  ex.openTunnel(socket, head, `${statusLine(101)}upgrade: websocket\r\nconnection: Upgrade\r\n${lines}\r\n`);
}

/** Anything but a proper 101: relayed as a refusal (status, headers, small body), never a tunnel. */
function onUpstreamResponse(this: ClientRequest, res: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex.phase !== HANDSHAKE) {
    res.destroy();
    return;
  }
  (res as Tagged)[kExchange] = ex;
  ex.refusal = res;
  res.on('error', onRefusalError);
  if (res.statusCode === undefined || res.statusCode < 200) {
    // A 101 without `Connection: upgrade` is not an upgrade to node's parser, and no answer to relay.
    res.destroy();
    ex.errorCode = UPSTREAM_INVALID_UPGRADE;
    ex.upstreamFailed(new GatehouseError(UPSTREAM_INVALID_UPGRADE, 502, 'upstream answered 101 without upgrading'));
    return;
  }
  res.on('data', onRefusalData);
  res.on('end', onRefusalEnd);
}

function onRefusalData(this: IncomingMessage, chunk: Buffer): void {
  const ex = exchangeOf(this);
  ex.refusalBytes += chunk.length;
  if (ex.refusalBytes > MAX_REFUSAL_BODY) {
    this.destroy();
    ex.errorCode = UPSTREAM_PROTOCOL;
    ex.upstreamFailed(new GatehouseError(UPSTREAM_PROTOCOL, 502, 'upstream refusal of the upgrade is too large'));
    return;
  }
  ex.refusalBody.push(chunk);
}

function onRefusalEnd(this: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex.phase !== HANDSHAKE) return;
  const body = Buffer.concat(ex.refusalBody, ex.refusalBytes);
  ex.refusalBody = [];
  const out = relayedHeaders(ex, this);
  out['content-length'] = body.length;
  const lines = headerLines(out);
  if (lines === null) {
    ex.errorCode = UPSTREAM_PROTOCOL;
    ex.upstreamFailed(new GatehouseError(UPSTREAM_PROTOCOL, 502, 'upstream refusal headers cannot be relayed'));
  } else {
    ex.answer(this.statusCode as number, lines, body);
  }
  // The connection was opened for this upgrade alone.
  ex.upstreamRequest?.destroy();
}

function onRefusalError(this: IncomingMessage, err: Error): void {
  exchangeOf(this).upstreamFailed(err);
}

function onClientError(this: Socket): void {
  // 'close' follows and decides; a listener must exist so the error is not thrown.
}

function onClientClose(this: Socket): void {
  const ex = exchangeOf(this);
  ex.clientClosed = true;
  if (ex.phase === HANDSHAKE) {
    ex.phase = ABANDONED;
    ex.status = 499;
    ex.clearTimer();
    ex.upstreamRequest?.destroy();
    ex.refusal?.destroy();
    ex.finish();
    return;
  }
  if (ex.phase !== TUNNEL) {
    ex.finish();
    return;
  }
  closeOther(this, ex.upstreamSocket as Socket);
  if (ex.upstreamClosed) ex.finish();
}

function onUpstreamSocketClose(this: Socket): void {
  const ex = exchangeOf(this);
  ex.upstreamClosed = true;
  closeOther(this, ex.client);
  if (ex.clientClosed) ex.finish();
}

/**
 * A side that closed after both of its directions ended cleanly leaves the other to finish on its own (its
 * end was already passed on by pipe); one that closed any other way takes the other with it.
 */
function closeOther(closed: Socket, other: Socket): void {
  if (!(closed.readableEnded && closed.writableFinished)) other.destroy();
}

function onUpstreamSocketError(this: Socket, err: Error): void {
  const ex = exchangeOf(this);
  if (ex.errorCode === '') ex.errorCode = classifyUpstreamError(err).code;
}

function onSocketTimeout(this: Socket): void {
  const ex = exchangeOf(this);
  if (ex.phase === TUNNEL && ex.errorCode === '') ex.errorCode = TUNNEL_IDLE;
  ex.destroyBoth();
}

function onClientData(this: Socket, chunk: Buffer): void {
  exchangeOf(this).ctx.bodyBytes(chunk.length);
}

function onUpstreamData(this: Socket, chunk: Buffer): void {
  const ex = exchangeOf(this);
  ex.bytes += chunk.length;
  ex.ctx.bodyBytes(chunk.length);
}
