// Decoders from `unknown` (parsed YAML/JSON or API responses) to the typed objects in objects.ts.
// They validate the fields gatehouse uses the way the API server would, so a manifest folder rejects what a
// cluster would reject, and every reason names the offending field by its path.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { Raw } from './decode-common.ts';
import {
  Ctx,
  decodeMeta,
  get,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isRecord,
  msgDns1035,
  msgLabel,
  msgSubdomain,
} from './decode-common.ts';
import {
  backendTLSPolicyVersions,
  decodeGatewayAPIObject,
  gatewayAPIVersions,
  tcpRouteVersions,
  tlsRouteVersions,
} from './decode-gatewayapi.ts';
import type {
  ConfigMap,
  Endpoint,
  EndpointPort,
  EndpointSlice,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressPath,
  IngressPathType,
  IngressRule,
  IngressTLS,
  KubeObject,
  Namespace,
  ObjectRef,
  Origin,
  Secret,
  Service,
  ServiceBackendPort,
  ServicePort,
} from './objects.ts';

export type DecodeResult =
  | { readonly kind: 'object'; readonly object: KubeObject }
  /** A kind gatehouse does not read: skipped silently. */
  | { readonly kind: 'ignored'; readonly apiVersion: string; readonly objectKind: string }
  /** A kind gatehouse reads, but the object is malformed: `ref` names it when its kind/name could be read. */
  | { readonly kind: 'invalid'; readonly ref: ObjectRef | undefined; readonly reason: string };

/**
 * The apiVersion each kind is read at, and the one to suggest for a version that is not read. Versions neither here
 * nor in `alsoReadApiVersions` are ignored like unknown kinds.
 */
export const readApiVersions: Readonly<Record<string, string>> = {
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  Namespace: 'v1',
  GatewayClass: 'gateway.networking.k8s.io/v1',
  Gateway: 'gateway.networking.k8s.io/v1',
  HTTPRoute: 'gateway.networking.k8s.io/v1',
  GRPCRoute: 'gateway.networking.k8s.io/v1',
  // TCPRoute is experimental: v1alpha2 is what clusters serve. TLSRoute is standard (v1) since Gateway API v1.5.
  TCPRoute: 'gateway.networking.k8s.io/v1alpha2',
  TLSRoute: 'gateway.networking.k8s.io/v1',
  BackendTLSPolicy: 'gateway.networking.k8s.io/v1',
  // Most published manifests still use v1beta1, and it is the version older clusters serve.
  ReferenceGrant: 'gateway.networking.k8s.io/v1beta1',
};

/**
 * Every version read for kinds read at more than one: the Gateway API serves v1beta1 and v1 from one schema, so
 * manifests written against either are read alike.
 */
export const alsoReadApiVersions: Readonly<Record<string, readonly string[]>> = {
  GatewayClass: gatewayAPIVersions,
  Gateway: gatewayAPIVersions,
  HTTPRoute: gatewayAPIVersions,
  ReferenceGrant: gatewayAPIVersions,
  BackendTLSPolicy: backendTLSPolicyVersions,
  TCPRoute: tcpRouteVersions,
  TLSRoute: tlsRouteVersions,
};

function readsApiVersion(kind: string, apiVersion: string): boolean {
  return readApiVersions[kind] === apiVersion || (alsoReadApiVersions[kind]?.includes(apiVersion) ?? false);
}

/** Kinds (of those gatehouse reads, and a few common others) that have no namespace. */
const clusterScoped: ReadonlySet<string> = new Set([
  'IngressClass',
  'Namespace',
  'GatewayClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'Node',
  'PersistentVolume',
  'StorageClass',
]);

