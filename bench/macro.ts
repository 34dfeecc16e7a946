// Macro benchmark: gatehouse as a separate process between a load generator and a loopback backend, all on
// 127.0.0.0/8. Reports throughput, latency, failures, gatehouse CPU and memory per scenario.
//
//   npx node bench/macro.ts [--scenarios small,64k,...] [--duration 10] [--warmup 2] [--connections 64]
//                           [--reloads 100] [--changes 10] [--no-pin] [--cpu-prof DIR] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { median } from './lib/stats.ts';
import { holdConnections } from './macro/idle-connections.ts';
import { type LoadTarget, runLoad } from './macro/load.ts';
import { BACKEND_ADDRESSES, backendTargets, rewriteIngress, ScaleFolder, writeManifests } from './macro/manifests.ts';
import { cpuTime, loadAverage, machineBusySeconds, memory } from './macro/proc.ts';
import {
  type Backend,
  counterValue,
  type Gatehouse,
  pinningAvailable,
  pinSelf,
  startBackend,
  startGatehouse,
} from './macro/processes.ts';
import { type MacroReport, type MacroResult, macroNotes, macroTable } from './macro/result.ts';
import { hostName, ingressManifest } from './micro/fixtures.ts';

interface LoadScenario {
  readonly kind: 'load';
  readonly description: string;
  readonly path: string;
  readonly accessLog: boolean;
  readonly newConnectionPerRequest: boolean;
  readonly reload: boolean;
  /** Body size every response must have; a run that saw other sizes says so. */
  readonly bodyBytes: number;
  /**
   * Serve the scale folder (10 Ingress paths per host) with this many hosts instead of the small one, and spread
   * the requests over every host, each to a Prefix route three segments deep.
   */
  readonly scaleHosts?: number;
}

interface StartupScenario {
  readonly kind: 'startup';
  readonly description: string;
  readonly hosts: number;
}

/** One-path edits of a file of the scale folder, each timed until the new path answers through gatehouse. */
interface ChangeScenario {
  readonly kind: 'change';
  readonly description: string;
  readonly hosts: number;
  readonly files: number;
}

/** Memory of a gatehouse that has served a few requests and then sat idle. */
interface IdleScenario {
  readonly kind: 'idle';
  readonly description: string;
}

/** Memory with many idle keep-alive client connections open. */
interface ConnectionsScenario {
  readonly kind: 'connections';
  readonly description: string;
  readonly count: number;
}

type Scenario = LoadScenario | StartupScenario | ChangeScenario | IdleScenario | ConnectionsScenario;

/** Matches the Prefix `/api/v1/users` of every host of the scale folder. */
const SCALE_PATH = '/api/v1/users/48213';

