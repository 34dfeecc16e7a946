import type { Pool } from 'undici';
import type { Backend } from '../ir/types.ts';
import { originOf, type PoolRegistry } from './pools.ts';

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
  readonly #pools: readonly Pool[];
  #next = 0;

  constructor(backend: Backend, pools: PoolRegistry) {
    this.name = backend.name;
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
    this.#pools = this.origins.map((o) => pools.get(o));
  }

  /** The index of the next address, round-robin. */
  pick(): number {
    const n = this.#pools.length;
    if (n === 1) return 0;
    const i = this.#next;
    this.#next = i + 1 >= n ? 0 : i + 1;
    return i;
  }

  pool(index: number): Pool {
    return this.#pools[index] as Pool;
  }
}