const pathTypes: readonly IngressPathType[] = ['Exact', 'Prefix', 'ImplementationSpecific'];
const serviceTypes: readonly string[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const protocols: readonly string[] = ['TCP', 'UDP', 'SCTP'];
const addressTypes: readonly string[] = ['IPv4', 'IPv6', 'FQDN'];

const configKeyRe = /^[-._a-zA-Z0-9]+$/;
const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

/** IANA service names, which named ports must be (RFC 6335 §5.1). */
function isIanaServiceName(s: string): boolean {
  return (
    s.length >= 1 &&
    s.length <= 15 &&
    /^[-a-z0-9]+$/.test(s) &&
    /[a-z]/.test(s) &&
    !s.startsWith('-') &&
    !s.endsWith('-') &&
    !s.includes('--')
  );
}

const msgTargetPort =
  "must be a port number or an IANA service name (at most 15 of a-z, 0-9 and '-', with a letter, no leading, trailing or double '-')";
const msgIana =
  "must be an IANA service name (at most 15 of a-z, 0-9 and '-', with a letter, no leading, trailing or double '-')";

/**
 * Kind, namespace and name of a raw object, when they can be read: used to name an object in diagnostics and to
 * find the previous version of an object that has become invalid. Namespaced kinds default to `default`.
 */
export function objectRefOf(raw: unknown): ObjectRef | undefined {
  if (!isRecord(raw)) return undefined;
  const kind = get(raw, 'kind');
  const metadata = get(raw, 'metadata');
  if (typeof kind !== 'string' || kind === '' || !isRecord(metadata)) return undefined;
  const name = get(metadata, 'name');
  if (typeof name !== 'string' || name === '') return undefined;
  if (clusterScoped.has(kind)) return { kind, namespace: '', name };
  const namespace = get(metadata, 'namespace');
  return { kind, namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default', name };
}

export function decodeObject(raw: unknown, origin: Origin): DecodeResult {
  if (!isRecord(raw)) return { kind: 'invalid', ref: undefined, reason: 'must be an object' };
  const apiVersion = get(raw, 'apiVersion');
  const kind = get(raw, 'kind');
  if (typeof kind !== 'string' || kind === '') {
    return {
      kind: 'invalid',
      ref: undefined,
      reason: kind === undefined ? 'kind: required' : 'kind: must be a string',
    };
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return {
      kind: 'invalid',
      ref: objectRefOf(raw),
      reason: apiVersion === undefined ? 'apiVersion: required' : 'apiVersion: must be a string',
    };
  }
  if (!readsApiVersion(kind, apiVersion)) return { kind: 'ignored', apiVersion, objectKind: kind };

  const ctx = new Ctx();
  const object = decodeKnown(ctx, kind, raw, origin);
  if (ctx.errors.length > 0 || object === undefined) {
    return { kind: 'invalid', ref: objectRefOf(raw), reason: ctx.errors.join('; ') || 'invalid' };
  }
  return { kind: 'object', object };
}

function decodeKnown(ctx: Ctx, kind: string, raw: Raw, origin: Origin): KubeObject | undefined {
  switch (kind) {
    case 'Ingress':
      return decodeIngress(ctx, raw, origin);
    case 'IngressClass':
      return decodeIngressClass(ctx, raw, origin);
    case 'Service':
      return decodeService(ctx, raw, origin);
    case 'EndpointSlice':
      return decodeEndpointSlice(ctx, raw, origin);
    case 'Secret':
      return decodeSecret(ctx, raw, origin);
    case 'ConfigMap':
      return decodeConfigMap(ctx, raw, origin);
    case 'Namespace':
      return decodeNamespace(ctx, raw, origin);
    default:
      return decodeGatewayAPIObject(ctx, kind, raw, origin);
  }
}

/** An Ingress host or TLS host: a DNS name, optionally with a leading `*.` wildcard label; never an IP. */
function checkIngressHost(ctx: Ctx, host: string, path: string): void {
  if (isIP(host) !== 0) {
    ctx.fail(path, 'must be a DNS name, not an IP address');
    return;
  }
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (!isDns1123Subdomain(name)) {
    ctx.fail(path, `${msgSubdomain}, optionally prefixed with '*.'`);
  }
}

function decodeBackendPort(ctx: Ctx, raw: Raw, path: string): ServiceBackendPort {
  const number = ctx.port(raw, 'number', `${path}.number`);
  const name = ctx.str(raw, 'name', `${path}.name`);
  const hasNumber = get(raw, 'number') !== undefined;
  const hasName = get(raw, 'name') !== undefined && name !== '';
  if (hasNumber && hasName) {
    ctx.fail(path, 'must set exactly one of number or name');
    return {};
  }
  if (!hasNumber && !hasName) {
    ctx.fail(path, 'must set one of number or name');
    return {};
  }
  if (name !== undefined && name !== '' && !isIanaServiceName(name)) ctx.fail(`${path}.name`, msgIana);
  if (number !== undefined) return { number };
  if (name !== undefined) return { name };
  return {};
}

function decodeBackend(ctx: Ctx, raw: Raw, path: string): IngressBackend {
  const service = ctx.obj(raw, 'service', `${path}.service`);
  const resource = ctx.obj(raw, 'resource', `${path}.resource`);
  if (service !== undefined && resource !== undefined) {
    ctx.fail(path, 'must set exactly one of service or resource');
    return {};
  }
  if (service !== undefined) {
    const name = ctx.str(service, 'name', `${path}.service.name`, true) ?? '';
    if (name !== '' && !isDns1035Label(name)) ctx.fail(`${path}.service.name`, msgDns1035);
    const portRaw = ctx.obj(service, 'port', `${path}.service.port`, true);
    const port = portRaw === undefined ? {} : decodeBackendPort(ctx, portRaw, `${path}.service.port`);
    return { service: { name, port } };
  }
  if (resource !== undefined) {
    const apiGroup = ctx.str(resource, 'apiGroup', `${path}.resource.apiGroup`) ?? '';
    const kind = ctx.str(resource, 'kind', `${path}.resource.kind`, true) ?? '';
    const name = ctx.str(resource, 'name', `${path}.resource.name`, true) ?? '';
    return { resource: { apiGroup, kind, name } };
  }
  ctx.fail(path, 'must set one of service or resource');
  return {};
}

// Ingress-nginx and the API server refuse these in Exact/Prefix paths: they would match differently
// before and after normalisation.
const invalidPathSequences = ['//', '/./', '/../', '%2f', '%2F'];
const invalidPathSuffixes = ['/..', '/.'];

function decodeIngressPath(ctx: Ctx, raw: Raw, path: string): IngressPath {
  const pathType = ctx.oneOf(raw, 'pathType', `${path}.pathType`, pathTypes);
  const value = ctx.str(raw, 'path', `${path}.path`) ?? '';
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!value.startsWith('/')) {
      ctx.fail(`${path}.path`, `must be an absolute path (start with '/') for pathType ${pathType}`);
    } else {
      const bad = invalidPathSequences.find((s) => value.includes(s));
      if (bad !== undefined) ctx.fail(`${path}.path`, `must not contain '${bad}'`);
      else {
        const badEnd = invalidPathSuffixes.find((s) => value.endsWith(s));
        if (badEnd !== undefined) ctx.fail(`${path}.path`, `must not end with '${badEnd}'`);
      }
    }
  } else if (pathType === 'ImplementationSpecific' && value !== '' && !value.startsWith('/')) {
    ctx.fail(`${path}.path`, "must be an absolute path (start with '/')");
  }
  const backendRaw = ctx.obj(raw, 'backend', `${path}.backend`, true);
  const backend = backendRaw === undefined ? {} : decodeBackend(ctx, backendRaw, `${path}.backend`);
  return { path: value, pathType: pathType ?? 'Prefix', backend };
}

