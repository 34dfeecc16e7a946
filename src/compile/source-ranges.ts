import { BlockList } from 'node:net';
import { parseCidr } from '../ir/cidr.ts';

/**
 * The client addresses a route admits (`whitelist-source-range`, gatehouse's source-range policy), compiled once
 * per configuration. Ranges that do not parse were reported by the translator and are left out here.
 */
export class SourceRangeList {
  readonly #list = new BlockList();

  constructor(ranges: readonly string[]) {
    for (const r of ranges) {
      const c = parseCidr(r);
      if (typeof c === 'string') continue;
      this.#list.addSubnet(c.address, c.prefix, c.family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** Whether `address` (as node reports it; IPv4-mapped IPv6 included) is in one of the ranges. */
  allows(address: string): boolean {
    if (address === '') return false;
    if (address.includes(':')) {
      if (address.startsWith('::ffff:') && address.includes('.')) return this.#list.check(address.slice(7), 'ipv4');
      return this.#list.check(address, 'ipv6');
    }
    return this.#list.check(address, 'ipv4');
  }
}
