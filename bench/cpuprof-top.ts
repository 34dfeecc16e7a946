// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/macro.ts --cpu-prof DIR`): where self time
// goes, by area (gatehouse folder, dependency, Node internals, GC) and by function.
//
//   npx node bench/cpuprof-top.ts FILE.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable } from './lib/stats.ts';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const ROOT = resolve(import.meta.dirname, '..');

function pathOf(url: string): string {
  if (url.startsWith('file://')) return relative(ROOT, fileURLToPath(url));
  return url;
}

/** The bucket a frame's self time is charged to. */
function areaOf(frame: CallFrame): string {
  const name = frame.functionName;
  if (frame.url === '') {
    if (name === '(garbage collector)' || name === '(idle)' || name === '(program)') return name;
    return '(native / builtins)';
  }
  const path = pathOf(frame.url);
  if (path.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(path);
    return `node:${m?.[1] ?? path}`;
  }
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `dep ${rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith('src/')) return path.split('/').slice(0, 2).join('/');
  return path;
}

function main(argv: readonly string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  if (file === undefined) {
    process.stderr.write('usage: node bench/cpuprof-top.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const topIndex = argv.indexOf('--top');
  const top = topIndex >= 0 ? Number(argv[topIndex + 1]) : 30;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const area = areaOf(node.callFrame);
    if (area === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const f = node.callFrame;
    const where = f.url === '' ? '' : ` ${pathOf(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const share = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`;
  const rows = (m: Map<string, number>, n: number): string[][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [k, (us / 1000).toFixed(0), share(us)]);
  process.stdout.write(
    `${file}: ${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle; shares are of busy time\n\n`,
  );
  process.stdout.write(`${markdownTable(['area (self time)', 'ms', 'share'], rows(byArea, 40))}\n\n`);
  process.stdout.write(`${markdownTable(['function (self time)', 'ms', 'share'], rows(byFunction, top))}\n`);
}

main(process.argv.slice(2));
