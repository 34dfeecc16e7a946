// Which Secrets and ConfigMaps the current objects reference, so the Kubernetes source reads only those (never a
// cluster-wide cache of Secrets). The rules follow what the translators will accept, so nothing is read that could
// not be used:
//   - Ingresses this controller serves (same class rules as translate/ingress isOurIngress): spec.tls[].secretName,
//     and the ingress-nginx proxy-ssl-secret annotation when it names the Ingress's own namespace;
//   - Gateways whose GatewayClass is ours: listener tls.certificateRefs (Terminate) and spec.tls.backend
//     .clientCertificateRef, in another namespace only when a ReferenceGrant there allows it;
//   - BackendTLSPolicies: validation.caCertificateRefs (ConfigMap or Secret, in the policy's namespace);
//   - the --tcp-services-configmap ConfigMap.
// With --watch-namespace, references outside that namespace are not read (the translators could not use them: the
// grants and objects there are not watched either), except the ConfigMap named on the command line.
import type { GroupKindRef, IngressClass, KubeObject, ReferenceGrant } from '../../model/objects.ts';

export interface ReferenceScope {
  /** `--ingress-class`. */
  readonly ingressClass: string;
  /** IngressClass spec.controller that marks a class as ours. */
  readonly ingressController: string;
  /** GatewayClass spec.controllerName that marks a class as ours. */
  readonly gatewayController: string;
  /** `namespace/name` from --tcp-services-configmap. */
  readonly tcpServicesConfigMap?: string;
  readonly watchNamespace?: string;
}

export interface ReferencedObject {
  readonly kind: 'Secret' | 'ConfigMap';
  readonly namespace: string;
  readonly name: string;
}

export const PROXY_SSL_SECRET_ANNOTATION = 'nginx.ingress.kubernetes.io/proxy-ssl-secret';
const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export function referenceKey(r: ReferencedObject): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

function servesIngress(
  className: string | undefined,
  legacy: string | undefined,
  classes: readonly IngressClass[],
  scope: ReferenceScope,
): boolean {
  if (className !== undefined && className !== '') {
    if (className === scope.ingressClass) return true;
    return classes.some((c) => c.metadata.name === className && c.spec.controller === scope.ingressController);
  }
  if (legacy !== undefined && legacy !== '') return legacy === scope.ingressClass;
  return classes.some(
    (c) => c.spec.controller === scope.ingressController && c.metadata.annotations[DEFAULT_CLASS_ANNOTATION] === 'true',
  );
}

function secretGranted(grants: readonly ReferenceGrant[], fromNamespace: string, namespace: string, name: string) {
  return grants.some(
    (g) =>
      g.metadata.namespace === namespace &&
      g.spec.from.some((f) => f.group === GATEWAY_API_GROUP && f.kind === 'Gateway' && f.namespace === fromNamespace) &&
      g.spec.to.some(
        (t) => t.group === '' && t.kind === 'Secret' && (t.name === undefined || t.name === '' || t.name === name),
      ),
  );
}

/** Every Secret and ConfigMap the objects reference and this controller may use, sorted and without repeats. */
export function referencedObjects(objects: Iterable<KubeObject>, scope: ReferenceScope): ReferencedObject[] {
  const ingressClasses: IngressClass[] = [];
  const ourGatewayClasses = new Set<string>();
  const grants: ReferenceGrant[] = [];
  const rest: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind === 'IngressClass') ingressClasses.push(o);
    else if (o.kind === 'GatewayClass') {
      if (o.spec.controllerName === scope.gatewayController) ourGatewayClasses.add(o.metadata.name);
    } else if (o.kind === 'ReferenceGrant') grants.push(o);
    else rest.push(o);
  }

  const found = new Map<string, ReferencedObject>();
  const add = (kind: ReferencedObject['kind'], namespace: string, name: string, fromFlag = false): void => {
    if (namespace === '' || name === '') return;
    if (
      !fromFlag &&
      scope.watchNamespace !== undefined &&
      scope.watchNamespace !== '' &&
      namespace !== scope.watchNamespace
    ) {
      return;
    }
    const r = { kind, namespace, name };
    found.set(referenceKey(r), r);
  };
  const gatewaySecret = (ref: GroupKindRef, gatewayNamespace: string): void => {
    if (ref.group !== '' || ref.kind !== 'Secret') return;
    const namespace = ref.namespace ?? gatewayNamespace;
    if (namespace !== gatewayNamespace && !secretGranted(grants, gatewayNamespace, namespace, ref.name)) return;
    add('Secret', namespace, ref.name);
  };

  for (const o of rest) {
    const ns = o.metadata.namespace;
    switch (o.kind) {
      case 'Ingress': {
        if (
          !servesIngress(
            o.spec.ingressClassName,
            o.metadata.annotations[LEGACY_CLASS_ANNOTATION],
            ingressClasses,
            scope,
          )
        ) {
          break;
        }
        for (const t of o.spec.tls) add('Secret', ns, t.secretName);
        const proxySSL = o.metadata.annotations[PROXY_SSL_SECRET_ANNOTATION];
        if (proxySSL !== undefined) {
          const parts = proxySSL.split('/');
          // Only the Ingress's own namespace: the translator refuses others before looking them up.
          if (parts.length === 1) add('Secret', ns, parts[0] ?? '');
          else if (parts.length === 2 && parts[0] === ns) add('Secret', ns, parts[1] ?? '');
        }
        break;
      }
      case 'Gateway': {
        if (!ourGatewayClasses.has(o.spec.gatewayClassName)) break;
        for (const l of o.spec.listeners) {
          if (l.tls?.mode !== 'Terminate') continue;
          for (const ref of l.tls.certificateRefs) gatewaySecret(ref, ns);
        }
        const client = o.spec.tls?.backend?.clientCertificateRef;
        if (client !== undefined) gatewaySecret(client, ns);
        break;
      }
      case 'BackendTLSPolicy': {
        for (const ref of o.spec.validation.caCertificateRefs) {
          if (ref.group !== '') continue;
          if (ref.kind === 'ConfigMap' || ref.kind === 'Secret') add(ref.kind, ns, ref.name);
        }
        break;
      }
      default:
        break;
    }
  }

  const tcp = scope.tcpServicesConfigMap;
  if (tcp !== undefined) {
    const slash = tcp.indexOf('/');
    if (slash > 0 && !tcp.slice(slash + 1).includes('/'))
      add('ConfigMap', tcp.slice(0, slash), tcp.slice(slash + 1), true);
  }

  return [...found.values()].sort((a, b) => {
    const ka = referenceKey(a);
    const kb = referenceKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
