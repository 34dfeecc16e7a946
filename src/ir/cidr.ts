import { isIP } from 'node:net';

/** An address range as written in configuration: `10.0.0.0/8`, `2001:db8::/32`, or a bare address. */
export interface ParsedCidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
}

/** Parses a CIDR (or a bare address, meaning /32 or /128); a string saying what is wrong otherwise. */
export function parseCidr(text: string): ParsedCidr | string {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return `"${text}" is not an IP address or CIDR range`;
  const family = version === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const bits = trimmed.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${text}" has an invalid prefix length`;
  return { address, prefix: Number(bits), family };
}
