import { BlockList, isIP } from 'node:net';

/** Addresses of proxies in front of gatehouse whose X-Forwarded-* headers are believed. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [addr = '', bits] = cidr.split('/');
      const family = isIP(addr);
      if (family === 0) throw new Error(`invalid address in trusted proxies: ${cidr}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const max = family === 4 ? 32 : 128;
      const prefix = bits === undefined ? max : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
        throw new Error(`invalid prefix in trusted proxies: ${cidr}`);
      this.#list.addSubnet(addr, prefix, type);
    }
    this.empty = cidrs.length === 0;
  }

  has(address: string): boolean {
    if (this.empty || address === '') return false;
    return this.#list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`: dual-stack sockets report IPv4 peers in mapped form. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
