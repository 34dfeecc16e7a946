import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { CompiledListener, CompiledTable } from '../compile/compile-table.ts';
import { type KeyPair, TLS_SERVER_OPTIONS } from '../compile/tls-contexts.ts';
import type { Logger } from '../observe/logger.ts';
import { codeClass, type Metrics } from '../observe/metrics.ts';
import { ChunkReclaimer } from './chunk-reclaimer.ts';
import type { TrustedProxies } from './client-address.ts';
import { type ExchangeRecord, GatehouseResponse } from './exchange.ts';
import { handleRequest } from './http-handler.ts';
import type { ListenerBinding } from './routing.ts';
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
};

export interface DataPlaneOptions {
  readonly listenAddress: string;
  readonly limits: ServerLimits;
  readonly trustedProxies: TrustedProxies;
  readonly accessLog: boolean;
  /** For connections made outside the upstream pools (WebSocket tunnels), as the pools have them. */
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
}

interface ServerEntry {
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly binding: ListenerBinding;
  readonly server: Server;
  defaultPair: KeyPair | null;
}

export interface ListenerError {
  readonly listener: string;
  readonly port: number;
  readonly message: string;
}

/** Counts open client connections per listener without a closure per connection. */
class ConnectionCounter {
  readonly #gauge: { inc(): void; dec(): void };
  constructor(gauge: { inc(): void; dec(): void }) {
    this.#gauge = gauge;
  }
  readonly onConnection = (socket: Socket): void => {
    this.#gauge.inc();
    socket.once('close', this.onClose);
  };
  readonly onClose = (): void => {
    this.#gauge.dec();
  };
}

function onSecureConnection(socket: TLSSocket): void {
  socket.disableRenegotiation();
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
  #inflight = 0;
  #idle: (() => void) | null = null;

  constructor(options: DataPlaneOptions, logger: Logger, metrics: Metrics) {
    this.#options = options;
    this.#logger = logger;
    this.#access = logger.child({ log: 'access' });
    this.#metrics = metrics;
    this.trustedProxies = options.trustedProxies;
    this.maxHeaderCount = options.limits.maxHeaderCount;
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
    return [...this.#servers.keys()].sort((a, b) => a - b);
  }

  exchangeStarted(_ex: ExchangeRecord): void {
    this.#inflight++;
  }

  exchangeEnded(ex: ExchangeRecord): void {
    this.#inflight--;
    const seconds = (performance.now() - ex.start) / 1000;
    const route = ex.route === '' ? 'none' : ex.route;
    this.#metrics.requests.labels(route, ex.backend === '' ? 'none' : ex.backend, codeClass(ex.status)).inc();
    // A tunnel's lifetime says nothing about the route's latency.
    if (ex.status !== 101) this.#metrics.requestDuration.labels(route).observe(seconds);
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
      { route: ex.route, backend: ex.backend, upstream: ex.upstream, code, err: err.message },
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
          ALPNProtocols: ['http/1.1'],
          handshakeTimeout: limits.tlsHandshakeTimeoutMs,
          SNICallback: (servername, cb) => {
            const sni = sniFor()?.sni;
            cb(null, sni === undefined || sni === null ? undefined : (sni.lookup(servername) ?? sni.defaultContext));
          },
        },
        onRequest,
      ) as unknown as Server;
      server.on('secureConnection', onSecureConnection);
    } else {
      server = createHttpServer(httpOptions, onRequest);
    }
    // 0 would let node cut the header list silently; the handler answers 431 past maxHeaderCount instead.
    server.maxHeadersCount = 0;
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    server.maxConnections = limits.maxConnections;
    const counter = new ConnectionCounter(this.#metrics.activeConnections.labels(l.name));
    server.on('connection', counter.onConnection);
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
    this.#servers.set(l.port, { port: l.port, protocol: l.protocol, binding, server, defaultPair: l.defaultPair });
    this.#logger.info({ listener: l.name, port: l.port, protocol: l.protocol }, 'listening');
  }

  #closeServer(entry: ServerEntry): void {
    entry.server.close();
    entry.server.closeIdleConnections();
    this.#logger.info({ listener: entry.binding.listenerName, port: entry.port }, 'listener closed');
  }

  /** Stops accepting, lets requests in flight finish (up to timeoutMs), then closes every connection. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    const closed = servers.map((e) => new Promise<void>((resolve) => e.server.close(() => resolve())));
    for (const e of servers) e.server.closeIdleConnections();
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
    await Promise.all(closed);
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
