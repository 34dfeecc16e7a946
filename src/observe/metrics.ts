import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';

/**
 * Which metrics a process exports: `all` in a single process; with `--workers N` the primary exports the
 * configuration and status metrics (`control`) and each worker the traffic metrics (`data`). Every process exports
 * its own process metrics. The metric objects exist in every role, so code can update them unconditionally; only
 * the registered ones are exported.
 */
export type MetricsRole = 'all' | 'control' | 'data';

/** One registry's metrics as plain data, as a worker sends them to the primary. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

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
  /** Worker processes by state (`--workers` > 1): starting, serving, exited. */
  readonly workers: Gauge<'state'>;
  readonly workerRestarts: Counter;

  constructor(role: MetricsRole = 'all') {
    this.registry = new Registry();
    const data = role === 'control' ? [] : [this.registry];
    const control = role === 'data' ? [] : [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_process_' });
    this.requests = new Counter({
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests answered, by route, backend and status class.',
      labelNames: ['route', 'backend', 'code_class'],
      registers: data,
    });
    this.requestDuration = new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'Time from request start to the end of the response, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: data,
    });
    this.upstreamErrors = new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Requests that failed at the upstream, by backend and error code.',
      labelNames: ['backend', 'code'],
      registers: data,
    });
    this.activeConnections = new Gauge({
      name: 'gatehouse_active_connections',
      help: 'Open client connections, by listener.',
      labelNames: ['listener'],
      registers: data,
    });
    this.streamConnections = new Counter({
      name: 'gatehouse_tcp_connections_total',
      help: 'Layer-4 (TCP and TLS passthrough) connections that ended, by route and result.',
      labelNames: ['route', 'result'],
      registers: data,
    });
    this.streamBytes = new Counter({
      name: 'gatehouse_tcp_bytes_total',
      help: 'Bytes through layer-4 routes, by route and direction (received from or sent to clients).',
      labelNames: ['route', 'direction'],
      registers: data,
    });
    this.configReloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Configuration changes applied (result="success") or rejected (result="failure").',
      labelNames: ['result'],
      registers: control,
    });
    this.configLastReloadSuccess = new Gauge({
      name: 'gatehouse_config_last_reload_successful',
      help: '1 when the last configuration change was applied, 0 when it was rejected.',
      registers: control,
    });
    this.configDiagnostics = new Gauge({
      name: 'gatehouse_config_diagnostics',
      help: 'Problems found in the current manifests, by severity.',
      labelNames: ['severity'],
      registers: control,
    });
    this.statusWrites = new Counter({
      name: 'gatehouse_status_writes_total',
      help: 'Objects whose status was read to be written (--kubernetes), by kind and result: success, unchanged, conflict, gone, error.',
      labelNames: ['kind', 'result'],
      registers: control,
    });
    this.leader = new Gauge({
      name: 'gatehouse_leader',
      help: '1 while this replica holds the leader lease and writes status (--kubernetes), else 0.',
      registers: control,
    });
    this.workers = new Gauge({
      name: 'gatehouse_workers',
      help: 'Worker processes serving traffic (--workers above 1), by state: starting, serving.',
      labelNames: ['state'],
      registers: role === 'control' ? control : [],
    });
    this.workerRestarts = new Counter({
      name: 'gatehouse_worker_restarts_total',
      help: 'Worker processes started again after one exited unexpectedly (--workers above 1).',
      registers: role === 'control' ? control : [],
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

/**
 * Merges the metrics of several processes the way prom-client's cluster support does: counters, histograms and
 * gauges summed per label set, except where a metric names another aggregator (process start time omitted,
 * version info first, event-loop lag averaged).
 */
export function aggregateMetrics(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots as MetricsSnapshot[]).metrics();
}

export function codeClass(status: number): string {
  if (status < 200) return '1xx';
  if (status < 300) return '2xx';
  if (status < 400) return '3xx';
  if (status < 500) return '4xx';
  return '5xx';
}
