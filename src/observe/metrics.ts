import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric gatehouse exports, on a registry of its own (never prom-client's global one). */
export class Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'backend' | 'code_class'>;
  readonly requestDuration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'backend' | 'code'>;
  readonly activeConnections: Gauge<'listener'>;
  readonly streamConnections: Counter<'route' | 'result'>;
  readonly streamBytes: Counter<'route' | 'direction'>;
  readonly configReloads: Counter<'result'>;
  readonly configLastReloadSuccess: Gauge;
  readonly configDiagnostics: Gauge<'severity'>;
  readonly statusWrites: Counter<'kind' | 'result'>;
  readonly leader: Gauge;

  constructor() {
    this.registry = new Registry();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_process_' });
    this.requests = new Counter({
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests answered, by route, backend and status class.',
      labelNames: ['route', 'backend', 'code_class'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'Time from request start to the end of the response, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Requests that failed at the upstream, by backend and error code.',
      labelNames: ['backend', 'code'],
      registers,
    });
    this.activeConnections = new Gauge({
      name: 'gatehouse_active_connections',
      help: 'Open client connections, by listener.',
      labelNames: ['listener'],
      registers,
    });
    this.streamConnections = new Counter({
      name: 'gatehouse_tcp_connections_total',
      help: 'Layer-4 (TCP and TLS passthrough) connections that ended, by route and result.',
      labelNames: ['route', 'result'],
      registers,
    });
    this.streamBytes = new Counter({
      name: 'gatehouse_tcp_bytes_total',
      help: 'Bytes through layer-4 routes, by route and direction (received from or sent to clients).',
      labelNames: ['route', 'direction'],
      registers,
    });
    this.configReloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Configuration changes applied (result="success") or rejected (result="failure").',
      labelNames: ['result'],
      registers,
    });
    this.configLastReloadSuccess = new Gauge({
      name: 'gatehouse_config_last_reload_successful',
      help: '1 when the last configuration change was applied, 0 when it was rejected.',
      registers,
    });
    this.configDiagnostics = new Gauge({
      name: 'gatehouse_config_diagnostics',
      help: 'Problems found in the current manifests, by severity.',
      labelNames: ['severity'],
      registers,
    });
    this.statusWrites = new Counter({
      name: 'gatehouse_status_writes_total',
      help: 'Objects whose status was read to be written (--kubernetes), by kind and result: success, unchanged, conflict, gone, error.',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.leader = new Gauge({
      name: 'gatehouse_leader',
      help: '1 while this replica holds the leader lease and writes status (--kubernetes), else 0.',
      registers,
    });
  }

  /** The Prometheus text of this process's registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function codeClass(status: number): string {
  if (status < 200) return '1xx';
  if (status < 300) return '2xx';
  if (status < 400) return '3xx';
  if (status < 500) return '4xx';
  return '5xx';
}
