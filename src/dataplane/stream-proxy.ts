import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TLSSocket } from 'node:tls';
import {
  type CompiledStreamListener,
  type CompiledStreamRoute,
  STREAM_TLS_PASSTHROUGH,
  STREAM_TLS_TERMINATE,
} from '../compile/compile-stream.ts';
import type { CompiledTable } from '../compile/compile-table.ts';
import type { Logger } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { UpstreamAddress, UpstreamBackend } from '../upstream/backend.ts';
import { plainAddress } from './client-address.ts';
import { MAX_CLIENT_HELLO, parseClientHello } from './client-hello.ts';
import { DEFAULT_PROXY_HEADER_TIMEOUT_MS, encodeProxyV1, encodeProxyV2, readProxyHeader } from './proxy-protocol.ts';

export interface StreamLimits {
  /** A connection with no bytes either way for this long is closed (routes may set their own). */
  readonly idleTimeoutMs: number;
  /** Time allowed for the ClientHello of a passthrough connection, and for a TLS handshake. */
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
}

export const defaultStreamLimits: StreamLimits = {
  idleTimeoutMs: 600_000,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  maxConnections: 20_000,
};

/** What a stream listener needs from the data plane. */
export interface StreamHost {
  readonly table: CompiledTable | null;
  readonly draining: boolean;
}

/** One listening port of a layer-4 listener. */
class StreamServer {
  readonly host: StreamHost;
  readonly port: number;
  readonly mode: number;
  listenerName: string;
  readonly server: Server;
  readonly limits: StreamLimits;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly accessLog: Logger | null;
  readonly connections = new Set<Socket>();

  constructor(
    host: StreamHost,
    l: CompiledStreamListener,
    limits: StreamLimits,
    logger: Logger,
    metrics: Metrics,
    accessLog: Logger | null,
  ) {
    this.host = host;
    this.port = l.port;
    this.mode = l.mode;
    this.listenerName = l.name;
    this.limits = limits;
    this.logger = logger;
    this.metrics = metrics;
    this.accessLog = accessLog;
    this.server = createNetServer({ allowHalfOpen: true, noDelay: true }, onStreamConnection);
    (this.server as TaggedServer).stream = this;
    this.server.maxConnections = limits.maxConnections;
  }

  listener(): CompiledStreamListener | undefined {
    return this.host.table?.streamListeners.get(this.listenerName);
  }
}

interface TaggedServer {
  stream?: StreamServer;
}

/** A client connection and, once chosen, its upstream connection. */
class StreamConnection {
  readonly server: StreamServer;
  readonly client: Socket;
  readonly start: number;
  /** The client address: the PROXY protocol source when one was read, else the socket's peer. */
  peer: string;
  peerPort: number;
  serverName: string;
  route: CompiledStreamRoute | null;
  backend: UpstreamBackend | null;
  upstream: Socket | null;
  upstreamAddress: string;
  /** For TLS termination: the TLS socket over `client`; the plaintext side piped to the upstream. */
  secure: TLSSocket | null;
  /** The ClientHello bytes read while looking for SNI (passthrough). */
  hello: Buffer | null;
  timer: NodeJS.Timeout | null;
  result: string;
  closed: boolean;

  constructor(server: StreamServer, client: Socket) {
    this.server = server;
    this.client = client;
    this.start = performance.now();
    this.peer = plainAddress(client.remoteAddress);
    this.peerPort = client.remotePort ?? 0;
    this.serverName = '';
    this.route = null;
    this.backend = null;
    this.upstream = null;
    this.upstreamAddress = '';
    this.secure = null;
    this.hello = null;
    this.timer = null;
    this.result = 'ok';
    this.closed = false;
  }
}

interface TaggedSocket extends Socket {
  conn?: StreamConnection;
}

function connOf(socket: Socket): StreamConnection {
  return (socket as TaggedSocket).conn as StreamConnection;
}

