// Medians over several `npm run bench -- --json FILE` runs, as Markdown tables (the form bench/README.md keeps).
//
//   npx node bench/report.ts [--all] run-1.json run-2.json run-3.json
//
// Macro results measured while other work used more than 30 % of a CPU are left out (and counted) unless --all.
import { readFileSync } from 'node:fs';
import { compact, markdownTable, median } from './lib/stats.ts';
import { type MacroReport, type MacroResult, macroTable } from './macro/result.ts';
import { formatDuration, type MicroReport } from './micro/harness.ts';

interface RunFile {
  readonly micro: readonly MicroReport[];
  readonly macro: MacroReport | null;
}

function numericMedian(results: readonly MacroResult[], pick: (r: MacroResult) => number): number {
  return median(results.map(pick).filter((v) => Number.isFinite(v)));
}

function microMedians(runs: readonly RunFile[]): string {
  const byKey = new Map<string, number[]>();
  for (const run of runs) {
    for (const report of run.micro) {
      for (const r of report.results) {
        const key = `${r.suite}\u0000${r.name}`;
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [r.nsPerOp]);
        else list.push(r.nsPerOp);
      }
    }
  }
  const rows = [...byKey.entries()].map(([key, values]) => {
    const [suite, name] = key.split('\u0000') as [string, string];
    const ns = median(values);
    return [
      suite,
      name,
      formatDuration(ns),
      1e9 / ns >= 100 ? compact(1e9 / ns) : (1e9 / ns).toPrecision(3),
      `${formatDuration(Math.min(...values))} – ${formatDuration(Math.max(...values))}`,
    ];
  });
  return markdownTable(['suite', 'benchmark', 'median', 'ops/s', 'range over runs'], rows);
}

/** Results whose window saw more other CPU work than this (share of one core) are left out unless --all. */
const MAX_OTHER_SHARE = 0.3;

function macroMedians(runs: readonly RunFile[], all: boolean): { table: string; notes: string[] } {
  const byScenario = new Map<string, MacroResult[]>();
  const disturbed = new Map<string, number>();
  for (const run of runs) {
    for (const r of run.macro?.results ?? []) {
      if (r.error !== undefined) continue;
      if (!all && r.otherCpuShare > MAX_OTHER_SHARE) {
        disturbed.set(r.scenario, (disturbed.get(r.scenario) ?? 0) + 1);
        continue;
      }
      const list = byScenario.get(r.scenario);
      if (list === undefined) byScenario.set(r.scenario, [r]);
      else list.push(r);
    }
  }
  const merged: MacroResult[] = [];
  const notes: string[] = [];
  for (const [scenario, list] of byScenario) {
    const first = list[0] as MacroResult;
    const m = (pick: (r: MacroResult) => number): number => numericMedian(list, pick);
    merged.push({
      ...first,
      requests: m((r) => r.requests),
      requestsPerSecond: m((r) => r.requestsPerSecond),
      p50Ms: m((r) => r.p50Ms),
      p99Ms: m((r) => r.p99Ms),
      // Failures are summed, not medianed: one failed request in any run matters.
      failed: list.reduce((n, r) => n + r.failed, 0),
      cpuSeconds: m((r) => r.cpuSeconds),
      cpuShare: m((r) => r.cpuShare),
      systemShare: m((r) => r.systemShare),
      requestsPerCpuSecond: m((r) => r.requestsPerCpuSecond),
      rssMiB: m((r) => r.rssMiB),
      peakRssMiB: m((r) => r.peakRssMiB),
      clientCpuShare: m((r) => r.clientCpuShare),
      backendCpuShare: m((r) => r.backendCpuShare),
      otherCpuShare: m((r) => r.otherCpuShare),
      readyMs: m((r) => r.readyMs),
    });
    const rps = list.map((r) => r.requestsPerSecond).filter((v) => Number.isFinite(v) && v > 0);
    const extras = list.map((r) =>
      Object.entries(r.extra)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    );
    const left = disturbed.get(scenario) ?? 0;
    const parts = [`${list.length} runs${left > 0 ? ` (${left} left out: other CPU work above 30 %)` : ''}`];
    if (rps.length > 0) parts.push(`req/s ${compact(Math.min(...rps))}–${compact(Math.max(...rps))}`);
    if (extras.some((e) => e !== '')) parts.push(`per run: ${extras.join(' | ')}`);
    notes.push(`${scenario}: ${parts.join('; ')}`);
  }
  return { table: macroTable(merged), notes };
}

function main(argv: readonly string[]): void {
  const all = argv.includes('--all');
  const files = argv.filter((a) => a !== '--all');
  if (files.length === 0) {
    process.stderr.write('usage: node bench/report.ts [--all] RUN.json [RUN.json ...]\n');
    process.exit(2);
  }
  // Both `npm run bench -- --json` files and `bench/macro.ts --json` files (a MacroReport alone) are read.
  const runs = files.map((f): RunFile => {
    const data = JSON.parse(readFileSync(f, 'utf8')) as RunFile | MacroReport;
    return 'results' in data ? { micro: [], macro: data } : data;
  });
  process.stdout.write(`Medians over ${runs.length} file(s).\n\n`);
  if (runs.some((r) => r.micro.length > 0)) process.stdout.write(`${microMedians(runs)}\n\n`);
  const macro = macroMedians(runs, all);
  process.stdout.write(`${macro.table}\n\n`);
  for (const n of macro.notes) process.stdout.write(`- ${n}\n`);
}

main(process.argv.slice(2));
