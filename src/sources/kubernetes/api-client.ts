// A small Kubernetes API client over undici: JSON requests and watch streams, with the cluster CA, a client
// certificate or a bearer token (re-read from its file once a minute, and at once after a 401, because bound
// service-account tokens rotate). It knows nothing about resources; the source and the status writer build paths.
import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { Pool } from 'undici';
import type { KubeConfig } from './kube-config.ts';

export type KubeMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeRequestOptions {
  /** Sent as JSON unless it is already a string or Buffer. */
  readonly body?: unknown;
  /** Default `application/json`; e.g. `application/merge-patch+json` for a PATCH. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface KubeResponse {
  readonly status: number;
  /** Parsed JSON (an object, or a `Status` for errors), or the text when the answer is not JSON. */
  readonly body: unknown;
}

export interface WatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  readonly type: string;
  readonly object: unknown;
}

export interface KubeClientOptions {
  /** Waiting for response headers (and, for plain requests, between body chunks). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** How long a token read from a file is used before the file is read again. Default 60 s. */
  readonly tokenRefreshMs?: number;
  readonly userAgent?: string;
}

/** A watch answered with something other than 200, or a stream that is not newline-delimited watch events. */
export const KUBE_API_STATUS = 'GH_ERR_KUBE_API_STATUS';
export const KUBE_WATCH_PROTOCOL = 'GH_ERR_KUBE_WATCH_PROTOCOL';
export const KUBE_CLIENT_CLOSED = 'GH_ERR_KUBE_CLIENT_CLOSED';

export class KubeApiError extends Error {
  readonly code: string;
  /** The HTTP status, or 0 when the error is not an HTTP answer. */
  readonly status: number;
  /** `Status.reason` from the API server (e.g. NotFound, Expired, Forbidden) when it sent one. */
  readonly reason: string;
  /** How long the server asked to wait before retrying (429, 503: Retry-After), 0 when it did not say. */
  readonly retryAfterMs: number;
  constructor(code: string, status: number, reason: string, message: string, retryAfterMs = 0) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.status = status;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** `Status.message`, `reason`, `code` and `details.retryAfterSeconds` of an API error answer, when it is one. */
export function statusDetails(body: unknown): { message: string; reason: string; code: number; retryAfterMs: number } {
  if (typeof body !== 'object' || body === null) {
    return { message: typeof body === 'string' ? body.trim().slice(0, 300) : '', reason: '', code: 0, retryAfterMs: 0 };
  }
  const b = body as Record<string, unknown>;
  const details = b['details'];
  const retry =
    typeof details === 'object' && details !== null
      ? (details as Record<string, unknown>)['retryAfterSeconds']
      : undefined;
  return {
    message: typeof b['message'] === 'string' ? b['message'] : '',
    reason: typeof b['reason'] === 'string' ? b['reason'] : '',
    code: typeof b['code'] === 'number' ? b['code'] : 0,
    retryAfterMs: typeof retry === 'number' && retry > 0 ? retry * 1000 : 0,
  };
}

/** A Retry-After header in seconds (the HTTP-date form is not used by the API server), in ms; 0 when absent. */
export function retryAfterHeader(value: string | string[] | undefined): number {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) * 1000 : 0;
}

/** The longest single watch event accepted: objects are limited to ~1.5 MB by etcd; leave room. */
const maxEventBytes = 16 * 1024 * 1024;

function isJSON(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType[0] : contentType;
  return v !== undefined && /[/+]json\b/i.test(v);
}