const SCENARIOS: Readonly<Record<string, Scenario>> = {
  small: {
    kind: 'load',
    description: 'GET / → 19-byte body, keep-alive, access log off',
    path: '/',
    bodyBytes: 19,
    accessLog: false,
    newConnectionPerRequest: false,
    reload: false,
  },
  'small-log': {
    kind: 'load',
    description: 'as small, with the access log on (stdout to a file)',
    path: '/',
    bodyBytes: 19,
    accessLog: true,
    newConnectionPerRequest: false,
    reload: false,
  },
  '64k': {
    kind: 'load',
    description: 'GET /64k → 65,536-byte body, keep-alive',
    path: '/64k',
    bodyBytes: 65_536,
    accessLog: false,
    newConnectionPerRequest: false,
    reload: false,
  },
  close: {
    kind: 'load',
    description: 'GET / with Connection: close: a new client connection per request',
    path: '/',
    bodyBytes: 19,
    accessLog: false,
    newConnectionPerRequest: true,
    reload: false,
  },
  reload: {
    kind: 'load',
    description: 'as small, while the Ingress is rewritten every 100 ms (route target alternates)',
    path: '/',
    bodyBytes: 19,
    accessLog: false,
    newConnectionPerRequest: false,
    reload: true,
  },
  'startup-10k': {
    kind: 'startup',
    description: 'start with 10,000 Ingress paths across 1,000 hosts: time to ready, memory',
    hosts: 1_000,
  },
  'small-10': {
    kind: 'load',
    description: 'GET to a Prefix route of 10 Ingress paths (1 host), keep-alive',
    path: SCALE_PATH,
    bodyBytes: 19,
    accessLog: false,
    newConnectionPerRequest: false,
    reload: false,
    scaleHosts: 1,
  },
  'small-10k': {
    kind: 'load',
    description: 'the same GET spread over the 1,000 hosts of 10,000 Ingress paths, keep-alive',
    path: SCALE_PATH,
    bodyBytes: 19,
    accessLog: false,
    newConnectionPerRequest: false,
    reload: false,
    scaleHosts: 1_000,
  },
  'change-10k': {
    kind: 'change',
    description: '10,000 Ingress paths in one file: add one path, time until it answers',
    hosts: 1_000,
    files: 1,
  },
  'change-10k-split': {
    kind: 'change',
    description: '10,000 Ingress paths in 100 files: add one path to one file, time until it answers',
    hosts: 1_000,
    files: 100,
  },
  idle: {
    kind: 'idle',
    description: 'memory after a few requests and 5 s idle (small folder)',
  },
  'conns-10k': {
    kind: 'connections',
    description: '10,000 idle keep-alive client connections, each after one GET: memory',
    count: 10_000,
  },
};

const DEFAULT_SCENARIOS = [
  'small',
  'small-log',
  '64k',
  'close',
  'reload',
  'startup-10k',
  'small-10',
  'small-10k',
  'change-10k',
  'change-10k-split',
  'idle',
  'conns-10k',
];
const RELOAD_INTERVAL_MS = 100;
/** Idle time before the memory of the idle scenarios is read. */
const IDLE_MS = 5_000;

const HELP = `Usage: node bench/macro.ts [options]

  --scenarios LIST   comma-separated, from: ${Object.keys(SCENARIOS).join(', ')}
                     (default: ${DEFAULT_SCENARIOS.join(',')}); repeat names to interleave A/B runs,
                     e.g. small,small-log,small,small-log, then: node bench/report.ts FILE.json
  --duration S       measured seconds per load scenario (default 10)
  --warmup S         discarded seconds before each measurement (default 2)
  --connections N    client connections, one request in flight on each (default 64)
  --reloads N        manifest rewrites in the reload scenario, one per ${RELOAD_INTERVAL_MS} ms (default 100)
  --changes N        one-path edits in the change scenarios, each timed until it is served (default 10)
  --no-pin           do not pin gatehouse to CPU 1 and the load generator and backend to CPU 0
  --cpu-prof DIR     run gatehouse with --cpu-prof, writing one .cpuprofile per scenario into DIR
  --json FILE        also write the results as JSON
`;

