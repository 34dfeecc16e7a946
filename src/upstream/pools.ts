import { createHash } from 'node:crypto';
import { buildConnector, type Dispatcher, Pool } from 'undici';
import type { UpstreamTLS } from '../ir/types.ts';
import { H1Origin } from './h1-origin.ts';
import { H2Origin } from './h2-origin.ts';

export interface UpstreamOptions {
  /** Time to establish a TCP connection to a backend. */
  readonly connectTimeoutMs: number;
  /** Time to wait for response headers, and between response body chunks (504 when exceeded before headers). */
  readonly timeoutMs: number;
  /** Idle keep-alive connections are closed after this; kept below common backend idle timeouts (5 s). */
  readonly keepAliveTimeoutMs: number;
  /** Connections per backend address. */
  readonly connectionsPerOrigin: number;
}

export const defaultUpstreamOptions: UpstreamOptions = {
  connectTimeoutMs: 5_000,
  timeoutMs: 60_000,
  keepAliveTimeoutMs: 4_000,
  connectionsPerOrigin: 256,
};

/** What a backend address is reached through: an undici Pool (HTTP/1.1) or an H2Origin (HTTP/2). */
export interface UpstreamDispatcher {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** How connections to an origin are made: HTTP/1.1 or HTTP/2, cleartext or TLS. */
export interface ConnectionProfile {
  readonly protocol?: 'h2';
  readonly tls?: UpstreamTLS;
}

/**
 * The server name every request to a TLS origin is dispatched with. undici otherwise takes it from each request's
 * Host, which would send the client's Host as SNI and reconnect whenever it changes; the pool's connector decides
 * the real SNI (the configured name, or none).
 */
export const FIXED_SERVERNAME = 'upstream.gatehouse.invalid';

/** HTTP/2 connections per backend address; each carries as many streams as the backend allows. */
const H2_CONNECTIONS_PER_ORIGIN = 16;
const H2_IDLE_TIMEOUT_MS = 60_000;

/** The pool key: one pool per origin and way of connecting, so a TLS and a cleartext backend never share one. */
export function poolKey(origin: string, profile: ConnectionProfile): string {
  let key = origin;
  if (profile.protocol === 'h2') key += ' h2';
  if (profile.tls !== undefined) {
    key += ` tls:${createHash('sha256').update(JSON.stringify(profile.tls)).digest('hex').slice(0, 16)}`;
  }
  return key;
}

/**
 * Keep-alive connection pools by origin and connection profile. Pools outlive configuration changes: a new route
 * table that names the same address the same way reuses the same pool, so a reload costs no reconnects.
 */
export class PoolRegistry {
  readonly #pools = new Map<string, UpstreamDispatcher>();
  /** The fast path's own connections to cleartext HTTP/1.1 origins, under the same keys as their undici pools. */
  readonly #h1 = new Map<string, H1Origin>();
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  get(origin: string, profile: ConnectionProfile = {}): UpstreamDispatcher {
    const key = poolKey(origin, profile);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#create(origin, profile);
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** The fast path's connections to a cleartext HTTP/1.1 origin (`host` unbracketed). */
  h1(origin: string, host: string, port: number): H1Origin {
    let o = this.#h1.get(origin);
    if (o === undefined) {
      const opts = this.#options;
      o = new H1Origin(host, port, {
        connectTimeoutMs: opts.connectTimeoutMs,
        timeoutMs: opts.timeoutMs,
        keepAliveTimeoutMs: opts.keepAliveTimeoutMs,
        maxConnections: opts.connectionsPerOrigin,
      });
      this.#h1.set(origin, o);
    }
    return o;
  }

  #create(origin: string, profile: ConnectionProfile): UpstreamDispatcher {
    const o = this.#options;
    const tls = profile.tls;
    if (profile.protocol === 'h2') {
      return new H2Origin(
        origin,
        tls === undefined
          ? null
          : { ...tlsConnectOptions(tls), ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}) },
        {
          connectTimeoutMs: o.connectTimeoutMs,
          timeoutMs: o.timeoutMs,
          // HTTP/2 connections are few and multiplexed: keep them longer than HTTP/1.1 keep-alive.
          idleTimeoutMs: H2_IDLE_TIMEOUT_MS,
          maxConnections: H2_CONNECTIONS_PER_ORIGIN,
        },
      );
    }
    const common = {
      connections: o.connectionsPerOrigin,
      pipelining: 1,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      keepAliveMaxTimeout: o.keepAliveTimeoutMs,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    };
    if (tls === undefined) return new Pool(origin, { ...common, connect: { timeout: o.connectTimeoutMs } });
    const base = buildConnector({ ...tlsConnectOptions(tls), timeout: o.connectTimeoutMs, allowH2: false });
    const serverName = tls.serverName;
    const connect: buildConnector.connector = (opts, callback) => {
      base({ ...opts, servername: serverName ?? '' }, callback);
    };
    return new Pool(origin.replace(/^http:/, 'https:'), { ...common, allowH2: false, connect });
  }

  /** Closes, once their requests finish, the pools of origins no longer in use. */
  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => {});
    }
    for (const [origin, o] of this.#h1) {
      if (origins.has(origin)) continue;
      this.#h1.delete(origin);
      o.close();
    }
  }

  async close(): Promise<void> {
    for (const o of this.#h1.values()) o.close();
    this.#h1.clear();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
  }

  async destroy(): Promise<void> {
    for (const o of this.#h1.values()) o.close();
    this.#h1.clear();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}

function skipIdentityCheck(): undefined {
  return undefined;
}

/** The node TLS client options a backend's TLS settings come to (SNI is set per connection). */
export interface UpstreamTLSOptions {
  readonly rejectUnauthorized: boolean;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly checkServerIdentity?: () => undefined;
}

export function tlsConnectOptions(tls: UpstreamTLS): UpstreamTLSOptions {
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.caPem !== undefined ? { ca: tls.caPem } : {}),
    ...(tls.clientCertPem !== undefined && tls.clientKeyPem !== undefined
      ? { cert: tls.clientCertPem, key: tls.clientKeyPem }
      : {}),
    // Without a configured name there is nothing to check the certificate's names against.
    ...(tls.serverName === undefined || !tls.verify ? { checkServerIdentity: skipIdentityCheck } : {}),
  };
}

export function originOf(address: string, port: number): string {
  return address.includes(':') ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}
