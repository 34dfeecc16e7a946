import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { aggregateMetrics, Metrics, type MetricsSnapshot } from './metrics.ts';

/** The two request metrics' lines of a scrape, without the process metrics, sorted (series order carries nothing). */
async function requestLines(registry: Registry): Promise<string> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.includes('gatehouse_http_request'))
    .sort()
    .join('\n');
}

test('request counts and durations scrape exactly as prom-client counters and histograms fed the same requests', async () => {
  const m = new Metrics();
  const reference = new Registry();
  const counter = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by route, backend and status class.',
    labelNames: ['route', 'backend', 'code_class'],
    registers: [reference],
  });
  const histogram = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time from request start to the end of the response, by route.',
    labelNames: ['route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [reference],
  });
  const requests: [string, string, number, number][] = [
    ['ingress/default/a/rule/0/path/0', 'default/a:80', 200, 0.0004],
    ['ingress/default/a/rule/0/path/0', 'default/a:80', 200, 0.001],
    ['ingress/default/a/rule/0/path/0', 'default/b:80', 503, 0.0031],
    ['ingress/default/a/rule/0/path/0', 'default/a:80', 101, 12],
    ['none', 'none', 404, 0.00002],
    ['httproute/ns/r/rule/1/match/0', 'ns/svc:8080', 302, 45],
    ['httproute/ns/r/rule/1/match/0', 'ns/svc:8080', 499, 2.5],
    ['ws/only', 'ns/ws:80', 101, 3],
    ['odd "name"\\', 'x\ny', 100, 0.2],
  ];
  for (const [route, backend, status, seconds] of requests) {
    m.requestStats.record(route, backend, status, seconds, status !== 101);
    const cls = status < 200 ? '1xx' : status < 300 ? '2xx' : status < 400 ? '3xx' : status < 500 ? '4xx' : '5xx';
    counter.labels(route, backend, cls).inc();
    if (status !== 101) histogram.labels(route).observe(seconds);
  }
  const ours = await requestLines(m.registry);
  assert.equal(ours, await requestLines(reference));
  assert.match(ours, /gatehouse_http_requests_total\{route="ws\/only",backend="ns\/ws:80",code_class="1xx"\} 1/);
  assert.doesNotMatch(ours, /duration_seconds_count\{route="ws\/only"\}/);
  // The JSON form (what an aggregating registry reads) agrees too.
  const sorted = (metrics: { name: string; values: unknown[] }[]): unknown =>
    metrics.map((x) => ({ ...x, values: x.values.map((v) => JSON.stringify(v)).sort() }));
  const json = (await m.registry.getMetricsAsJSON()).filter((x) => x.name.startsWith('gatehouse_http_request'));
  const expected = await reference.getMetricsAsJSON();
  assert.deepEqual(
    JSON.parse(JSON.stringify(sorted(json as never))),
    JSON.parse(JSON.stringify(sorted(expected as never))),
  );
});

test('request counts and durations of several workers add up in the merged scrape', async () => {
  const workers = [new Metrics('data'), new Metrics('data')];
  (workers[0] as Metrics).requestStats.record('r', 'b', 200, 0.003, true);
  (workers[0] as Metrics).requestStats.record('r', 'b', 503, 0.2, true);
  (workers[1] as Metrics).requestStats.record('r', 'b', 200, 0.004, true);
  const snapshots: MetricsSnapshot[] = [];
  for (const w of workers) snapshots.push((await w.registry.getMetricsAsJSON()) as MetricsSnapshot);
  const text = await aggregateMetrics(snapshots);
  assert.match(text, /^gatehouse_http_requests_total\{route="r",backend="b",code_class="2xx"\} 2$/m);
  assert.match(text, /^gatehouse_http_requests_total\{route="r",backend="b",code_class="5xx"\} 1$/m);
  assert.match(text, /^gatehouse_http_request_duration_seconds_bucket\{le="0.005",route="r"\} 2$/m);
  assert.match(text, /^gatehouse_http_request_duration_seconds_bucket\{le="\+Inf",route="r"\} 3$/m);
  assert.match(text, /^gatehouse_http_request_duration_seconds_count\{route="r"\} 3$/m);
});
