import {
  AggregatorRegistry,
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type HistogramConfiguration,
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

const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function classIndex(status: number): number {
  if (status < 200) return 0;
  if (status < 300) return 1;
  if (status < 400) return 2;
  if (status < 500) return 3;
  return 4;
}

/** Upper bounds of the request duration histogram, in seconds. */
const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** One route's requests: counts by backend and status class, and its durations (bucket counts not cumulative). */
class RouteSeries {
  readonly byBackend = new Map<string, Float64Array>();
  /** One count per bound of DURATION_BUCKETS, then one for durations above the largest. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
}

/**
 * Request counts and durations as plain numbers, one series per route: what each request adds costs two map
 * lookups and a few additions (prom-client's `labels()` builds label objects and closures on every call). The
 * two metrics below read them when scraped, in prom-client's own output format.
 */
export class RequestStats {
  readonly #routes = new Map<string, RouteSeries>();

  /** One finished request; `timed`: whether its duration says anything (not for a WebSocket tunnel). */
  record(route: string, backend: string, status: number, seconds: number, timed: boolean): void {
    let series = this.#routes.get(route);
    if (series === undefined) {
      series = new RouteSeries();
      this.#routes.set(route, series);
    }
    let counts = series.byBackend.get(backend);
    if (counts === undefined) {
      counts = new Float64Array(CODE_CLASSES.length);
      series.byBackend.set(backend, counts);
    }
    const c = classIndex(status);
    counts[c] = (counts[c] as number) + 1;
    if (!timed) return;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[b] as number)) b++;
    series.buckets[b] = (series.buckets[b] as number) + 1;
    series.sum += seconds;
    series.count++;
  }

  routes(): ReadonlyMap<string, RouteSeries> {
    return this.#routes;
  }
}

type RequestLabels = 'route' | 'backend' | 'code_class';

/**
 * The object prom-client's get() returns, for a metric whose values gatehouse supplies itself (its typings also
 * list `collect`, which it never includes).
 */
function suppliedMetric(metric: object, type: 'counter' | 'gauge' | 'histogram', values: object[]): unknown {
  const self = metric as { name: string; help: string; aggregator: 'sum' };
  return { name: self.name, help: self.help, type, values, aggregator: self.aggregator };
}

/** `gatehouse_http_requests_total`, read from RequestStats. */
class RequestCounter extends Counter<RequestLabels> {
  readonly #stats: RequestStats;
  constructor(stats: RequestStats, configuration: CounterConfiguration<RequestLabels>) {
    super(configuration);
    this.#stats = stats;
  }

  override async get(): ReturnType<Counter<RequestLabels>['get']> {
    const values: { value: number; labels: Partial<Record<RequestLabels, string>> }[] = [];
    for (const [route, series] of this.#stats.routes()) {
      for (const [backend, counts] of series.byBackend) {
        for (let i = 0; i < counts.length; i++) {
          const value = counts[i] as number;
          if (value > 0) values.push({ value, labels: { route, backend, code_class: CODE_CLASSES[i] as string } });
        }
      }
    }
    return suppliedMetric(this, 'counter', values) as Awaited<ReturnType<Counter<RequestLabels>['get']>>;
  }
}

/** `gatehouse_http_request_duration_seconds`, read from RequestStats (cumulative buckets, as prom-client's own). */
class RequestDurationHistogram extends Histogram<'route'> {
  readonly #stats: RequestStats;
  constructor(stats: RequestStats, configuration: HistogramConfiguration<'route'>) {
    super(configuration);
    this.#stats = stats;
  }

  /** What the registry formats (prom-client's Histogram.get() is this with the route label moved into `labels`). */
  async getForPromString(): Promise<unknown> {
    const self = this as unknown as { name: string };
    const bucket = `${self.name}_bucket`;
    const values: object[] = [];
    for (const [route, series] of this.#stats.routes()) {
      if (series.count === 0) continue;
      const sharedLabels = { route };
      let cumulative = 0;
      for (let b = 0; b < DURATION_BUCKETS.length; b++) {
        cumulative += series.buckets[b] as number;
        values.push({
          labels: { le: DURATION_BUCKETS[b] },
          sharedLabels,
          value: cumulative,
          metricName: bucket,
          exemplar: null,
        });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${self.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: series.count, metricName: `${self.name}_count` },
      );
    }
    return suppliedMetric(this, 'histogram', values);
  }
}

/** One listener's open client connections (a plain number: prom-client's labelled inc/dec hashes labels each call). */
export class ConnectionCount {
  open = 0;
  /**
   * A server's 'connection' listener: counts the socket until it closes, with no closure made per connection
   * (`on`, not `once`: a socket closes once, and `once` wraps the listener anew each time).
   */
  readonly track = (socket: { on(event: 'close', listener: () => void): unknown }): void => {
    this.open++;
    socket.on('close', this.#closed);
  };
  readonly #closed = (): void => {
    this.open--;
  };
}

/** `gatehouse_active_connections`, read from one ConnectionCount per listener. */
class ConnectionGauge extends Gauge<'listener'> {
  readonly #counts = new Map<string, ConnectionCount>();

  /** The count of `listener`, shown from now on (0 until its first connection). */
  count(listener: string): ConnectionCount {
    let c = this.#counts.get(listener);
    if (c === undefined) {
      c = new ConnectionCount();
      this.#counts.set(listener, c);
    }
    return c;
  }

  override async get(): ReturnType<Gauge<'listener'>['get']> {
    const values: { value: number; labels: Partial<Record<'listener', string>> }[] = [];
    for (const [listener, c] of this.#counts) values.push({ value: c.open, labels: { listener } });
    return suppliedMetric(this, 'gauge', values) as Awaited<ReturnType<Gauge<'listener'>['get']>>;
  }
}

/** Every metric gatehouse exports, on a registry of its own (never prom-client's global one). */
export class Metrics {
  readonly registry: Registry;
  /** Where the data plane records each request; `requests` and `requestDuration` export it. */
  readonly requestStats = new RequestStats();
  readonly requests: Counter<'route' | 'backend' | 'code_class'>;
  readonly requestDuration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'backend' | 'code'>;
  readonly activeConnections: ConnectionGauge;
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
    this.requests = new RequestCounter(this.requestStats, {
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests answered, by route, backend and status class.',
      labelNames: ['route', 'backend', 'code_class'],
      registers: data,
    });
    this.requestDuration = new RequestDurationHistogram(this.requestStats, {
      name: 'gatehouse_http_request_duration_seconds',
      help: 'Time from request start to the end of the response, by route.',
      labelNames: ['route'],
      buckets: [...DURATION_BUCKETS],
      registers: data,
    });
    this.upstreamErrors = new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Requests that failed at the upstream, by backend and error code.',
      labelNames: ['backend', 'code'],
      registers: data,
    });
    this.activeConnections = new ConnectionGauge({
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
