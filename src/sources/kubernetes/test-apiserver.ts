// A small scripted Kubernetes API for the unit tests of this folder: paginated lists with a resourceVersion, watch
// streams that replay history after a resourceVersion and then follow changes, bookmarks, 410 for a compacted
// resourceVersion (as the HTTP status or as an ERROR event), field selectors on metadata.name, and hooks to fail or
// cut requests. Only for tests (test/helpers/fake-apiserver.ts is the full one used end to end).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Obj = Record<string, unknown>;

interface Change {
  readonly rv: number;
  readonly collection: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface Watcher {
  readonly collection: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly res: ServerResponse;
}

export interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly watch: boolean;
  readonly headers: IncomingMessage['headers'];
}

/** A hook's answer: a status with a Status body, or 'hang' (never answer), or undefined to serve normally. */
export type Answer =
  | { readonly status: number; readonly reason?: string; readonly retryAfterSeconds?: number }
  | 'hang'
  | undefined;

const meta = (o: Obj): Obj => o['metadata'] as Obj;

/**
 * `/api/v1[/namespaces/NS]/PLURAL` or `/apis/G/V[/namespaces/NS]/PLURAL` → the cluster-wide collection path and the
 * namespace.
 */
function parsePath(path: string): { collection: string; namespace: string | undefined } | undefined {
  const m = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(path);
  if (m === null) return undefined;
  return { collection: `${m[1]}/${m[3]}`, namespace: m[2] };
}