function onStreamConnection(this: Server, socket: Socket): void {
  const server = (this as TaggedServer).stream as StreamServer;
  const conn = new StreamConnection(server, socket);
  (socket as TaggedSocket).conn = conn;
  server.connections.add(socket);
  socket.on('close', onClientClose);
  socket.on('error', onSocketError);
  const l = server.listener();
  if (l === undefined || server.host.draining) {
    socket.destroy();
    return;
  }
  if (l.proxyProtocol) {
    readProxyHeader(socket, DEFAULT_PROXY_HEADER_TIMEOUT_MS, (r) => onProxyHeader(conn, r));
    return;
  }
  afterProxyHeader(conn);
}

function onProxyHeader(
  conn: StreamConnection,
  r: { kind: 'ok'; source?: { address: string; port: number } } | { kind: 'invalid' | 'timeout' },
): void {
  if (r.kind !== 'ok') {
    conn.result = r.kind === 'timeout' ? 'proxy_protocol_timeout' : 'proxy_protocol_invalid';
    conn.client.destroy();
    return;
  }
  if (r.source !== undefined) {
    conn.peer = plainAddress(r.source.address);
    conn.peerPort = r.source.port;
  }
  afterProxyHeader(conn);
}

function afterProxyHeader(conn: StreamConnection): void {
  const server = conn.server;
  if (server.mode === STREAM_TLS_TERMINATE) {
    startTermination(conn);
    return;
  }
  if (server.mode === STREAM_TLS_PASSTHROUGH) {
    conn.timer = setTimeout(onHelloTimeout, server.limits.handshakeTimeoutMs, conn);
    conn.client.on('data', onHelloData);
    conn.client.on('end', onEndBeforeHello);
    conn.client.resume();
    return;
  }
  route(conn, '');
}

/** The client ended before its ClientHello was complete: nothing more can come. */
function onEndBeforeHello(this: Socket): void {
  connOf(this).result = 'client_hello_incomplete';
  this.destroy();
}

function onHelloTimeout(conn: StreamConnection): void {
  conn.timer = null;
  conn.result = 'client_hello_timeout';
  conn.client.destroy();
}

function onHelloData(this: Socket, chunk: Buffer): void {
  const conn = connOf(this);
  const buf = conn.hello === null ? chunk : Buffer.concat([conn.hello, chunk]);
  conn.hello = buf;
  const r = parseClientHello(buf);
  if (r.kind === 'incomplete' && buf.length <= MAX_CLIENT_HELLO) return;
  this.off('data', onHelloData);
  this.off('end', onEndBeforeHello);
  this.pause();
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  if (r.kind !== 'ok') {
    conn.result = 'client_hello_invalid';
    this.destroy();
    return;
  }
  conn.serverName = r.serverName ?? '';
  // The backend terminates TLS: it gets the ClientHello exactly as sent.
  this.unshift(buf);
  conn.hello = null;
  route(conn, conn.serverName);
}

/**
 * TLS terminated by gatehouse. The TLS socket is made here rather than by a tls.Server, so that a client that
 * leaves before the handshake ends is closed at once and the handshake time is bounded the same way.
 */
function startTermination(conn: StreamConnection): void {
  const l = conn.server.listener();
  const sni = l?.sni ?? null;
  if (sni === null) {
    conn.client.destroy();
    return;
  }
  const secure = new TLSSocket(conn.client, {
    isServer: true,
    secureContext: sni.defaultContext,
    SNICallback: (servername, cb) => cb(null, sni.lookup(servername) ?? sni.defaultContext),
  });
  (secure as TaggedSocket).conn = conn;
  conn.secure = secure;
  conn.timer = setTimeout(onHandshakeTimeout, conn.server.limits.handshakeTimeoutMs, conn);
  secure.on('secure', onTerminated);
  secure.on('end', onEndBeforeSecure);
  secure.on('error', onSocketError);
  secure.on('close', onSecureClose);
  secure.on('close', onClientClose);
}

function onHandshakeTimeout(conn: StreamConnection): void {
  conn.timer = null;
  conn.result = 'tls_handshake_timeout';
  conn.secure?.destroy();
  conn.client.destroy();
}

function onEndBeforeSecure(this: TLSSocket): void {
  const conn = connOf(this);
  conn.result = 'tls_handshake_incomplete';
  this.destroy();
  conn.client.destroy();
}

function onSecureClose(this: TLSSocket): void {
  connOf(this).client.destroy();
}

