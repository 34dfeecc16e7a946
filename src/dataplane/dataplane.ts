import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import {
  createServer as createHttp2Server,
  type IncomingHttpHeaders as Http2Headers,
  type Http2Server,
  type Http2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { CompiledListener, CompiledTable } from '../compile/compile-table.ts';
import { type KeyPair, TLS_SERVER_OPTIONS } from '../compile/tls-contexts.ts';
import type { Logger } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import { ChunkReclaimer } from './chunk-reclaimer.ts';
import { peerAddress, setProxySource, type TrustedProxies } from './client-address.ts';
import { type ExchangeRecord, GatehouseResponse } from './exchange.ts';
import { H1Listener } from './h1-connection.ts';
import { H2_PREFACE, prefaceState } from './h1-parse.ts';
import { handleStream, refuseStream } from './h2-exchange.ts';
import { handleRequest } from './http-handler.ts';
import { DEFAULT_PROXY_HEADER_TIMEOUT_MS, readProxyHeader } from './proxy-protocol.ts';
import { RequestIds } from './request-ids.ts';
import type { ListenerBinding } from './routing.ts';
import { defaultStreamLimits, StreamListeners } from './stream-proxy.ts';
import { handleUpgrade, type WebSocketContext, type WebSocketLimits } from './websocket.ts';

export interface ServerLimits {
  /** Time allowed for the request head (slowloris). */
  readonly headersTimeoutMs: number;
  /** Time allowed for the whole request, body included. */
  readonly requestTimeoutMs: number;
  /** Idle time before a keep-alive client connection is closed. */
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  /** More request headers than this is answered 431 (node would silently drop the rest). */
  readonly maxHeaderCount: number;
  readonly maxRequestsPerSocket: number;
  readonly maxConnections: number;
  readonly tlsHandshakeTimeoutMs: number;
  /** An established WebSocket tunnel with no traffic either way for this long is closed. */
  readonly webSocketIdleTimeoutMs: number;
  /** Concurrent streams per HTTP/2 connection (and so upstream requests in flight per connection). */
  readonly h2MaxConcurrentStreams: number;
  /** An HTTP/2 connection without any frame for this long is closed gracefully (GOAWAY). */
  readonly h2IdleTimeoutMs: number;
}

export const defaultServerLimits: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16 * 1024,
  maxHeaderCount: 100,
  maxRequestsPerSocket: 1000,
  maxConnections: 20_000,
  tlsHandshakeTimeoutMs: 10_000,
  webSocketIdleTimeoutMs: 3_600_000,
  h2MaxConcurrentStreams: 128,
  h2IdleTimeoutMs: 120_000,
};

export interface DataPlaneOptions {
  readonly listenAddress: string;
  readonly limits: ServerLimits;
  readonly trustedProxies: TrustedProxies;
  readonly accessLog: boolean;
  /** For connections made outside the upstream pools (WebSocket tunnels), as the pools have them. */
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  /** Serve cleartext HTTP/1.1 on the fast path (h1-connection.ts); off: node's HTTP server reads every request. */
  readonly http1FastPath?: boolean;
  /** Where access-log lines go (the process's batched one); by default the logger's, line by line. */
  readonly accessLogger?: Logger;
}

interface ServerEntry {
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly binding: ListenerBinding;
  readonly server: Server;
  /** Never listens: takes the connections that speak HTTP/2 (ALPN h2, or the h2c preface). */
  readonly h2: Http2Server;
  defaultPair: KeyPair | null;
}

type ConnectionListener = (this: Server, socket: Duplex) => void;

/** A plain connection whose first bytes decide between HTTP/1.1 and HTTP/2 with prior knowledge. */
interface SniffedSocket extends Socket {
  sniff?: PrefaceSniff | null;
}

/** Per listener: where a connection goes once its first bytes are known. */
class PrefaceSniff {
  readonly server: Server;
  readonly http1: ConnectionListener;
  readonly h2: Http2Server;
  /** Connections whose first bytes have not come yet: no server tracks them, so closing them is ours to do. */
  readonly pending = new Set<Socket>();
  /** How long a connection may stay silent before its first bytes (the headers timeout). */
  readonly timeoutMs: number;
  constructor(server: Server, http1: ConnectionListener, h2: Http2Server, timeoutMs: number) {
    this.server = server;
    this.http1 = http1;
    this.h2 = h2;
    this.timeoutMs = timeoutMs;
  }