function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  if (text === '') return null;
  if (isJSON(contentType) || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

export class KubeClient {
  readonly server: string;
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #requestTimeoutMs: number;
  readonly #tokenRefreshMs: number;
  readonly #userAgent: string;
  readonly #fixedToken: string | undefined;
  readonly #tokenFile: string | undefined;
  #fileToken: { value: string; readAt: number } | undefined;
  readonly #closing = new AbortController();
  #closed = false;

  constructor(config: KubeConfig, options: KubeClientOptions = {}) {
    const url = new URL(config.server);
    this.server = config.server;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#tokenRefreshMs = options.tokenRefreshMs ?? 60_000;
    this.#userAgent = options.userAgent ?? 'gatehouse';
    this.#fixedToken = config.token;
    this.#tokenFile = config.token === undefined ? config.tokenFile : undefined;
    const tls =
      url.protocol === 'https:'
        ? {
            ...(config.caPem !== undefined ? { ca: config.caPem } : {}),
            ...(config.certPem !== undefined ? { cert: config.certPem } : {}),
            ...(config.keyPem !== undefined ? { key: config.keyPem } : {}),
            rejectUnauthorized: config.insecureSkipTLSVerify !== true,
            minVersion: 'TLSv1.2' as const,
          }
        : {};
    // No connection cap: every watch holds a connection for its whole life, and requests must not queue behind them.
    this.#pool = new Pool(url.origin, {
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: 10_000, ...tls },
    });
  }

  /** One request; any HTTP status resolves (callers look at it), network errors and timeouts reject. */
  async request(method: KubeMethod, path: string, options: KubeRequestOptions = {}): Promise<KubeResponse> {
    let res = await this.#send(method, path, options);
    if (res.status === 401 && this.#tokenFile !== undefined) {
      // The token may have rotated since it was read: read it again and retry once.
      const before = this.#fileToken?.value;
      this.#fileToken = undefined;
      const after = await this.#token();
      if (after !== before) res = await this.#send(method, path, options);
    }
    return res;
  }

  /**
   * GETs a watch URL (`?watch=true` or `?watch=1` is the caller's) and calls `onEvent` for each event as it arrives.
   * Resolves when the server ends the stream; rejects with a KubeApiError for a non-200 answer or a malformed
   * stream, with the network error otherwise, and with an AbortError when `signal` aborts. An exception thrown by
   * `onEvent` ends the watch and rejects with it.
   */
  async watch(path: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new KubeApiError(KUBE_CLIENT_CLOSED, 0, '', 'the Kubernetes client is closed');
    const combined = AbortSignal.any([signal, this.#closing.signal]);
    // The server ends a watch after its timeoutSeconds; allow a margin before calling the stream dead.
    const m = /[?&]timeoutSeconds=(\d+)/.exec(path);
    const bodyTimeout = m !== null ? (Number(m[1]) + 60) * 1000 : 15 * 60_000;
    let res = await this.#dispatch('GET', path, {}, combined, bodyTimeout);
    if (res.statusCode === 401 && this.#tokenFile !== undefined) {
      await res.body.text().catch(() => '');
      this.#fileToken = undefined;
      res = await this.#dispatch('GET', path, {}, combined, bodyTimeout);
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      const details = statusDetails(parseBody(text, res.headers['content-type']));
      throw new KubeApiError(
        KUBE_API_STATUS,
        res.statusCode,
        details.reason,
        `watch ${path}: HTTP ${res.statusCode}${details.message !== '' ? `: ${details.message}` : ''}`,
        retryAfterHeader(res.headers['retry-after']) || details.retryAfterMs,
      );
    }
    const decoder = new StringDecoder('utf8');
    let pending: string[] = [];
    let pendingBytes = 0;
    const emit = (line: string): void => {
      if (line.trim() === '') return;
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        throw new KubeApiError(KUBE_WATCH_PROTOCOL, 200, '', `watch ${path}: an event is not valid JSON`);
      }
      if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') {
        throw new KubeApiError(KUBE_WATCH_PROTOCOL, 200, '', `watch ${path}: an event has no type`);
      }
      const e = event as { type: string; object?: unknown };
      onEvent({ type: e.type, object: e.object });
    };
    try {
      for await (const chunk of res.body) {
        const text = decoder.write(chunk as Buffer);
        let start = 0;
        let nl = text.indexOf('\n');
        while (nl >= 0) {
          const part = text.slice(start, nl);
          const line = pending.length === 0 ? part : pending.join('') + part;
          pending = [];
          pendingBytes = 0;
          emit(line);
          start = nl + 1;
          nl = text.indexOf('\n', start);
        }
        if (start < text.length) {
          pending.push(text.slice(start));
          pendingBytes += text.length - start;
          if (pendingBytes > maxEventBytes) {
            throw new KubeApiError(KUBE_WATCH_PROTOCOL, 200, '', `watch ${path}: an event is larger than 16 MiB`);
          }
        }
      }
      emit(pending.join('') + decoder.end());
    } catch (err) {
      if (!res.body.destroyed) res.body.destroy();
      throw err;
    }
  }

  /** Ends every watch and closes the connections once the requests in flight have finished. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new KubeApiError(KUBE_CLIENT_CLOSED, 0, '', 'the Kubernetes client is closed'));
    await this.#pool.close();
  }

  async #send(method: KubeMethod, path: string, options: KubeRequestOptions): Promise<KubeResponse> {
    if (this.#closed) throw new KubeApiError(KUBE_CLIENT_CLOSED, 0, '', 'the Kubernetes client is closed');
    const signal =
      options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal]);
    const res = await this.#dispatch(method, path, options, signal, this.#requestTimeoutMs * 2);
    const text = await res.body.text();
    return { status: res.statusCode, body: parseBody(text, res.headers['content-type']) };
  }

  async #dispatch(
    method: KubeMethod,
    path: string,
    options: KubeRequestOptions,
    signal: AbortSignal,
    bodyTimeout: number,
  ) {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    const token = await this.#token();
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (options.body !== undefined) {
      body =
        typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    return this.#pool.request({
      method,
      path: this.#basePath + (path.startsWith('/') ? path : `/${path}`),
      headers,
      ...(body !== undefined ? { body } : {}),
      signal,
      headersTimeout: this.#requestTimeoutMs,
      bodyTimeout,
    });
  }

  async #token(): Promise<string | undefined> {
    if (this.#fixedToken !== undefined) return this.#fixedToken;
    if (this.#tokenFile === undefined) return undefined;
    const cached = this.#fileToken;
    const now = Date.now();
    if (cached !== undefined && now - cached.readAt < this.#tokenRefreshMs) return cached.value;
    try {
      const value = (await readFile(this.#tokenFile, 'utf8')).trim();
      this.#fileToken = { value, readAt: now };
      return value;
    } catch {
      // Mid-rotation or briefly unreadable: keep using the last token; the next request tries again.
      return cached?.value;
    }
  }
}
