// A fake Kubernetes API server for tests: plain HTTP on a loopback address, speaking the list/watch protocol the
// way kube-apiserver does (global resourceVersion, paginated consistent lists, watch streams with bookmarks and
// 410 Expired, optimistic concurrency, /status subresources, discovery, CRD groups that come and go), with
// controls for tests (drop or expire watches, pause events, go away and come back) and a log of every request.
//
// Where the real server's behaviour matters to a client it is reproduced, with the reason in a comment:
// - list items of built-in types carry no kind/apiVersion (typed lists); custom resources' items do; watch event
//   objects always do;
// - a watch from a resourceVersion older than the history window answers 200 and one ERROR event carrying a
//   Status with code 410 / reason Expired, then ends (the watch cache's error watcher);
// - an unknown API group/version answers `404 page not found` as text/plain; a known group/version without the
//   resource answers a JSON Status NotFound;
// - PUT on a custom resource without metadata.resourceVersion is refused (custom resources disallow
//   unconditional updates); built-ins allow it;
// - a write that changes nothing is a no-op: no new resourceVersion, no watch event;
// - writes to the main resource keep the old status, writes to /status keep everything but the status;
//   metadata.generation follows changes outside metadata and status;
// - Lease times are MicroTime and must carry exactly six fractional digits, as Go's RFC3339Micro parser demands;
// - Gateway API status and Ingress load-balancer status are checked against the CRD / API validation (422).
// Approximations: strategic merge patch and server-side apply are applied as JSON merge patches (lists replaced);
// no RBAC (an `intercept` hook can refuse requests); JSON only (no protobuf, no Table).
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export type KObject = Record<string, unknown>;

/** One kind of object the fake serves. */
export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  /** Served versions, preferred first. Objects are stored once and shown in the version asked for. */
  readonly versions: readonly string[];
  /** Plural, as in the URL. */
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** A custom resource (CRD): can be uninstalled, list items carry kind/apiVersion, no strategic merge patch. */
  readonly crd: boolean;
  /** Has a /status subresource. */
  readonly status: boolean;
  /** metadata.generation is kept (custom resources and built-ins with a spec that tracks it). */
  readonly generation: boolean;
  readonly shortNames?: readonly string[];
}

