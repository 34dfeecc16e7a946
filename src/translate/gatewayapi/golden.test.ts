// Golden cases: testdata/gatewayapi/<case>/input.yaml → expected.ir.yaml + expected.status.yaml
// (+ expected.diagnostics.yaml).
// UPDATE_GOLDEN=1 rewrites the expectations; reviewers read the YAML diff.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Document, isScalar, parse, parseAllDocuments, visit } from 'yaml';
import type { TranslateResult } from '../../ir/types.ts';
import { Snapshot } from '../../model/snapshot.ts';
import { parseManifestText } from '../../sources/file/parse.ts';
import type { UpstreamMode } from '../backends.ts';
import {
  GATEWAY_CONTROLLER_NAME,
  type GatewayAPITranslateOptions,
  translateGatewayAPI,
} from './translate-gatewayapi.ts';

const CASES_DIR = join(import.meta.dirname, '..', '..', '..', 'testdata', 'gatewayapi');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const SHUFFLE_SEEDS = [1, 2, 3, 4, 5];

/**
 * YAML for a golden file. Shared objects (a route on both listeners) are written out in full, since anchors would
 * hide what each listener holds; small maps of one-line scalars (conditions included) go on one line to keep the
 * files short.
 */
function toYaml(value: unknown): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  visit(doc, {
    Map(_key, node) {
      const oneLine = node.items.every(
        (pair) => isScalar(pair.value) && !(typeof pair.value.value === 'string' && pair.value.value.includes('\n')),
      );
      if (oneLine && node.items.length <= 5) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

const baseOptions: GatewayAPITranslateOptions = {
  controllerName: GATEWAY_CONTROLLER_NAME,
  upstream: 'service',
};

function caseOptions(dir: string): GatewayAPITranslateOptions {
  const file = join(dir, 'options.yaml');
  if (!existsSync(file)) return baseOptions;
  const raw: unknown = parse(readFileSync(file, 'utf8'));
  const upstream = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['upstream'] : undefined;
  if (upstream !== 'service' && upstream !== 'endpoints')
    throw new Error(`${file}: upstream must be service|endpoints`);
  return { ...baseOptions, upstream: upstream satisfies UpstreamMode };
}

function translateText(text: string, file: string, options: GatewayAPITranslateOptions): TranslateResult {
  const parsed = parseManifestText(text, file);
  assert.deepEqual(parsed.diagnostics, [], `${file} must parse cleanly`);
  return translateGatewayAPI(new Snapshot(parsed.objects), options);
}

/** Golden text of a result; private keys never leave the input file. */
function render(result: TranslateResult): { ir: string; status: string; diagnostics: string } {
  const ir = {
    ...result.ir,
    certificates: result.ir.certificates.map((c) => ({ ...c, keyPem: '<redacted>' })),
  };
  return {
    ir: toYaml(ir),
    status: toYaml(result.status),
    diagnostics: result.diagnostics.length === 0 ? '' : toYaml(result.diagnostics),
  };
}

/** mulberry32: a tiny seeded generator, so a failing permutation can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffleDocuments(text: string, seed: number): string {
  const docs = parseAllDocuments(text);
  const parts = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toString());
  const random = seeded(seed);
  for (let i = parts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = parts[i] as string;
    parts[i] = parts[j] as string;
    parts[j] = tmp;
  }
  return parts.map((p) => (p.startsWith('---') ? p : `---\n${p}`)).join('');
}

function readOptional(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

const cases = readdirSync(CASES_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(CASES_DIR, e.name, 'input.yaml')))
  .map((e) => e.name)
  .sort();

describe('gateway api golden cases', () => {
  it('finds cases', () => {
    assert.ok(cases.length > 0, `no cases under ${CASES_DIR}`);
  });

  for (const name of cases) {
    const dir = join(CASES_DIR, name);
    const inputFile = `testdata/gatewayapi/${name}/input.yaml`;

    it(name, () => {
      const text = readFileSync(join(dir, 'input.yaml'), 'utf8');
      const options = caseOptions(dir);
      const got = render(translateText(text, inputFile, options));
      const irFile = join(dir, 'expected.ir.yaml');
      const statusFile = join(dir, 'expected.status.yaml');
      const diagFile = join(dir, 'expected.diagnostics.yaml');

      if (UPDATE) {
        writeFileSync(irFile, got.ir);
        writeFileSync(statusFile, got.status);
        if (got.diagnostics === '') rmSync(diagFile, { force: true });
        else writeFileSync(diagFile, got.diagnostics);
      } else {
        assert.equal(got.ir, readOptional(irFile), `${name}: IR differs from expected.ir.yaml`);
        assert.equal(got.status, readOptional(statusFile), `${name}: status differs from expected.status.yaml`);
        assert.equal(got.diagnostics, readOptional(diagFile), `${name}: diagnostics differ`);
      }

      for (const seed of SHUFFLE_SEEDS) {
        const shuffled = render(translateText(shuffleDocuments(text, seed), inputFile, options));
        assert.equal(shuffled.ir, got.ir, `${name}: IR depends on document order (seed ${seed})`);
        assert.equal(shuffled.status, got.status, `${name}: status depends on document order (seed ${seed})`);
        assert.equal(
          shuffled.diagnostics,
          got.diagnostics,
          `${name}: diagnostics depend on document order (seed ${seed})`,
        );
      }
    });
  }
});
