// Builders for typed objects in translator unit tests: only the fields a test cares about need be given.
import type {
  Endpoint,
  EndpointSlice,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressPath,
  IngressRule,
  IngressTLS,
  ObjectMeta,
  Secret,
  Service,
  ServicePort,
} from '../model/objects.ts';

export interface MetaInput {
  readonly name: string;
  readonly namespace?: string;
  readonly creationTimestamp?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function meta(m: MetaInput): ObjectMeta {
  return {
    name: m.name,
    namespace: m.namespace ?? 'default',
    uid: `uid-${m.namespace ?? 'default'}-${m.name}`,
    generation: 1,
    creationTimestamp: m.creationTimestamp ?? '2024-01-01T00:00:00Z',
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
  };
}

export function serviceBackend(name: string, port: number | string): IngressBackend {
  return { service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

export function path(p: string, backend: IngressBackend, pathType: IngressPath['pathType'] = 'Prefix'): IngressPath {
  return { path: p, pathType, backend };
}

export interface IngressInput extends MetaInput {
  readonly className?: string;
  readonly defaultBackend?: IngressBackend;
  readonly rules?: readonly IngressRule[];
  readonly tls?: readonly IngressTLS[];
}

export function ingress(i: IngressInput): Ingress {
  return {
    kind: 'Ingress',
    metadata: meta(i),
    spec: {
      ...(i.className !== undefined ? { ingressClassName: i.className } : {}),
      ...(i.defaultBackend !== undefined ? { defaultBackend: i.defaultBackend } : {}),
      rules: i.rules ?? [],
      tls: i.tls ?? [],
    },
    origin: {},
  };
}

export function ingressClass(name: string, controller: string, annotations: Record<string, string> = {}): IngressClass {
  return {
    kind: 'IngressClass',
    metadata: meta({ name, namespace: '', annotations }),
    spec: { controller },
    origin: {},
  };
}

export interface ServiceInput extends MetaInput {
  readonly type?: string;
  readonly clusterIP?: string;
  readonly externalName?: string;
  readonly ports?: readonly ServicePort[];
}

export function servicePort(name: string, port: number, targetPort?: number | string): ServicePort {
  return { name, port, protocol: 'TCP', ...(targetPort !== undefined ? { targetPort } : {}) };
}

export function service(s: ServiceInput): Service {
  return {
    kind: 'Service',
    metadata: meta(s),
    spec: {
      type: s.type ?? 'ClusterIP',
      ...(s.clusterIP !== undefined ? { clusterIP: s.clusterIP } : {}),
      ...(s.externalName !== undefined ? { externalName: s.externalName } : {}),
      ports: s.ports ?? [servicePort('http', 80, 8080)],
    },
    origin: {},
  };
}

export function endpoint(address: string, ready: boolean | null = true): Endpoint {
  return { addresses: [address], ready, serving: ready, terminating: false };
}

export interface SliceInput {
  readonly name: string;
  readonly service: string;
  readonly namespace?: string;
  readonly addressType?: string;
  readonly endpoints: readonly Endpoint[];
  readonly ports?: readonly { name: string; port: number }[];
}

export function endpointSlice(s: SliceInput): EndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: meta({
      name: s.name,
      ...(s.namespace !== undefined ? { namespace: s.namespace } : {}),
      labels: { 'kubernetes.io/service-name': s.service },
    }),
    addressType: s.addressType ?? 'IPv4',
    endpoints: s.endpoints,
    ports: (s.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({ ...p, protocol: 'TCP' })),
    origin: {},
  };
}

export function tlsSecret(name: string, data: Record<string, string>, namespace = 'default'): Secret {
  return { kind: 'Secret', metadata: meta({ name, namespace }), type: 'kubernetes.io/tls', data, origin: {} };
}
