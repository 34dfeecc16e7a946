// The `yaml` package, as gatehouse loads it. Its Node build reads `process.env.LOG_TOKENS` for every token the
// parser sees (a debugging hook; `process.env` is a call into the environment each time), which is about a quarter
// of the time it takes to parse a big manifest file (10,000 Ingress paths: ~1.06 s → ~0.75 s of CPU). Its browser
// build is the same code, from the same version, without that hook and without the `Buffer` use of the YAML 1.1
// `!!binary` tag (which the default YAML 1.2 schema gatehouse parses with does not have). The package's `exports`
// do not offer the browser build to Node, so it is loaded by its path beside the Node build; if that ever fails
// (another layout), the Node build is used.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type Yaml = typeof import('yaml');

function usable(m: Partial<Yaml>): m is Yaml {
  return (
    typeof m.parseAllDocuments === 'function' && typeof m.parse === 'function' && typeof m.LineCounter === 'function'
  );
}

async function load(): Promise<Yaml> {
  try {
    // …/node_modules/yaml/dist/index.js → …/node_modules/yaml/browser/dist/index.js
    const nodeEntry = createRequire(import.meta.url).resolve('yaml');
    const browser = (await import(
      pathToFileURL(join(dirname(nodeEntry), '..', 'browser', 'dist', 'index.js')).href
    )) as Partial<Yaml>;
    if (usable(browser)) return browser;
  } catch {
    // fall through to the Node build
  }
  return import('yaml');
}

export const yaml: Yaml = await load();
