import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Diagnostic, IR, StatusEntry } from '../ir/types.ts';

/** What the admin endpoints read; the runtime provides it. */
export interface AdminState {
  /** True once the first configuration is serving (and until draining starts). */
  ready(): boolean;
  config(): IR | null;
  status(): readonly StatusEntry[];
  diagnostics(): readonly Diagnostic[];
  /** The processes serving traffic (`/api/workers`); absent: not offered. */
  workers?(): readonly unknown[];
}

/** Where `/metrics` comes from: one registry, or several processes' merged (`--workers`). */
export interface MetricsSource {
  metricsText(): Promise<string>;
  readonly contentType: string;
}

/** The IR as printed: private keys never leave the process. */
export function redactedConfig(ir: IR | null): unknown {
  if (ir === null) return null;
  return {
    ...ir,
    // Client keys for mutual TLS to backends (BackendTLSPolicy with a Gateway client certificate, Ingress proxy-ssl).
    backends: ir.backends.map((b) =>
      b.tls?.clientKeyPem === undefined ? b : { ...b, tls: { ...b.tls, clientKeyPem: '<redacted>' } },
    ),
    certificates: ir.certificates.map((c) => ({ ...c, keyPem: '<redacted>' })),
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export class AdminServer {
  readonly #state: AdminState;
  readonly #metrics: MetricsSource;
  readonly #server: Server;

  constructor(state: AdminState, metrics: MetricsSource) {
    this.#state = state;
    this.#metrics = metrics;
    this.#server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      this.#handle(req, res).catch((err: Error) => sendText(res, 500, `${err.message}\n`));
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed\n');
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/healthz':
        return sendText(res, 200, 'ok\n');
      case '/readyz':
        return this.#state.ready() ? sendText(res, 200, 'ready\n') : sendText(res, 503, 'not ready\n');
      case '/metrics':
        return sendText(res, 200, await this.#metrics.metricsText(), this.#metrics.contentType);
      case '/api/config':
        return sendJson(res, 200, redactedConfig(this.#state.config()));
      case '/api/status':
        return sendJson(res, 200, this.#state.status());
      case '/api/diagnostics':
        return sendJson(res, 200, this.#state.diagnostics());
      case '/api/workers':
        if (this.#state.workers === undefined) return sendText(res, 404, 'not found\n');
        return sendJson(res, 200, this.#state.workers());
      default:
        return sendText(res, 404, 'not found\n');
    }
  }

  listen(port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, address, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  address(): { port: number } {
    return this.#server.address() as { port: number };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
