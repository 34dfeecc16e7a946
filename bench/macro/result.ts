import { compact, fixed, markdownTable } from '../lib/stats.ts';

export interface MacroResult {
  readonly scenario: string;
  readonly description: string;
  /** Set when the scenario could not run; the other figures are then NaN. */
  readonly error?: string;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests over the whole run, warm-up included: transport errors plus non-2xx responses. */
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  /** gatehouse CPU seconds in the measured window (user + system), and as a share of one core. */
  readonly cpuSeconds: number;
  readonly cpuShare: number;
  readonly systemShare: number;
  readonly requestsPerCpuSecond: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  readonly clientCpuShare: number;
  readonly backendCpuShare: number;
  /**
   * Busy CPU time of the whole machine not used by gatehouse, the load generator or the backend: other processes,
   * plus kernel network work not charged to any of them. Much above ~10 % means the run shared the machine.
   */
  readonly otherCpuShare: number;
  /** From spawn to /readyz 200. */
  readonly readyMs: number;
  readonly exitCode: number | null;
  readonly load1: number;
  /** Scenario-specific facts (reloads applied, routes loaded, ...). */
  readonly extra: Readonly<Record<string, number | string>>;
}

export interface MacroReport {
  readonly pinned: boolean;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly results: readonly MacroResult[];
}

/** More CPU than this (share of one core) outside the three processes of a run marks it as disturbed. */
const BUSY_SHARE = 0.3;

function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : '–';
}

export function macroTable(results: readonly MacroResult[]): string {
  const rows = results.map((r) =>
    r.error !== undefined
      ? [r.scenario, 'not measured']
      : [
          r.scenario,
          r.requests > 0 ? compact(r.requestsPerSecond) : '–',
          r.requests > 0 ? fixed(r.p50Ms, 2) : '–',
          r.requests > 0 ? fixed(r.p99Ms, 2) : '–',
          String(r.failed),
          r.requests > 0 ? `${percent(r.cpuShare)} (${percent(r.systemShare)})` : '–',
          r.requests > 0 ? compact(r.requestsPerCpuSecond) : '–',
          `${fixed(r.rssMiB, 0)} / ${fixed(r.peakRssMiB, 0)}`,
          r.requests > 0
            ? `${percent(r.clientCpuShare)} / ${percent(r.backendCpuShare)} / ${percent(r.otherCpuShare)}`
            : '–',
          fixed(r.readyMs, 0),
        ],
  );
  return markdownTable(
    [
      'scenario',
      'req/s',
      'p50 ms',
      'p99 ms',
      'failed',
      'gatehouse CPU (sys)',
      'req per CPU-s',
      'RSS / peak MiB',
      'client / backend / other CPU',
      'ready ms',
    ],
    rows,
  );
}

/** The extra facts, one line per scenario that has any. */
export function macroNotes(results: readonly MacroResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const parts = Object.entries(r.extra).map(([k, v]) => `${k} ${v}`);
    if (r.error !== undefined) parts.push(`not measured: ${r.error.split('\n')[0]}`);
    const failures = Object.entries(r.failures).map(([k, v]) => `${k}×${v}`);
    if (failures.length > 0) parts.push(`failures: ${failures.join(', ')}`);
    if (r.exitCode !== null && r.exitCode !== 0 && r.error === undefined) parts.push(`exit code ${r.exitCode}`);
    if (r.otherCpuShare > BUSY_SHARE) {
      parts.push(`other work used ${percent(r.otherCpuShare)} of a CPU during the window: not a clean measurement`);
    }
    if (parts.length > 0) out.push(`${r.scenario}: ${parts.join('; ')}`);
  }
  return out;
}
