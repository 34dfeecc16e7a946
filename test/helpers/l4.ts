import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Manifest } from './manifests.ts';

/** Layer-4 helpers for end-to-end tests: TCPRoute/TLSRoute manifests, raw TCP backends and clients. */

const GW_ALPHA = 'gateway.networking.k8s.io/v1alpha2';

export interface RouteMeta {
  readonly namespace?: string;
  readonly annotations?: Record<string, string>;
  readonly apiVersion?: string;
}

function meta(name: string, m: RouteMeta): Manifest {
  return {
    name,
    namespace: m.namespace ?? 'default',
    ...(m.annotations === undefined ? {} : { annotations: m.annotations }),
  };
}

/** A TCPRoute (gateway.networking.k8s.io/v1alpha2) as the Gateway API documentation writes it; `spec` as given. */
export function tcpRoute(name: string, spec: Record<string, unknown>, m: RouteMeta = {}): Manifest {
  return { apiVersion: m.apiVersion ?? GW_ALPHA, kind: 'TCPRoute', metadata: meta(name, m), spec };
}

/** A TLSRoute (v1alpha2 unless `apiVersion` says otherwise); `spec` as given. */
export function tlsRoute(name: string, spec: Record<string, unknown>, m: RouteMeta = {}): Manifest {
  return { apiVersion: m.apiVersion ?? GW_ALPHA, kind: 'TLSRoute', metadata: meta(name, m), spec };
}

/** A Gateway whose listeners are written out in full (protocol, tls, allowedRoutes as the test needs them). */
export function rawGateway(
  name: string,
  listeners: readonly Record<string, unknown>[],
  annotations?: Record<string, string>,
  ns = 'default',
): Manifest {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: ns, ...(annotations === undefined ? {} : { annotations }) },
    spec: { gatewayClassName: 'gatehouse', listeners },
  };
}

export interface TcpServer {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Peer addresses of the connections accepted so far, in order. */
  readonly peers: readonly string[];
  close(): Promise<void>;
}

/** A raw TCP server on host:port (0: a free port) that hands every connection to `onConnection`. */
export async function startTcpServer(
  host: string,
  port: number,
  onConnection: (socket: Socket) => void,
): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const peers: string[] = [];
  let accepted = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    peers.push(socket.remoteAddress ?? '');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  return {
    host,
    port: bound,
    get accepted() {
      return accepted;
    },
    peers,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Echoes every byte back; ends its side once the client has ended its own (half-close travels through). */
export function startTcpEcho(host: string, port = 0): Promise<TcpServer> {
  return startTcpServer(host, port, (socket) => socket.pipe(socket));
}

/**
 * Connects (optionally from a given local address); resolves once connected, rejects on error or after 5 s.
 * Half-open by default, so a test can end its side and still read; pass false to layer TLS on the socket.
 */
export function connectTcp(host: string, port: number, localAddress?: string, allowHalfOpen = true): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      allowHalfOpen,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP connection to ${host}:${port} within 5 s`));
    }, 5_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface Collected {
  readonly data: Buffer;
  /** The peer ended its side cleanly (FIN). */
  readonly ended: boolean;
  /** The error that closed the socket (e.g. ECONNRESET), or null. */
  readonly error: string | null;
  /** The socket closed (for any reason) before the timeout. */
  readonly closed: boolean;
  /** Milliseconds from the call until the socket closed (or the timeout). */
  readonly elapsedMs: number;
}

/**
 * Reads from `socket` until it closes or timeoutMs passes (then it is destroyed); never rejects. With
 * `until`, resolves as soon as the data so far satisfies it (the socket stays open).
 */
export function collect(socket: Socket, timeoutMs: number, until?: (data: Buffer) => boolean): Promise<Collected> {
  return new Promise((resolve) => {
    const start = Date.now();
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | null = null;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ data: Buffer.concat(chunks), ended, error, closed, elapsedMs: Date.now() - start });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      if (until?.(Buffer.concat(chunks)) === true) finish(false);
    };
    const timer = setTimeout(() => {
      finish(false);
      if (until === undefined) socket.destroy();
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('end', () => {
      ended = true;
      // The peer is done: finish our side too, so the socket closes (clients here are allowHalfOpen).
      socket.end();
    });
    socket.once('error', (err: Error & { code?: string }) => {
      error = err.code ?? err.message;
    });
    socket.once('close', () => finish(true));
    if (socket.destroyed) finish(true);
  });
}

/** Writes `data`, ends the writing side, and collects the answer until close. */
export async function exchange(socket: Socket, data: string | Buffer, timeoutMs = 5_000): Promise<Collected> {
  const answer = collect(socket, timeoutMs);
  socket.end(data);
  return answer;
}

/** SIGTERMs gatehouse and asserts a clean exit (0), showing its last log lines when it is not. */
export async function stopCleanly(gh: {
  stop(): Promise<number | null>;
  readonly logs: readonly Record<string, unknown>[];
}): Promise<void> {
  const started = Date.now();
  const code = await gh.stop();
  if (code !== 0) {
    const tail = gh.logs
      .slice(-15)
      .map((l) => JSON.stringify(l))
      .join('\n');
    throw new Error(
      `gatehouse exited ${code} ${Date.now() - started} ms after SIGTERM (null: killed); last logs:\n${tail}`,
    );
  }
  if (process.env['GATEHOUSE_TEST_DEBUG'] !== undefined) console.log(`gatehouse stopped in ${Date.now() - started} ms`);
}
