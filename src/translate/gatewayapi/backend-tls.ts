// BackendTLSPolicy: which policy decides how gatehouse connects to a Service port (TLS origination), whether the CA
// certificates it names can be used, and the policy status Gateway API asks for. Like listener certificates, CA
// bundles are parsed here so a broken ConfigMap shows in status rather than only at connect time; parsing is
// computation on the snapshot, so the translator stays pure.
import { X509Certificate } from 'node:crypto';
import type { Condition, PolicyAncestorStatus, UpstreamTLS } from '../../ir/types.ts';
import type { BackendTLSPolicy, ConfigMap, Gateway, Secret } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { keyPairProblem, secretGranted } from './certificates.ts';
import { compareAge, compareStrings, condition, GATEWAY_API_GROUP } from './conditions.ts';

/** Key under which ConfigMaps and Secrets hold the CA bundle. */
export const CA_KEY = 'ca.crt';

const PEM_CERTIFICATE_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

type CAProblemReason = 'InvalidCACertificateRef' | 'InvalidKind';

interface CAProblem {
  readonly reason: CAProblemReason;
  readonly message: string;
}

function checkBundle(pem: string): string | null {
  if (pem.trim() === '') return `has no ${CA_KEY}`;
  const blocks = pem.match(PEM_CERTIFICATE_RE) ?? [];
  if (blocks.length === 0) return `has no PEM certificate in ${CA_KEY}`;
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return `has a certificate in ${CA_KEY} that cannot be parsed`;
    }
  }
  return null;
}

// Keyed by the immutable object, so an unchanged ConfigMap or Secret is not parsed again on the next translation.
const checkedBundles = new WeakMap<ConfigMap | Secret, string | null>();

function bundleProblem(o: ConfigMap | Secret): string | null {
  const cached = checkedBundles.get(o);
  if (cached !== undefined) return cached;
  const problem = checkBundle(o.data[CA_KEY] ?? '');
  checkedBundles.set(o, problem);
  return problem;
}

/** One policy, its CA references resolved, and how it fared against other policies for the same targets. */
export interface PolicyInfo {
  readonly policy: BackendTLSPolicy;
  readonly label: string;
  /** PEM of every usable CA reference, joined; absent with wellKnownCACertificates. */
  readonly caPem: string | undefined;
  readonly caProblems: readonly CAProblem[];
  readonly usableCARefs: number;
  /** Why connections through this policy cannot be made as it asks, beyond CA problems. */
  readonly unsupported: string | undefined;
  /** Core Service targets (`name` or `name#section`) this policy is the oldest for. */
  readonly won: string[];
  /** Messages for the targets an older policy has. */
  readonly lost: string[];
  /** Gateways whose routes reach a Service this policy targets, by `namespace/name`. */
  readonly ancestors: Map<string, Gateway>;
}

/** How to reach a Service port over TLS, or why it cannot be reached. */
export type PolicyTLS =
  | { readonly ok: true; readonly info: PolicyInfo; readonly tls: UpstreamTLS }
  | { readonly ok: false; readonly info: PolicyInfo; readonly tls: UpstreamTLS; readonly problem: string };

/** The client certificate a Gateway presents to TLS backends (`spec.tls.backend.clientCertificateRef`). */
export type ClientCertificate =
  | { readonly ok: true; readonly gateway: string; readonly certPem: string; readonly keyPem: string }
  | {
      readonly ok: false;
      readonly gateway: string;
      readonly reason: 'InvalidClientCertificateRef' | 'RefNotPermitted';
      readonly message: string;
    };

function policyLabel(p: BackendTLSPolicy): string {
  return `BackendTLSPolicy ${p.metadata.namespace}/${p.metadata.name}`;
}

function resolveCARefs(snapshot: Snapshot, p: BackendTLSPolicy): { pems: string[]; problems: CAProblem[] } {
  const pems: string[] = [];
  const problems: CAProblem[] = [];
  const namespace = p.metadata.namespace;
  p.spec.validation.caCertificateRefs.forEach((ref, i) => {
    const where = `spec.validation.caCertificateRefs[${i}]`;
    if (ref.group !== '' || (ref.kind !== 'ConfigMap' && ref.kind !== 'Secret')) {
      const label = `${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} ${ref.name}`;
      problems.push({
        reason: 'InvalidKind',
        message: `${where}: ${label}: only core ConfigMaps and Secrets are supported`,
      });
      return;
    }
    const label = `${ref.kind} ${namespace}/${ref.name}`;
    const o = ref.kind === 'ConfigMap' ? snapshot.configMap(namespace, ref.name) : snapshot.secret(namespace, ref.name);
    if (o === undefined) {
      problems.push({ reason: 'InvalidCACertificateRef', message: `${where}: ${label} not found` });
      return;
    }
    const problem = bundleProblem(o);
    if (problem !== null) {
      problems.push({ reason: 'InvalidCACertificateRef', message: `${where}: ${label} ${problem}` });
      return;
    }
    pems.push((o.data[CA_KEY] ?? '').trim());
  });
  return { pems, problems };
}

