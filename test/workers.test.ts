// --workers N: the data plane in N processes sharing the listening ports, one primary watching the manifests and
// sending each new configuration to every worker; one /metrics for all of them; a worker that dies is replaced;
// SIGTERM drains every worker and the primary exits 0.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../src/cli/echo.ts';
import { type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { ingress, ingressClass, service, toYaml } from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const ECHO = {
  name: 'echo',
  clusterIP: '127.0.160.1',
  port: 8080,
  targetPort: 8080,
  endpoints: [{ ip: '127.0.160.1' }],
};
const OTHER = {
  name: 'other',
  clusterIP: '127.0.160.2',
  port: 8080,
  targetPort: 8080,
  endpoints: [{ ip: '127.0.160.2' }],
};

interface WorkerInfo {
  readonly id: number;
  readonly pid: number;
  readonly state: string;
  readonly hash: string | null;
  readonly restarts: number;
}

let dir = '';
let gh: GatehouseProcess;
const echoes: { close(): Promise<void> }[] = [];

function routes(path: string, svc: string): string {
  return toYaml([
    ingress({ name: 'routes', rules: [{ host: 'workers.test', paths: [{ path, service: svc, port: 8080 }] }] }),
    ingress({
      name: 'counted',
      rules: [{ host: 'counted.test', paths: [{ path: '/', service: 'echo', port: 8080 }] }],
    }),
  ]);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
  echoes.push(await startEcho({ name: 'echo', listen: '127.0.160.1:8080' }));
  echoes.push(await startEcho({ name: 'other', listen: '127.0.160.2:8080' }));
  writeFileSync(join(dir, 'base.yaml'), toYaml([ingressClass(), ...service(ECHO), ...service(OTHER)]));
  writeFileSync(join(dir, 'routes.yaml'), routes('/a', 'echo'));
  gh = await startGatehouse({ manifests: dir, args: ['--workers', '2'] });
});

after(async () => {
  const pids = (await workers(gh)).map((w) => w.pid);
  // SIGTERM to the primary alone: it drains the workers itself.
  assert.equal(await gh.stop(), 0);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} outlived the primary`);
  await Promise.all(echoes.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function workers(g: GatehouseProcess): Promise<WorkerInfo[]> {
  return JSON.parse((await g.admin('/api/workers')).body) as WorkerInfo[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One request on a connection of its own (so consecutive requests may land on different workers). */
async function get(host: string, path: string, port = gh.httpPort): Promise<{ status: number; service: string }> {
  const res = await httpRequest({ host: '127.0.0.1', port, path, headers: { host }, timeoutMs: 5_000 });
  const service =
    res.status === 200 ? (JSON.parse(res.body.toString('utf8')) as { service: string }).service : String(res.status);
  return { status: res.status, service };
}

/** Sends `n` requests, `parallel` at a time, each on its own connection; returns the services that answered. */
async function burst(host: string, paths: readonly string[], parallel = 4): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++] as string;
      out.push((await get(host, path)).service);
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return out;
}

/** The worker ids in the access-log lines of these paths, once every one of them has been logged. */
async function servedBy(g: GatehouseProcess, paths: readonly string[]): Promise<Map<number, number>> {
  const wanted = new Set(paths);
  const end = Date.now() + 5_000;
  for (;;) {
    const lines = g.logs.filter((l) => l['log'] === 'access' && wanted.has(l['path'] as string));
    if (lines.length >= wanted.size) {
      const by = new Map<number, number>();
      for (const l of lines) by.set(l['worker'] as number, (by.get(l['worker'] as number) ?? 0) + 1);
      return by;
    }
    if (Date.now() > end) assert.fail(`only ${lines.length} of ${wanted.size} requests were logged`);
    await sleep(25);
  }
}

function pathsFor(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}/${i}`);
}