function decodeIngress(ctx: Ctx, raw: Raw, origin: Origin): Ingress {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec', true) ?? {};
  const ingressClassName = ctx.str(spec, 'ingressClassName', 'spec.ingressClassName');
  if (ingressClassName !== undefined && ingressClassName !== '' && !isDns1123Subdomain(ingressClassName)) {
    ctx.fail('spec.ingressClassName', msgSubdomain);
  }
  const defaultRaw = ctx.obj(spec, 'defaultBackend', 'spec.defaultBackend');
  const defaultBackend = defaultRaw === undefined ? undefined : decodeBackend(ctx, defaultRaw, 'spec.defaultBackend');

  const rules: IngressRule[] = [];
  for (const [r, rp] of ctx.objects(spec, 'rules', 'spec.rules')) {
    const host = ctx.str(r, 'host', `${rp}.host`) ?? '';
    if (host !== '') checkIngressHost(ctx, host, `${rp}.host`);
    const http = ctx.obj(r, 'http', `${rp}.http`);
    const paths: IngressPath[] = [];
    if (http !== undefined) {
      const items = ctx.objects(http, 'paths', `${rp}.http.paths`, true);
      if (items.length === 0 && get(http, 'paths') !== undefined) ctx.fail(`${rp}.http.paths`, 'must not be empty');
      for (const [p, pp] of items) paths.push(decodeIngressPath(ctx, p, pp));
    }
    rules.push({ host, paths });
  }

  const tls: IngressTLS[] = [];
  for (const [t, tp] of ctx.objects(spec, 'tls', 'spec.tls')) {
    const hosts: string[] = [];
    const items = ctx.list(t, 'hosts', `${tp}.hosts`);
    for (let i = 0; i < items.length; i++) {
      const h = items[i];
      if (typeof h !== 'string' || h === '') {
        ctx.fail(`${tp}.hosts[${i}]`, 'must be a non-empty string');
        continue;
      }
      checkIngressHost(ctx, h, `${tp}.hosts[${i}]`);
      hosts.push(h);
    }
    const secretName = ctx.str(t, 'secretName', `${tp}.secretName`) ?? '';
    if (secretName !== '' && !isDns1123Subdomain(secretName)) ctx.fail(`${tp}.secretName`, msgSubdomain);
    tls.push({ hosts, secretName });
  }

  const rawRules = get(spec, 'rules');
  const noRules = rawRules === undefined || (Array.isArray(rawRules) && rawRules.length === 0);
  if (get(raw, 'spec') !== undefined && noRules && get(spec, 'defaultBackend') === undefined) {
    ctx.fail('spec', 'must set defaultBackend or at least one rule');
  }

  const out: Ingress['spec'] = {
    ...(ingressClassName !== undefined && ingressClassName !== '' ? { ingressClassName } : {}),
    ...(defaultBackend !== undefined ? { defaultBackend } : {}),
    rules,
    tls,
  };
  return { kind: 'Ingress', metadata, spec: out, origin };
}