function targetKey(namespace: string, service: string, section: string | undefined): string {
  return section === undefined ? `${namespace}/${service}` : `${namespace}/${service}#${section}`;
}

/**
 * Every BackendTLSPolicy of the snapshot, indexed by the Service (and port name) it targets. For one target the
 * oldest policy wins (then the name, as the specification orders them); a policy naming a port beats one for the
 * whole Service on that port. Only core Service targets are read.
 */
export class BackendTLSIndex {
  readonly policies: readonly PolicyInfo[];
  readonly #byTarget = new Map<string, PolicyInfo>();
  /** Every policy naming a Service (whichever wins), by `namespace/service`. */
  readonly #byService = new Map<string, PolicyInfo[]>();

  constructor(snapshot: Snapshot) {
    const sorted = [...snapshot.backendTLSPolicies].sort((a, b) => compareAge(a.metadata, b.metadata));
    this.policies = sorted.map((policy) => {
      const { pems, problems } = resolveCARefs(snapshot, policy);
      const v = policy.spec.validation;
      const unsupported =
        v.subjectAltNames.length > 0
          ? 'spec.validation.subjectAltNames is not supported: gatehouse would check the backend against the hostname instead'
          : undefined;
      const info: PolicyInfo = {
        policy,
        label: policyLabel(policy),
        caPem: pems.length > 0 ? pems.join('\n') : undefined,
        caProblems: problems,
        usableCARefs: pems.length,
        unsupported,
        won: [],
        lost: [],
        ancestors: new Map(),
      };
      const namespace = policy.metadata.namespace;
      for (const t of policy.spec.targetRefs) {
        if (t.group !== '' || t.kind !== 'Service') continue;
        const serviceKey = targetKey(namespace, t.name, undefined);
        const list = this.#byService.get(serviceKey);
        if (list === undefined) this.#byService.set(serviceKey, [info]);
        else if (!list.includes(info)) list.push(info);
        const key = targetKey(namespace, t.name, t.sectionName);
        const label = t.sectionName === undefined ? `Service ${t.name}` : `Service ${t.name} port ${t.sectionName}`;
        const owner = this.#byTarget.get(key);
        if (owner === undefined) {
          this.#byTarget.set(key, info);
          info.won.push(label);
        } else {
          info.lost.push(`${label} is already the target of ${owner.label}, which is older`);
        }
      }
      return info;
    });
  }

  /** The policy for one Service port: one naming the port (by its name) first, then one for the whole Service. */
  policyFor(namespace: string, service: string, portName: string | undefined): PolicyInfo | undefined {
    const section =
      portName === undefined || portName === ''
        ? undefined
        : this.#byTarget.get(targetKey(namespace, service, portName));
    return section ?? this.#byTarget.get(targetKey(namespace, service, undefined));
  }

  /** Policies that target a Service (whether or not they win), for the ancestors of their status. */
  targeting(namespace: string, service: string): readonly PolicyInfo[] {
    return this.#byService.get(targetKey(namespace, service, undefined)) ?? [];
  }
}

/** The TLS settings a policy gives, with the client certificate of the Gateway the route is served for. */
export function policyTLS(info: PolicyInfo, client: ClientCertificate | undefined): PolicyTLS {
  const v = info.policy.spec.validation;
  const base: UpstreamTLS = {
    serverName: v.hostname,
    verify: true,
    ...(info.caPem !== undefined && info.caProblems.length === 0 ? { caPem: info.caPem } : {}),
    ...(client?.ok === true ? { clientCertPem: client.certPem, clientKeyPem: client.keyPem } : {}),
  };
  if (info.caProblems.length > 0) {
    const why = info.caProblems.map((p) => p.message).join('; ');
    return { ok: false, info, tls: base, problem: `${info.label}: ${why}; the backend is not reached without its CA` };
  }
  if (info.unsupported !== undefined) {
    return { ok: false, info, tls: base, problem: `${info.label}: ${info.unsupported}; the backend is not reached` };
  }
  if (client !== undefined && !client.ok) {
    return {
      ok: false,
      info,
      tls: base,
      problem: `${client.gateway}: ${client.message}; the backend is not reached without the client certificate`,
    };
  }
  return { ok: true, info, tls: base };
}