  watch(socket: SniffedSocket): void {
    socket.sniff = this;
    this.pending.add(socket);
    socket.setTimeout(this.timeoutMs);
    socket.on('timeout', onSniffTimeout);
    socket.on('end', onSniffTimeout);
    socket.on('close', onSniffClose);
    socket.on('data', onFirstData);
  }

  /** Destroys the connections that never said anything (on close and drain). */
  closePending(): void {
    for (const socket of this.pending) socket.destroy();
    this.pending.clear();
  }
}

/** Silent for the headers timeout, or ended (FIN) before a first byte: nothing will come, close it. */
function onSniffTimeout(this: SniffedSocket): void {
  this.destroy();
}

function onSniffClose(this: SniffedSocket): void {
  this.sniff?.pending.delete(this);
}

function onFirstData(this: SniffedSocket, chunk: Buffer): void {
  const sniff = this.sniff;
  if (sniff === undefined || sniff === null) return;
  const state = prefaceState(chunk);
  if (state === null && chunk.length < H2_PREFACE.length) {
    // A client that trickles its first bytes: wait for more (the headers timeout still bounds it).
    this.pause();
    this.unshift(chunk);
    const more = this.read();
    if (more !== null && (more as Buffer).length > chunk.length) {
      onFirstData.call(this, more as Buffer);
      return;
    }
    this.once('readable', onSniffReadable);
    return;
  }
  this.off('data', onFirstData);
  this.off('timeout', onSniffTimeout);
  this.off('end', onSniffTimeout);
  this.off('close', onSniffClose);
  this.setTimeout(0);
  sniff.pending.delete(this);
  this.sniff = null;
  this.pause();
  this.unshift(chunk);
  // node's HTTP/2 session reads what is already buffered itself; the HTTP/1 parser needs the stream flowing.
  if (state === true) sniff.h2.emit('connection', this);
  else {
    sniff.http1.call(sniff.server, this);
    this.resume();
  }
}

function onSniffReadable(this: SniffedSocket): void {
  const buf = this.read() as Buffer | null;
  if (buf === null) {
    this.once('readable', onSniffReadable);
    return;
  }
  onFirstData.call(this, buf);
}

export interface ListenerError {
  readonly listener: string;
  readonly port: number;
  readonly message: string;
}

function onSessionIdle(this: Http2Session): void {
  this.close();
}

function onSessionError(): void {
  // Session errors (protocol violations, floods) end the session; there is nothing else to do with them.
}

/**
 * The running data plane: listeners and the pointer to the live route table. A new table is swapped in atomically;
 * requests already in flight finish on the table they started with. Listeners are opened and closed by diff:
 * a port whose protocol is unchanged is never rebound.
 */
export class DataPlane implements WebSocketContext {
  table: CompiledTable | null = null;
  draining = false;
  readonly trustedProxies: TrustedProxies;
  readonly maxHeaderCount: number;
  readonly webSocketLimits: WebSocketLimits;
  readonly #options: DataPlaneOptions;
  readonly #logger: Logger;
  readonly #access: Logger;
  readonly #metrics: Metrics;
  readonly #servers = new Map<number, ServerEntry>();
  readonly #reclaimer = new ChunkReclaimer(4 * 1024 * 1024);
  readonly #refused = new WeakSet<Socket>();
  readonly #upgraded = new Set<Duplex>();
  readonly #sessions = new Set<Http2Session>();
  /** Plain listeners' connections still waiting for their first bytes, by server. */
  readonly #sniffs = new Map<Server, PrefaceSniff>();
  /** Plain listeners' fast-path connections, by server. */
  readonly #fast = new Map<Server, H1Listener>();
  #sweepTimer: NodeJS.Timeout | null = null;
  readonly #streams: StreamListeners;
  #inflight = 0;
  #idle: (() => void) | null = null;
  readonly #requestIds = new RequestIds();