/** The handshake is done: route on the SNI name and pipe the plaintext. */
function onTerminated(this: TLSSocket): void {
  const conn = connOf(this);
  this.off('end', onEndBeforeSecure);
  this.disableRenegotiation();
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  conn.serverName = typeof this.servername === 'string' ? this.servername.toLowerCase() : '';
  route(conn, conn.serverName);
}

/** The side of the connection that carries the client's bytes: the TLS socket when gatehouse terminates. */
function downstream(conn: StreamConnection): Socket {
  return conn.secure ?? conn.client;
}

function route(conn: StreamConnection, serverName: string): void {
  const server = conn.server;
  const l = server.listener();
  const r = l?.routes.lookup(serverName) ?? null;
  if (r === null) {
    conn.result = 'no_route';
    // An unknown name is closed cleanly: FIN, no TLS alert (gatehouse holds no certificate for it).
    const down = downstream(conn);
    down.end();
    down.destroySoon();
    return;
  }
  conn.route = r;
  if (r.allow !== null && !r.allow.allows(conn.peer)) {
    conn.result = 'denied';
    downstream(conn).destroy();
    return;
  }
  const i = r.weighted.pick();
  const backend = i < 0 ? null : (r.weighted.backends[i] as UpstreamBackend);
  if (backend === null || backend.unavailableStatus !== 0 || backend.addresses.length === 0) {
    conn.result = 'no_backend';
    downstream(conn).destroy();
    return;
  }
  conn.backend = backend;
  const address = backend.addresses[backend.pick()] as UpstreamAddress;
  conn.upstreamAddress = `${address.host}:${address.port}`;
  const up = netConnect({ host: address.host, port: address.port, allowHalfOpen: true, noDelay: true });
  (up as TaggedSocket).conn = conn;
  conn.upstream = up;
  up.setTimeout(server.limits.connectTimeoutMs);
  up.on('timeout', onUpstreamConnectTimeout);
  up.on('connect', onUpstreamConnect);
  up.on('error', onSocketError);
  up.on('close', onUpstreamClose);
}

function onUpstreamConnectTimeout(this: Socket): void {
  const conn = connOf(this);
  conn.result = 'upstream_timeout';
  this.destroy();
}

function onUpstreamConnect(this: Socket): void {
  const conn = connOf(this);
  const client = downstream(conn);
  if (client.destroyed) {
    this.destroy();
    return;
  }
  const r = conn.route as CompiledStreamRoute;
  this.off('timeout', onUpstreamConnectTimeout);
  const idle = r.idleTimeoutMs > 0 ? r.idleTimeoutMs : conn.server.limits.idleTimeoutMs;
  this.setTimeout(idle);
  this.on('timeout', onIdle);
  client.setTimeout(idle);
  client.on('timeout', onIdle);
  if (r.sendProxyProtocol !== 0) {
    const src = { address: conn.peer, port: conn.peerPort };
    const dst = { address: plainAddress(client.localAddress), port: client.localPort ?? 0 };
    this.write(r.sendProxyProtocol === 2 ? encodeProxyV2(src, dst) : encodeProxyV1(src, dst));
  }
  // pipe() ends the other side when one side ends: half-close travels both ways.
  client.pipe(this);
  this.pipe(client);
  client.resume();
}

function onIdle(this: Socket): void {
  const conn = connOf(this);
  conn.result = 'idle_timeout';
  downstream(conn).destroy();
  conn.upstream?.destroy();
}

function onSocketError(this: Socket, err: Error & { code?: string }): void {
  const conn = (this as TaggedSocket).conn;
  if (conn === undefined) return;
  if (this === conn.upstream && conn.result === 'ok') conn.result = 'upstream_error';
  if (this === conn.upstream) {
    conn.server.logger.warn(
      { listener: conn.server.listenerName, route: conn.route?.name, upstream: conn.upstreamAddress, err: err.message },
      'upstream connection failed',
    );
  }
}

function onUpstreamClose(this: Socket): void {
  const down = downstream(connOf(this));
  if (!down.destroyed && (this.readableEnded === false || this.errored !== null)) down.destroy();
  else if (!down.destroyed && down.writableFinished && down.readableEnded) down.destroy();
}