function decodeIngressClass(ctx: Ctx, raw: Raw, origin: Origin): IngressClass {
  const metadata = decodeMeta(ctx, raw, false, 'subdomain');
  const spec = ctx.obj(raw, 'spec', 'spec') ?? {};
  const controller = ctx.str(spec, 'controller', 'spec.controller', true) ?? '';
  if (controller.length > 250) ctx.fail('spec.controller', 'must be at most 250 characters');
  return { kind: 'IngressClass', metadata, spec: { controller }, origin };
}

function decodeService(ctx: Ctx, raw: Raw, origin: Origin): Service {
  const metadata = decodeMeta(ctx, raw, true, 'dns1035');
  const spec = ctx.obj(raw, 'spec', 'spec') ?? {};
  const type = ctx.oneOf(spec, 'type', 'spec.type', serviceTypes, 'ClusterIP') ?? 'ClusterIP';
  const clusterIP = ctx.str(spec, 'clusterIP', 'spec.clusterIP');
  if (clusterIP !== undefined && clusterIP !== '' && clusterIP !== 'None' && isIP(clusterIP) === 0) {
    ctx.fail('spec.clusterIP', "must be an IP address or 'None'");
  }
  const externalName = ctx.str(spec, 'externalName', 'spec.externalName');
  if (type === 'ExternalName') {
    if (externalName === undefined || externalName === '') {
      ctx.fail('spec.externalName', 'required for type ExternalName');
    } else {
      const name = externalName.endsWith('.') ? externalName.slice(0, -1) : externalName;
      if (!isDns1123Subdomain(name)) ctx.fail('spec.externalName', msgSubdomain);
    }
    if (clusterIP !== undefined && clusterIP !== '') ctx.fail('spec.clusterIP', 'must be empty for type ExternalName');
  }

  const ports: ServicePort[] = [];
  const items = ctx.objects(spec, 'ports', 'spec.ports');
  const headless = clusterIP === 'None';
  if (items.length === 0 && type !== 'ExternalName' && !headless && get(spec, 'ports') === undefined) {
    ctx.fail('spec.ports', 'required');
  }
  const names = new Set<string>();
  const portProtocols = new Set<string>();
  for (const [p, pp] of items) {
    const name = ctx.str(p, 'name', `${pp}.name`) ?? '';
    if (name === '' && items.length > 1) ctx.fail(`${pp}.name`, 'required when there is more than one port');
    if (name !== '') {
      if (!isDns1123Label(name)) ctx.fail(`${pp}.name`, msgLabel);
      if (names.has(name)) ctx.fail(`${pp}.name`, `duplicate port name '${name}'`);
      names.add(name);
    }
    const port = ctx.port(p, 'port', `${pp}.port`, true) ?? 0;
    const protocol = ctx.oneOf(p, 'protocol', `${pp}.protocol`, protocols, 'TCP') ?? 'TCP';
    const pk = `${port}/${protocol}`;
    if (port !== 0) {
      if (portProtocols.has(pk)) ctx.fail(pp, `duplicate port ${port} with protocol ${protocol}`);
      portProtocols.add(pk);
    }
    let targetPort: number | string = port;
    const tp = get(p, 'targetPort');
    if (typeof tp === 'number') {
      targetPort = ctx.port(p, 'targetPort', `${pp}.targetPort`) ?? port;
    } else if (typeof tp === 'string') {
      if (!isIanaServiceName(tp)) ctx.fail(`${pp}.targetPort`, msgTargetPort);
      targetPort = tp;
    } else if (tp !== undefined) {
      ctx.fail(`${pp}.targetPort`, 'must be an integer or a string');
    }
    const appProtocol = ctx.str(p, 'appProtocol', `${pp}.appProtocol`);
    ports.push({
      name,
      port,
      protocol,
      targetPort,
      ...(appProtocol !== undefined && appProtocol !== '' ? { appProtocol } : {}),
    });
  }

  const out: Service['spec'] = {
    type,
    ...(clusterIP !== undefined && clusterIP !== '' ? { clusterIP } : {}),
    ...(externalName !== undefined && externalName !== '' ? { externalName } : {}),
    ports,
  };
  return { kind: 'Service', metadata, spec: out, origin };
}

