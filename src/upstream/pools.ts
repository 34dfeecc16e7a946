import { Pool } from 'undici';

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

/**
 * Keep-alive connection pools by origin (`http://address:port`). Pools outlive configuration changes: a new
 * route table that names the same address reuses the same pool, so a reload costs no reconnects.
 */
export class PoolRegistry {
  readonly #pools = new Map<string, Pool>();
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
  }

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      const o = this.#options;
      pool = new Pool(origin, {
        connections: o.connectionsPerOrigin,
        pipelining: 1,
        keepAliveTimeout: o.keepAliveTimeoutMs,
        keepAliveMaxTimeout: o.keepAliveTimeoutMs,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        connect: { timeout: o.connectTimeoutMs },
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes, once their requests finish, the pools of origins no longer in use. */
  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
  }

  async destroy(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}

export function originOf(address: string, port: number): string {
  return address.includes(':') ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}