export class TestApiServer {
  readonly requests: Request[] = [];
  /** Collections (cluster-wide paths) that answer 404. */
  readonly missing = new Set<string>();
  /** Where a watch from a compacted resourceVersion gets its 410: the HTTP status, or an ERROR event (default). */
  goneAs: 'status' | 'event' = 'event';
  /** Called for every request before it is served. */
  hook: ((r: Request) => Answer) | undefined;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #rv = 100;
  /** Changes at or below this resourceVersion are forgotten. */
  #compacted = 100;
  readonly #objects = new Map<string, Map<string, Obj>>();
  #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** Creates or replaces an object in a collection (a cluster-wide path such as `/api/v1/services`). */
  put(collection: string, object: Obj): Obj {
    const items = this.#items(collection);
    const m = { ...(object['metadata'] as Obj) };
    const key = `${m['namespace'] ?? ''}/${m['name']}`;
    const type = items.has(key) ? 'MODIFIED' : 'ADDED';
    m['resourceVersion'] = String(++this.#rv);
    const stored = { ...object, metadata: m };
    items.set(key, stored);
    this.#record({ rv: this.#rv, collection, type, object: stored });
    return stored;
  }

  remove(collection: string, namespace: string, name: string): void {
    const items = this.#items(collection);
    const key = `${namespace}/${name}`;
    const old = items.get(key);
    if (old === undefined) return;
    items.delete(key);
    const object = { ...old, metadata: { ...meta(old), resourceVersion: String(++this.#rv) } };
    this.#record({ rv: this.#rv, collection, type: 'DELETED', object });
  }

  /** Forgets history: a watch from an older resourceVersion gets 410. */
  compact(): void {
    this.#compacted = this.#rv;
    this.#history = [];
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch (of `collection`, if given). */
  bookmark(collection?: string): void {
    for (const w of this.#watchers) {
      if (collection !== undefined && w.collection !== collection) continue;
      w.res.write(
        `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(this.#rv) } } })}\n`,
      );
    }
  }

  /** Bumps the resourceVersion without an event for `collection` (a change elsewhere in the cluster). */
  tick(): void {
    this.#rv++;
  }

  /** Ends watches cleanly (as the server's timeoutSeconds does). */
  endWatches(collection?: string): number {
    let n = 0;
    for (const w of [...this.#watchers]) {
      if (collection !== undefined && w.collection !== collection) continue;
      this.#watchers.delete(w);
      w.res.end();
      n++;
    }
    return n;
  }

  /** Cuts watch connections mid-stream (no final chunk). */
  breakWatches(collection?: string): number {
    let n = 0;
    for (const w of [...this.#watchers]) {
      if (collection !== undefined && w.collection !== collection) continue;
      this.#watchers.delete(w);
      w.res.socket?.destroy();
      n++;
    }
    return n;
  }

  watchCount(collection?: string): number {
    let n = 0;
    for (const w of this.#watchers) if (collection === undefined || w.collection === collection) n++;
    return n;
  }

  /** Resolves when `pred` holds, checking every 5 ms, or rejects after `timeoutMs`. */
  async until(pred: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  #items(collection: string): Map<string, Obj> {
    let items = this.#objects.get(collection);
    if (items === undefined) {
      items = new Map();
      this.#objects.set(collection, items);
    }
    return items;
  }

  #record(change: Change): void {
    this.#history.push(change);
    for (const w of this.#watchers) if (this.#matches(w, change)) this.#send(w.res, change);
  }

  #matches(w: Watcher, c: Change): boolean {
    if (w.collection !== c.collection) return false;
    const m = meta(c.object);
    if (w.namespace !== undefined && m['namespace'] !== w.namespace) return false;
    return w.name === undefined || m['name'] === w.name;
  }

  #send(res: ServerResponse, c: Change): void {
    res.write(`${JSON.stringify({ type: c.type, object: c.object })}\n`);
  }

  #status(res: ServerResponse, code: number, reason: string, retryAfterSeconds?: number): void {
    const retry = retryAfterSeconds === undefined ? {} : { details: { retryAfterSeconds } };
    res.writeHead(code, {
      'content-type': 'application/json',
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    });
    res.end(
      JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: reason, ...retry }),
    );
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = url.searchParams;
    const watch = query.get('watch') === '1' || query.get('watch') === 'true';
    const request: Request = { method: req.method ?? 'GET', path: url.pathname, query, watch, headers: req.headers };
    this.requests.push(request);
    const answer = this.hook?.(request);
    if (answer === 'hang') return;
    if (answer !== undefined) {
      this.#status(res, answer.status, answer.reason ?? 'Injected', answer.retryAfterSeconds);
      return;
    }
    const parsed = parsePath(url.pathname);
    if (parsed === undefined || this.missing.has(parsed.collection)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    const selector = query.get('fieldSelector') ?? '';
    const name = /^metadata\.name=(.+)$/.exec(selector)?.[1];
    const all = [...this.#items(parsed.collection).values()]
      .filter((o) => parsed.namespace === undefined || meta(o)['namespace'] === parsed.namespace)
      .filter((o) => name === undefined || meta(o)['name'] === name)
      .sort((a, b) =>
        `${meta(a)['namespace']}/${meta(a)['name']}` < `${meta(b)['namespace']}/${meta(b)['name']}` ? -1 : 1,
      );
    if (!watch) {
      // Pagination: the continue token is the offset, and the list's resourceVersion is fixed at the first page.
      const limit = Number(query.get('limit') ?? '0');
      const token = query.get('continue');
      const [offset, rv] = token === null ? [0, this.#rv] : token.split(':').map(Number);
      if (token !== null && (rv ?? 0) <= this.#compacted && rv !== this.#rv) {
        this.#status(res, 410, 'Expired');
        return;
      }
      const start = offset ?? 0;
      const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
      const next = limit > 0 && start + limit < all.length ? `${start + limit}:${rv}` : undefined;
      // Items of a list come without kind and apiVersion, as built-in typed lists do.
      const items = page.map((o) => {
        const { kind: _k, apiVersion: _a, ...rest } = o;
        return rest;
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'List',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(rv), ...(next !== undefined ? { continue: next } : {}) },
          items,
        }),
      );
      return;
    }
    const from = Number(query.get('resourceVersion') ?? '0');
    if (from < this.#compacted) {
      if (this.goneAs === 'status') {
        this.#status(res, 410, 'Expired');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { collection: parsed.collection, namespace: parsed.namespace, name, res };
    for (const c of this.#history) if (c.rv > from && this.#matches(w, c)) this.#send(res, c);
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
  }
}