function decodeEndpointSlice(ctx: Ctx, raw: Raw, origin: Origin): EndpointSlice {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const addressType = ctx.oneOf(raw, 'addressType', 'addressType', addressTypes);
  const endpoints: Endpoint[] = [];
  for (const [e, ep] of ctx.objects(raw, 'endpoints', 'endpoints')) {
    const addresses: string[] = [];
    const items = ctx.list(e, 'addresses', `${ep}.addresses`, true);
    if (items.length === 0 && get(e, 'addresses') !== undefined) ctx.fail(`${ep}.addresses`, 'must not be empty');
    if (items.length > 100) ctx.fail(`${ep}.addresses`, 'must have at most 100 items');
    for (let i = 0; i < items.length; i++) {
      const a = items[i];
      const ap = `${ep}.addresses[${i}]`;
      if (typeof a !== 'string') {
        ctx.fail(ap, 'must be a string');
        continue;
      }
      if (addressType === 'IPv4' && !isIPv4(a)) ctx.fail(ap, 'must be an IPv4 address');
      else if (addressType === 'IPv6' && !isIPv6(a)) ctx.fail(ap, 'must be an IPv6 address');
      else if (addressType === 'FQDN' && !isDns1123Subdomain(a)) ctx.fail(ap, msgSubdomain);
      addresses.push(a);
    }
    const conditions = ctx.obj(e, 'conditions', `${ep}.conditions`) ?? {};
    endpoints.push({
      addresses,
      ready: ctx.bool(conditions, 'ready', `${ep}.conditions.ready`),
      serving: ctx.bool(conditions, 'serving', `${ep}.conditions.serving`),
      terminating: ctx.bool(conditions, 'terminating', `${ep}.conditions.terminating`),
    });
  }
  const ports: EndpointPort[] = [];
  const names = new Set<string>();
  for (const [p, pp] of ctx.objects(raw, 'ports', 'ports')) {
    const name = ctx.str(p, 'name', `${pp}.name`) ?? '';
    if (name !== '' && !isDns1123Label(name)) ctx.fail(`${pp}.name`, msgLabel);
    if (names.has(name)) ctx.fail(`${pp}.name`, `duplicate port name '${name}'`);
    names.add(name);
    // The API allows an absent port ("all ports"), which nothing gatehouse does can use.
    const port = ctx.port(p, 'port', `${pp}.port`, true) ?? 0;
    const protocol = ctx.oneOf(p, 'protocol', `${pp}.protocol`, protocols, 'TCP') ?? 'TCP';
    const appProtocol = ctx.str(p, 'appProtocol', `${pp}.appProtocol`);
    ports.push({
      name,
      port,
      protocol,
      ...(appProtocol !== undefined && appProtocol !== '' ? { appProtocol } : {}),
    });
  }
  return { kind: 'EndpointSlice', metadata, addressType: addressType ?? '', endpoints, ports, origin };
}

