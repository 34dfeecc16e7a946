// TCP services from a ConfigMap, as ingress-nginx's `--tcp-services-configmap` reads it: each key is a port
// gatehouse listens on, each value `<namespace>/<service>:<port>[:PROXY][:PROXY]` the Service port connections
// go to. The service port is a number or a port name. The first PROXY means clients on that port send a PROXY
// protocol header (gatehouse reads it and takes the client address from it); the second, that gatehouse sends
// one (v1, as nginx's `proxy_protocol on` does) to the backend.
//
// Values are data: split, checked and copied into the IR. An entry that cannot be read is an error diagnostic
// naming the ConfigMap and its key, and no port is opened for it.
import type { Backend, Diagnostic, SourceRef, StreamListener } from '../../ir/types.ts';
import type { ServiceBackendPort } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { resolveServiceBackend, type UpstreamMode } from '../backends.ts';

export const TCP_SERVICES_LISTENER_PREFIX = 'tcp-services-';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME = /^[-a-z0-9]+$/;

export interface TCPServicesResult {
  readonly listeners: StreamListener[];
  readonly backends: Backend[];
}

export interface TCPServicesOptions {
  /** `namespace/name` of the ConfigMap. */
  readonly configMap: string;
  readonly upstream: UpstreamMode;
  /** Ports already taken (the Ingress HTTP and HTTPS ports), with the listener that has each. */
  readonly reservedPorts: ReadonlyMap<number, string>;
}

/** A port as a ConfigMap key or value writes it: digits without leading zeros, 1-65535. */
function parsePort(text: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

interface Entry {
  readonly namespace: string;
  readonly service: string;
  readonly port: ServiceBackendPort;
  readonly decodeProxy: boolean;
  readonly encodeProxy: boolean;
}

/** Reads one value; a string saying what is wrong otherwise. */
function parseEntry(value: string): Entry | string {
  const fields = value.trim().split(':');
  if (fields.length < 2) return `"${value}" is not <namespace>/<service>:<port>[:PROXY][:PROXY]`;
  if (fields.length > 4) return `"${value}" has more than two fields after the port`;
  const [ref = '', portText = '', ...flags] = fields;
  const slash = ref.indexOf('/');
  const namespace = slash < 0 ? '' : ref.slice(0, slash);
  const service = slash < 0 ? '' : ref.slice(slash + 1);
  if (slash < 0 || !DNS_LABEL.test(namespace) || namespace.length > 63) {
    return `"${ref}" is not <namespace>/<service> (a namespace is required)`;
  }
  if (!DNS_1035_LABEL.test(service) || service.length > 63) return `"${service}" is not a Service name`;
  let port: ServiceBackendPort;
  const number = parsePort(portText);
  if (number !== undefined) port = { number };
  else if (PORT_NAME.test(portText) && /[a-z]/.test(portText) && portText.length <= 15) port = { name: portText };
  else return `"${portText}" is neither a port number nor a port name`;
  for (const [i, f] of flags.entries()) {
    if (f !== 'PROXY' && f !== '') return `field ${i + 3} is "${f}"; only PROXY (or nothing) may follow the port`;
  }
  return { namespace, service, port, decodeProxy: flags[0] === 'PROXY', encodeProxy: flags[1] === 'PROXY' };
}

/**
 * The stream listeners a tcp-services ConfigMap asks for: `tcp-services-<port>`, protocol TCP, one route
 * `tcp-services/<port>` to the Service port. Ports that are not numbers, or that the Ingress listeners already use,
 * are reported and left out.
 */
export function translateTCPServices(
  snapshot: Snapshot,
  options: TCPServicesOptions,
  diagnostics: Diagnostic[],
): TCPServicesResult {
  const slash = options.configMap.indexOf('/');
  const namespace = options.configMap.slice(0, slash);
  const name = options.configMap.slice(slash + 1);
  const object: SourceRef = { kind: 'ConfigMap', namespace, name };
  if (slash <= 0 || name === '' || name.includes('/')) {
    diagnostics.push({
      severity: 'error',
      message: `--tcp-services-configmap "${options.configMap}" is not <namespace>/<name>; no TCP services are served`,
    });
    return { listeners: [], backends: [] };
  }
  const configMap = snapshot.configMap(namespace, name);
  if (configMap === undefined) {
    diagnostics.push({
      severity: 'warning',
      object,
      message: `ConfigMap ${namespace}/${name} (--tcp-services-configmap) not found; no TCP services are served`,
    });
    return { listeners: [], backends: [] };
  }

  const listeners: StreamListener[] = [];
  const backends = new Map<string, Backend>();
  const keys = Object.keys(configMap.data).sort(
    (a, b) => (parsePort(a) ?? 0) - (parsePort(b) ?? 0) || (a < b ? -1 : 1),
  );
  for (const key of keys) {
    const value = configMap.data[key] ?? '';
    const where = `data["${key}"]`;
    const fail = (message: string): void => {
      diagnostics.push({ severity: 'error', object, message: `${where}: ${message}; port not served` });
    };
    const port = parsePort(key);
    if (port === undefined) {
      fail(`"${key}" is not a port number (1-65535)`);
      continue;
    }
    const reserved = options.reservedPorts.get(port);
    if (reserved !== undefined) {
      fail(`port ${port} is already used by listener ${reserved}`);
      continue;
    }
    const entry = parseEntry(value);
    if (typeof entry === 'string') {
      fail(entry);
      continue;
    }
    const source: SourceRef = { ...object, section: String(port) };
    const resolved = resolveServiceBackend(
      snapshot,
      { namespace: entry.namespace, name: entry.service, port: entry.port },
      options.upstream,
      source,
    );
    for (const d of resolved.diagnostics) diagnostics.push({ ...d, object, message: `${where}: ${d.message}` });
    if (!backends.has(resolved.backend.name)) backends.set(resolved.backend.name, resolved.backend);
    listeners.push({
      name: `${TCP_SERVICES_LISTENER_PREFIX}${port}`,
      protocol: 'TCP',
      port,
      ...(entry.decodeProxy ? { proxyProtocol: true } : {}),
      routes: [
        {
          name: `tcp-services/${port}`,
          source,
          hostnames: [],
          backends: [{ backend: resolved.backend.name, weight: 1 }],
          ...(entry.encodeProxy ? { sendProxyProtocol: 1 as const } : {}),
        },
      ],
    });
  }
  return { listeners, backends: [...backends.values()] };
}