function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: '${value}' is not a positive number`);
  return n;
}

interface Settings {
  readonly scenarios: readonly string[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  readonly reloads: number;
  readonly changes: number;
  readonly pin: boolean;
  readonly cpuProfDir: string | undefined;
  readonly json: string | undefined;
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      reloads: { type: 'string' },
      changes: { type: 'string' },
      'no-pin': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return null;
  const scenarios = (values.scenarios ?? DEFAULT_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of scenarios) {
    if (SCENARIOS[s] === undefined) throw new Error(`--scenarios: unknown scenario '${s}'`);
  }
  return {
    scenarios,
    durationMs: positiveNumber('--duration', values.duration, 10) * 1000,
    warmupMs: positiveNumber('--warmup', values.warmup, 2) * 1000,
    connections: Math.round(positiveNumber('--connections', values.connections, 64)),
    reloads: Math.round(positiveNumber('--reloads', values.reloads, 100)),
    changes: Math.round(positiveNumber('--changes', values.changes, 10)),
    pin: values['no-pin'] !== true && pinningAvailable(),
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    json: values.json,
  };
}

/** Processes to stop if the benchmark is interrupted. */
const running = new Set<{ stop(): Promise<unknown> }>();

/** A result with nothing measured yet, for scenarios that fill in only some figures. */
function emptyResult(name: string, scenario: Scenario, settings: Settings): MacroResult {
  return {
    scenario: name,
    description: scenario.description,
    connections: settings.connections,
    seconds: 0,
    requests: 0,
    requestsPerSecond: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    failed: 0,
    failures: {},
    cpuSeconds: Number.NaN,
    cpuShare: Number.NaN,
    systemShare: Number.NaN,
    requestsPerCpuSecond: Number.NaN,
    rssMiB: Number.NaN,
    peakRssMiB: Number.NaN,
    clientCpuShare: Number.NaN,
    backendCpuShare: Number.NaN,
    otherCpuShare: Number.NaN,
    readyMs: Number.NaN,
    exitCode: null,
    load1: loadAverage(),
    extra: {},
  };
}

function failedResult(name: string, scenario: Scenario, settings: Settings, error: unknown): MacroResult {
  return {
    ...emptyResult(name, scenario, settings),
    error: error instanceof Error ? error.message : String(error),
  };
}

function profileArgs(settings: Settings, scenario: string): { nodeArgs?: readonly string[] } {
  if (settings.cpuProfDir === undefined) return {};
  return {
    nodeArgs: [
      '--cpu-prof',
      `--cpu-prof-dir=${settings.cpuProfDir}`,
      `--cpu-prof-name=gatehouse-${scenario}.cpuprofile`,
    ],
  };
}

/** GET through gatehouse until it answers 200 (the first config can take a moment to route), bounded. */
async function waitForRoute(gh: Gatehouse, path: string, timeoutMs: number, host?: string): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  const pool = new Pool(`http://127.0.0.1:${gh.httpPort}`, { connections: 1 });
  try {
    return await pollRoute(pool, path, host, end, 20);
  } finally {
    await pool.close().catch(() => {});
  }
}

/** GET until 200 or `end` (a performance.now() time), `intervalMs` between tries. */
async function pollRoute(
  pool: Pool,
  path: string,
  host: string | undefined,
  end: number,
  intervalMs: number,
): Promise<boolean> {
  while (performance.now() < end) {
    try {
      const res = await pool.request({
        path,
        method: 'GET',
        headers: host === undefined ? {} : { host },
        headersTimeout: 2_000,
        bodyTimeout: 2_000,
      });
      await res.body.dump();
      if (res.statusCode === 200) return true;
    } catch {
      // not yet
    }
    await sleep(intervalMs);
  }
  return false;
}