  constructor(options: DataPlaneOptions, logger: Logger, metrics: Metrics) {
    this.#options = options;
    this.#logger = logger;
    this.#access = options.accessLogger ?? logger.child({ log: 'access' });
    this.#metrics = metrics;
    this.trustedProxies = options.trustedProxies;
    this.maxHeaderCount = options.limits.maxHeaderCount;
    this.#streams = new StreamListeners(
      this,
      {
        ...defaultStreamLimits,
        connectTimeoutMs: options.upstreamConnectTimeoutMs,
        maxConnections: options.limits.maxConnections,
      },
      options.listenAddress,
      logger,
      metrics,
      options.accessLog ? this.#access : null,
    );
    this.webSocketLimits = {
      idleTimeoutMs: options.limits.webSocketIdleTimeoutMs,
      connectTimeoutMs: options.upstreamConnectTimeoutMs,
      responseTimeoutMs: options.upstreamTimeoutMs,
      maxHeaderSize: options.limits.maxHeaderSize,
    };
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** The ports currently listening, by port. */
  listeningPorts(): number[] {
    return [...this.#servers.keys(), ...this.#streams.ports()].sort((a, b) => a - b);
  }

  exchangeStarted(_ex: ExchangeRecord): void {
    this.#inflight++;
  }

  exchangeEnded(ex: ExchangeRecord): void {
    this.#inflight--;
    const seconds = (performance.now() - ex.start) / 1000;
    // A tunnel's lifetime says nothing about the route's latency.
    this.#metrics.requestStats.record(
      ex.route === '' ? 'none' : ex.route,
      ex.backend === '' ? 'none' : ex.backend,
      ex.status,
      seconds,
      ex.status !== 101,
    );
    if (this.#options.accessLog) {
      this.#access.info(
        {
          client: ex.clientAddress,
          method: ex.method,
          host: ex.host,
          path: ex.path,
          status: ex.status,
          bytes: ex.bytes,
          duration_ms: Math.round(seconds * 100_000) / 100,
          route: ex.route,
          upstream: ex.upstream,
          request_id: ex.requestId,
          listener: ex.listener,
          ...(ex.errorCode === '' ? {} : { error: ex.errorCode }),
        },
        'request',
      );
    }
    if (this.#inflight === 0 && this.#idle !== null) this.#idle();
  }

  nextRequestId(): string {
    return this.#requestIds.next();
  }

  refuseConnection(socket: Socket): void {
    this.#refused.add(socket);
  }

  isRefused(socket: Socket): boolean {
    return this.#refused.has(socket);
  }

  bodyBytes(n: number): void {
    this.#reclaimer.account(n);
  }

  upgradeStarted(client: Duplex): void {
    this.#upgraded.add(client);
  }

  upgradeEnded(client: Duplex): void {
    this.#upgraded.delete(client);
  }