function onClientClose(this: Socket): void {
  const conn = connOf(this);
  const server = conn.server;
  server.connections.delete(this);
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  const up = conn.upstream;
  if (up !== null && !up.destroyed) up.destroy();
  if (conn.closed) return;
  conn.closed = true;
  const route = conn.route?.name ?? 'none';
  const m = server.metrics;
  m.streamConnections.labels(route, conn.result).inc();
  const received = this.bytesRead;
  const sent = this.bytesWritten;
  if (conn.route !== null) {
    m.streamBytes.labels(route, 'received').inc(received);
    m.streamBytes.labels(route, 'sent').inc(sent);
  }
  server.accessLog?.info(
    {
      listener: server.listenerName,
      client: conn.peer,
      sni: conn.serverName === '' ? undefined : conn.serverName,
      route: conn.route?.name ?? '',
      backend: conn.backend?.name ?? '',
      upstream: conn.upstreamAddress,
      result: conn.result,
      bytes_received: received,
      bytes_sent: sent,
      duration_ms: Math.round((performance.now() - conn.start) * 100) / 100,
    },
    'connection',
  );
}

/** The layer-4 listeners of the data plane, opened and closed by diff like the HTTP ones. */
export class StreamListeners {
  readonly #host: StreamHost;
  readonly #servers = new Map<number, StreamServer>();
  readonly #limits: StreamLimits;
  readonly #listenAddress: string;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #accessLog: Logger | null;

  constructor(
    host: StreamHost,
    limits: StreamLimits,
    listenAddress: string,
    logger: Logger,
    metrics: Metrics,
    accessLog: Logger | null,
  ) {
    this.#host = host;
    this.#limits = limits;
    this.#listenAddress = listenAddress;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#accessLog = accessLog;
  }

  ports(): number[] {
    return [...this.#servers.keys()];
  }

  /** Brings the listening ports in line with the table; returns the listeners that could not be opened. */
  async apply(
    table: CompiledTable,
    reserved: ReadonlySet<number>,
  ): Promise<{ listener: string; port: number; message: string }[]> {
    const wanted = new Map<number, CompiledStreamListener>();
    for (const l of table.streamListeners.values()) {
      if (reserved.has(l.port) || wanted.has(l.port)) continue;
      wanted.set(l.port, l);
    }
    for (const [port, s] of this.#servers) {
      const l = wanted.get(port);
      if (l === undefined || l.mode !== s.mode) {
        this.#servers.delete(port);
        this.#close(s);
      }
    }
    const errors: { listener: string; port: number; message: string }[] = [];
    for (const [port, l] of wanted) {
      const s = this.#servers.get(port);
      if (s !== undefined) {
        s.listenerName = l.name;
        continue;
      }
      const server = new StreamServer(this.#host, l, this.#limits, this.#logger, this.#metrics, this.#accessLog);
      try {
        await new Promise<void>((resolve, reject) => {
          server.server.once('error', reject);
          server.server.listen({ port, host: this.#listenAddress, exclusive: false }, () => {
            server.server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        errors.push({ listener: l.name, port, message: (err as Error).message });
        continue;
      }
      server.server.on('error', (err) => this.#logger.error({ listener: l.name, err: err.message }, 'listener error'));
      server.server.on('connection', this.#metrics.activeConnections.count(l.name).track);
      this.#servers.set(port, server);
      this.#logger.info({ listener: l.name, port, protocol: 'TCP' }, 'listening');
    }
    return errors;
  }

  #close(s: StreamServer): void {
    s.server.close();
    this.#logger.info({ listener: s.listenerName, port: s.port }, 'listener closed');
  }

  /** Stops accepting; open connections get up to timeoutMs to finish, then are closed. */
  async drain(timeoutMs: number): Promise<void> {
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    const closed = servers.map((s) => new Promise<void>((resolve) => s.server.close(() => resolve())));
    const open = (): number => servers.reduce((n, s) => n + s.connections.size, 0);
    const deadline = Date.now() + timeoutMs;
    while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of servers) for (const c of s.connections) c.destroy();
    await Promise.all(closed);
  }
}
