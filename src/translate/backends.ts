import type { Backend, BackendTarget, Diagnostic, Endpoint, SourceRef, UpstreamTLS } from '../ir/types.ts';
import type { EndpointSlice, Service, ServiceBackendPort, ServicePort } from '../model/objects.ts';
import type { Snapshot } from '../model/snapshot.ts';

export type UpstreamMode = 'service' | 'endpoints';

export interface ServiceBackendRef {
  readonly namespace: string;
  readonly name: string;
  readonly port: ServiceBackendPort;
}

export interface ResolvedBackend {
  readonly backend: Backend;
  readonly diagnostics: Diagnostic[];
}

/** How a port reads in backend names and messages: as the user wrote it. */
export function portLabel(port: ServiceBackendPort): string {
  if (port.number !== undefined) return String(port.number);
  if (port.name !== undefined) return port.name;
  return '?';
}

export function serviceBackendName(ref: ServiceBackendRef, how?: BackendConnection): string {
  const base = `${ref.namespace}/${ref.name}:${portLabel(ref.port)}`;
  if (how === undefined) return base;
  if (how.tls !== undefined) {
    const key = how.tlsKey === undefined ? '' : `(${how.tlsKey})`;
    return `${base}${how.protocol === 'h2' ? '+h2+tls' : '+tls'}${key}`;
  }
  return how.protocol === 'h2' ? `${base}+h2c` : base;
}

/**
 * How to talk to a backend when a route or policy says so (gRPC, TLS origination). Without it: HTTP/1.1 in
 * cleartext, or HTTP/2 with prior knowledge when the Service port's appProtocol is `kubernetes.io/h2c`.
 */
export interface BackendConnection {
  readonly protocol?: 'h2';
  readonly tls?: UpstreamTLS;
  /**
   * Names what configured the TLS settings (e.g. `Ingress ns/name`), added to the backend name so two objects
   * that reach one Service port with different TLS settings get two backends.
   */
  readonly tlsKey?: string;
}

/** Service port appProtocol values that mean HTTP/2 with prior knowledge. */
const H2C_APP_PROTOCOLS: ReadonlySet<string> = new Set(['kubernetes.io/h2c', 'h2c']);

function findServicePort(service: Service, port: ServiceBackendPort): ServicePort | undefined {
  if (port.number !== undefined) return service.spec.ports.find((p) => p.port === port.number);
  if (port.name !== undefined) return service.spec.ports.find((p) => p.name === port.name);
  return undefined;
}

function ipv4Value(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

// Numeric order for IPv4 keeps goldens and /api/config readable (127.0.20.9 before 127.0.20.10).
function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const va = ipv4Value(a.address);
  const vb = ipv4Value(b.address);
  if (va !== undefined && vb !== undefined) {
    if (va !== vb) return va - vb;
  } else if (va !== undefined) {
    return -1;
  } else if (vb !== undefined) {
    return 1;
  } else if (a.address !== b.address) {
    return a.address < b.address ? -1 : 1;
  }
  return a.port - b.port;
}

/**
 * Ready endpoint addresses for one Service port. Slices are joined to the Service port by port name, as
 * kube-proxy does: the slice carries the resolved target port, whether the Service named or numbered it.
 */
