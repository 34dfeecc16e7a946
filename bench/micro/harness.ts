// Timing loops for in-process benchmarks: warm-up, calibrated rounds, medians.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { median } from '../lib/stats.ts';

export interface MicroResult {
  readonly suite: string;
  readonly name: string;
  /** Median over rounds of the time one operation takes. */
  readonly nsPerOp: number;
  readonly opsPerSec: number;
  readonly minNsPerOp: number;
  readonly maxNsPerOp: number;
  readonly rounds: number;
  /** Operations per round. */
  readonly iterations: number;
  /** Shown in the summary of `npm run bench`, not only in the suite's own output. */
  readonly headline?: boolean;
}

export function headline(r: MicroResult): MicroResult {
  return { ...r, headline: true };
}

export interface MicroReport {
  readonly suite: string;
  readonly results: readonly MicroResult[];
  /** Facts worth printing beside the timings (sizes, counts). */
  readonly notes: readonly string[];
}

export interface LoopOptions {
  readonly warmupMs?: number;
  readonly roundMs?: number;
  readonly rounds?: number;
}

const gc: (() => void) | undefined =
  typeof (globalThis as { gc?: unknown }).gc === 'function'
    ? (globalThis as unknown as { gc: () => void }).gc
    : undefined;

/** Collects garbage when the process runs with --expose-gc, so one round does not pay for the last one's garbage. */
export function collectGarbage(): void {
  gc?.();
}

/** Keeps results observable so the optimiser cannot drop the work being timed. */
let sink = 0;

/** What the timed operations returned, summed; only there so their results stay observable. */
export function sinkValue(): number {
  return sink;
}

function result(suite: string, name: string, perOp: readonly number[], iterations: number): MicroResult {
  const ns = median(perOp);
  return {
    suite,
    name,
    nsPerOp: ns,
    opsPerSec: 1e9 / ns,
    minNsPerOp: Math.min(...perOp),
    maxNsPerOp: Math.max(...perOp),
    rounds: perOp.length,
    iterations,
  };
}

/**
 * For fast operations: `loop(n)` performs n operations and returns anything numeric. The iteration count is
 * calibrated so one round lasts about `roundMs`, so timer resolution and loop overhead stay negligible.
 */
export function measureLoop(
  suite: string,
  name: string,
  loop: (n: number) => number,
  options: LoopOptions = {},
): MicroResult {
  const warmupMs = options.warmupMs ?? 300;
  const roundMs = options.roundMs ?? 150;
  const rounds = options.rounds ?? 7;
  let n = 16;
  const warmEnd = performance.now() + warmupMs;
  let elapsed = 0;
  // Doubling during warm-up both heats the JIT and finds an iteration count that fills a round.
  for (let tries = 0; tries < 40; tries++) {
    const t0 = performance.now();
    sink += loop(n);
    elapsed = performance.now() - t0;
    if (performance.now() >= warmEnd && elapsed >= roundMs / 4) break;
    if (elapsed < roundMs / 2) n *= 2;
  }
  n = Math.max(1, Math.round((n * roundMs) / Math.max(elapsed, 0.001)));
  const perOp: number[] = [];
  collectGarbage();
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    sink += loop(n);
    perOp.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return result(suite, name, perOp, n);
}

export interface RunOptions {
  readonly warmup?: number;
  readonly rounds?: number;
  /** Stop adding rounds past this much time (but always do at least three). */
  readonly budgetMs?: number;
}

/** For slow operations (milliseconds and up): each round times one call. */
export function measureRuns(suite: string, name: string, op: () => unknown, options: RunOptions = {}): MicroResult {
  const warmup = options.warmup ?? 2;
  const rounds = options.rounds ?? 7;
  const budgetMs = options.budgetMs ?? 8_000;
  for (let i = 0; i < warmup; i++) sink += op() === undefined ? 0 : 1;
  const perOp: number[] = [];
  const end = performance.now() + budgetMs;
  for (let r = 0; r < rounds; r++) {
    collectGarbage();
    const t0 = process.hrtime.bigint();
    sink += op() === undefined ? 0 : 1;
    perOp.push(Number(process.hrtime.bigint() - t0));
    if (r >= 2 && performance.now() > end) break;
  }
  return result(suite, name, perOp, 1);
}

/** `1234` ns → `1.23 µs`: the unit that keeps three significant figures readable. */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (ns < 1_000) return `${ns.toPrecision(3)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toPrecision(3)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toPrecision(3)} ms`;
  return `${(ns / 1_000_000_000).toPrecision(3)} s`;
}

export function printResult(r: MicroResult): void {
  const spread = `${formatDuration(r.minNsPerOp)} – ${formatDuration(r.maxNsPerOp)}`;
  const ops = r.opsPerSec >= 100 ? Math.round(r.opsPerSec).toLocaleString('en-US') : r.opsPerSec.toPrecision(3);
  process.stdout.write(
    `  ${r.name.padEnd(52)} ${formatDuration(r.nsPerOp).padStart(10)}/op ${ops.padStart(13)} ops/s   (${spread}, ${r.rounds} rounds)\n`,
  );
}

/** `--json FILE`: where the runner wants the machine-readable report. */
export function jsonTarget(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--json');
  return i >= 0 ? argv[i + 1] : undefined;
}

export function writeReport(report: MicroReport, file: string | undefined): void {
  if (file !== undefined) writeFileSync(file, JSON.stringify(report, null, 2));
}
