// Certificates of HTTPS (and TLS Terminate) listeners: which Secrets `tls.certificateRefs` name, whether the
// Gateway may use them (ReferenceGrant), and whether they hold a key pair TLS can serve. Checking the PEM here, not only when the data
// plane loads it, is what lets a listener with a broken Secret report ResolvedRefs=False instead of claiming to be
// programmed; parsing is computation on the snapshot, so the translator stays pure.
import type { Gateway, GatewayListener, Secret } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { keyPairProblem as pemPairProblem } from '../key-pair.ts';
import { GATEWAY_API_GROUP } from './conditions.ts';

export interface ListenerCertificate {
  readonly namespace: string;
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateProblem {
  readonly reason: 'InvalidCertificateRef' | 'RefNotPermitted';
  readonly message: string;
}

export interface ListenerTLSResolution {
  /** The usable certificates, in certificateRefs order. */
  readonly certificates: readonly ListenerCertificate[];
  /** One entry per certificateRef that cannot be used. */
  readonly problems: readonly CertificateProblem[];
}

/** A ReferenceGrant in the Secret's namespace lets Gateways of `gatewayNamespace` use the Secret. */
export function secretGranted(snapshot: Snapshot, gatewayNamespace: string, secretNamespace: string, name: string) {
  return snapshot.referenceGrants.some(
    (g) =>
      g.metadata.namespace === secretNamespace &&
      g.spec.from.some(
        (f) => f.group === GATEWAY_API_GROUP && f.kind === 'Gateway' && f.namespace === gatewayNamespace,
      ) &&
      g.spec.to.some(
        (t) => t.group === '' && t.kind === 'Secret' && (t.name === undefined || t.name === '' || t.name === name),
      ),
  );
}

// Keyed by the immutable Secret object, so a Secret that did not change is not parsed again on the next
// translation; the answer depends only on the Secret, which keeps translation deterministic.
const checked = new WeakMap<Secret, string | null>();

/** Why a Secret cannot serve TLS, or null when it can. */
export function keyPairProblem(secret: Secret): string | null {
  const cached = checked.get(secret);
  if (cached !== undefined) return cached;
  const problem = pemPairProblem(secret.data['tls.crt'] ?? '', secret.data['tls.key'] ?? '');
  checked.set(secret, problem);
  return problem;
}

/** Resolves every certificateRef of an HTTPS (or TLS Terminate) listener. */
export function resolveListenerTLS(snapshot: Snapshot, gateway: Gateway, spec: GatewayListener): ListenerTLSResolution {
  const gatewayNamespace = gateway.metadata.namespace;
  const refs = spec.tls?.certificateRefs ?? [];
  if (refs.length === 0) {
    return {
      certificates: [],
      problems: [{ reason: 'InvalidCertificateRef', message: 'tls.certificateRefs is empty: nothing to serve' }],
    };
  }
  const certificates: ListenerCertificate[] = [];
  const problems: CertificateProblem[] = [];
  refs.forEach((ref, i) => {
    const where = `tls.certificateRefs[${i}]`;
    const namespace = ref.namespace ?? gatewayNamespace;
    if (ref.group !== '' || ref.kind !== 'Secret') {
      const label = `${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} ${namespace}/${ref.name}`;
      problems.push({
        reason: 'InvalidCertificateRef',
        message: `${where}: ${label}: only core Secrets are supported`,
      });
      return;
    }
    const label = `Secret ${namespace}/${ref.name}`;
    // Checked before existence, so a Gateway cannot learn which Secrets exist in namespaces that did not grant it.
    if (namespace !== gatewayNamespace && !secretGranted(snapshot, gatewayNamespace, namespace, ref.name)) {
      problems.push({
        reason: 'RefNotPermitted',
        message: `${where}: ${label} is in another namespace and no ReferenceGrant in ${namespace} allows it`,
      });
      return;
    }
    const secret = snapshot.secret(namespace, ref.name);
    if (secret === undefined) {
      problems.push({ reason: 'InvalidCertificateRef', message: `${where}: ${label} not found` });
      return;
    }
    const problem = keyPairProblem(secret);
    if (problem !== null) {
      problems.push({ reason: 'InvalidCertificateRef', message: `${where}: ${label} ${problem}` });
      return;
    }
    certificates.push({
      namespace,
      name: ref.name,
      certPem: secret.data['tls.crt'] ?? '',
      keyPem: secret.data['tls.key'] ?? '',
    });
  });
  return { certificates, problems };
}
