// What status/ needs from the Kubernetes API: one request function. The Kubernetes client in sources/kubernetes
// satisfies it structurally; runtime/ hands it over (status/ never imports sources/).

export type KubeMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeRequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface KubeApi {
  request(method: KubeMethod, path: string, options?: KubeRequestOptions): Promise<KubeResponse>;
}

/** The logging status/ does; a pino logger fits. */
export interface StatusLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: StatusLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** A runtime error of the status machinery, with a stable code. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  readonly code: 'GH_ERR_KUBE_TIMEOUT' | 'GH_ERR_KUBE_ABORTED' | 'GH_ERR_KUBE_ANSWER';
  constructor(code: StatusError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * One request bounded by `timeoutMs` and cancelled with `parent`. The timer is a plain `setTimeout` (not
 * `AbortSignal.timeout`) so fake timers drive it in tests.
 */
export async function requestWithin(
  api: KubeApi,
  method: KubeMethod,
  path: string,
  options: { readonly body?: unknown; readonly timeoutMs: number; readonly signal?: AbortSignal },
): Promise<KubeResponse> {
  if (options.signal?.aborted === true) throw new StatusError('GH_ERR_KUBE_ABORTED', `${method} ${path}: cancelled`);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const request = api.request(method, path, {
      ...(options.body === undefined ? {} : { body: options.body }),
      signal: controller.signal,
    });
    // The client is expected to honour the signal; this race makes sure a client that does not cannot hang us.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener(
        'abort',
        () =>
          reject(
            timedOut
              ? new StatusError('GH_ERR_KUBE_TIMEOUT', `${method} ${path}: no answer within ${options.timeoutMs} ms`)
              : new StatusError('GH_ERR_KUBE_ABORTED', `${method} ${path}: cancelled`),
          ),
        { once: true },
      );
    });
    aborted.catch(() => {});
    return await Promise.race([request, aborted]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

export function asRecord(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

export function asArray(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The message of a Kubernetes `Status` answer, for logs. */
export function statusMessage(body: unknown): string {
  const b = asRecord(body);
  const message = asString(b?.['message']);
  if (message !== undefined) return message.length > 300 ? `${message.slice(0, 300)}…` : message;
  return typeof body === 'string' ? body.slice(0, 300) : '';
}
