// `npm run bench`: the micro benchmarks, then the macro benchmark, each suite in a fresh process (so one suite's
// heap and JIT state cannot colour the next), then one summary.
//
//   npm run bench [-- --micro | --macro] [macro options: --scenarios, --duration, --connections, ...] [--json FILE]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compact, markdownTable } from './lib/stats.ts';
import { loadAverage } from './macro/proc.ts';
import type { MacroReport } from './macro/result.ts';
import { macroNotes, macroTable } from './macro/result.ts';
import { formatDuration, type MicroReport } from './micro/harness.ts';

const HERE = import.meta.dirname;
const MICRO_SUITES = ['route-matching.ts', 'translation.ts'];
/** The performance issue's target for loading 10,000 Ingress paths across 1,000 hosts. */
const LOAD_TARGET_NS = 2e9;

const HELP = `Usage: npm run bench [-- options]

  --micro            only the in-process benchmarks (route matching, translation)
  --macro            only the end-to-end benchmark (gatehouse as a process under load)
  --json FILE        write every result as JSON
Macro options, passed through (see node bench/macro.ts --help):
  --scenarios LIST   --duration S   --warmup S   --connections N   --reloads N   --no-pin   --cpu-prof DIR
`;

/** Set on SIGINT/SIGTERM: the running suite is told to stop (it cleans up its own processes) and no other starts. */
let interrupted = false;
let current: ChildProcess | null = null;

function onSignal(signal: NodeJS.Signals): void {
  interrupted = true;
  current?.kill(signal);
}

function runChild(args: readonly string[]): Promise<number | null> {
  if (interrupted) return Promise.resolve(null);
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    current = child;
    child.once('exit', (code) => {
      current = null;
      resolveExit(code);
    });
  });
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function microSummary(reports: readonly MicroReport[]): string {
  const rows: string[][] = [];
  for (const report of reports) {
    for (const r of report.results) {
      if (r.headline !== true) continue;
      let verdict = '';
      if (r.name.startsWith('10,000 Ingress paths') && r.name.includes('whole load')) {
        verdict = r.nsPerOp < LOAD_TARGET_NS ? 'target < 2 s: met' : 'target < 2 s: MISSED';
      }
      rows.push([
        r.suite,
        r.name,
        formatDuration(r.nsPerOp),
        r.opsPerSec >= 100 ? compact(r.opsPerSec) : r.opsPerSec.toPrecision(3),
        verdict,
      ]);
    }
  }
  return markdownTable(['suite', 'benchmark', 'median', 'ops/s', ''], rows);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    process.stderr.write(`Node ${process.versions.node}: run with Node 24 (npm run bench, or npx node bench/run.ts)\n`);
    return 2;
  }
  const onlyMicro = argv.includes('--micro');
  const onlyMacro = argv.includes('--macro');
  const jsonIndex = argv.indexOf('--json');
  const jsonFile = jsonIndex >= 0 ? argv[jsonIndex + 1] : undefined;
  const macroArgs = argv.filter((a, i) => a !== '--micro' && a !== '--macro' && i !== jsonIndex && i !== jsonIndex + 1);
  const runMicro = onlyMicro || !onlyMacro;
  const runMacro = onlyMacro || !onlyMicro;

  const load = loadAverage();
  process.stdout.write(
    `gatehouse benchmarks: Node ${process.versions.node}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${load.toFixed(2)}\n`,
  );
  if (load > 0.5) {
    process.stdout.write(
      `  note: the machine is not idle (load ${load.toFixed(2)}); figures will be lower and noisier than on a quiet machine\n`,
    );
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-bench-run-'));
  const micro: MicroReport[] = [];
  let macro: MacroReport | null = null;
  let failures = 0;
  try {
    if (runMicro) {
      for (const suite of MICRO_SUITES) {
        if (interrupted) break;
        const out = join(tmp, `${suite}.json`);
        process.stdout.write('\n');
        const code = await runChild(['--expose-gc', resolve(HERE, 'micro', suite), '--json', out]);
        const report = readJson<MicroReport>(out);
        if (interrupted) break;
        if (code !== 0 || report === null) {
          failures++;
          process.stdout.write(`  ${suite} failed (exit ${code})\n`);
        } else micro.push(report);
      }
    }
    if (runMacro && !interrupted) {
      const out = join(tmp, 'macro.json');
      process.stdout.write('\n');
      const code = await runChild([resolve(HERE, 'macro.ts'), ...macroArgs, '--json', out]);
      macro = readJson<MacroReport>(out);
      if ((code !== 0 || macro === null) && !interrupted) {
        failures++;
        process.stdout.write(`  macro failed (exit ${code})\n`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (interrupted) {
    process.stdout.write('\ninterrupted\n');
    return 130;
  }

  process.stdout.write(
    `\n== summary (${new Date().toISOString().slice(0, 10)}, ${((performance.now() - started) / 1000).toFixed(0)} s) ==\n`,
  );
  if (micro.length > 0) process.stdout.write(`\nmicro (medians):\n${microSummary(micro)}\n`);
  if (macro !== null) {
    process.stdout.write(
      `\nmacro (${macro.connections} connections, ${macro.warmupSeconds} s warm-up + ${macro.durationSeconds} s, ${macro.pinned ? 'gatehouse on CPU 1, load + backend on CPU 0' : 'not pinned'}):\n${macroTable(macro.results)}\n`,
    );
    for (const n of macroNotes(macro.results)) process.stdout.write(`  ${n}\n`);
  }
  if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify({ micro, macro }, null, 2));
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
