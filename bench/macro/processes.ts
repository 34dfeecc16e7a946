// Starting and stopping the processes of a macro run: gatehouse (exactly as the end-to-end tests and the external
// runners start it) and the loopback backend. Every wait is bounded; every process is stopped by its own pid.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The Node the project pins (24), started directly: no npm or npx process in between to skew CPU and memory. */
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const ENTRY = resolve(ROOT, 'src/cli/main.ts');
const BACKEND = resolve(import.meta.dirname, 'backend.ts');

/**
 * CPU pinning as the external harness does it: gatehouse alone on CPU 1, load generator and backend on CPU 0, so
 * the proxy's figures are one core's worth and the load side cannot steal from it. Only with taskset and ≥ 2 CPUs.
 */
export function pinningAvailable(): boolean {
  return availableParallelism() >= 2 && spawnSync('taskset', ['--version']).status === 0;
}

/** Pins every thread of this process (and so the children it starts from now on) to one CPU. */
export function pinSelf(cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)]).status === 0;
}

export async function freeTcpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<number | null> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return done;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await done;
  clearTimeout(timer);
  return code;
}

export interface Backend {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startBackend(addresses: readonly string[]): Promise<Backend> {
  // stdin stays a pipe: when this process dies, the backend sees it close and exits.
  const child = spawn(NODE, [BACKEND, ...addresses], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolvePort, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('backend did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`backend exited (${code}) before listening`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolvePort((JSON.parse(buffered.slice(0, nl)) as { port: number }).port);
    });
  });
  return {
    pid: child.pid as number,
    port,
    async stop() {
      child.stdin?.end();
      await stopChild(child, 3_000);
    },
  };
}

export interface GatehouseOptions {
  readonly manifests: string;
  readonly accessLog: boolean;
  /** stdout and stderr go here: a file, as a container runtime would collect them, never a pipe we must drain. */
  readonly logFile: string;
  /** Node flags placed before the entry file (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** gatehouse flags after the standard ones (e.g. --keepalive-timeout). */
  readonly extraArgs?: readonly string[];
  readonly pinCpu?: number;
  readonly readyTimeoutMs?: number;
}

export interface Gatehouse {
  readonly pid: number;
  readonly httpPort: number;
  readonly adminPort: number;
  /** From spawn to the first 200 from /readyz. */
  readonly readyMs: number;
  admin(path: string): Promise<{ status: number; body: string }>;
  /** SIGTERM (gatehouse drains and exits 0), SIGKILL after 15 s. */
  stop(): Promise<number | null>;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startGatehouse(o: GatehouseOptions): Promise<Gatehouse> {
  const [httpPort, httpsPort, adminPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const args = [
    ...(o.nodeArgs ?? []),
    ENTRY,
    'serve',
    '--manifests',
    o.manifests,
    '--http-port',
    String(httpPort),
    '--https-port',
    String(httpsPort),
    '--admin-port',
    String(adminPort),
    '--listen-address',
    '127.0.0.1',
    '--upstream',
    'service',
    '--access-log',
    o.accessLog ? 'on' : 'off',
    ...(o.extraArgs ?? []),
  ];
  const out = openSync(o.logFile, 'a');
  const started = performance.now();
  // taskset execs the command, so the child's pid is gatehouse's own.
  const child =
    o.pinCpu === undefined
      ? spawn(NODE, args, { cwd: ROOT, stdio: ['ignore', out, out] })
      : spawn('taskset', ['-c', String(o.pinCpu), NODE, ...args], { cwd: ROOT, stdio: ['ignore', out, out] });
  closeSync(out);
  const admin = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  };
  const deadline = started + (o.readyTimeoutMs ?? 30_000);
  let readyMs = 0;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gatehouse exited (${child.exitCode ?? child.signalCode}) before ready:\n${tail(o.logFile, 20)}`);
    }
    try {
      if ((await admin('/readyz')).status === 200) {
        readyMs = performance.now() - started;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse not ready within ${o.readyTimeoutMs ?? 30_000} ms:\n${tail(o.logFile, 20)}`);
    }
    await sleep(10);
  }
  return {
    pid: child.pid as number,
    httpPort,
    adminPort,
    readyMs,
    admin,
    stop: () => stopChild(child, 15_000),
  };
}

/** Sum of a Prometheus counter's samples whose labels contain `labelText` (e.g. `result="success"`). */
export function counterValue(metrics: string, name: string, labelText = ''): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labelText !== '' && !line.includes(labelText)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}
