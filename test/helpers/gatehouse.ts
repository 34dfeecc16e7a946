import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '../..');
/** The Node the project pins (24), the same way the external runners start gatehouse. */
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const ENTRY = resolve(ROOT, 'src/cli/main.ts');

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

export interface GatehouseProcess {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  /** Every log line printed so far, parsed as JSON where possible. */
  readonly logs: Record<string, unknown>[];
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  admin(path: string): Promise<{ status: number; body: string }>;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** Folders or files passed as --manifests; none for other sources (e.g. `--kubernetes` in `args`). */
  readonly manifests?: string | readonly string[];
  readonly upstream?: 'service' | 'endpoints';
  readonly args?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** Added to the environment of the process (e.g. POD_NAME). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Starts gatehouse in a process group of its own (worker processes included), so a test can signal the whole
   * group as the external runners do: `process.kill(-child.pid, 'SIGTERM')`.
   */
  readonly detached?: boolean;
}

export async function startGatehouse(options: StartOptions): Promise<GatehouseProcess> {
  const [httpPort, httpsPort, adminPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const manifests = typeof options.manifests === 'string' ? [options.manifests] : (options.manifests ?? []);
  const args = [
    ENTRY,
    'serve',
    ...manifests.flatMap((m) => ['--manifests', m]),
    '--http-port',
    String(httpPort),
    '--https-port',
    String(httpsPort),
    '--admin-port',
    String(adminPort),
    '--listen-address',
    '127.0.0.1',
    '--upstream',
    options.upstream ?? 'service',
    ...(options.args ?? []),
  ];
  const child = spawn(NODE, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.detached === true ? { detached: true } : {}),
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  const logs: Record<string, unknown>[] = [];
  let buffered = '';
  const onData = (chunk: Buffer): void => {
    buffered += chunk.toString('utf8');
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
      nl = buffered.indexOf('\n');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r(code);
    }),
  );

  const admin = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
    return { status: res.status, body: await res.text() };
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exited !== undefined)
      throw new Error(`gatehouse exited (${exited}) before ready:\n${JSON.stringify(logs, null, 1)}`);
    try {
      if ((await admin('/readyz')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse not ready in time:\n${JSON.stringify(logs, null, 1)}`);
    }
    await sleep(50);
  }

  return {
    child,
    httpPort,
    httpsPort,
    adminPort,
    logs,
    admin,
    async waitForLog(predicate, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find(predicate);
        if (found !== undefined) return found;
        if (Date.now() > end) throw new Error(`log line not seen; logs:\n${JSON.stringify(logs.slice(-30), null, 1)}`);
        await sleep(25);
      }
    },
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}