async function runLoadScenario(
  name: string,
  scenario: LoadScenario,
  settings: Settings,
  work: string,
  backend: Backend,
): Promise<MacroResult> {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  let targets: LoadTarget[] | undefined;
  if (scenario.scaleHosts === undefined) writeManifests(manifests, backend.port);
  else {
    new ScaleFolder(manifests, scenario.scaleHosts, 1, backendTargets(backend.port)).write();
    targets = [];
    for (let h = 0; h < scenario.scaleHosts; h++) targets.push({ host: hostName(h), path: scenario.path });
  }
  const gh = await startGatehouse({
    manifests,
    accessLog: scenario.accessLog,
    logFile: join(work, 'gatehouse.log'),
    readyTimeoutMs: 60_000,
    ...(settings.pin ? { pinCpu: 1 } : {}),
    ...profileArgs(settings, basename(work)),
  });
  running.add(gh);
  let exitCode: number | null = null;
  try {
    const probe = targets?.[targets.length - 1];
    if (!(await waitForRoute(gh, scenario.path, 5_000, probe?.host))) {
      throw new Error(`GET ${scenario.path} never answered 200`);
    }
    const reloadsBefore = scenario.reload
      ? counterValue((await gh.admin('/metrics')).body, 'gatehouse_config_reloads_total', 'result="success"')
      : 0;
    // The reload scenario's window covers every rewrite plus a second for the last one to apply.
    const durationMs = scenario.reload
      ? Math.max(settings.durationMs, settings.reloads * RELOAD_INTERVAL_MS + 1_000)
      : settings.durationMs;
    let cpuStart = cpuTime(gh.pid);
    let cpuEnd = cpuStart;
    let backendStart = cpuTime(backend.pid);
    let backendEnd = backendStart;
    let busyStart = machineBusySeconds();
    let busyEnd = busyStart;
    let rewrites: Promise<number> = Promise.resolve(0);
    const load = await runLoad({
      origin: `http://127.0.0.1:${gh.httpPort}`,
      path: scenario.path,
      ...(targets === undefined ? {} : { targets }),
      connections: settings.connections,
      warmupMs: settings.warmupMs,
      durationMs,
      newConnectionPerRequest: scenario.newConnectionPerRequest,
      onWindowStart: () => {
        cpuStart = cpuTime(gh.pid);
        backendStart = cpuTime(backend.pid);
        busyStart = machineBusySeconds();
        if (scenario.reload) rewrites = rewriteLoop(manifests, settings.reloads);
      },
      onWindowEnd: () => {
        cpuEnd = cpuTime(gh.pid);
        backendEnd = cpuTime(backend.pid);
        busyEnd = machineBusySeconds();
      },
    });
    const mem = memory(gh.pid);
    const extra: Record<string, number | string> = {};
    if (load.requests > 0 && load.bytes !== load.requests * scenario.bodyBytes) {
      extra['body bytes per response'] = `${(load.bytes / load.requests).toFixed(1)} (expected ${scenario.bodyBytes})`;
    }
    if (scenario.reload) {
      const written = await rewrites;
      const lastServed = await waitForRoute(gh, `/v/${written}`, 3_000);
      const applied =
        counterValue((await gh.admin('/metrics')).body, 'gatehouse_config_reloads_total', 'result="success"') -
        reloadsBefore;
      extra['rewrites'] = written;
      extra['reloads applied'] = applied;
      extra['last version served'] = lastServed ? 'yes' : 'NO';
      extra['failed requests'] = load.errors + load.non2xx;
    }
    const user = cpuStart === null || cpuEnd === null ? Number.NaN : cpuEnd.user - cpuStart.user;
    const system = cpuStart === null || cpuEnd === null ? Number.NaN : cpuEnd.system - cpuStart.system;
    const cpuSeconds = user + system;
    const backendCpu =
      backendStart === null || backendEnd === null
        ? Number.NaN
        : backendEnd.user + backendEnd.system - backendStart.user - backendStart.system;
    const busy = busyStart === null || busyEnd === null ? Number.NaN : busyEnd - busyStart;
    const otherCpu = busy - cpuSeconds - backendCpu - load.clientCpu * load.seconds;
    exitCode = await gh.stop();
    running.delete(gh);
    return {
      scenario: name,
      description: scenario.description,
      connections: settings.connections,
      seconds: load.seconds,
      requests: load.requests,
      requestsPerSecond: load.requestsPerSecond,
      p50Ms: load.p50Ms,
      p99Ms: load.p99Ms,
      failed: load.errors + load.non2xx,
      failures: load.failures,
      cpuSeconds,
      cpuShare: cpuSeconds / load.seconds,
      systemShare: system / load.seconds,
      requestsPerCpuSecond: load.requests / cpuSeconds,
      rssMiB: mem.rss / 1024 / 1024,
      peakRssMiB: mem.peakRss / 1024 / 1024,
      clientCpuShare: load.clientCpu,
      backendCpuShare: backendCpu / load.seconds,
      otherCpuShare: Math.max(0, otherCpu / load.seconds),
      readyMs: gh.readyMs,
      exitCode,
      load1: loadAverage(),
      extra,
    };
  } finally {
    if (running.has(gh)) {
      await gh.stop();
      running.delete(gh);
    }
  }
}

