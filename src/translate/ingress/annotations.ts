// ingress-nginx annotations that say how an Ingress's Service backends are reached: `backend-protocol` and the
// `proxy-ssl-*` family (TLS origination, client certificates). Read once per Ingress; they apply to every
// Service backend of that Ingress, its defaultBackend included, as in ingress-nginx. Values are data: they are
// compared, looked up and copied into the IR, never put into anything that is executed.
//
// The PEM in the Secret is checked here, not only when the data plane loads it, so a broken Secret is an error
// diagnostic naming the Ingress and its backends answer 500, instead of failing (or, worse, going unverified)
// at connect time. Parsing is computation on the snapshot, so the translator stays pure.
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Diagnostic, SourceRef, UpstreamTLS } from '../../ir/types.ts';
import type { Ingress, Secret } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import type { BackendConnection, ServiceBackendRef } from '../backends.ts';
import { keyPairProblem } from '../key-pair.ts';

const PREFIX = 'nginx.ingress.kubernetes.io/';
export const BACKEND_PROTOCOL_ANNOTATION = `${PREFIX}backend-protocol`;
export const PROXY_SSL_SECRET_ANNOTATION = `${PREFIX}proxy-ssl-secret`;
export const PROXY_SSL_VERIFY_ANNOTATION = `${PREFIX}proxy-ssl-verify`;
export const PROXY_SSL_NAME_ANNOTATION = `${PREFIX}proxy-ssl-name`;
export const PROXY_SSL_SERVER_NAME_ANNOTATION = `${PREFIX}proxy-ssl-server-name`;
export const PROXY_SSL_VERIFY_DEPTH_ANNOTATION = `${PREFIX}proxy-ssl-verify-depth`;

/** The annotations that only mean something when the backend protocol is HTTPS or GRPCS. */
const PROXY_SSL_ANNOTATIONS = [
  PROXY_SSL_SECRET_ANNOTATION,
  PROXY_SSL_VERIFY_ANNOTATION,
  PROXY_SSL_NAME_ANNOTATION,
  PROXY_SSL_SERVER_NAME_ANNOTATION,
  PROXY_SSL_VERIFY_DEPTH_ANNOTATION,
] as const;

export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS';

const SUPPORTED_PROTOCOLS: ReadonlySet<string> = new Set<BackendProtocol>(['HTTP', 'HTTPS', 'GRPC', 'GRPCS']);

/** TLS settings of one Ingress, before the per-Service default name is filled in. */
interface IngressTLSSettings {
  readonly verify: boolean;
  /** `proxy-ssl-server-name: on`. */
  readonly sendSNI: boolean;
  /** `proxy-ssl-name`, lower-case; absent: the Service's own DNS name. */
  readonly name?: string;
  readonly caPem?: string;
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
}

/** How the Service backends of one Ingress are reached, decided once from its annotations. */
export interface IngressUpstream {
  readonly protocol: BackendProtocol;
  /** Present for HTTPS and GRPCS when the settings are usable. */
  readonly tls?: IngressTLSSettings;
  /** Present for HTTPS and GRPCS when they are not: every Service backend of the Ingress answers 500. */
  readonly tlsProblem?: string;
  /** Added to TLS backend names when the settings are the Ingress's own (anything but the defaults). */
  readonly tlsKey: string;
}

/** What backendFor needs for one Service reference. */
export interface ServiceConnection {
  readonly how?: BackendConnection;
  /** Set when the TLS settings cannot be used: the backend answers 500 with this reason. */
  readonly problem?: string;
}