  upstreamFailed(ex: ExchangeRecord, err: Error, code: string): void {
    this.#metrics.upstreamErrors.labels(ex.backend === '' ? 'none' : ex.backend, code).inc();
    this.#logger.warn(
      {
        route: ex.route,
        backend: ex.backend,
        upstream: ex.upstream,
        code,
        err: err.message,
        ...(typeof (err as { code?: unknown }).code === 'string' ? { cause: (err as { code?: string }).code } : {}),
      },
      'upstream request failed',
    );
  }

  /** Swaps in a new table and brings the listeners in line with it. */
  async apply(table: CompiledTable): Promise<ListenerError[]> {
    this.table = table;
    const wanted = new Map<number, CompiledListener>();
    for (const l of table.listeners.values()) if (!wanted.has(l.port)) wanted.set(l.port, l);
    const errors: ListenerError[] = [];
    for (const [port, entry] of this.#servers) {
      const l = wanted.get(port);
      if (l === undefined || l.protocol !== entry.protocol) {
        this.#servers.delete(port);
        this.#closeServer(entry);
      }
    }
    for (const [port, l] of wanted) {
      const entry = this.#servers.get(port);
      if (entry !== undefined) {
        entry.binding.listenerName = l.name;
        this.#refreshDefaultCertificate(entry, l);
        continue;
      }
      try {
        await this.#open(l);
      } catch (err) {
        errors.push({ listener: l.name, port, message: (err as Error).message });
      }
    }
    errors.push(...(await this.#streams.apply(table, new Set(wanted.keys()))));
    return errors;
  }

  #refreshDefaultCertificate(entry: ServerEntry, l: CompiledListener): void {
    const pair = l.defaultPair;
    if (entry.protocol !== 'HTTPS' || pair === null || entry.defaultPair === pair) return;
    if (entry.defaultPair?.certPem === pair.certPem && entry.defaultPair.keyPem === pair.keyPem) return;
    try {
      (entry.server as Server & { setSecureContext(o: object): void }).setSecureContext({
        ...TLS_SERVER_OPTIONS,
        cert: pair.certPem,
        key: pair.keyPem,
      });
      entry.defaultPair = pair;
    } catch (err) {
      this.#logger.error({ listener: l.name, err: (err as Error).message }, 'default certificate rejected');
    }
  }

  async #open(l: CompiledListener): Promise<void> {
    const limits = this.#options.limits;
    const binding: ListenerBinding = {
      listenerName: l.name,
      port: l.port,
      proto: l.protocol === 'HTTPS' ? 'https' : 'http',
      context: this,
    };
    const httpOptions: ServerOptions<typeof IncomingMessage, typeof GatehouseResponse> = {
      ServerResponse: GatehouseResponse,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderSize,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
      requireHostHeader: true,
      connectionsCheckingInterval: 1_000,
    };
    const onRequest = (req: IncomingMessage, res: GatehouseResponse): void => handleRequest(binding, req, res);
    let server: Server;
    if (l.protocol === 'HTTPS') {
      const pair = l.defaultPair as KeyPair;
      const sniFor = (): CompiledListener | undefined => this.table?.listeners.get(binding.listenerName);
      server = createHttpsServer(
        {
          ...httpOptions,
          ...TLS_SERVER_OPTIONS,
          cert: pair.certPem,
          key: pair.keyPem,
          ALPNProtocols: ['h2', 'http/1.1'],
          handshakeTimeout: limits.tlsHandshakeTimeoutMs,
          SNICallback: (servername, cb) => {
            const sni = sniFor()?.sni;
            cb(null, sni === undefined || sni === null ? undefined : (sni.lookup(servername) ?? sni.defaultContext));
          },
        },
        onRequest,
      ) as unknown as Server;
    } else {
      server = createHttpServer(httpOptions, onRequest);
    }
    const h2 = this.#createH2(binding);
    this.#routeProtocols(server, l.protocol, h2, binding);
    // 0 would let node cut the header list silently; the handler answers 431 past maxHeaderCount instead.
    server.maxHeadersCount = 0;
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    server.maxConnections = limits.maxConnections;
    server.on('connection', this.#metrics.activeConnections.count(l.name).track);
    server.on('clientError', onClientError);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      handleUpgrade(binding, this, req, socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: l.port, host: this.#options.listenAddress, exclusive: false }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#logger.error({ listener: l.name, err: err.message }, 'listener error'));
    this.#servers.set(l.port, {
      port: l.port,
      protocol: l.protocol,
      binding,
      server,
      h2,
      defaultPair: l.defaultPair,
    });
    this.#logger.info({ listener: l.name, port: l.port, protocol: l.protocol }, 'listening');
  }

  /**
   * node's HTTP server reads every connection as HTTP/1. Its own connection handler is taken off and called only
   * for connections that are not HTTP/2: on TLS by the ALPN result, in cleartext by the connection's first bytes.
   */
  #routeProtocols(server: Server, protocol: 'HTTP' | 'HTTPS', h2: Http2Server, binding: ListenerBinding): void {
    const event = protocol === 'HTTPS' ? 'secureConnection' : 'connection';
    const http1 = server.listeners(event) as ConnectionListener[];
    server.removeAllListeners(event);
    if (protocol === 'HTTPS') {
      server.on('secureConnection', (socket: TLSSocket) => {
        socket.disableRenegotiation();
        if (socket.alpnProtocol === 'h2') {
          h2.emit('connection', socket);
          return;
        }
        for (const f of http1) f.call(server, socket);
      });
      // The TLS server's own handler wraps raw connections; it runs after any PROXY protocol header is read.
      const tlsHandlers = server.listeners('connection') as ConnectionListener[];
      server.removeAllListeners('connection');
      const start = (socket: Socket): void => {
        for (const f of tlsHandlers) f.call(server, socket);
      };
      server.on('connection', (socket: Socket) => this.#accept(binding, socket, start));
      return;
    }
    const [first] = http1;
    if (first === undefined || http1.length !== 1) throw new Error('unexpected HTTP server connection listeners');
    const limits = this.#options.limits;
    let fast: H1Listener | null = null;
    if (this.#options.http1FastPath !== false) {
      fast = new H1Listener(binding, server, first, h2, limits);
      this.#fast.set(server, fast);
      this.#sweepTimer ??= setInterval(sweepFast, 1_000, this.#fast).unref();
    }
    const sniff = new PrefaceSniff(server, first, h2, limits.headersTimeoutMs);
    this.#sniffs.set(server, sniff);
    // The fast path tells an HTTP/2 preface from HTTP/1 itself, and keeps the first-bytes timeout with the others.
    const start =
      fast === null
        ? (socket: Socket): void => {
            sniff.watch(socket);
            // After a PROXY header the socket is paused with what followed it unshifted.
            socket.resume();
          }
        : (socket: Socket): void => {
            fast.start(socket, null);
            socket.resume();
          };
    server.on('connection', (socket: Socket) => this.#accept(binding, socket, start));
  }

  /** A new client connection: its PROXY protocol header first when the listener takes one, then `start`. */
  #accept(binding: ListenerBinding, socket: Socket, start: (socket: Socket) => void): void {
    if (this.table?.listeners.get(binding.listenerName)?.proxyProtocol !== true) {
      start(socket);
      return;
    }
    readProxyHeader(socket, DEFAULT_PROXY_HEADER_TIMEOUT_MS, (r) => {
      if (r.kind !== 'ok') {
        this.#logger.debug({ listener: binding.listenerName, result: r.kind }, 'PROXY protocol header refused');
        return;
      }
      if (r.source !== undefined) setProxySource(socket, r.source.address);
      start(socket);
    });
  }

  /** The HTTP/2 side of a listener; it never listens itself. */
  #createH2(binding: ListenerBinding): Http2Server {
    const limits = this.#options.limits;
    const h2 = createHttp2Server({
      maxSessionMemory: 16,
      // node counts pseudo-headers too; the handler answers 431 past maxHeaderCount before node would reset.
      maxHeaderListPairs: limits.maxHeaderCount + 16,
      maxOutstandingPings: 10,
      maxSessionRejectedStreams: 100,
      maxSessionInvalidFrames: 100,
      unknownProtocolTimeout: limits.tlsHandshakeTimeoutMs,
      settings: {
        enablePush: false,
        maxConcurrentStreams: limits.h2MaxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderSize,
      },
    });
    h2.on('session', (session: Http2Session) => {
      this.#sessions.add(session);
      session.setTimeout(limits.h2IdleTimeoutMs, onSessionIdle);
      session.on('close', () => this.#sessions.delete(session));
      session.on('error', onSessionError);
      if (this.draining) session.close();
    });
    h2.on('stream', (stream: ServerHttp2Stream, headers: Http2Headers, _flags: number, rawHeaders: string[]) => {
      if (this.draining && stream.session?.closed === true) {
        refuseStream(stream);
        return;
      }
      handleStream(binding, stream, headers, rawHeaders, peerAddress(stream.session?.socket));
    });
    return h2;
  }

  #closeServer(entry: ServerEntry): void {
    entry.server.close();
    entry.server.closeIdleConnections();
    this.#sniffs.get(entry.server)?.closePending();
    this.#sniffs.delete(entry.server);
    // Kept (and swept) until its last connection ends: busy ones finish their response, then close.
    const fast = this.#fast.get(entry.server);
    if (fast !== undefined) {
      fast.closed = true;
      fast.closeIdle();
    }
    for (const session of this.#sessions) {
      if ((session.socket as Socket | undefined)?.localPort === entry.port) session.close();
    }
    this.#logger.info({ listener: entry.binding.listenerName, port: entry.port }, 'listener closed');
  }

  /** Stops accepting, lets requests in flight finish (up to timeoutMs), then closes every connection. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const streams = this.#streams.drain(timeoutMs);
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    const closed = servers.map((e) => new Promise<void>((resolve) => e.server.close(() => resolve())));
    for (const e of servers) e.server.closeIdleConnections();
    for (const sniff of this.#sniffs.values()) sniff.closePending();
    for (const fast of this.#fast.values()) fast.closeIdle();
    // GOAWAY: streams in flight finish, no new ones start.
    for (const session of this.#sessions) session.close();
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    // Upgraded connections are no longer the servers' to close, and a server closes only after them.
    for (const c of this.#upgraded) c.destroy();
    for (const e of servers) e.server.closeAllConnections();
    for (const fast of this.#fast.values()) fast.closeAll();
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    for (const session of this.#sessions) session.destroy();
    await Promise.all([...closed, streams]);
  }
}

function sweepFast(listeners: Map<Server, H1Listener>): void {
  for (const [server, l] of listeners) {
    l.sweep();
    if (l.closed && l.connections.size === 0) listeners.delete(server);
  }
}

/** Malformed requests: answer 400 (431 for oversized heads) when the socket can still take it, then close. */
function onClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