function decodeBase64(value: string): string | undefined {
  // Go's decoder, which the API server uses, skips line breaks; folded YAML blocks contain them.
  const s = value.replace(/[\r\n]/g, '');
  if (s.length % 4 !== 0 || !base64Re.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}

function decodeSecret(ctx: Ctx, raw: Raw, origin: Origin): Secret {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const type = ctx.str(raw, 'type', 'type') || 'Opaque';
  const data: Record<string, string> = {};
  const checkKey = (k: string, path: string): boolean => {
    if (k.length <= 253 && configKeyRe.test(k) && k !== '.' && k !== '..') return true;
    ctx.fail(path, "key must consist of a-z, A-Z, 0-9, '-', '_' or '.' (at most 253)");
    return false;
  };
  const rawData = get(raw, 'data');
  if (rawData !== undefined) {
    if (!isRecord(rawData)) ctx.fail('data', 'must be a map of base64 strings');
    else {
      for (const [k, v] of Object.entries(rawData)) {
        const p = `data[${k}]`;
        if (!checkKey(k, p)) continue;
        if (v === null) {
          data[k] = '';
          continue;
        }
        if (typeof v !== 'string') {
          ctx.fail(p, 'must be a base64 string');
          continue;
        }
        const decoded = decodeBase64(v);
        if (decoded === undefined) ctx.fail(p, 'must be valid base64');
        else data[k] = decoded;
      }
    }
  }
  const rawStringData = get(raw, 'stringData');
  if (rawStringData !== undefined) {
    if (!isRecord(rawStringData)) ctx.fail('stringData', 'must be a map of strings');
    else {
      for (const [k, v] of Object.entries(rawStringData)) {
        const p = `stringData[${k}]`;
        if (!checkKey(k, p)) continue;
        if (typeof v !== 'string') ctx.fail(p, 'must be a string');
        else data[k] = v;
      }
    }
  }
  if (type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) {
      if (!Object.hasOwn(data, k)) ctx.fail(`data[${k}]`, 'required for type kubernetes.io/tls');
    }
  }
  return { kind: 'Secret', metadata, type, data, origin };
}

function checkConfigKey(ctx: Ctx, k: string, path: string): boolean {
  if (k.length <= 253 && configKeyRe.test(k) && k !== '.' && k !== '..') return true;
  ctx.fail(path, "key must consist of a-z, A-Z, 0-9, '-', '_' or '.' (at most 253)");
  return false;
}

function decodeConfigMap(ctx: Ctx, raw: Raw, origin: Origin): ConfigMap {
  const metadata = decodeMeta(ctx, raw, true, 'subdomain');
  const data: Record<string, string> = {};
  const rawData = get(raw, 'data');
  if (rawData !== undefined) {
    if (!isRecord(rawData)) ctx.fail('data', 'must be a map of strings');
    else {
      for (const [k, v] of Object.entries(rawData)) {
        const p = `data[${k}]`;
        if (!checkConfigKey(ctx, k, p)) continue;
        if (v === null) data[k] = '';
        else if (typeof v !== 'string') ctx.fail(p, 'must be a string');
        else data[k] = v;
      }
    }
  }
  // binaryData is checked as the API server checks it, but not kept: nothing gatehouse reads lives there.
  const rawBinary = get(raw, 'binaryData');
  if (rawBinary !== undefined) {
    if (!isRecord(rawBinary)) ctx.fail('binaryData', 'must be a map of base64 strings');
    else {
      for (const [k, v] of Object.entries(rawBinary)) {
        const p = `binaryData[${k}]`;
        if (!checkConfigKey(ctx, k, p)) continue;
        if (Object.hasOwn(data, k)) ctx.fail(p, 'must not repeat a key of data');
        if (v !== null && (typeof v !== 'string' || decodeBase64(v) === undefined)) ctx.fail(p, 'must be valid base64');
      }
    }
  }
  return { kind: 'ConfigMap', metadata, data, origin };
}

function decodeNamespace(ctx: Ctx, raw: Raw, origin: Origin): Namespace {
  const metadata = decodeMeta(ctx, raw, false, 'label');
  return { kind: 'Namespace', metadata, origin };
}
