// An in-memory Kubernetes API for status/ unit tests: objects by path, resourceVersion preconditions (409), the
// /status subresource, served group-versions, and hooks to inject answers. Not a server: see
// test/helpers/fake-apiserver.ts for the HTTP one.
import type { KubeApi, KubeMethod, KubeRequestOptions, KubeResponse } from './kube-api.ts';

export interface Call {
  readonly method: KubeMethod;
  readonly path: string;
  readonly body?: unknown;
}

/** Returns an answer to short-circuit the request, or undefined to let the fake handle it. */
export type Hook = (call: Call) => KubeResponse | undefined;

type Obj = Record<string, unknown>;

function clone<T>(v: T): T {
  return structuredClone(v);
}

function meta(o: Obj): Obj {
  const m = o['metadata'];
  if (typeof m === 'object' && m !== null) return m as Obj;
  const fresh: Obj = {};
  o['metadata'] = fresh;
  return fresh;
}

export class FakeKubeApi implements KubeApi {
  readonly objects = new Map<string, Obj>();
  readonly calls: Call[] = [];
  readonly hooks: Hook[] = [];
  /** Group-version prefixes served (e.g. `/apis/gateway.networking.k8s.io/v1`); empty: all. */
  readonly served = new Set<string>();
  #rv = 100;

  /** Stores an object as if created through the API (resourceVersion and uid assigned when missing). */
  put(path: string, object: Obj): Obj {
    const o = clone(object);
    const m = meta(o);
    m['resourceVersion'] = String(++this.#rv);
    if (m['uid'] === undefined) m['uid'] = `uid-${path}`;
    this.objects.set(path, o);
    return o;
  }

  get(path: string): Obj | undefined {
    return this.objects.get(path);
  }

  /** Calls other than GET (writes). */
  writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  #served(path: string): boolean {
    if (this.served.size === 0) return true;
    for (const prefix of this.served) if (path.startsWith(`${prefix}/`)) return true;
    return false;
  }

  async request(method: KubeMethod, path: string, options?: KubeRequestOptions): Promise<KubeResponse> {
    const call: Call = options?.body === undefined ? { method, path } : { method, path, body: clone(options.body) };
    this.calls.push(call);
    await Promise.resolve();
    if (options?.signal?.aborted === true) throw new Error('aborted');
    for (const hook of this.hooks) {
      const answer = hook(call);
      if (answer !== undefined) return answer;
    }
    const notFound = { status: 404, body: { kind: 'Status', reason: 'NotFound', message: `${path} not found` } };
    if (!this.#served(path)) return notFound;
    const body = (call.body ?? {}) as Obj;
    switch (method) {
      case 'GET': {
        const o = this.objects.get(path);
        return o === undefined ? notFound : { status: 200, body: clone(o) };
      }
      case 'POST': {
        const name = String(meta(body)['name'] ?? '');
        const target = `${path}/${name}`;
        if (this.objects.has(target)) return { status: 409, body: { reason: 'AlreadyExists', message: 'exists' } };
        return { status: 201, body: clone(this.put(target, body)) };
      }
      case 'PUT': {
        const status = path.endsWith('/status');
        const target = status ? path.slice(0, -'/status'.length) : path;
        const existing = this.objects.get(target);
        if (existing === undefined) return notFound;
        if (meta(body)['resourceVersion'] !== meta(existing)['resourceVersion']) {
          return { status: 409, body: { reason: 'Conflict', message: 'the object has been modified' } };
        }
        const next = status ? { ...clone(existing), status: clone(body['status']) } : clone(body);
        const m = meta(next);
        m['uid'] = meta(existing)['uid'];
        m['resourceVersion'] = String(++this.#rv);
        this.objects.set(target, next);
        return { status: 200, body: clone(next) };
      }
      default:
        return { status: 405, body: { message: `${method} not supported by the fake` } };
    }
  }
}
