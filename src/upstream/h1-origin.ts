import { connect, type Socket } from 'node:net';

/**
 * Keep-alive HTTP/1.1 connections to one cleartext origin, for the fast path (dataplane/h1-connection.ts), which
 * writes requests and reads responses on the sockets itself. Socket listeners are attached once per connection,
 * never per request: events go to whichever exchange uses the connection at the time.
 */

export interface H1OriginOptions {
  readonly connectTimeoutMs: number;
  /** Silence allowed while a request waits for or reads its response (504 before the head, a cut after). */
  readonly timeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/** What uses an upstream connection: one exchange at a time. */
export interface H1UpstreamUser {
  /** A connection was assigned (after a wait in the queue, or at once). */
  upstreamReady(up: H1Upstream): void;
  upstreamData(up: H1Upstream, chunk: Buffer): void;
  /** The connection ended or failed; `err` is null for a clean end of stream. */
  upstreamClosed(up: H1Upstream, err: Error | null): void;
  upstreamDrain(up: H1Upstream): void;
}

/** Errors with the codes the data plane classifies (undici's, so every upstream client reads the same). */
export class UpstreamH1Error extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UpstreamH1Error';
    this.code = code;
  }
}

interface UpstreamSocket extends Socket {
  upstream?: H1Upstream;
}

/**
 * Connections keep one inactivity timer, never re-armed per request (node restarts it on socket activity): each
 * tick adds to the silence counted since the last byte, checked against the idle or the response timeout.
 */
const TICK_MS = 1_000;

/**
 * Each connection reads into one buffer of its own, reused from read to read (node would allocate 64 KiB per read
 * and hand it to the stream machinery). A reader that keeps a chunk past its callback — a client write that did
 * not complete at once still points into it — marks it taken, and the next read gets a fresh buffer.
 * 128 KiB holds a 64 KiB body with its head, so such a response takes one read and one client write, not two of
 * each. Pages are resident only once a read has filled them, so connections that carry small responses keep only
 * the first few.
 */
export const READ_BUFFER_SIZE = 128 * 1024;

export class H1Upstream {
  readonly socket: UpstreamSocket;
  readonly origin: H1Origin;
  user: H1UpstreamUser | null = null;
  /** Whether it served a request before (a reused connection may have been closed by the backend meanwhile). */
  reused = false;
  connected = false;
  /** Milliseconds of silence while in use, counted in timeout ticks. */
  silentMs = 0;
  error: Error | null = null;
  /** Set by the user when the chunk it was given is still referenced after `upstreamData` returned. */
  bufferTaken = false;
  #buffer: Buffer;

  constructor(socket: UpstreamSocket, origin: H1Origin, buffer: Buffer) {
    this.socket = socket;
    this.origin = origin;
    this.#buffer = buffer;
  }

  /** The buffer the next read goes into. */
  readBuffer(): Buffer {
    if (this.bufferTaken) {
      this.bufferTaken = false;
      this.#buffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
    }
    return this.#buffer;
  }
}

function onUpstreamConnect(this: UpstreamSocket): void {
  const up = this.upstream as H1Upstream;
  up.connected = true;
  this.setTimeout(TICK_MS);
}

/** `chunk` is valid only during the call (see READ_BUFFER_SIZE). */
function onUpstreamRead(this: UpstreamSocket, nread: number, buffer: Uint8Array): boolean {
  const up = this.upstream as H1Upstream;
  up.silentMs = 0;
  if (up.user !== null) up.user.upstreamData(up, (buffer as Buffer).subarray(0, nread));
  else this.destroy(); // nothing may arrive on an idle connection
  return true;
}

function onUpstreamDrain(this: UpstreamSocket): void {
  const up = this.upstream as H1Upstream;
  if (up.user !== null) up.user.upstreamDrain(up);
}

function onUpstreamError(this: UpstreamSocket, err: Error): void {
  const up = this.upstream as H1Upstream;
  up.error ??= err;
}

function onUpstreamTimeout(this: UpstreamSocket): void {
  const up = this.upstream as H1Upstream;
  const o = up.origin.options;
  if (!up.connected) {
    up.error ??= new UpstreamH1Error('UND_ERR_CONNECT_TIMEOUT', 'upstream connect timeout');
    this.destroy();
    return;
  }
  up.silentMs += TICK_MS;
  if (up.user === null) {
    if (up.silentMs >= o.keepAliveTimeoutMs) this.destroy();
    else this.setTimeout(TICK_MS); // a socket timeout fires once per silence; the next tick needs a new one
    return;
  }
  if (up.silentMs >= o.timeoutMs) {
    up.error ??= new UpstreamH1Error(
      up.connected ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT',
      'upstream timed out',
    );
    this.destroy();
    return;
  }
  this.setTimeout(TICK_MS);
}

