import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every YAML file of the repository's test data, examples and deploy manifests, with its path. */
export function repositoryManifests(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push({ file: p, text: readFileSync(p, 'utf8') });
    }
  };
  const root = join(import.meta.dirname, '../..');
  for (const d of ['testdata', 'examples', 'deploy']) walk(join(root, d));
  return out;
}
