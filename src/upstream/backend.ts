import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import type { Backend } from '../ir/types.ts';
import type { H1Origin } from './h1-origin.ts';
import {
  type ConnectionProfile,
  FIXED_SERVERNAME,
  originOf,
  type PoolRegistry,
  poolKey,
  tlsConnectOptions,
  type UpstreamDispatcher,
} from './pools.ts';

/**
 * Dispatch options as undici reads them at run time: its types list neither `servername` nor async-iterable
 * bodies, both of which it accepts.
 */
export type UpstreamDispatchOptions = Omit<Dispatcher.DispatchOptions, 'body'> & {
  body?: Dispatcher.DispatchOptions['body'] | AsyncIterable<Uint8Array>;
  servername?: string;
};

/** The same options under undici's declared type. */
export function asDispatchOptions(options: UpstreamDispatchOptions): Dispatcher.DispatchOptions {
  return options as Dispatcher.DispatchOptions;
}

/** One address of a backend, for connections made outside the pools (WebSocket tunnels). */
export class UpstreamAddress {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }
}

const NO_ADDRESSES: readonly UpstreamAddress[] = [];

/** A backend ready for traffic: its pools, balanced round-robin, or the status to answer when it has none. */
export class UpstreamBackend {
  readonly name: string;
  /** 0 when the backend has addresses; else the status to answer (500 invalid, 503 unavailable). */
  readonly unavailableStatus: number;
  readonly reason: string;
  readonly origins: readonly string[];
  /** Parallel to `origins`. */
  readonly addresses: readonly UpstreamAddress[];
  /** The registry keys of this backend's pools, so pools no table uses any more can be closed. */
  readonly poolKeys: readonly string[];
  /** Whether requests go out as HTTP/2 (gRPC needs it end to end). */
  readonly http2: boolean;
  /** Whether connections use TLS. */
  readonly tls: boolean;
  /** The server name requests are dispatched with (TLS only): see FIXED_SERVERNAME. */
  readonly servername: string | undefined;
  /** For connections made outside the pools (WebSocket tunnels) to a TLS backend; null for cleartext. */
  readonly tlsConnect: ConnectionOptions | null;
  readonly #pools: readonly UpstreamDispatcher[];
  /** Parallel to `origins` for cleartext HTTP/1.1 backends (the fast path's connections); else empty. */
  readonly #h1: readonly H1Origin[];
  #next = 0;

  constructor(backend: Backend, pools: PoolRegistry) {
    this.name = backend.name;
    this.http2 = backend.protocol === 'h2';
    this.tls = backend.tls !== undefined;
    this.servername = this.tls ? FIXED_SERVERNAME : undefined;
    this.tlsConnect =
      backend.tls === undefined
        ? null
        : {
            ...tlsConnectOptions(backend.tls),
            ...(backend.tls.serverName !== undefined ? { servername: backend.tls.serverName } : {}),
          };
    const profile: ConnectionProfile = {
      ...(backend.protocol !== undefined ? { protocol: backend.protocol } : {}),
      ...(backend.tls !== undefined ? { tls: backend.tls } : {}),
    };
    const t = backend.target;
    if (t.kind === 'unavailable') {
      this.unavailableStatus = t.status;
      this.reason = t.reason;
      this.origins = [];
      this.addresses = NO_ADDRESSES;
    } else if (t.kind === 'dns') {
      this.unavailableStatus = 0;
      this.reason = '';
      this.origins = [originOf(t.hostname, t.port)];
      this.addresses = [new UpstreamAddress(t.hostname, t.port)];
    } else if (t.endpoints.length === 0) {
      this.unavailableStatus = 503;
      this.reason = `backend ${backend.name} has no endpoints`;
      this.origins = [];
      this.addresses = NO_ADDRESSES;
    } else {
      this.unavailableStatus = 0;
      this.reason = '';
      this.origins = t.endpoints.map((e) => originOf(e.address, e.port));
      this.addresses = t.endpoints.map((e) => new UpstreamAddress(e.address, e.port));
    }
    this.#pools = this.origins.map((o) => pools.get(o, profile));
    this.#h1 =
      this.http2 || this.tls
        ? []
        : this.origins.map((o, i) => {
            const a = this.addresses[i] as UpstreamAddress;
            return pools.h1(o, a.host, a.port);
          });
    this.poolKeys = this.origins.map((o) => poolKey(o, profile));
  }

  /** The index of the next address, round-robin. */
  pick(): number {
    const n = this.#pools.length;
    if (n === 1) return 0;
    const i = this.#next;
    this.#next = i + 1 >= n ? 0 : i + 1;
    return i;
  }

  /** Whether the fast path can forward to this backend: cleartext HTTP/1.1, or no addresses to forward to. */
  get fastH1(): boolean {
    return !this.http2 && !this.tls;
  }

  h1Origin(index: number): H1Origin | null {
    return this.#h1[index] ?? null;
  }

  pool(index: number): UpstreamDispatcher {
    return this.#pools[index] as UpstreamDispatcher;
  }
}