function onUpstreamClose(this: UpstreamSocket): void {
  const up = this.upstream as H1Upstream;
  up.origin.forget(up);
  const user = up.user;
  up.user = null;
  if (user !== null) user.upstreamClosed(up, up.error);
}

/** End of stream from the backend: the connection is over (the socket closes itself, allowHalfOpen is off). */
function onUpstreamEnd(this: UpstreamSocket): void {}

export class H1Origin {
  readonly host: string;
  readonly port: number;
  readonly options: H1OriginOptions;
  readonly #idle: H1Upstream[] = [];
  readonly #waiting: H1UpstreamUser[] = [];
  #open = 0;
  #closed = false;

  constructor(host: string, port: number, options: H1OriginOptions) {
    this.host = host;
    this.port = port;
    this.options = options;
  }

  /**
   * A connection for `user`: an idle one (most recently used first), a new one, or — at the connection limit —
   * the next one released, through `user.upstreamReady`. `fresh` skips idle connections (a retry after a reused
   * one turned out closed).
   */
  acquire(user: H1UpstreamUser, fresh: boolean): void {
    if (!fresh) {
      while (this.#idle.length > 0) {
        const up = this.#idle.pop() as H1Upstream;
        if (up.socket.destroyed) continue;
        this.#use(up, user);
        up.reused = true;
        user.upstreamReady(up);
        return;
      }
    }
    if (this.#open >= this.options.maxConnections && !this.#closed) {
      this.#waiting.push(user);
      return;
    }
    user.upstreamReady(this.#connect(user));
  }

  /** Takes `user` out of the queue (its client went away while it waited). */
  cancel(user: H1UpstreamUser): void {
    const i = this.#waiting.indexOf(user);
    if (i >= 0) this.#waiting.splice(i, 1);
  }

  /** The exchange is done with `up`: kept for the next request when `reusable`, else closed. */
  release(up: H1Upstream, reusable: boolean): void {
    up.user = null;
    if (!reusable || this.#closed || up.socket.destroyed) {
      up.socket.destroy();
      this.#next();
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) {
      this.#use(up, next);
      up.reused = true;
      next.upstreamReady(up);
      return;
    }
    up.silentMs = 0;
    this.#idle.push(up);
  }

  /** A connection closed: it no longer counts, and a waiting exchange may open one. */
  forget(up: H1Upstream): void {
    this.#open--;
    const i = this.#idle.indexOf(up);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#next();
  }

  /** Closes idle connections now and the others once their exchanges end. */
  close(): void {
    this.#closed = true;
    for (const up of this.#idle) up.socket.destroy();
    this.#idle.length = 0;
    for (const user of this.#waiting.splice(0)) {
      user.upstreamReady(this.#connect(user));
    }
  }

  #next(): void {
    if (this.#waiting.length === 0 || this.#open >= this.options.maxConnections) return;
    const user = this.#waiting.shift() as H1UpstreamUser;
    user.upstreamReady(this.#connect(user));
  }

  #use(up: H1Upstream, user: H1UpstreamUser): void {
    up.user = user;
    up.silentMs = 0;
  }

  #connect(user: H1UpstreamUser): H1Upstream {
    this.#open++;
    const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
    let up: H1Upstream | null = null;
    const socket: UpstreamSocket = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      // Called after every read (not per request), and first while `up` is still being made.
      onread: { buffer: () => (up === null ? buffer : up.readBuffer()), callback: onUpstreamRead },
    });
    up = new H1Upstream(socket, this, buffer);
    socket.upstream = up;
    up.user = user;
    socket.setTimeout(this.options.connectTimeoutMs);
    socket.on('connect', onUpstreamConnect);
    socket.on('drain', onUpstreamDrain);
    socket.on('error', onUpstreamError);
    socket.on('timeout', onUpstreamTimeout);
    socket.on('end', onUpstreamEnd);
    socket.on('close', onUpstreamClose);
    return up;
  }
}

/** An end of stream before the response was complete, with the code undici reports for it. */
export function upstreamEndedEarly(): UpstreamH1Error {
  return new UpstreamH1Error('UND_ERR_SOCKET', 'upstream closed the connection before the response ended');
}