/** Resolves a Gateway's `spec.tls.backend.clientCertificateRef`; undefined when it has none. */
export function resolveClientCertificate(snapshot: Snapshot, gateway: Gateway): ClientCertificate | undefined {
  const ref = gateway.spec.tls?.backend?.clientCertificateRef;
  if (ref === undefined) return undefined;
  const gatewayNamespace = gateway.metadata.namespace;
  const label = `Gateway ${gatewayNamespace}/${gateway.metadata.name}`;
  const where = 'spec.tls.backend.clientCertificateRef';
  const namespace = ref.namespace ?? gatewayNamespace;
  if (ref.group !== '' || ref.kind !== 'Secret') {
    const what = `${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} ${namespace}/${ref.name}`;
    return {
      ok: false,
      gateway: label,
      reason: 'InvalidClientCertificateRef',
      message: `${where}: ${what}: only core Secrets are supported`,
    };
  }
  const secretLabel = `Secret ${namespace}/${ref.name}`;
  // Checked before existence, so a Gateway cannot learn which Secrets exist in namespaces that did not grant it.
  if (namespace !== gatewayNamespace && !secretGranted(snapshot, gatewayNamespace, namespace, ref.name)) {
    return {
      ok: false,
      gateway: label,
      reason: 'RefNotPermitted',
      message: `${where}: ${secretLabel} is in another namespace and no ReferenceGrant in ${namespace} allows it`,
    };
  }
  const secret = snapshot.secret(namespace, ref.name);
  if (secret === undefined) {
    return {
      ok: false,
      gateway: label,
      reason: 'InvalidClientCertificateRef',
      message: `${where}: ${secretLabel} not found`,
    };
  }
  const problem = keyPairProblem(secret);
  if (problem !== null) {
    return {
      ok: false,
      gateway: label,
      reason: 'InvalidClientCertificateRef',
      message: `${where}: ${secretLabel} ${problem}`,
    };
  }
  return { ok: true, gateway: label, certPem: secret.data['tls.crt'] ?? '', keyPem: secret.data['tls.key'] ?? '' };
}

/** The Gateway's ResolvedRefs condition for its backend client certificate; undefined when it has none. */
export function clientCertificateCondition(
  gateway: Gateway,
  client: ClientCertificate | undefined,
): Condition | undefined {
  if (client === undefined) return undefined;
  if (client.ok) {
    return condition('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved', gateway.metadata);
  }
  return condition('ResolvedRefs', false, client.reason, client.message, gateway.metadata);
}

/** The conditions of a policy: the same for every ancestor, since nothing in them depends on the Gateway. */
export function policyConditions(info: PolicyInfo): Condition[] {
  const meta = info.policy.metadata;
  const v = info.policy.spec.validation;
  let accepted: Condition;
  if (info.won.length === 0 && info.lost.length > 0) {
    accepted = condition('Accepted', false, 'Conflicted', info.lost.join('; '), meta);
  } else if (info.unsupported !== undefined) {
    accepted = condition('Accepted', false, 'Invalid', info.unsupported, meta);
  } else if (v.caCertificateRefs.length > 0 && info.usableCARefs === 0) {
    accepted = condition('Accepted', false, 'NoValidCACertificate', 'No caCertificateRef can be used', meta);
  } else {
    accepted = condition('Accepted', true, 'Accepted', 'Policy is accepted', meta);
  }
  const first = info.caProblems[0];
  const resolved =
    first === undefined
      ? condition('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved', meta)
      : condition('ResolvedRefs', false, first.reason, info.caProblems.map((p) => p.message).join('; '), meta);
  return [accepted, resolved];
}

/** `status.ancestors[]` of a policy: one entry per Gateway, by namespace/name. */
export function policyAncestors(info: PolicyInfo, controllerName: string): PolicyAncestorStatus[] {
  const conditions = policyConditions(info);
  return [...info.ancestors.entries()]
    .sort((a, b) => compareStrings(a[0], b[0]))
    .map(([, g]) => ({
      ancestorRef: {
        group: GATEWAY_API_GROUP,
        kind: 'Gateway',
        namespace: g.metadata.namespace,
        name: g.metadata.name,
      },
      controllerName,
      conditions,
    }));
}