export function readyEndpoints(slices: readonly EndpointSlice[], servicePort: ServicePort): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const slice of slices) {
    // FQDN slices hold names, not addresses; nothing in the IR's static targets can carry them.
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const slicePort = slice.ports.find((p) => p.name === servicePort.name);
    if (slicePort === undefined) continue;
    for (const endpoint of slice.endpoints) {
      // Unknown readiness (null) counts as ready, per the EndpointSlice API.
      if (endpoint.ready === false) continue;
      for (const address of endpoint.addresses) {
        const key = `${address} ${slicePort.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ address, port: slicePort.port });
      }
    }
  }
  return out.sort(compareEndpoints);
}

function unavailable(status: 500 | 503, reason: string): BackendTarget {
  return { kind: 'unavailable', status, reason };
}

/**
 * Resolves a reference to a Service port into an IR backend. `service` mode targets the cluster IP (so a mesh
 * sidecar or kube-proxy balances); `endpoints` mode targets the ready pod addresses. Pure and deterministic.
 */
export function resolveServiceBackend(
  snapshot: Snapshot,
  ref: ServiceBackendRef,
  mode: UpstreamMode,
  source: SourceRef,
  how?: BackendConnection,
): ResolvedBackend {
  const name = serviceBackendName(ref, how);
  const diagnostics: Diagnostic[] = [];
  const qualified = `${ref.namespace}/${ref.name}`;
  let protocol: 'h2' | undefined = how?.protocol;
  const done = (target: BackendTarget): ResolvedBackend => {
    const backend: Backend = {
      name,
      source,
      target,
      ...(protocol !== undefined ? { protocol } : {}),
      ...(how?.tls !== undefined ? { tls: how.tls } : {}),
    };
    return { backend, diagnostics };
  };
  const problem = (severity: Diagnostic['severity'], message: string): void => {
    diagnostics.push({ severity, object: source, message });
  };

  const service = snapshot.service(ref.namespace, ref.name);
  if (service === undefined) {
    const reason = `service ${qualified} not found`;
    problem('error', `backend ${name}: ${reason}`);
    return done(unavailable(503, reason));
  }

  const servicePort = findServicePort(service, ref.port);
  if (protocol === undefined && how?.tls === undefined && H2C_APP_PROTOCOLS.has(servicePort?.appProtocol ?? '')) {
    protocol = 'h2';
  }

  if (service.spec.type === 'ExternalName') {
    const hostname = service.spec.externalName ?? '';
    // ExternalName Services often declare no ports: a numbered reference then stands for itself.
    const port = servicePort?.port ?? ref.port.number;
    if (hostname === '') {
      const reason = `service ${qualified} is ExternalName without spec.externalName`;
      problem('error', `backend ${name}: ${reason}`);
      return done(unavailable(503, reason));
    }
    if (port === undefined) {
      const reason = `service ${qualified} has no port ${portLabel(ref.port)}`;
      problem('error', `backend ${name}: ${reason}`);
      return done(unavailable(503, reason));
    }
    return done({ kind: 'dns', hostname, port });
  }

  if (servicePort === undefined) {
    const reason = `service ${qualified} has no port ${portLabel(ref.port)}`;
    problem('error', `backend ${name}: ${reason}`);
    return done(unavailable(503, reason));
  }

  const slices = snapshot.endpointSlicesFor(ref.namespace, ref.name);
  const endpoints = readyEndpoints(slices, servicePort);
  const noReady = (): ResolvedBackend => {
    const reason = `service ${qualified} port ${portLabel(ref.port)} has no ready endpoints`;
    problem('warning', `backend ${name}: ${reason}`);
    return done(unavailable(503, reason));
  };

  const clusterIP = service.spec.clusterIP ?? '';
  // Headless Services have no virtual IP to connect to; a manifest folder may simply not assign one.
  const viaEndpoints = mode === 'endpoints' || clusterIP === 'None' || clusterIP === '';
  if (viaEndpoints) {
    if (mode === 'service' && clusterIP === '') {
      problem('warning', `backend ${name}: service ${qualified} has no cluster IP; using its endpoints`);
    }
    if (endpoints.length === 0) return noReady();
    return done({ kind: 'static', endpoints });
  }

  // A Service without any slices is taken on trust (nothing tracks its pods); with slices, an all-unready
  // port is known to be down and must not receive traffic through the cluster IP either.
  if (slices.length > 0 && endpoints.length === 0) return noReady();
  return done({ kind: 'static', endpoints: [{ address: clusterIP, port: servicePort.port }] });
}
