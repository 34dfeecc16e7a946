// Typed views of the Kubernetes objects gatehouse reads: only the fields it uses.
// Decoders in decode.ts build these from `unknown`; nothing else constructs them from raw input.

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation: number;
  readonly creationTimestamp: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Where an object came from, for diagnostics: a file (and document index) or the API. */
export interface Origin {
  readonly file?: string;
  readonly document?: number;
}

export interface ObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface ServiceBackendPort {
  readonly number?: number;
  readonly name?: string;
}

export interface IngressServiceBackend {
  readonly name: string;
  readonly port: ServiceBackendPort;
}

export interface IngressBackend {
  readonly service?: IngressServiceBackend;
  readonly resource?: { readonly apiGroup: string; readonly kind: string; readonly name: string };
}

export type IngressPathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface IngressPath {
  readonly path: string;
  readonly pathType: IngressPathType;
  readonly backend: IngressBackend;
}

export interface IngressRule {
  readonly host: string;
  readonly paths: readonly IngressPath[];
}

export interface IngressTLS {
  readonly hosts: readonly string[];
  readonly secretName: string;
}

export interface Ingress {
  readonly kind: 'Ingress';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly ingressClassName?: string;
    readonly defaultBackend?: IngressBackend;
    readonly rules: readonly IngressRule[];
    readonly tls: readonly IngressTLS[];
  };
  readonly origin: Origin;
}

export interface IngressClass {
  readonly kind: 'IngressClass';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly controller: string };
  readonly origin: Origin;
}

export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetPort?: number | string;
  readonly appProtocol?: string;
}

export interface Service {
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly type: string;
    readonly clusterIP?: string;
    readonly externalName?: string;
    readonly ports: readonly ServicePort[];
  };
  readonly origin: Origin;
}

export interface EndpointPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol?: string;
}

export interface Endpoint {
  readonly addresses: readonly string[];
  /** null means unknown, which consumers must treat as ready. */
  readonly ready: boolean | null;
  readonly serving: boolean | null;
  readonly terminating: boolean | null;
}

export interface EndpointSlice {
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  readonly addressType: string;
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly EndpointPort[];
  readonly origin: Origin;
}

export interface Secret {
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type: string;
  /** Decoded values (data is base64-decoded, stringData merged over it). */
  readonly data: Readonly<Record<string, string>>;
  readonly origin: Origin;
}

export interface Namespace {
  readonly kind: 'Namespace';
  readonly metadata: ObjectMeta;
  readonly origin: Origin;
}

export type KubeObject = Ingress | IngressClass | Service | EndpointSlice | Secret | Namespace;
export type Kind = KubeObject['kind'];

export function objectKey(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

export function keyOf(o: KubeObject): string {
  return objectKey(o.kind, o.metadata.namespace, o.metadata.name);
}