/** Rewrites the Ingress `count` times, one every RELOAD_INTERVAL_MS; resolves with the last version written. */
async function rewriteLoop(dir: string, count: number): Promise<number> {
  const start = performance.now();
  for (let v = 1; v <= count; v++) {
    rewriteIngress(dir, v);
    // Paced against the start, so slow writes do not stretch the schedule.
    const wait = start + v * RELOAD_INTERVAL_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return count;
}

async function runStartupScenario(
  name: string,
  scenario: StartupScenario,
  settings: Settings,
  work: string,
): Promise<MacroResult> {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeFileSync(join(manifests, 'routes.yaml'), ingressManifest(scenario.hosts));
  const gh = await startGatehouse({
    manifests,
    accessLog: false,
    logFile: join(work, 'gatehouse.log'),
    readyTimeoutMs: 60_000,
    ...(settings.pin ? { pinCpu: 1 } : {}),
    ...profileArgs(settings, basename(work)),
  });
  running.add(gh);
  try {
    const cpu = cpuTime(gh.pid);
    const mem = memory(gh.pid);
    await sleep(IDLE_MS);
    const idle = memory(gh.pid);
    const config = await gh.admin('/api/config');
    let routes = 0;
    try {
      const ir = JSON.parse(config.body) as { listeners?: { virtualHosts?: { routes?: unknown[] }[] }[] };
      for (const l of ir.listeners ?? []) for (const v of l.virtualHosts ?? []) routes += v.routes?.length ?? 0;
    } catch {
      routes = Number.NaN;
    }
    const exitCode = await gh.stop();
    running.delete(gh);
    const cpuSeconds = cpu === null ? Number.NaN : cpu.user + cpu.system;
    return {
      ...emptyResult(name, scenario, settings),
      cpuSeconds,
      rssMiB: mem.rss / 1024 / 1024,
      peakRssMiB: mem.peakRss / 1024 / 1024,
      readyMs: gh.readyMs,
      exitCode,
      extra: {
        'IR routes served': routes,
        'CPU s to ready': cpuSeconds.toFixed(2),
        [`RSS MiB after ${IDLE_MS / 1000} s idle`]: (idle.rss / 1024 / 1024).toFixed(0),
      },
    };
  } finally {
    if (running.has(gh)) {
      await gh.stop();
      running.delete(gh);
    }
  }
}

/** The manifest folder of the scale scenarios, sent to the benchmark backend, and gatehouse started on it. */
async function startOnScaleFolder(
  settings: Settings,
  work: string,
  backend: Backend,
  hosts: number,
  files: number,
): Promise<{ gh: Gatehouse; folder: ScaleFolder }> {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  const folder = new ScaleFolder(manifests, hosts, files, backendTargets(backend.port));
  folder.write();
  const gh = await startGatehouse({
    manifests,
    accessLog: false,
    logFile: join(work, 'gatehouse.log'),
    readyTimeoutMs: 60_000,
    ...(settings.pin ? { pinCpu: 1 } : {}),
    ...profileArgs(settings, basename(work)),
  });
  running.add(gh);
  return { gh, folder };
}

async function stopGatehouse(gh: Gatehouse): Promise<number | null> {
  if (!running.has(gh)) return null;
  running.delete(gh);
  return gh.stop();
}

/**
 * Adds one Exact path to one host's Ingress at a time (rewriting the one file that holds it, atomically) and
 * polls that path through gatehouse every 2 ms until it answers 200: the time from the edit to the change serving,
 * file watching, debounce, parse, translate, compile and swap included.
 */
async function runChangeScenario(
  name: string,
  scenario: ChangeScenario,
  settings: Settings,
  work: string,
  backend: Backend,
): Promise<MacroResult> {
  const { gh, folder } = await startOnScaleFolder(settings, work, backend, scenario.hosts, scenario.files);
  const pool = new Pool(`http://127.0.0.1:${gh.httpPort}`, { connections: 2 });
  try {
    if (!(await waitForRoute(gh, SCALE_PATH, 5_000, hostName(scenario.hosts - 1)))) {
      throw new Error(`GET ${SCALE_PATH} never answered 200`);
    }
    // The start-up's own follow-up work (the store's first debounce, the file poll) settles first.
    await sleep(1_500);
    const reloadsBefore = counterValue(
      (await gh.admin('/metrics')).body,
      'gatehouse_config_reloads_total',
      'result="success"',
    );
    const cpuStart = cpuTime(gh.pid);
    const times: number[] = [];
    let missed = 0;
    for (let k = 1; k <= settings.changes; k++) {
      // Hosts spread over the folder (and over its files when it has several).
      const h = (k * 397) % scenario.hosts;
      const path = `/changed/${k}`;
      const t0 = performance.now();
      folder.addPath(h, path);
      if (await pollRoute(pool, path, hostName(h), t0 + 10_000, 2)) times.push(performance.now() - t0);
      else missed++;
      // Quiet time between edits, so each is timed on its own (debounce and file poll settled).
      await sleep(700);
    }
    const cpuEnd = cpuTime(gh.pid);
    const reloads =
      counterValue((await gh.admin('/metrics')).body, 'gatehouse_config_reloads_total', 'result="success"') -
      reloadsBefore;
    const mem = memory(gh.pid);
    const exitCode = await stopGatehouse(gh);
    const sorted = [...times].sort((a, b) => a - b);
    return {
      ...emptyResult(name, scenario, settings),
      cpuSeconds:
        cpuStart === null || cpuEnd === null
          ? Number.NaN
          : cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system,
      rssMiB: mem.rss / 1024 / 1024,
      peakRssMiB: mem.peakRss / 1024 / 1024,
      readyMs: gh.readyMs,
      exitCode,
      failed: missed,
      extra: {
        'edit → serving ms (median)': median(times).toFixed(0),
        'min–max ms': sorted.length === 0 ? '–' : `${sorted[0]?.toFixed(0)}–${sorted[sorted.length - 1]?.toFixed(0)}`,
        'each ms': times.map((t) => t.toFixed(0)).join(' '),
        'edits not served within 10 s': missed,
        'reloads applied': reloads,
        files: scenario.files,
      },
    };
  } finally {
    await pool.close().catch(() => {});
    await stopGatehouse(gh);
  }
}

/** A few requests, then memory after IDLE_MS without traffic. */
async function runIdleScenario(
  name: string,
  scenario: IdleScenario,
  settings: Settings,
  work: string,
  backend: Backend,
): Promise<MacroResult> {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeManifests(manifests, backend.port);
  const gh = await startGatehouse({
    manifests,
    accessLog: false,
    logFile: join(work, 'gatehouse.log'),
    ...(settings.pin ? { pinCpu: 1 } : {}),
    ...profileArgs(settings, basename(work)),
  });
  running.add(gh);
  try {
    if (!(await waitForRoute(gh, '/', 5_000))) throw new Error('GET / never answered 200');
    const pool = new Pool(`http://127.0.0.1:${gh.httpPort}`, { connections: 4 });
    for (let i = 0; i < 100; i++) {
      const res = await pool.request({ path: '/', method: 'GET' });
      await res.body.dump();
    }
    await pool.close();
    const busy = memory(gh.pid);
    await sleep(IDLE_MS);
    const mem = memory(gh.pid);
    const exitCode = await stopGatehouse(gh);
    return {
      ...emptyResult(name, scenario, settings),
      rssMiB: mem.rss / 1024 / 1024,
      peakRssMiB: mem.peakRss / 1024 / 1024,
      readyMs: gh.readyMs,
      exitCode,
      extra: { 'RSS MiB right after 100 requests': (busy.rss / 1024 / 1024).toFixed(0) },
    };
  } finally {
    await stopGatehouse(gh);
  }
}

/** Source addresses for many client connections: each has its own ephemeral port range. */
const CLIENT_SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.72.${i + 1}`);

/** Open file descriptors this process may hold (soft limit), from /proc; Infinity where unknown. */
function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Raises this process's open-file limit (and so its children's) with prlimit(1) when it is below `wanted`. */
function raiseOpenFileLimit(wanted: number): number {
  const now = openFileLimit();
  if (now >= wanted) return now;
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`]);
  return openFileLimit();
}