test('two worker processes serve the same ports, and requests reach both', async () => {
  const list = await workers(gh);
  assert.equal(list.length, 2);
  assert.deepEqual(
    list.map((w) => w.state),
    ['serving', 'serving'],
  );
  assert.notEqual(list[0]?.pid, list[1]?.pid);
  assert.ok(!list.some((w) => w.pid === gh.child.pid), 'the primary does not serve traffic itself');
  assert.equal(list[0]?.hash, list[1]?.hash);

  const paths = pathsFor('/a/spread', 60);
  assert.deepEqual(new Set(await burst('workers.test', paths)), new Set(['echo']));
  const by = await servedBy(gh, paths);
  assert.deepEqual([...by.keys()].sort(), list.map((w) => w.id).sort(), `requests per worker: ${[...by]}`);
  // The primary's own log lines carry no worker field; the workers' lines all do.
  const applied = gh.logs.find((l) => l['msg'] === 'configuration applied');
  assert.equal(applied?.['worker'], undefined);
  assert.ok(gh.logs.filter((l) => l['msg'] === 'listening').every((l) => typeof l['worker'] === 'number'));
});

test('a configuration change reaches every worker before it is reported applied', async () => {
  const appliedBefore = gh.logs.filter((l) => l['msg'] === 'configuration applied').length;
  const hashBefore = (await workers(gh))[0]?.hash;
  writeFileSync(join(dir, 'routes.yaml'), routes('/b', 'other'));
  const end = Date.now() + 10_000;
  while (gh.logs.filter((l) => l['msg'] === 'configuration applied').length === appliedBefore) {
    if (Date.now() > end) assert.fail('the change was never applied');
    await sleep(20);
  }
  // Reported applied: every worker serves it, so no request may see the old routes any more.
  const list = await workers(gh);
  assert.equal(list.length, 2);
  assert.ok(list.every((w) => w.hash !== hashBefore && w.hash === list[0]?.hash));
  const paths = pathsFor('/b/after', 60);
  assert.deepEqual(new Set(await burst('workers.test', paths)), new Set(['other']));
  assert.deepEqual(new Set(await burst('workers.test', pathsFor('/a/after', 10))), new Set(['404']));
  assert.equal((await servedBy(gh, paths)).size, 2);
});