const core = (
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType => ({
  group: '',
  versions: ['v1'],
  resource,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
  crd: false,
  status: false,
  generation: false,
  ...extra,
});

const builtin = (
  group: string,
  versions: readonly string[],
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType => ({
  group,
  versions,
  resource,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
  crd: false,
  status: false,
  generation: false,
  ...extra,
});

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

const gw = (versions: readonly string[], resource: string, kind: string, namespaced = true): ResourceType => ({
  group: GATEWAY_GROUP,
  versions,
  resource,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
  crd: true,
  status: resource !== 'referencegrants',
  generation: true,
});

/**
 * What the fake serves by default: the core and networking types gatehouse reads, Leases, Events, and the Gateway
 * API CRDs of the v1.5 experimental channel (ReferenceGrant and TLSRoute at v1, with the older versions still
 * served).
 */
export const DEFAULT_RESOURCES: readonly ResourceType[] = [
  core('namespaces', 'Namespace', false, { status: true }),
  core('services', 'Service', true, { status: true }),
  core('endpoints', 'Endpoints', true),
  core('secrets', 'Secret', true),
  core('configmaps', 'ConfigMap', true),
  core('events', 'Event', true),
  core('pods', 'Pod', true, { status: true }),
  builtin('networking.k8s.io', ['v1'], 'ingresses', 'Ingress', true, {
    status: true,
    generation: true,
    shortNames: ['ing'],
  }),
  builtin('networking.k8s.io', ['v1'], 'ingressclasses', 'IngressClass', false, { generation: true }),
  builtin('discovery.k8s.io', ['v1'], 'endpointslices', 'EndpointSlice', true),
  builtin('coordination.k8s.io', ['v1'], 'leases', 'Lease', true),
  builtin('events.k8s.io', ['v1'], 'events', 'Event', true),
  builtin('apiextensions.k8s.io', ['v1'], 'customresourcedefinitions', 'CustomResourceDefinition', false, {
    status: true,
    generation: true,
    shortNames: ['crd', 'crds'],
  }),
  gw(['v1', 'v1beta1'], 'gatewayclasses', 'GatewayClass', false),
  gw(['v1', 'v1beta1'], 'gateways', 'Gateway'),
  gw(['v1', 'v1beta1'], 'httproutes', 'HTTPRoute'),
  gw(['v1'], 'grpcroutes', 'GRPCRoute'),
  gw(['v1', 'v1beta1'], 'referencegrants', 'ReferenceGrant'),
  gw(['v1', 'v1alpha3'], 'backendtlspolicies', 'BackendTLSPolicy'),
  gw(['v1', 'v1alpha3', 'v1alpha2'], 'tlsroutes', 'TLSRoute'),
  gw(['v1alpha2'], 'tcproutes', 'TCPRoute'),
  gw(['v1alpha2'], 'udproutes', 'UDPRoute'),
];

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export type Verb =
  | 'get'
  | 'list'
  | 'watch'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'deletecollection'
  | 'discovery'
  | 'other';

/** One request as the fake saw it. `status` is filled in when the answer starts. */
export interface ApiRequest {
  readonly seq: number;
  readonly time: number;
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly verb: Verb;
  readonly group: string | null;
  readonly version: string | null;
  readonly resource: string | null;
  readonly subresource: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  /** The user the bearer token belongs to; null without a valid token. */
  readonly user: string | null;
  readonly userAgent: string;
  readonly contentType: string;
  /** The parsed request body of a write. */
  readonly body: unknown;
  status: number;
}

export interface InterceptAnswer {
  readonly code: number;
  readonly reason: string;
  readonly message?: string;
  readonly retryAfterSeconds?: number;
}

export interface FakeApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port, kept across stop()/start(). */
  readonly port?: number;
  /** Bearer token → user name. Default `{ 'fake-token': 'admin' }`. */
  readonly tokens?: Readonly<Record<string, string>>;
  /** Watch events kept for resuming watches and continuing lists; older ones are compacted. Default 10 000. */
  readonly historyLimit?: number;
  /** How often open watches with allowWatchBookmarks get a BOOKMARK. Default 1000 ms (kube-apiserver: ~1 min). */
  readonly bookmarkIntervalMs?: number;
  /** Default DEFAULT_RESOURCES. */
  readonly resources?: readonly ResourceType[];
  /** API groups of CRDs that are not installed at the start (404 until installGroup). */
  readonly notInstalled?: readonly string[];
  /** Namespaces that exist from the start. Default: default, kube-system, kube-public, kube-node-lease. */
  readonly namespaces?: readonly string[];
}

interface HistoryEvent {
  readonly rv: number;
  readonly typeKey: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KObject;
  /** The object before a MODIFIED or DELETED event. */
  readonly prev: KObject | null;
}

interface Watcher {
  readonly type: ResourceType;
  readonly version: string;
  readonly namespace: string | null;
  readonly fields: FieldSelector;
  readonly labels: LabelSelector;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  readonly user: string | null;
  readonly pending: string[];
  timers: NodeJS.Timeout[];
  closed: boolean;
}

class HttpError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: KObject | undefined;
  constructor(code: number, reason: string, message: string, details?: KObject) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

const isObject = (v: unknown): v is KObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const meta = (o: KObject): KObject => {
  if (!isObject(o['metadata'])) o['metadata'] = {};
  return o['metadata'] as KObject;
};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const typeKeyOf = (t: ResourceType): string => `${t.group}/${t.resource}`;
const gvOf = (group: string, version: string): string => (group === '' ? version : `${group}/${version}`);
const objKey = (ns: string, name: string): string => `${ns}/${name}`;
const nowTime = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** JSON with sorted keys, for comparing objects. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: KObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new HttpError(422, 'Invalid', `invalid JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** RFC 6902 JSON patch. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpError(400, 'BadRequest', 'a JSON patch must be an array of operations');
  let root: unknown = structuredClone(doc);
  const parentOf = (parts: string[]): { parent: unknown; last: string } => {
    let cur: unknown = root;
    for (const p of parts.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(p)];
      else if (isObject(cur)) cur = cur[p];
      else cur = undefined;
      if (cur === undefined) throw new HttpError(422, 'Invalid', `path ${parts.join('/')} does not exist`);
    }
    return { parent: cur, last: parts[parts.length - 1] ?? '' };
  };
  const read = (path: string): unknown => {
    let cur: unknown = root;
    for (const p of pointer(path)) cur = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    return cur;
  };
  const remove = (path: string): unknown => {
    const { parent, last } = parentOf(pointer(path));
    if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
    if (isObject(parent) && last in parent) {
      const v = parent[last];
      delete parent[last];
      return v;
    }
    throw new HttpError(422, 'Invalid', `unable to remove nonexistent key ${path}`);
  };
  const add = (path: string, value: unknown): void => {
    const parts = pointer(path);
    if (parts.length === 0) {
      root = value;
      return;
    }
    const { parent, last } = parentOf(parts);
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else if (isObject(parent)) parent[last] = value;
    else throw new HttpError(422, 'Invalid', `path ${path} does not exist`);
  };
  for (const op of ops) {
    if (!isObject(op)) throw new HttpError(400, 'BadRequest', 'invalid JSON patch operation');
    const path = str(op['path']);
    switch (op['op']) {
      case 'add':
        add(path, structuredClone(op['value']));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        remove(path);
        add(path, structuredClone(op['value']));
        break;
      case 'move':
        add(path, remove(str(op['from'])));
        break;
      case 'copy':
        add(path, structuredClone(read(str(op['from']))));
        break;
      case 'test':
        if (canonical(read(path)) !== canonical(op['value']))
          throw new HttpError(422, 'Invalid', `the test operation on ${path} failed`);
        break;
      default:
        throw new HttpError(400, 'BadRequest', `unknown JSON patch operation ${String(op['op'])}`);
    }
  }
  return root;
}

// ---- selectors ----

interface FieldSelector {
  readonly terms: readonly { readonly field: string; readonly value: string; readonly equal: boolean }[];
}

function parseFieldSelector(text: string, type: ResourceType): FieldSelector {
  const terms: { field: string; value: string; equal: boolean }[] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (m === null) throw new HttpError(400, 'BadRequest', `invalid field selector: ${part}`);
    const field = m[1] ?? '';
    const supported = ['metadata.name', 'metadata.namespace'];
    if (type.resource === 'secrets') supported.push('type');
    if (!supported.includes(field))
      throw new HttpError(
        400,
        'BadRequest',
        `"${field}" is not a known field selector: only "${supported.join('", "')}"`,
      );
    terms.push({ field, value: m[3] ?? '', equal: m[2] !== '!=' });
  }
  return { terms };
}

function fieldsMatch(sel: FieldSelector, o: KObject): boolean {
  const md = meta(o);
  for (const t of sel.terms) {
    const actual =
      t.field === 'metadata.name'
        ? str(md['name'])
        : t.field === 'metadata.namespace'
          ? str(md['namespace'])
          : str(o[t.field]);
    if ((actual === t.value) !== t.equal) return false;
  }
  return true;
}

interface LabelRequirement {
  readonly key: string;
  readonly op: 'in' | 'notin' | 'exists' | '!exists';
  readonly values: readonly string[];
}
interface LabelSelector {
  readonly requirements: readonly LabelRequirement[];
}

function parseLabelSelector(text: string): LabelSelector {
  const requirements: LabelRequirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') continue;
    let m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part);
    if (m !== null) {
      requirements.push({ key: m[1] ?? '', op: m[2] === '!=' ? 'notin' : 'in', values: [m[3] ?? ''] });
      continue;
    }
    m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m !== null) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      requirements.push({ key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values });
      continue;
    }
    m = /^(!?)([\w./-]+)$/.exec(part);
    if (m !== null) {
      requirements.push({ key: m[2] ?? '', op: m[1] === '!' ? '!exists' : 'exists', values: [] });
      continue;
    }
    throw new HttpError(400, 'BadRequest', `unable to parse requirement: ${part}`);
  }
  return { requirements };
}

function labelsMatch(sel: LabelSelector, o: KObject): boolean {
  const labels = isObject(meta(o)['labels']) ? (meta(o)['labels'] as Record<string, unknown>) : {};
  for (const r of sel.requirements) {
    const has = Object.hasOwn(labels, r.key);
    const v = str(labels[r.key]);
    if (r.op === 'exists' && !has) return false;
    if (r.op === '!exists' && has) return false;
    if (r.op === 'in' && (!has || !r.values.includes(v))) return false;
    if (r.op === 'notin' && has && r.values.includes(v)) return false;
  }
  return true;
}

// ---- validation the real API applies to what gatehouse writes ----

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const CONTROLLER_NAME =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

function checkConditions(conds: unknown, path: string, causes: KObject[], required: boolean): void {
  const bad = (field: string, message: string): undefined => {
    causes.push({ reason: 'FieldValueInvalid', message, field });
  };
  if (conds === undefined) {
    if (required) bad(path, `${path}: Required value`);
    return;
  }
  if (!Array.isArray(conds)) {
    bad(path, `${path}: Invalid value: must be an array`);
    return;
  }
  if (conds.length > 8) bad(path, `${path}: Too many: ${conds.length}: must have at most 8 items`);
  const types = new Set<string>();
  for (const [i, c] of conds.entries()) {
    const p = `${path}[${i}]`;
    if (!isObject(c)) {
      bad(p, `${p}: Invalid value: must be an object`);
      continue;
    }
    const type = str(c['type']);
    if (type === '') bad(`${p}.type`, `${p}.type: Required value`);
    if (types.has(type)) bad(`${p}.type`, `${p}.type: Duplicate value: "${type}"`);
    types.add(type);
    if (!['True', 'False', 'Unknown'].includes(str(c['status'])))
      bad(`${p}.status`, `${p}.status: Unsupported value: ${JSON.stringify(c['status'])}`);
    if (!CONDITION_REASON.test(str(c['reason'])))
      bad(`${p}.reason`, `${p}.reason: Invalid value: ${JSON.stringify(c['reason'])}`);
    if (typeof c['message'] !== 'string') bad(`${p}.message`, `${p}.message: Required value`);
    if (!DATE_TIME.test(str(c['lastTransitionTime'])))
      bad(`${p}.lastTransitionTime`, `${p}.lastTransitionTime: Invalid value: must be a date-time`);
    const og = c['observedGeneration'];
    if (og !== undefined && (typeof og !== 'number' || !Number.isInteger(og) || og < 0))
      bad(`${p}.observedGeneration`, `${p}.observedGeneration: Invalid value: must be an integer >= 0`);
  }
}

function validateStatus(type: ResourceType, o: KObject): KObject[] {
  const causes: KObject[] = [];
  const status = o['status'];
  if (status === undefined) return causes;
  if (!isObject(status))
    return [{ reason: 'FieldValueInvalid', message: 'status: must be an object', field: 'status' }];
  const bad = (field: string, message: string): undefined => {
    causes.push({ reason: 'FieldValueInvalid', message, field });
  };
  if (type.group === GATEWAY_GROUP) {
    checkConditions(status['conditions'], 'status.conditions', causes, false);
    if (type.resource === 'gateways' && status['listeners'] !== undefined) {
      const ls = status['listeners'];
      if (!Array.isArray(ls)) bad('status.listeners', 'status.listeners: must be an array');
      else
        for (const [i, l] of ls.entries()) {
          const p = `status.listeners[${i}]`;
          if (!isObject(l)) {
            bad(p, `${p}: must be an object`);
            continue;
          }
          if (str(l['name']) === '') bad(`${p}.name`, `${p}.name: Required value`);
          if (!Array.isArray(l['supportedKinds'])) bad(`${p}.supportedKinds`, `${p}.supportedKinds: Required value`);
          if (typeof l['attachedRoutes'] !== 'number')
            bad(`${p}.attachedRoutes`, `${p}.attachedRoutes: Required value`);
          checkConditions(l['conditions'], `${p}.conditions`, causes, true);
        }
    }
    if (type.resource.endsWith('routes') || type.resource === 'backendtlspolicies') {
      const key = type.resource === 'backendtlspolicies' ? 'ancestors' : 'parents';
      const ps = status[key];
      if (!Array.isArray(ps)) bad(`status.${key}`, `status.${key}: Required value`);
      else {
        if (ps.length > 32) bad(`status.${key}`, `status.${key}: Too many: ${ps.length}: must have at most 32 items`);
        for (const [i, entry] of ps.entries()) {
          const p = `status.${key}[${i}]`;
          if (!isObject(entry)) {
            bad(p, `${p}: must be an object`);
            continue;
          }
          const ref = key === 'parents' ? entry['parentRef'] : entry['ancestorRef'];
          if (!isObject(ref) || str(ref['name']) === '')
            bad(`${p}.${key === 'parents' ? 'parentRef' : 'ancestorRef'}`, `${p}: Required value: name`);
          if (!CONTROLLER_NAME.test(str(entry['controllerName'])))
            bad(
              `${p}.controllerName`,
              `${p}.controllerName: Invalid value: ${JSON.stringify(entry['controllerName'])}`,
            );
          checkConditions(entry['conditions'], `${p}.conditions`, causes, true);
          if (Array.isArray(entry['conditions']) && entry['conditions'].length === 0)
            bad(`${p}.conditions`, `${p}.conditions: Invalid value: should have at least 1 items`);
        }
      }
    }
  }
  if (type.resource === 'ingresses') {
    const lb = status['loadBalancer'];
    if (lb !== undefined && isObject(lb) && lb['ingress'] !== undefined) {
      const ing = lb['ingress'];
      if (!Array.isArray(ing)) bad('status.loadBalancer.ingress', 'status.loadBalancer.ingress: must be an array');
      else
        for (const [i, e] of ing.entries()) {
          const p = `status.loadBalancer.ingress[${i}]`;
          if (!isObject(e)) {
            bad(p, `${p}: must be an object`);
            continue;
          }
          const ip = e['ip'];
          if (ip !== undefined && !/^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F:]+:[0-9a-fA-F:.]*$/.test(str(ip)))
            bad(`${p}.ip`, `${p}.ip: Invalid value: ${JSON.stringify(ip)}: must be a valid IP address`);
          const host = e['hostname'];
          if (host !== undefined && /^(\d{1,3}\.){3}\d{1,3}$/.test(str(host)))
            bad(`${p}.hostname`, `${p}.hostname: Invalid value: must be a DNS name, not an IP address`);
        }
    }
  }
  return causes;
}

function validateLease(o: KObject): void {
  const spec = o['spec'];
  if (!isObject(spec)) return;
  for (const f of ['acquireTime', 'renewTime']) {
    const v = spec[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !MICRO_TIME.test(v))
      throw new HttpError(
        400,
        'BadRequest',
        `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC3339Micro (spec.${f})`,
      );
  }
  for (const f of ['leaseDurationSeconds', 'leaseTransitions']) {
    const v = spec[f];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v)))
      throw new HttpError(
        400,
        'BadRequest',
        `Lease in version "v1" cannot be handled as a Lease: spec.${f}: must be an integer`,
      );
  }
  if (
    spec['holderIdentity'] !== undefined &&
    spec['holderIdentity'] !== null &&
    typeof spec['holderIdentity'] !== 'string'
  )
    throw new HttpError(
      400,
      'BadRequest',
      'Lease in version "v1" cannot be handled as a Lease: spec.holderIdentity: must be a string',
    );
}

/** What a manager wrote, as metadata.managedFields (simplified: no field sets). */
function touchManagedFields(
  o: KObject,
  manager: string,
  operation: 'Update' | 'Apply',
  apiVersion: string,
  sub: string | null,
): void {
  const md = meta(o);
  const list = Array.isArray(md['managedFields']) ? (md['managedFields'] as KObject[]).filter(isObject) : [];
  const rest = list.filter(
    (e) => !(e['manager'] === manager && e['operation'] === operation && (e['subresource'] ?? null) === sub),
  );
  rest.push({
    manager,
    operation,
    apiVersion,
    time: nowTime(),
    fieldsType: 'FieldsV1',
    fieldsV1: {},
    ...(sub === null ? {} : { subresource: sub }),
  });
  md['managedFields'] = rest;
}

/** Only what a user changes: everything but resourceVersion, managedFields and the other server-set fields. */
function userContent(o: KObject): string {
  const c = structuredClone(o);
  const md = meta(c);
  delete md['resourceVersion'];
  delete md['managedFields'];
  delete c['apiVersion'];
  delete c['kind'];
  return canonical(c);
}

function specContent(o: KObject): string {
  const c = structuredClone(o);
  delete c['metadata'];
  delete c['status'];
  delete c['apiVersion'];
  delete c['kind'];
  return canonical(c);
}

export interface KubeconfigOptions {
  /** Default: the first configured token. */
  readonly token?: string;
  readonly namespace?: string;
}

export interface WriteFilter {
  readonly user?: string;
  readonly resource?: string;
  readonly subresource?: string | null;
}

/** See the file comment. Start with startFakeApiServer(). */
export class FakeApiServer {
  readonly host: string;
  port = 0;
  readonly tokens: Readonly<Record<string, string>>;
  /** Every request, oldest first. */
  readonly requests: ApiRequest[] = [];
  private readonly types: ResourceType[];
  private readonly installed = new Set<string>();
  private readonly store = new Map<string, Map<string, KObject>>();
  private history: HistoryEvent[] = [];
  private compactedRv: number;
  private rv = 1000;
  private readonly historyLimit: number;
  private readonly bookmarkIntervalMs: number;
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private paused = false;
  private seq = 0;
  private readonly waiters = new Set<() => void>();
  /** Called for every authenticated request before it is served; an answer refuses it with that Status. */
  intercept: ((req: ApiRequest) => InterceptAnswer | null) | null = null;

  constructor(options: FakeApiServerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.tokens = options.tokens ?? { 'fake-token': 'admin' };
    this.historyLimit = options.historyLimit ?? 10_000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.types = [...(options.resources ?? DEFAULT_RESOURCES)];
    this.compactedRv = this.rv;
    const notInstalled = new Set(options.notInstalled ?? []);
    for (const t of this.types) {
      this.store.set(typeKeyOf(t), new Map());
      if (!(t.crd && notInstalled.has(t.group))) this.installed.add(typeKeyOf(t));
    }
    for (const ns of options.namespaces ?? ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
      this.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (const t of this.types) if (t.crd && this.installed.has(typeKeyOf(t))) this.putCrd(t);
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  // ---- lifecycle ----

  /** Listens (again, on the same port after stop()). */
  async start(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Goes away: stops listening and cuts every connection at once (watches end without a final chunk). */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const w of this.watchers) this.closeWatcher(w, false);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** A kubeconfig for this server; written to `file` and returned as YAML. */
  writeKubeconfig(file: string, options: KubeconfigOptions = {}): string {
    const token = options.token ?? Object.keys(this.tokens)[0] ?? '';
    const yaml = stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url } }],
      users: [{ name: 'fake-user', user: { token } }],
      contexts: [
        {
          name: 'fake',
          context: {
            cluster: 'fake',
            user: 'fake-user',
            ...(options.namespace ? { namespace: options.namespace } : {}),
          },
        },
      ],
      'current-context': 'fake',
      preferences: {},
    });
    writeFileSync(file, yaml);
    return yaml;
  }

  // ---- test controls ----

  /** Closes every open watch abruptly (socket destroyed mid-stream); returns how many. */
  dropWatches(filter?: (resource: string) => boolean): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      if (filter !== undefined && !filter(w.type.resource)) continue;
      this.closeWatcher(w, false);
      n++;
    }
    return n;
  }

  /** Ends every open watch cleanly (final chunk), as the server does when a watch reaches its timeout. */
  endWatches(): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      this.closeWatcher(w, true);
      n++;
    }
    return n;
  }

  /** Ends every open watch the way the server does when it is too far behind: an ERROR 410 Expired event. */
  expireWatches(): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      this.writeRaw(w, JSON.stringify({ type: 'ERROR', object: this.expiredStatus(0) }) + '\n', true);
      this.closeWatcher(w, true);
      n++;
    }
    return n;
  }

  /** Forgets the event history up to now: a watch or list continuation from an older resourceVersion gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Holds back every watch event (and bookmark) until resumeEvents(). */
  pauseEvents(): void {
    this.paused = true;
  }

  resumeEvents(): void {
    this.paused = false;
    for (const w of this.watchers) {
      const pending = w.pending.splice(0);
      for (const line of pending) this.writeRaw(w, line, false);
    }
  }

  /** Open watches, optionally of one resource (plural). */
  watchCount(resource?: string): number {
    let n = 0;
    for (const w of this.watchers) if (resource === undefined || w.type.resource === resource) n++;
    return n;
  }

  /** Makes an uninstalled CRD group served (discovery, list, watch) and creates its CRD objects. */
  installGroup(group: string): void {
    for (const t of this.types)
      if (t.group === group && t.crd && !this.installed.has(typeKeyOf(t))) {
        this.installed.add(typeKeyOf(t));
        this.putCrd(t);
      }
  }

  /** Removes a CRD group: its objects are deleted (DELETED events), its watches end, its paths answer 404. */
  uninstallGroup(group: string): void {
    for (const t of this.types) {
      if (t.group !== group || !t.crd || !this.installed.has(typeKeyOf(t))) continue;
      for (const o of [...(this.store.get(typeKeyOf(t))?.values() ?? [])]) {
        const md = meta(o);
        this.deleteNow(t, str(md['namespace']), str(md['name']));
      }
      for (const w of [...this.watchers]) if (w.type === t) this.closeWatcher(w, true);
      this.installed.delete(typeKeyOf(t));
      const crd = this.typeFor('apiextensions.k8s.io', 'customresourcedefinitions');
      if (crd !== undefined && this.store.get(typeKeyOf(crd))?.has(objKey('', `${t.resource}.${t.group}`)))
        this.deleteNow(crd, '', `${t.resource}.${t.group}`);
    }
  }

  isInstalled(group: string, resource: string): boolean {
    return this.installed.has(`${group}/${resource}`);
  }

  /** Resolves once predicate holds for the request log (checked on every request); rejects after timeoutMs. */
  waitForRequest(
    predicate: (r: ApiRequest, all: readonly ApiRequest[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<ApiRequest> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.requests.find((r) => predicate(r, this.requests));
        if (found === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `request not seen in ${timeoutMs} ms; last requests:\n${this.describeRequests(this.requests.slice(-40))}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Writes (create/update/patch/delete) recorded so far, optionally narrowed. */
  writes(filter: WriteFilter = {}): ApiRequest[] {
    return this.requests.filter(
      (r) =>
        (r.verb === 'create' || r.verb === 'update' || r.verb === 'patch' || r.verb === 'delete') &&
        (filter.user === undefined || r.user === filter.user) &&
        (filter.resource === undefined || r.resource === filter.resource) &&
        (filter.subresource === undefined || r.subresource === filter.subresource),
    );
  }

  describeRequests(list: readonly ApiRequest[] = this.requests): string {
    return list
      .map((r) => {
        const q = new URLSearchParams(r.query as Record<string, string>).toString();
        return `#${r.seq} ${r.user ?? '-'} ${r.method} ${r.path}${q ? `?${q}` : ''} → ${r.status}`;
      })
      .join('\n');
  }

  // ---- direct access to the objects (as kubectl or another controller would change them) ----

  typeFor(group: string, resource: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.resource === resource);
  }

  private typeOfObject(o: KObject): ResourceType {
    const apiVersion = str(o['apiVersion']);
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    const t = this.types.find((x) => x.group === group && x.kind === o['kind']);
    if (t === undefined) throw new Error(`fake apiserver: no resource for ${apiVersion} ${String(o['kind'])}`);
    return t;
  }

  /** Creates an object (namespace must exist; server fields set). Returns the stored object. */
  create(o: KObject): KObject {
    const t = this.typeOfObject(o);
    return this.present(t, this.versionOf(o, t), this.createNow(t, structuredClone(o), 'kubectl', null, true), true);
  }

  /** Creates or replaces the user part of an object (as `kubectl apply`); status is left alone. */
  apply(o: KObject): KObject {
    const t = this.typeOfObject(o);
    const md = meta(o);
    const current = this.store
      .get(typeKeyOf(t))
      ?.get(objKey(t.namespaced ? str(md['namespace']) || 'default' : '', str(md['name'])));
    if (current === undefined) return this.create(o);
    const next = structuredClone(o);
    const nmd = meta(next);
    nmd['resourceVersion'] = meta(current)['resourceVersion'];
    if (t.namespaced) nmd['namespace'] = str(md['namespace']) || 'default';
    return this.present(t, this.versionOf(o, t), this.updateNow(t, next, null, 'kubectl', 'Update'), true);
  }

  /** Applies every object in order. */
  applyAll(objects: readonly KObject[]): void {
    for (const o of objects) this.apply(o);
  }

  /** Deletes an object; returns false if it was not there. */
  delete(o: KObject): boolean {
    const t = this.typeOfObject(o);
    const md = meta(o);
    const ns = t.namespaced ? str(md['namespace']) || 'default' : '';
    if (this.store.get(typeKeyOf(t))?.get(objKey(ns, str(md['name']))) === undefined) return false;
    this.deleteNow(t, ns, str(md['name']));
    return true;
  }

  /** The stored object (in its first served version), or undefined. */
  get(apiVersion: string, kind: string, namespace: string, name: string): KObject | undefined {
    const t = this.typeOfObject({ apiVersion, kind });
    const o = this.store.get(typeKeyOf(t))?.get(objKey(t.namespaced ? namespace : '', name));
    return o === undefined ? undefined : this.present(t, this.versionOf({ apiVersion }, t), o, true);
  }

  /** Every stored object of a kind. */
  list(apiVersion: string, kind: string): KObject[] {
    const t = this.typeOfObject({ apiVersion, kind });
    return this.sorted(t, this.store.get(typeKeyOf(t)) ?? new Map()).map((o) =>
      this.present(t, this.versionOf({ apiVersion }, t), o, true),
    );
  }

  /** Writes the status of an object as another controller would (through the status subresource). */
  setStatus(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    status: unknown,
    manager = 'other-controller',
  ): KObject {
    const t = this.typeOfObject({ apiVersion, kind });
    const current = this.store.get(typeKeyOf(t))?.get(objKey(t.namespaced ? namespace : '', name));
    if (current === undefined) throw new Error(`fake apiserver: ${kind} ${namespace}/${name} not found`);
    const next = structuredClone(current);
    next['status'] = structuredClone(status);
    return this.present(
      t,
      this.versionOf({ apiVersion }, t),
      this.updateNow(t, next, 'status', manager, 'Update'),
      true,
    );
  }

  // ---- storage ----

  private versionOf(o: KObject, t: ResourceType): string {
    const apiVersion = str(o['apiVersion']);
    const v = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    return t.versions.includes(v) ? v : (t.versions[0] ?? 'v1');
  }

  private putCrd(t: ResourceType): void {
    const crd = this.typeFor('apiextensions.k8s.io', 'customresourcedefinitions');
    if (crd === undefined) return;
    const name = `${t.resource}.${t.group}`;
    if (this.store.get(typeKeyOf(crd))?.has(objKey('', name))) return;
    const stored = this.createNow(
      crd,
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name },
        spec: {
          group: t.group,
          names: { plural: t.resource, singular: t.singular, kind: t.kind, listKind: `${t.kind}List` },
          scope: t.namespaced ? 'Namespaced' : 'Cluster',
          versions: t.versions.map((v, i) => ({
            name: v,
            served: true,
            storage: i === 0,
            ...(t.status ? { subresources: { status: {} } } : {}),
          })),
        },
      },
      'kube-apiserver',
      null,
    );
    const next = structuredClone(stored);
    next['status'] = {
      acceptedNames: { plural: t.resource, singular: t.singular, kind: t.kind, listKind: `${t.kind}List` },
      storedVersions: [t.versions[0]],
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          reason: 'NoConflicts',
          message: 'no conflicts found',
          lastTransitionTime: nowTime(),
        },
        {
          type: 'Established',
          status: 'True',
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
          lastTransitionTime: nowTime(),
        },
      ],
    };
    this.updateNow(crd, next, 'status', 'kube-apiserver', 'Update');
  }

  private bump(): number {
    this.rv += 1;
    return this.rv;
  }

  private record(t: ResourceType, type: HistoryEvent['type'], object: KObject, prev: KObject | null): void {
    const rv = Number(str(meta(object)['resourceVersion']));
    const ev: HistoryEvent = { rv, typeKey: typeKeyOf(t), type, object, prev };
    this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedRv = dropped[dropped.length - 1]?.rv ?? this.compactedRv;
    }
    for (const w of this.watchers) if (w.type === t) this.deliver(w, ev);
  }

  private createNow(
    t: ResourceType,
    o: KObject,
    manager: string,
    body: KObject | null,
    keepTimestamp = false,
  ): KObject {
    const md = meta(o);
    let name = str(md['name']);
    if (name === '' && str(md['generateName']) !== '')
      name = `${str(md['generateName'])}${randomUUID().replaceAll('-', '').slice(0, 5)}`;
    if (name === '')
      throw new HttpError(
        422,
        'Invalid',
        `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    const ns = t.namespaced ? str(md['namespace']) || 'default' : '';
    if (t.namespaced && !this.store.get('/namespaces')?.has(objKey('', ns)))
      throw new HttpError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    const map = this.store.get(typeKeyOf(t)) ?? new Map<string, KObject>();
    if (map.has(objKey(ns, name)))
      throw new HttpError(409, 'AlreadyExists', `${this.qualified(t)} "${name}" already exists`, {
        name,
        group: t.group,
        kind: t.resource,
      });
    if (t.resource === 'leases') validateLease(o);
    // The status of a new object is the controllers' to write, not the creator's.
    if (body !== null && t.status) delete o['status'];
    md['name'] = name;
    if (t.namespaced) md['namespace'] = ns;
    else delete md['namespace'];
    md['uid'] = randomUUID();
    if (!keepTimestamp || typeof md['creationTimestamp'] !== 'string') md['creationTimestamp'] = nowTime();
    if (t.generation) md['generation'] = 1;
    else delete md['generation'];
    delete md['deletionTimestamp'];
    md['resourceVersion'] = String(this.bump());
    touchManagedFields(o, manager, 'Update', gvOf(t.group, t.versions[0] ?? 'v1'), null);
    o['apiVersion'] = gvOf(t.group, t.versions[0] ?? 'v1');
    o['kind'] = t.kind;
    map.set(objKey(ns, name), o);
    this.store.set(typeKeyOf(t), map);
    this.record(t, 'ADDED', structuredClone(o), null);
    return o;
  }

  /**
   * Replaces an object. `sub` 'status' keeps everything but the status; null keeps the status (when the type has
   * a status subresource). A stale metadata.resourceVersion is a Conflict. A write that changes nothing is a no-op.
   */
  private updateNow(
    t: ResourceType,
    next: KObject,
    sub: string | null,
    manager: string,
    operation: 'Update' | 'Apply',
  ): KObject {
    const md = meta(next);
    const name = str(md['name']);
    const ns = t.namespaced ? str(md['namespace']) : '';
    const map = this.store.get(typeKeyOf(t));
    const current = map?.get(objKey(ns, name));
    if (map === undefined || current === undefined)
      throw new HttpError(404, 'NotFound', `${this.qualified(t)} "${name}" not found`, {
        name,
        group: t.group,
        kind: t.resource,
      });
    const cmd = meta(current);
    const wantRv = md['resourceVersion'];
    if (wantRv !== undefined && wantRv !== null && wantRv !== '' && str(wantRv) !== str(cmd['resourceVersion']))
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${this.qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: t.group, kind: t.resource },
      );
    if (md['uid'] !== undefined && md['uid'] !== cmd['uid'])
      throw new HttpError(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${str(md['uid'])}, UID in object meta: ${str(cmd['uid'])}`,
      );
    let result: KObject;
    if (sub === 'status') {
      result = structuredClone(current);
      if (next['status'] === undefined) delete result['status'];
      else result['status'] = structuredClone(next['status']);
    } else {
      result = structuredClone(next);
      const rmd = meta(result);
      for (const f of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'managedFields'])
        if (cmd[f] === undefined) delete rmd[f];
        else rmd[f] = structuredClone(cmd[f]);
      rmd['name'] = name;
      if (t.namespaced) rmd['namespace'] = ns;
      if (t.status) {
        if (current['status'] === undefined) delete result['status'];
        else result['status'] = structuredClone(current['status']);
      }
    }
    if (t.resource === 'leases') validateLease(result);
    const rmd = meta(result);
    rmd['resourceVersion'] = cmd['resourceVersion'];
    result['apiVersion'] = current['apiVersion'];
    result['kind'] = t.kind;
    if (userContent(result) === userContent(current)) return current;
    if (t.generation && sub !== 'status' && specContent(result) !== specContent(current))
      rmd['generation'] = (typeof cmd['generation'] === 'number' ? cmd['generation'] : 0) + 1;
    rmd['resourceVersion'] = String(this.bump());
    touchManagedFields(result, manager, operation, gvOf(t.group, t.versions[0] ?? 'v1'), sub);
    // Finalizers: a deleting object goes away once its last finalizer is removed.
    if (
      rmd['deletionTimestamp'] !== undefined &&
      (!Array.isArray(rmd['finalizers']) || rmd['finalizers'].length === 0)
    ) {
      map.delete(objKey(ns, name));
      this.record(t, 'DELETED', structuredClone(result), current);
      return result;
    }
    map.set(objKey(ns, name), result);
    this.record(t, 'MODIFIED', structuredClone(result), current);
    return result;
  }

  private deleteNow(t: ResourceType, ns: string, name: string, preconditions?: KObject): KObject {
    const map = this.store.get(typeKeyOf(t));
    const current = map?.get(objKey(ns, name));
    if (map === undefined || current === undefined)
      throw new HttpError(404, 'NotFound', `${this.qualified(t)} "${name}" not found`, {
        name,
        group: t.group,
        kind: t.resource,
      });
    const cmd = meta(current);
    if (preconditions !== undefined) {
      if (preconditions['resourceVersion'] !== undefined && preconditions['resourceVersion'] !== cmd['resourceVersion'])
        throw new HttpError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${this.qualified(t)} "${name}": Precondition failed: ResourceVersion in precondition: ${str(preconditions['resourceVersion'])}, ResourceVersion in object meta: ${str(cmd['resourceVersion'])}`,
        );
      if (preconditions['uid'] !== undefined && preconditions['uid'] !== cmd['uid'])
        throw new HttpError(409, 'Conflict', `Precondition failed: UID in precondition: ${str(preconditions['uid'])}`);
    }
    if (Array.isArray(cmd['finalizers']) && cmd['finalizers'].length > 0) {
      if (cmd['deletionTimestamp'] !== undefined) return current;
      const next = structuredClone(current);
      meta(next)['deletionTimestamp'] = nowTime();
      meta(next)['resourceVersion'] = String(this.bump());
      map.set(objKey(ns, name), next);
      this.record(t, 'MODIFIED', structuredClone(next), current);
      return next;
    }
    map.delete(objKey(ns, name));
    const gone = structuredClone(current);
    meta(gone)['resourceVersion'] = String(this.bump());
    this.record(t, 'DELETED', gone, current);
    return gone;
  }

  private qualified(t: ResourceType): string {
    return t.group === '' ? t.resource : `${t.resource}.${t.group}`;
  }

  private sorted(t: ResourceType, map: Map<string, KObject>): KObject[] {
    void t;
    return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /** The objects of a type as they were at resourceVersion rv (rv ≥ compactedRv), from the event history. */
  private stateAt(t: ResourceType, rv: number): Map<string, KObject> {
    const state = new Map(this.store.get(typeKeyOf(t)) ?? []);
    const key = typeKeyOf(t);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ev = this.history[i];
      if (ev === undefined || ev.rv <= rv) break;
      if (ev.typeKey !== key) continue;
      const md = meta(ev.object);
      const k = objKey(str(md['namespace']), str(md['name']));
      if (ev.type === 'ADDED') state.delete(k);
      else if (ev.prev !== null) state.set(k, ev.prev);
    }
    return state;
  }

  /** The object as served at a version: apiVersion/kind first; list items of built-ins carry neither. */
  private present(t: ResourceType, version: string, o: KObject, withType: boolean): KObject {
    const c = structuredClone(o);
    delete c['apiVersion'];
    delete c['kind'];
    return withType ? { apiVersion: gvOf(t.group, version), kind: t.kind, ...c } : c;
  }

  // ---- HTTP ----

  private send(res: ServerResponse, req: ApiRequest | null, code: number, body: unknown): undefined {
    if (req !== null) req.status = code;
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-cache, private',
    });
    res.end(text);
  }

  private statusBody(code: number, reason: string, message: string, details?: KObject): KObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code,
    };
  }

  private expiredStatus(requested: number): KObject {
    return this.statusBody(
      410,
      'Expired',
      requested > 0 ? `too old resource version: ${requested} (${this.compactedRv + 1})` : 'too old resource version',
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      try {
        this.route(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        if (!res.headersSent) this.send(res, null, 500, this.statusBody(500, 'InternalError', String(err)));
      }
    });
  }

  private route(req: IncomingMessage, res: ServerResponse, rawBody: string): undefined {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    const user = Object.hasOwn(this.tokens, token) ? (this.tokens[token] ?? null) : null;
    const contentType =
      String(req.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    const method = req.method ?? 'GET';
    let body: unknown;
    if (rawBody !== '') {
      try {
        body = contentType === 'application/apply-patch+yaml' ? parseYaml(rawBody) : JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }

    // Parse the path.
    const segs = url.pathname.split('/').filter((s) => s !== '');
    let group: string | null = null;
    let version: string | null = null;
    let rest: string[] = [];
    let verb: Verb = 'other';
    if (segs[0] === 'api') {
      group = '';
      version = segs[1] ?? null;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis') {
      group = segs[1] ?? null;
      version = segs[2] ?? null;
      rest = segs.slice(3);
    }
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    let namespace: string | null = null;
    let resource: string | null = null;
    let name: string | null = null;
    let subresource: string | null = null;
    if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1] ?? null;
      resource = rest[2] ?? null;
      name = rest[3] ?? null;
      subresource = rest[4] ?? null;
    } else if (rest.length > 0) {
      resource = rest[0] ?? null;
      name = rest[1] ?? null;
      subresource = rest[2] ?? null;
    }
    const isWatch = watchPath || query['watch'] === 'true' || query['watch'] === '1';
    if (resource === null) verb = 'discovery';
    else if (method === 'GET') verb = isWatch ? 'watch' : name === null ? 'list' : 'get';
    else if (method === 'POST') verb = 'create';
    else if (method === 'PUT') verb = 'update';
    else if (method === 'PATCH') verb = 'patch';
    else if (method === 'DELETE') verb = name === null ? 'deletecollection' : 'delete';

    const record: ApiRequest = {
      seq: ++this.seq,
      time: Date.now(),
      method,
      path: url.pathname,
      query,
      verb,
      group,
      version,
      resource,
      subresource,
      namespace,
      name,
      user,
      userAgent: String(req.headers['user-agent'] ?? ''),
      contentType,
      body,
      status: 0,
    };
    this.requests.push(record);
    for (const w of [...this.waiters]) w();

    const fail = (e: HttpError): undefined =>
      this.send(res, record, e.code, this.statusBody(e.code, e.reason, e.message, e.details));
    try {
      if (['/healthz', '/livez', '/readyz'].includes(url.pathname)) return this.send(res, record, 200, 'ok');
      if (user === null) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const refused = this.intercept?.(record) ?? null;
      if (refused !== null) {
        if (refused.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(refused.retryAfterSeconds));
        throw new HttpError(
          refused.code,
          refused.reason,
          refused.message ?? refused.reason,
          refused.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: refused.retryAfterSeconds },
        );
      }
      if (url.pathname === '/version')
        return this.send(res, record, 200, {
          major: '1',
          minor: '34',
          gitVersion: 'v1.34.0-fake',
          platform: 'linux/amd64',
        });
      if (verb === 'discovery' && (url.pathname === '/apis' || url.pathname === '/apis/'))
        return this.discovery(res, record, '', null);
      if (group === null) return this.send(res, record, 404, '404 page not found\n');
      if (verb === 'discovery') return this.discovery(res, record, group, version);
      const served = this.types.filter((t) => t.group === group && this.installed.has(typeKeyOf(t)));
      if (version === null || !served.some((t) => t.versions.includes(version)))
        return this.send(res, record, 404, '404 page not found\n');
      const t = served.find((x) => x.resource === resource && x.versions.includes(version));
      if (t === undefined || (namespace !== null && !t.namespaced))
        throw new HttpError(404, 'NotFound', 'the server could not find the requested resource', {});
      if (t.namespaced && namespace === null && name !== null)
        throw new HttpError(404, 'NotFound', 'the server could not find the requested resource', {});
      if (subresource !== null && !(subresource === 'status' && t.status))
        throw new HttpError(404, 'NotFound', 'the server could not find the requested resource', {});
      this.serveResource(res, record, t, version, rawBody);
    } catch (err) {
      if (err instanceof HttpError) fail(err);
      else fail(new HttpError(500, 'InternalError', `Internal error occurred: ${String(err)}`));
    }
  }

  private discovery(res: ServerResponse, record: ApiRequest, group: string, version: string | null): undefined {
    const installed = this.types.filter((t) => this.installed.has(typeKeyOf(t)));
    const versionsOf = (g: string): string[] => {
      const seen: string[] = [];
      for (const t of installed) if (t.group === g) for (const v of t.versions) if (!seen.includes(v)) seen.push(v);
      const rank = (v: string): number => {
        const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
        if (m === null) return 0;
        return Number(m[1]) * 1000 + (m[2] === undefined ? 900 : m[2] === 'beta' ? 500 : 100) + Number(m[3] ?? 0);
      };
      return seen.sort((a, b) => rank(b) - rank(a));
    };
    const groupInfo = (g: string): KObject => {
      const vs = versionsOf(g);
      return {
        name: g,
        versions: vs.map((v) => ({ groupVersion: gvOf(g, v), version: v })),
        preferredVersion: { groupVersion: gvOf(g, vs[0] ?? 'v1'), version: vs[0] ?? 'v1' },
      };
    };
    const notFound = (): undefined => this.send(res, record, 404, '404 page not found\n');
    if (record.path === '/api' || record.path === '/api/')
      return this.send(res, record, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }],
      });
    if (record.path === '/apis' || record.path === '/apis/') {
      const groups: string[] = [];
      for (const t of installed) if (t.group !== '' && !groups.includes(t.group)) groups.push(t.group);
      return this.send(res, record, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupInfo) });
    }
    if (version === null) {
      if (group === '' || versionsOf(group).length === 0) return notFound();
      return this.send(res, record, 200, { kind: 'APIGroup', apiVersion: 'v1', ...groupInfo(group) });
    }
    const types = installed.filter((t) => t.group === group && t.versions.includes(version));
    if (types.length === 0) return notFound();
    const resources: KObject[] = [];
    for (const t of types) {
      resources.push({
        name: t.resource,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        ...(t.shortNames === undefined ? {} : { shortNames: t.shortNames }),
      });
      if (t.status)
        resources.push({
          name: `${t.resource}/status`,
          singularName: '',
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: ['get', 'patch', 'update'],
        });
    }
    this.send(res, record, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gvOf(group, version),
      resources,
    });
  }

  private serveResource(
    res: ServerResponse,
    r: ApiRequest,
    t: ResourceType,
    version: string,
    rawBody: string,
  ): undefined {
    const ns = t.namespaced ? (r.namespace ?? '') : '';
    const manager = r.query['fieldManager'] ?? (r.userAgent.split('/')[0] || 'unknown');
    const bodyObject = (): KObject => {
      if (!isObject(r.body))
        throw new HttpError(
          400,
          'BadRequest',
          `the body of the request was in an unknown format: ${rawBody.slice(0, 80)}`,
        );
      return structuredClone(r.body);
    };
    const checkBody = (o: KObject): void => {
      const md = meta(o);
      if (o['kind'] !== undefined && o['kind'] !== t.kind)
        throw new HttpError(
          400,
          'BadRequest',
          `the object provided is unrecognized (must be of type ${t.kind}): ${str(o['kind'])}`,
        );
      if (o['apiVersion'] !== undefined) {
        const av = str(o['apiVersion']);
        const g = av.includes('/') ? av.slice(0, av.indexOf('/')) : '';
        if (g !== t.group)
          throw new HttpError(
            400,
            'BadRequest',
            `the API version in the data (${av}) does not match the expected API version (${gvOf(t.group, version)})`,
          );
      }
      if (t.namespaced) {
        if (md['namespace'] !== undefined && md['namespace'] !== '' && md['namespace'] !== ns)
          throw new HttpError(
            400,
            'BadRequest',
            'the namespace of the provided object does not match the namespace sent on the request',
          );
        md['namespace'] = ns;
      }
    };
    const out = (o: KObject): KObject => this.present(t, version, o, true);
    const statusCheck = (o: KObject): void => {
      const causes = validateStatus(t, o);
      if (causes.length > 0)
        throw new HttpError(
          422,
          'Invalid',
          `${t.kind}.${t.group} "${r.name ?? ''}" is invalid: ${causes.map((c) => str(c['message'])).join(', ')}`,
          { name: r.name ?? '', group: t.group, kind: t.kind, causes },
        );
    };

    switch (r.verb) {
      case 'get': {
        const o = this.store.get(typeKeyOf(t))?.get(objKey(ns, r.name ?? ''));
        if (o === undefined)
          throw new HttpError(404, 'NotFound', `${this.qualified(t)} "${r.name ?? ''}" not found`, {
            name: r.name ?? '',
            group: t.group,
            kind: t.resource,
          });
        return this.send(res, r, 200, out(o));
      }
      case 'list':
        return this.list_(res, r, t, version, ns);
      case 'watch':
        return this.watch(res, r, t, version, ns);
      case 'create': {
        if (r.name !== null)
          throw new HttpError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const o = bodyObject();
        checkBody(o);
        if (!t.namespaced) delete meta(o)['namespace'];
        const created = this.createNow(t, o, manager, o);
        return this.send(res, r, 201, out(created));
      }
      case 'update': {
        const o = bodyObject();
        checkBody(o);
        const md = meta(o);
        if (md['name'] !== undefined && md['name'] !== r.name)
          throw new HttpError(
            400,
            'BadRequest',
            `the name of the object (${str(md['name'])}) does not match the name on the URL (${r.name ?? ''})`,
          );
        md['name'] = r.name;
        if (t.crd && (md['resourceVersion'] === undefined || md['resourceVersion'] === ''))
          throw new HttpError(
            422,
            'Invalid',
            `${t.kind}.${t.group} "${r.name ?? ''}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
            {
              name: r.name ?? '',
              group: t.group,
              kind: t.kind,
              causes: [
                {
                  reason: 'FieldValueInvalid',
                  message: 'Invalid value: 0x0: must be specified for an update',
                  field: 'metadata.resourceVersion',
                },
              ],
            },
          );
        if (r.subresource === 'status') statusCheck(o);
        const updated = this.updateNow(t, o, r.subresource, manager, 'Update');
        return this.send(res, r, 200, out(updated));
      }
      case 'patch': {
        const current = this.store.get(typeKeyOf(t))?.get(objKey(ns, r.name ?? ''));
        const patchType = r.contentType;
        const apply = patchType === 'application/apply-patch+yaml';
        if (apply && r.query['fieldManager'] === undefined)
          throw new HttpError(
            422,
            'Invalid',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          );
        if (current === undefined) {
          if (apply && r.subresource === null) {
            const o = bodyObject();
            checkBody(o);
            meta(o)['name'] = r.name;
            return this.send(res, r, 201, out(this.createNow(t, o, manager, o)));
          }
          throw new HttpError(404, 'NotFound', `${this.qualified(t)} "${r.name ?? ''}" not found`, {
            name: r.name ?? '',
            group: t.group,
            kind: t.resource,
          });
        }
        let patched: unknown;
        const base = this.present(t, version, current, true);
        if (patchType === 'application/merge-patch+json' || apply) patched = mergePatch(base, r.body);
        else if (patchType === 'application/strategic-merge-patch+json') {
          if (t.crd)
            throw new HttpError(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
            );
          patched = mergePatch(base, r.body);
        } else if (patchType === 'application/json-patch+json') patched = jsonPatch(base, r.body);
        else
          throw new HttpError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
          );
        if (!isObject(patched)) throw new HttpError(422, 'Invalid', 'the patch did not produce an object');
        const pmd = meta(patched);
        // A resourceVersion in the patch is a precondition; without one the patch applies to the latest object.
        const pr = isObject(r.body) && isObject(r.body['metadata']) ? r.body['metadata']['resourceVersion'] : undefined;
        pmd['resourceVersion'] = pr === undefined || pr === null ? meta(current)['resourceVersion'] : pr;
        if (pmd['name'] !== r.name)
          throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        if (r.subresource === 'status') statusCheck(patched);
        const updated = this.updateNow(t, patched, r.subresource, manager, apply ? 'Apply' : 'Update');
        return this.send(res, r, 200, out(updated));
      }
      case 'delete': {
        const opts = isObject(r.body) ? r.body : {};
        const pre = isObject(opts['preconditions']) ? opts['preconditions'] : undefined;
        const gone = this.deleteNow(t, ns, r.name ?? '', pre);
        if (
          meta(gone)['deletionTimestamp'] !== undefined &&
          this.store.get(typeKeyOf(t))?.has(objKey(ns, r.name ?? ''))
        )
          return this.send(res, r, 202, out(gone));
        return this.send(res, r, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: r.name, group: t.group, kind: t.resource, uid: meta(gone)['uid'] },
        });
      }
      default:
        throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private selectors(r: ApiRequest, t: ResourceType): { fields: FieldSelector; labels: LabelSelector } {
    const fields = parseFieldSelector(r.query['fieldSelector'] ?? '', t);
    const labels = parseLabelSelector(r.query['labelSelector'] ?? '');
    return { fields, labels };
  }

  private list_(res: ServerResponse, r: ApiRequest, t: ResourceType, version: string, ns: string): undefined {
    const { fields, labels } = this.selectors(r, t);
    const limit = Number(r.query['limit'] ?? '0');
    const cont = r.query['continue'];
    const rvParam = r.query['resourceVersion'];
    const match = r.query['resourceVersionMatch'];
    if (match !== undefined && (rvParam === undefined || rvParam === ''))
      throw new HttpError(422, 'Invalid', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
    let atRv = this.rv;
    let start = '';
    if (cont !== undefined && cont !== '') {
      if (rvParam !== undefined && rvParam !== '')
        throw new HttpError(400, 'BadRequest', 'specifying resource version is not allowed when using continue');
      let token: { rv?: unknown; start?: unknown };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as typeof token;
      } catch {
        throw new HttpError(400, 'BadRequest', 'continue key is not valid: illegal base64 data');
      }
      atRv = Number(token.rv);
      start = str(token.start);
      if (!Number.isInteger(atRv) || atRv < this.compactedRv)
        throw new HttpError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
    } else if (rvParam !== undefined && rvParam !== '' && rvParam !== '0') {
      const n = Number(rvParam);
      if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'BadRequest', `invalid resource version: ${rvParam}`);
      if (n > this.rv)
        throw new HttpError(504, 'Timeout', `Too large resource version: ${n}, current: ${this.rv}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        });
      if (match === 'Exact') {
        if (n < this.compactedRv)
          throw new HttpError(410, 'Expired', `too old resource version: ${n} (${this.compactedRv + 1})`);
        atRv = n;
      }
    }
    const state = atRv === this.rv ? (this.store.get(typeKeyOf(t)) ?? new Map()) : this.stateAt(t, atRv);
    const keys = [...state.keys()].sort();
    const items: KObject[] = [];
    let next: string | null = null;
    let remaining = 0;
    for (const k of keys) {
      if (start !== '' && k < start) continue;
      const o = state.get(k);
      if (o === undefined) continue;
      if (t.namespaced && ns !== '' && str(meta(o)['namespace']) !== ns) continue;
      if (!fieldsMatch(fields, o) || !labelsMatch(labels, o)) continue;
      if (limit > 0 && items.length >= limit) {
        if (next === null) next = `${keys[keys.indexOf(k)] ?? ''}`;
        remaining++;
        continue;
      }
      items.push(this.present(t, version, o, t.crd));
    }
    const hasSelector = fields.terms.length > 0 || labels.requirements.length > 0;
    this.send(res, r, 200, {
      kind: `${t.kind}List`,
      apiVersion: gvOf(t.group, version),
      metadata: {
        resourceVersion: String(atRv),
        ...(next === null
          ? {}
          : {
              continue: Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: atRv, start: next })).toString(
                'base64url',
              ),
            }),
        ...(next !== null && !hasSelector ? { remainingItemCount: remaining } : {}),
      },
      items,
    });
  }

  private watch(res: ServerResponse, r: ApiRequest, t: ResourceType, version: string, ns: string): undefined {
    let { fields, labels } = this.selectors(r, t);
    if (r.name !== null) {
      // GET .../NAME?watch=1 watches one object, like a metadata.name field selector.
      fields = { terms: [...fields.terms, { field: 'metadata.name', value: r.name, equal: true }] };
    }
    const bookmarks = r.query['allowWatchBookmarks'] === 'true' || r.query['allowWatchBookmarks'] === '1';
    const rvParam = r.query['resourceVersion'] ?? '';
    const initial = r.query['sendInitialEvents'] === 'true';
    if (initial && (r.query['resourceVersionMatch'] !== 'NotOlderThan' || !bookmarks))
      throw new HttpError(
        422,
        'Invalid',
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch is NotOlderThan and allowWatchBookmarks is true',
      );
    if (r.query['resourceVersionMatch'] !== undefined && !initial)
      throw new HttpError(
        422,
        'Invalid',
        'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
      );
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-cache, private',
      'transfer-encoding': 'chunked',
    });
    res.flushHeaders();
    r.status = 200;
    const w: Watcher = {
      type: t,
      version,
      namespace: t.namespaced && ns !== '' ? ns : null,
      fields,
      labels,
      bookmarks,
      res,
      user: r.user,
      pending: [],
      timers: [],
      closed: false,
    };
    res.on('close', () => this.closeWatcher(w, false));
    const n = rvParam === '' ? 0 : Number(rvParam);
    if (rvParam !== '' && (!Number.isInteger(n) || n < 0)) {
      this.writeRaw(
        w,
        JSON.stringify({
          type: 'ERROR',
          object: this.statusBody(400, 'BadRequest', `invalid resource version: ${rvParam}`),
        }) + '\n',
        true,
      );
      this.closeWatcher(w, true);
      return;
    }
    if (n > 0 && n < this.compactedRv) {
      // The watch cache's error watcher: HTTP 200, one ERROR event, end of stream.
      this.writeRaw(w, JSON.stringify({ type: 'ERROR', object: this.expiredStatus(n) }) + '\n', true);
      this.closeWatcher(w, true);
      return;
    }
    if (n > this.rv) {
      this.writeRaw(
        w,
        JSON.stringify({
          type: 'ERROR',
          object: this.statusBody(504, 'Timeout', `Too large resource version: ${n}, current: ${this.rv}`, {
            causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
            retryAfterSeconds: 1,
          }),
        }) + '\n',
        true,
      );
      this.closeWatcher(w, true);
      return;
    }
    this.watchers.add(w);
    if (n === 0 || initial) {
      // "Get state and start at most recent": synthetic ADDED events for what exists now.
      const state = this.store.get(typeKeyOf(t)) ?? new Map<string, KObject>();
      for (const k of [...state.keys()].sort()) {
        const o = state.get(k);
        if (o !== undefined && this.matches(w, o)) this.emitLine(w, 'ADDED', o);
      }
      if (initial)
        this.emitLine(w, 'BOOKMARK', {
          metadata: { resourceVersion: String(this.rv), annotations: { 'k8s.io/initial-events-end': 'true' } },
        });
    } else {
      for (const ev of this.history) if (ev.rv > n && ev.typeKey === typeKeyOf(t)) this.deliver(w, ev);
    }
    if (bookmarks)
      w.timers.push(
        setInterval(() => {
          if (!this.paused && w.pending.length === 0)
            this.emitLine(w, 'BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
        }, this.bookmarkIntervalMs),
      );
    const timeout = Number(r.query['timeoutSeconds'] ?? '0');
    if (timeout > 0)
      w.timers.push(
        setTimeout(() => {
          if (bookmarks && !this.paused && w.pending.length === 0)
            this.emitLine(w, 'BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
          this.closeWatcher(w, true);
        }, timeout * 1000),
      );
  }

  private matches(w: Watcher, o: KObject): boolean {
    if (w.namespace !== null && str(meta(o)['namespace']) !== w.namespace) return false;
    return fieldsMatch(w.fields, o) && labelsMatch(w.labels, o);
  }

  private deliver(w: Watcher, ev: HistoryEvent): void {
    const now = this.matches(w, ev.object);
    const before = ev.prev !== null && this.matches(w, ev.prev);
    if (ev.type === 'ADDED' && now) this.emitLine(w, 'ADDED', ev.object);
    else if (ev.type === 'DELETED' && (now || before)) this.emitLine(w, 'DELETED', ev.object);
    else if (ev.type === 'MODIFIED') {
      if (now && before) this.emitLine(w, 'MODIFIED', ev.object);
      else if (now) this.emitLine(w, 'ADDED', ev.object);
      else if (before && ev.prev !== null) {
        // Left the selection: DELETED with the last state it matched in, at the new resourceVersion.
        const gone = structuredClone(ev.prev);
        meta(gone)['resourceVersion'] = meta(ev.object)['resourceVersion'];
        this.emitLine(w, 'DELETED', gone);
      }
    }
  }

  private emitLine(w: Watcher, type: WatchEventType, o: KObject): void {
    const object =
      type === 'BOOKMARK'
        ? { kind: w.type.kind, apiVersion: gvOf(w.type.group, w.version), ...o }
        : this.present(w.type, w.version, o, true);
    this.writeRaw(w, JSON.stringify({ type, object }) + '\n', false);
  }

  private writeRaw(w: Watcher, line: string, force: boolean): void {
    if (w.closed) return;
    if (this.paused && !force) {
      w.pending.push(line);
      return;
    }
    w.res.write(line);
  }

  /** graceful: end the chunked response; otherwise destroy the socket mid-stream. */
  private closeWatcher(w: Watcher, graceful: boolean): void {
    if (w.closed) return;
    w.closed = true;
    for (const timer of w.timers) clearTimeout(timer);
    this.watchers.delete(w);
    if (graceful) w.res.end();
    else w.res.socket?.destroy();
  }
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const fake = new FakeApiServer(options);
  await fake.start();
  return fake;
}