/**
 * Memory with `count` idle keep-alive client connections: gatehouse runs with --keepalive-timeout 120s (its
 * default, 5 s, would close them while they are counted), every connection sends one GET and reads the response,
 * then all stay open while the memory is read.
 */
async function runConnectionsScenario(
  name: string,
  scenario: ConnectionsScenario,
  settings: Settings,
  work: string,
  backend: Backend,
): Promise<MacroResult> {
  const limit = raiseOpenFileLimit(scenario.count * 2 + 1_000);
  if (limit < scenario.count + 1_000) {
    throw new Error(`open files limited to ${limit} (ulimit -n); ${scenario.count} connections need more`);
  }
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeManifests(manifests, backend.port);
  const gh = await startGatehouse({
    manifests,
    accessLog: false,
    logFile: join(work, 'gatehouse.log'),
    extraArgs: ['--keepalive-timeout', '120s'],
    ...(settings.pin ? { pinCpu: 1 } : {}),
    ...profileArgs(settings, basename(work)),
  });
  running.add(gh);
  try {
    if (!(await waitForRoute(gh, '/', 5_000))) throw new Error('GET / never answered 200');
    await sleep(1_000);
    const before = memory(gh.pid);
    const conns = await holdConnections({
      port: gh.httpPort,
      count: scenario.count,
      sourceAddresses: CLIENT_SOURCES,
      concurrency: 256,
      timeoutMs: 60_000,
      path: '/',
    });
    const opened = memory(gh.pid);
    await sleep(IDLE_MS);
    const mem = memory(gh.pid);
    const active = counterValue((await gh.admin('/metrics')).body, 'gatehouse_active_connections');
    const closed = conns.closedByServer();
    conns.close();
    const exitCode = await stopGatehouse(gh);
    const perConnection = (mem.rss - before.rss) / Math.max(1, conns.held) / 1024;
    return {
      ...emptyResult(name, scenario, settings),
      failed: conns.failed,
      failures: conns.failures,
      rssMiB: mem.rss / 1024 / 1024,
      peakRssMiB: mem.peakRss / 1024 / 1024,
      readyMs: gh.readyMs,
      exitCode,
      extra: {
        'connections held': conns.held,
        'opened in s': (conns.elapsedMs / 1000).toFixed(1),
        'RSS MiB before': (before.rss / 1024 / 1024).toFixed(0),
        'RSS MiB when all answered': (opened.rss / 1024 / 1024).toFixed(0),
        [`RSS MiB after ${IDLE_MS / 1000} s idle`]: (mem.rss / 1024 / 1024).toFixed(0),
        'KiB per connection': perConnection.toFixed(1),
        gatehouse_active_connections: active,
        'closed by gatehouse meanwhile': closed,
      },
    };
  } finally {
    await stopGatehouse(gh);
  }
}