test('/metrics counts the requests of every worker once', async () => {
  const metric = (text: string): number => {
    const line = text
      .split('\n')
      .find((l) => l.startsWith('gatehouse_http_requests_total{route="ingress/default/counted/rule/0/path/0"'));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const before = metric((await gh.admin('/metrics')).body);
  const paths = pathsFor('/counted', 50);
  await burst('counted.test', paths);
  assert.equal((await servedBy(gh, paths)).size, 2, 'both workers served some of the requests');
  const text = (await gh.admin('/metrics')).body;
  assert.equal(metric(text) - before, 50);
  // One sample per metric and label set, whichever processes contributed to it.
  const cpu = text.split('\n').filter((l) => l.startsWith('gatehouse_process_process_cpu_user_seconds_total'));
  assert.equal(cpu.length, 1);
  assert.match(text, /^gatehouse_workers\{state="serving"\} 2$/m);
  assert.match(text, /^gatehouse_config_reloads_total\{result="success"\} [1-9]/m);
  assert.match(text, /^gatehouse_active_connections\{listener="ingress-http"\} \d+$/m);
});

test('a worker killed with SIGKILL is replaced, gets the configuration, and traffic keeps flowing', async () => {
  const list = await workers(gh);
  const victim = list[0] as WorkerInfo;
  const survivor = list[1] as WorkerInfo;
  let stop = false;
  const outcomes = new Map<string, number>();
  let notReady = 0;
  // One request at a time: the one in flight on the killed worker when it dies is the only one that may fail.
  const loop = (async () => {
    let i = 0;
    while (!stop) {
      let r: string;
      try {
        r = (await get('workers.test', `/b/kill/${i++}`)).service;
      } catch (err) {
        r = `error ${(err as Error).message}`;
      }
      outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
      if ((await gh.admin('/readyz')).status !== 200) notReady++;
    }
  })();
  await sleep(200);
  process.kill(victim.pid, 'SIGKILL');
  const exited = await gh.waitForLog((l) => l['msg'] === 'worker exited unexpectedly; starting a new one');
  assert.equal(exited['worker'], victim.id);
  assert.equal(exited['signal'], 'SIGKILL');
  await gh.waitForLog((l) => l['msg'] === 'restarted worker is serving');
  const now = await workers(gh);
  assert.equal(now.length, 2);
  const replacement = now.find((w) => w.id !== survivor.id) as WorkerInfo;
  assert.notEqual(replacement.id, victim.id);
  assert.equal(replacement.restarts, 1);
  assert.equal(replacement.state, 'serving');
  assert.equal(replacement.hash, survivor.hash);
  await sleep(300);
  stop = true;
  await loop;
  const failed = [...outcomes].filter(([k]) => k !== 'other');
  assert.ok(failed.reduce((n, [, c]) => n + c, 0) <= 1, `outcomes: ${JSON.stringify([...outcomes])}`);
  assert.ok((outcomes.get('other') ?? 0) > 20, `outcomes: ${JSON.stringify([...outcomes])}`);
  // The other worker kept serving: the gateway never stopped being ready.
  assert.equal(notReady, 0);
  // The replacement takes its share.
  const paths = pathsFor('/b/replaced', 60);
  assert.deepEqual(new Set(await burst('workers.test', paths)), new Set(['other']));
  assert.ok((await servedBy(gh, paths)).has(replacement.id), 'the new worker serves requests');
  assert.match((await gh.admin('/metrics')).body, /^gatehouse_worker_restarts_total 1$/m);
});

test('SIGTERM to the process group drains every worker: requests in flight finish, exit 0', async () => {
  const g = await startGatehouse({ manifests: dir, args: ['--workers', '2', '--drain-timeout', '5s'], detached: true });
  try {
    const pids = (await workers(g)).map((w) => w.pid);
    assert.equal(pids.length, 2);
    // Slow requests on their own connections, so (very likely) both workers hold one when the signal comes.
    const slow = Array.from({ length: 4 }, (_, i) => get('workers.test', `/b/slow/${i}/delay/1500`, g.httpPort));
    await sleep(400);
    // As the external runners stop it: every process of the group gets SIGTERM at once.
    process.kill(-(g.child.pid as number), 'SIGTERM');
    const results = await Promise.all(slow);
    assert.deepEqual(
      results.map((r) => r.service),
      ['other', 'other', 'other', 'other'],
    );
    assert.equal(await g.stop(), 0);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} still runs`);
    assert.equal(g.logs.filter((l) => l['msg'] === 'draining' && typeof l['worker'] === 'number').length, 2);
    assert.ok(!g.logs.some((l) => l['msg'] === 'worker exited unexpectedly; starting a new one'));
  } finally {
    if (g.child.exitCode === null) g.child.kill('SIGKILL');
  }
});

test('--workers 1 serves in the one process, as a single process always did', async () => {
  const g = await startGatehouse({ manifests: dir, args: ['--workers', '1'] });
  try {
    const list = await workers(g);
    assert.deepEqual(
      list.map((w) => ({ id: w.id, pid: w.pid, state: w.state })),
      [{ id: 0, pid: g.child.pid, state: 'serving' }],
    );
    assert.equal((await get('workers.test', '/b/single', g.httpPort)).service, 'other');
    const line = await g.waitForLog((l) => l['log'] === 'access' && l['path'] === '/b/single');
    assert.equal(line['worker'], undefined);
    assert.ok(!g.logs.some((l) => l['msg'] === 'starting worker processes'));
  } finally {
    assert.equal(await g.stop(), 0);
  }
});
