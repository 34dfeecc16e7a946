// Enforces the import direction between src/ folders (see docs/architecture.md): each folder may import only
// the folders listed for it. Test files may import anything.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');

const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  ir: [],
  model: ['ir'],
  observe: [],
  tls: [],
  translate: ['model', 'ir'],
  upstream: ['ir'],
  policy: ['ir'],
  compile: ['ir', 'policy', 'upstream', 'tls'],
  dataplane: ['ir', 'compile', 'observe', 'upstream', 'policy', 'tls'],
  state: ['ir', 'upstream', 'policy'],
  status: ['ir', 'model'],
  admin: ['ir', 'observe'],
  sources: ['model', 'ir', 'observe'],
  runtime: ['*'],
  cli: ['*'],
};

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) yield p;
  }
}

const problems: string[] = [];
for (const file of files(SRC)) {
  const area = relative(SRC, file).split('/')[0] as string;
  const allowed = ALLOWED[area];
  if (allowed === undefined) {
    problems.push(
      `${relative(process.cwd(), file)}: folder src/${area} has no import rule in scripts/check-imports.ts`,
    );
    continue;
  }
  if (allowed.includes('*')) continue;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = relative(SRC, resolve(dirname(file), m[1] as string)).split('/')[0] as string;
    if (target === area || allowed.includes(target)) continue;
    problems.push(`${relative(process.cwd(), file)}: src/${area} may not import src/${target} (${m[1]})`);
  }
}
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.exit(1);
}
