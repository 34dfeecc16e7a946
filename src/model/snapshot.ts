import type {
  BackendTLSPolicy,
  ConfigMap,
  EndpointSlice,
  Gateway,
  GatewayClass,
  GRPCRoute,
  HTTPRoute,
  Ingress,
  IngressClass,
  KubeObject,
  Namespace,
  ReferenceGrant,
  Secret,
  Service,
  TCPRoute,
  TLSRoute,
} from './objects.ts';
import { keyOf } from './objects.ts';

function byKey<T extends KubeObject>(a: T, b: T): number {
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function nsName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * An immutable view of every object the sources know, handed to translators.
 * Arrays are sorted by kind/namespace/name so translation is deterministic whatever order objects arrived in.
 */
export class Snapshot {
  readonly ingresses: readonly Ingress[];
  readonly ingressClasses: readonly IngressClass[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly secrets: readonly Secret[];
  readonly configMaps: readonly ConfigMap[];
  readonly namespaces: readonly Namespace[];
  readonly gatewayClasses: readonly GatewayClass[];
  readonly gateways: readonly Gateway[];
  readonly httpRoutes: readonly HTTPRoute[];
  readonly grpcRoutes: readonly GRPCRoute[];
  readonly tcpRoutes: readonly TCPRoute[];
  readonly tlsRoutes: readonly TLSRoute[];
  readonly backendTLSPolicies: readonly BackendTLSPolicy[];
  readonly referenceGrants: readonly ReferenceGrant[];
  readonly #services: ReadonlyMap<string, Service>;
  readonly #secrets: ReadonlyMap<string, Secret>;
  readonly #configMaps: ReadonlyMap<string, ConfigMap>;
  readonly #slicesByService: ReadonlyMap<string, readonly EndpointSlice[]>;

  constructor(objects: Iterable<KubeObject>) {
    const ingresses: Ingress[] = [];
    const ingressClasses: IngressClass[] = [];
    const services: Service[] = [];
    const endpointSlices: EndpointSlice[] = [];
    const secrets: Secret[] = [];
    const configMaps: ConfigMap[] = [];
    const namespaces: Namespace[] = [];
    const gatewayClasses: GatewayClass[] = [];
    const gateways: Gateway[] = [];
    const httpRoutes: HTTPRoute[] = [];
    const grpcRoutes: GRPCRoute[] = [];
    const tcpRoutes: TCPRoute[] = [];
    const tlsRoutes: TLSRoute[] = [];
    const backendTLSPolicies: BackendTLSPolicy[] = [];
    const referenceGrants: ReferenceGrant[] = [];
    for (const o of objects) {
      switch (o.kind) {
        case 'Ingress':
          ingresses.push(o);
          break;
        case 'IngressClass':
          ingressClasses.push(o);
          break;
        case 'Service':
          services.push(o);
          break;
        case 'EndpointSlice':
          endpointSlices.push(o);
          break;
        case 'Secret':
          secrets.push(o);
          break;
        case 'ConfigMap':
          configMaps.push(o);
          break;
        case 'Namespace':
          namespaces.push(o);
          break;
        case 'GatewayClass':
          gatewayClasses.push(o);
          break;
        case 'Gateway':
          gateways.push(o);
          break;
        case 'HTTPRoute':
          httpRoutes.push(o);
          break;
        case 'GRPCRoute':
          grpcRoutes.push(o);
          break;
        case 'TCPRoute':
          tcpRoutes.push(o);
          break;
        case 'TLSRoute':
          tlsRoutes.push(o);
          break;
        case 'BackendTLSPolicy':
          backendTLSPolicies.push(o);
          break;
        case 'ReferenceGrant':
          referenceGrants.push(o);
          break;
      }
    }
    this.ingresses = ingresses.sort(byKey);
    this.ingressClasses = ingressClasses.sort(byKey);
    this.services = services.sort(byKey);
    this.endpointSlices = endpointSlices.sort(byKey);
    this.secrets = secrets.sort(byKey);
    this.configMaps = configMaps.sort(byKey);
    this.namespaces = namespaces.sort(byKey);
    this.gatewayClasses = gatewayClasses.sort(byKey);
    this.gateways = gateways.sort(byKey);
    this.httpRoutes = httpRoutes.sort(byKey);
    this.grpcRoutes = grpcRoutes.sort(byKey);
    this.tcpRoutes = tcpRoutes.sort(byKey);
    this.tlsRoutes = tlsRoutes.sort(byKey);
    this.backendTLSPolicies = backendTLSPolicies.sort(byKey);
    this.referenceGrants = referenceGrants.sort(byKey);
    this.#services = new Map(this.services.map((s) => [nsName(s.metadata.namespace, s.metadata.name), s]));
    this.#secrets = new Map(this.secrets.map((s) => [nsName(s.metadata.namespace, s.metadata.name), s]));
    this.#configMaps = new Map(this.configMaps.map((c) => [nsName(c.metadata.namespace, c.metadata.name), c]));
    const slices = new Map<string, EndpointSlice[]>();
    for (const slice of this.endpointSlices) {
      const svc = slice.metadata.labels['kubernetes.io/service-name'];
      if (svc === undefined) continue;
      const key = nsName(slice.metadata.namespace, svc);
      const list = slices.get(key);
      if (list === undefined) slices.set(key, [slice]);
      else list.push(slice);
    }
    this.#slicesByService = slices;
  }

  namespace(name: string): Namespace | undefined {
    return this.namespaces.find((n) => n.metadata.name === name);
  }

  service(namespace: string, name: string): Service | undefined {
    return this.#services.get(nsName(namespace, name));
  }

  secret(namespace: string, name: string): Secret | undefined {
    return this.#secrets.get(nsName(namespace, name));
  }

  configMap(namespace: string, name: string): ConfigMap | undefined {
    return this.#configMaps.get(nsName(namespace, name));
  }

  /** EndpointSlices labelled `kubernetes.io/service-name` for this Service, sorted by name. */
  endpointSlicesFor(namespace: string, service: string): readonly EndpointSlice[] {
    return this.#slicesByService.get(nsName(namespace, service)) ?? [];
  }
}
