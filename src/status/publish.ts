// The addresses gatehouse publishes as where it can be reached: Ingress `status.loadBalancer.ingress` and Gateway
// `status.addresses`. Either fixed (`--publish-address`) or those of a Service in front of it (`--publish-service`).
import { isIP } from 'node:net';
import { asArray, asRecord, asString } from './kube-api.ts';

export type PublishAddress = { readonly ip: string } | { readonly hostname: string };

export type PublishConfig =
  | { readonly kind: 'addresses'; readonly addresses: readonly PublishAddress[] }
  | { readonly kind: 'service'; readonly namespace: string; readonly name: string };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const NAMESPACED_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/**
 * `ADDR[,ADDR...]` → addresses: IPv4/IPv6 literals become `ip`, DNS names `hostname`. Returns a problem message
 * instead when a value is neither.
 */
export function parsePublishAddresses(value: string): readonly PublishAddress[] | string {
  const out: PublishAddress[] = [];
  const seen = new Set<string>();
  for (const raw of value.split(',')) {
    const v = raw.trim();
    if (v === '') continue;
    const ip = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
    let address: PublishAddress;
    if (isIP(ip) !== 0) address = { ip };
    else if (HOSTNAME.test(v.toLowerCase())) address = { hostname: v.toLowerCase() };
    else return `'${v}' is neither an IP address nor a DNS name`;
    const key = 'ip' in address ? address.ip : address.hostname;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(address);
  }
  if (out.length === 0) return 'no address given';
  return out;
}

/** `NAMESPACE/NAME` → the Service reference, or a problem message. */
export function parsePublishService(value: string): { readonly namespace: string; readonly name: string } | string {
  if (!NAMESPACED_NAME.test(value)) return `'${value}' is not NAMESPACE/NAME`;
  const [namespace = '', name = ''] = value.split('/');
  return { namespace, name };
}

/**
 * What a Service says about where it can be reached: its load balancer's ingress points, else its external IPs.
 * Empty while a load balancer is still being provisioned.
 */
export function addressesOfService(service: unknown): readonly PublishAddress[] {
  const s = asRecord(service);
  const out: PublishAddress[] = [];
  const seen = new Set<string>();
  const add = (a: PublishAddress): void => {
    const key = 'ip' in a ? a.ip : a.hostname;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(a);
  };
  const lb = asRecord(asRecord(s?.['status'])?.['loadBalancer']);
  for (const item of asArray(lb?.['ingress'])) {
    const i = asRecord(item);
    const ip = asString(i?.['ip']);
    const hostname = asString(i?.['hostname']);
    if (ip !== undefined && ip !== '') add({ ip });
    else if (hostname !== undefined && hostname !== '') add({ hostname });
  }
  if (out.length > 0) return out;
  for (const ip of asArray(asRecord(s?.['spec'])?.['externalIPs'])) {
    if (typeof ip === 'string' && ip !== '') add({ ip });
  }
  return out;
}

/** Ingress `status.loadBalancer.ingress` entries. */
export function ingressPoints(addresses: readonly PublishAddress[]): Record<string, string>[] {
  return addresses.map((a) => ('ip' in a ? { ip: a.ip } : { hostname: a.hostname }));
}

/** Gateway `status.addresses` entries. */
export function gatewayAddresses(addresses: readonly PublishAddress[]): { type: string; value: string }[] {
  return addresses
    .slice(0, 16)
    .map((a) => ('ip' in a ? { type: 'IPAddress', value: a.ip } : { type: 'Hostname', value: a.hostname }));
}