/** An annotation's value, trimmed; absent when unset or blank (ingress-nginx treats empty values as unset). */
function annotation(ing: Ingress, key: string): string | undefined {
  const value = ing.metadata.annotations[key]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/** `on` / `off` as nginx spells them (case-insensitive here); undefined for anything else. */
function onOff(value: string): boolean | undefined {
  const v = value.toLowerCase();
  return v === 'on' ? true : v === 'off' ? false : undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS name usable as SNI and for the certificate name check (no wildcard, no IP address, no port). */
function validServerName(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split('.');
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => DNS_LABEL.test(l));
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function caBundleProblem(pem: string): string | null {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'has no PEM certificate in ca.crt';
  for (let i = 0; i < blocks.length; i++) {
    try {
      new X509Certificate(blocks[i] as string);
    } catch {
      return `has a ca.crt whose certificate ${i + 1} does not parse`;
    }
  }
  try {
    createSecureContext({ ca: pem });
  } catch (err) {
    return `has a ca.crt the TLS library refuses: ${(err as Error).message}`;
  }
  return null;
}

interface SecretMaterial {
  readonly caPem?: string;
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
}

type SecretCheck = { readonly material: SecretMaterial } | { readonly problem: string };

function checkSecret(secret: Secret): SecretCheck {
  const present = (key: string): string | undefined => {
    const v = secret.data[key];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const ca = present('ca.crt');
  const cert = present('tls.crt');
  const key = present('tls.key');
  if (ca === undefined && cert === undefined && key === undefined) {
    return { problem: 'holds neither tls.crt and tls.key nor ca.crt' };
  }
  // Half a client certificate is a mistake, not a request to go without one.
  if ((cert === undefined) !== (key === undefined)) {
    return { problem: cert === undefined ? 'has tls.key without tls.crt' : 'has tls.crt without tls.key' };
  }
  if (cert !== undefined && key !== undefined) {
    const problem = keyPairProblem(cert, key);
    if (problem !== null) return { problem };
  }
  if (ca !== undefined) {
    const problem = caBundleProblem(ca);
    if (problem !== null) return { problem };
  }
  return {
    material: {
      ...(ca !== undefined ? { caPem: ca } : {}),
      ...(cert !== undefined && key !== undefined ? { clientCertPem: cert, clientKeyPem: key } : {}),
    },
  };
}

// Keyed by the immutable Secret object, so an unchanged Secret is not parsed again on the next translation; the
// answer depends only on the Secret, which keeps translation deterministic.
const checkedSecrets = new WeakMap<Secret, SecretCheck>();

function checkedSecret(secret: Secret): SecretCheck {
  let check = checkedSecrets.get(secret);
  if (check === undefined) {
    check = checkSecret(secret);
    checkedSecrets.set(secret, check);
  }
  return check;
}

function backendProtocolOf(ing: Ingress, warn: (message: string) => void): BackendProtocol {
  const raw = annotation(ing, BACKEND_PROTOCOL_ANNOTATION);
  if (raw === undefined) return 'HTTP';
  const value = raw.toUpperCase();
  if (SUPPORTED_PROTOCOLS.has(value)) return value as BackendProtocol;
  warn(
    `annotation ${BACKEND_PROTOCOL_ANNOTATION}: ${quote(raw)} is not supported (HTTP, HTTPS, GRPC or GRPCS); using HTTP`,
  );
  return 'HTTP';
}

/** The Secret named by `proxy-ssl-secret`, checked; a string says why it cannot be used. */
function proxySSLSecret(snapshot: Snapshot, ing: Ingress, value: string): SecretMaterial | string {
  const ns = ing.metadata.namespace;
  const parts = value.split('/');
  // ingress-nginx wants `namespace/name`; a bare name means the Ingress's own namespace.
  const [secretNs, secretName] = parts.length === 1 ? [ns, parts[0] as string] : [parts[0] ?? '', parts[1] ?? ''];
  if (parts.length > 2 || secretNs === '' || secretName === '') {
    return `${quote(value)} is not of the form namespace/secretName`;
  }
  // Checked before existence, so an Ingress cannot learn which Secrets exist in other namespaces.
  if (secretNs !== ns) {
    return `Secret ${secretNs}/${secretName} is in another namespace; only Secrets in the Ingress's namespace (${ns}) may be used`;
  }
  const secret = snapshot.secret(secretNs, secretName);
  if (secret === undefined) return `Secret ${secretNs}/${secretName} not found`;
  const check = checkedSecret(secret);
  if ('problem' in check) return `Secret ${secretNs}/${secretName} ${check.problem}`;
  return check.material;
}

/**
 * Reads an Ingress's backend-protocol and proxy-ssl annotations. Problems go into `diagnostics`, naming the
 * Ingress and the annotation; unusable TLS settings make `tlsProblem`, so the backends answer 500 rather than
 * connecting with less verification than asked for.
 */
export function ingressUpstreamOf(snapshot: Snapshot, ing: Ingress, diagnostics: Diagnostic[]): IngressUpstream {
  const source: SourceRef = { kind: 'Ingress', namespace: ing.metadata.namespace, name: ing.metadata.name };
  const report = (severity: Diagnostic['severity'], message: string): void => {
    diagnostics.push({ severity, object: source, message });
  };
  const tlsKey = `ingress ${ing.metadata.namespace}/${ing.metadata.name}`;
  const protocol = backendProtocolOf(ing, (m) => report('warning', m));

  if (protocol === 'HTTP' || protocol === 'GRPC') {
    const present = PROXY_SSL_ANNOTATIONS.filter((key) => annotation(ing, key) !== undefined);
    if (present.length > 0) {
      report(
        'warning',
        `annotation${present.length > 1 ? 's' : ''} ${present.join(', ')} only apply with ${BACKEND_PROTOCOL_ANNOTATION} HTTPS or GRPCS; ignored`,
      );
    }
    return { protocol, tlsKey };
  }

  const fail = (key: string, why: string): IngressUpstream => {
    report('error', `annotation ${key}: ${why}; the Ingress's backends answer 500`);
    return { protocol, tlsProblem: `annotation ${key}: ${why}`, tlsKey };
  };

  // proxy-ssl-verify: off by default, as in ingress-nginx. A value that is neither on nor off fails closed:
  // guessing "off" would silently skip the verification the author may have meant to ask for.
  let verify = false;
  const verifyRaw = annotation(ing, PROXY_SSL_VERIFY_ANNOTATION);
  if (verifyRaw !== undefined) {
    const parsed = onOff(verifyRaw);
    if (parsed === undefined) return fail(PROXY_SSL_VERIFY_ANNOTATION, `${quote(verifyRaw)} is neither "on" nor "off"`);
    verify = parsed;
  }

  let sendSNI = false;
  const sniRaw = annotation(ing, PROXY_SSL_SERVER_NAME_ANNOTATION);
  if (sniRaw !== undefined) {
    const parsed = onOff(sniRaw);
    if (parsed === undefined) {
      report(
        'warning',
        `annotation ${PROXY_SSL_SERVER_NAME_ANNOTATION}: ${quote(sniRaw)} is neither "on" nor "off"; using "off"`,
      );
    } else {
      sendSNI = parsed;
    }
  }

  let name: string | undefined;
  const nameRaw = annotation(ing, PROXY_SSL_NAME_ANNOTATION);
  if (nameRaw !== undefined) {
    const lower = nameRaw.toLowerCase().replace(/\.$/, '');
    if (validServerName(lower)) name = lower;
    else {
      report(
        'warning',
        `annotation ${PROXY_SSL_NAME_ANNOTATION}: ${quote(nameRaw)} is not a DNS name; using the Service's name`,
      );
    }
  }

  let material: SecretMaterial = {};
  const secretRaw = annotation(ing, PROXY_SSL_SECRET_ANNOTATION);
  if (secretRaw !== undefined) {
    const found = proxySSLSecret(snapshot, ing, secretRaw);
    if (typeof found === 'string') return fail(PROXY_SSL_SECRET_ANNOTATION, found);
    material = found;
  }

  const tls: IngressTLSSettings = {
    verify,
    sendSNI,
    ...(name !== undefined ? { name } : {}),
    ...material,
  };
  return { protocol, tls, tlsKey };
}

/** The name a Service's certificate is expected to carry: its ExternalName, or `<service>.<namespace>.svc`. */
function serviceServerName(snapshot: Snapshot, ref: ServiceBackendRef): string {
  const service = snapshot.service(ref.namespace, ref.name);
  const external = service?.spec.type === 'ExternalName' ? (service.spec.externalName ?? '') : '';
  const lower = external.toLowerCase().replace(/\.$/, '');
  if (lower !== '' && validServerName(lower)) return lower;
  return `${ref.name}.${ref.namespace}.svc`;
}

/** How to connect to one Service backend of an Ingress. */
export function serviceConnection(
  snapshot: Snapshot,
  upstream: IngressUpstream,
  ref: ServiceBackendRef,
): ServiceConnection {
  if (upstream.protocol === 'HTTP') return {};
  if (upstream.protocol === 'GRPC') return { how: { protocol: 'h2' } };
  const h2 = upstream.protocol === 'GRPCS';
  if (upstream.tlsProblem !== undefined || upstream.tls === undefined) {
    // Named like a working backend of this Ingress, so it never stands in for another Ingress's backend.
    return {
      how: { ...(h2 ? { protocol: 'h2' } : {}), tls: { verify: true }, tlsKey: upstream.tlsKey },
      problem: upstream.tlsProblem ?? 'TLS settings unavailable',
    };
  }
  const s = upstream.tls;
  // The IR ties SNI to the name check, so verification (which always checks a name, as nginx does against
  // proxy_ssl_name) sends SNI too; without verification SNI goes only when proxy-ssl-server-name asks for it.
  const serverName = s.verify || s.sendSNI ? (s.name ?? serviceServerName(snapshot, ref)) : undefined;
  const tls: UpstreamTLS = {
    ...(serverName !== undefined ? { serverName } : {}),
    verify: s.verify,
    // Trust anchors only matter when verifying; without verification they would be dead weight in the IR.
    ...(s.verify && s.caPem !== undefined ? { caPem: s.caPem } : {}),
    ...(s.clientCertPem !== undefined && s.clientKeyPem !== undefined
      ? { clientCertPem: s.clientCertPem, clientKeyPem: s.clientKeyPem }
      : {}),
  };
  // Only settings of the Ingress's own make a backend of its own: plain `{verify: false}` is shared.
  const own = s.verify || s.sendSNI || tls.clientCertPem !== undefined;
  return {
    how: { ...(h2 ? { protocol: 'h2' } : {}), tls, ...(own ? { tlsKey: upstream.tlsKey } : {}) },
  };
}