async function main(): Promise<void> {
  let settings: Settings | null;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (settings === null) {
    process.stdout.write(HELP);
    return;
  }
  if (settings.pin && !pinSelf(0)) settings = { ...settings, pin: false };
  if (settings.cpuProfDir !== undefined) mkdirSync(settings.cpuProfDir, { recursive: true });

  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const stopAll = async (): Promise<void> => {
    await Promise.all([...running].map((p) => p.stop().catch(() => {})));
  };
  // Ctrl-C reaches this process twice when it runs under bench/run.ts (from the terminal and forwarded): the
  // first one stops everything, later ones must not cut that short.
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    void stopAll().then(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  process.stdout.write(
    `macro: ${settings.connections} connections, ${settings.warmupMs / 1000} s warm-up + ${settings.durationMs / 1000} s per scenario; ` +
      (settings.pin
        ? 'gatehouse pinned to CPU 1, load generator and backend to CPU 0\n'
        : 'no CPU pinning (taskset missing, < 2 CPUs or --no-pin)\n'),
  );
  const backend = await startBackend(BACKEND_ADDRESSES);
  running.add(backend);
  const results: MacroResult[] = [];
  let keepWork = false;
  try {
    for (const [index, name] of settings.scenarios.entries()) {
      // One directory per run (manifests, log), so a scenario may be listed more than once for A/B comparisons.
      const runDir = join(work, `${String(index + 1).padStart(2, '0')}-${name}`);
      mkdirSync(runDir);
      const scenario = SCENARIOS[name] as Scenario;
      process.stdout.write(`  ${name}: ${scenario.description} ... `);
      let r: MacroResult;
      try {
        switch (scenario.kind) {
          case 'load':
            r = await runLoadScenario(name, scenario, settings, runDir, backend);
            break;
          case 'startup':
            r = await runStartupScenario(name, scenario, settings, runDir);
            break;
          case 'change':
            r = await runChangeScenario(name, scenario, settings, runDir, backend);
            break;
          case 'idle':
            r = await runIdleScenario(name, scenario, settings, runDir, backend);
            break;
          case 'connections':
            r = await runConnectionsScenario(name, scenario, settings, runDir, backend);
            break;
        }
      } catch (err) {
        keepWork = true;
        r = failedResult(name, scenario, settings, err);
      }
      if (r.failed > 0 || (r.exitCode !== null && r.exitCode !== 0)) keepWork = true;
      results.push(r);
      process.stdout.write(
        r.error !== undefined
          ? `not measured: ${r.error}\n`
          : r.requests > 0
            ? `${Math.round(r.requestsPerSecond)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.failed} failed\n`
            : scenario.kind === 'change'
              ? `edit → serving ${r.extra['edit → serving ms (median)']} ms (median), ${r.failed} not served\n`
              : scenario.kind === 'idle' || scenario.kind === 'connections'
                ? `RSS ${r.rssMiB.toFixed(0)} MiB${scenario.kind === 'connections' ? `, ${r.extra['connections held']} held` : ''}\n`
                : `ready in ${Math.round(r.readyMs)} ms\n`,
      );
    }
  } finally {
    running.delete(backend);
    await backend.stop();
    await stopAll();
  }

  process.stdout.write(`\n${macroTable(results)}\n`);
  for (const n of macroNotes(results)) process.stdout.write(`  ${n}\n`);
  process.stdout.write(
    `  load average (1 min) during the runs: ${results.map((r) => r.load1.toFixed(2)).join(', ')}\n`,
  );
  if (keepWork) process.stdout.write(`  logs and manifests kept in ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
  if (settings.cpuProfDir !== undefined) process.stdout.write(`  CPU profiles in ${settings.cpuProfDir}\n`);
  const report: MacroReport = {
    pinned: settings.pin,
    connections: settings.connections,
    warmupSeconds: settings.warmupMs / 1000,
    durationSeconds: settings.durationMs / 1000,
    results,
  };
  if (settings.json !== undefined) writeFileSync(settings.json, JSON.stringify(report, null, 2));
}

await main();
