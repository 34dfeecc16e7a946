// The golden-file harness shared by the translators' golden tests: testdata/<area>/<case>/input.yaml →
// expected.ir.yaml (+ expected.status.yaml, expected.diagnostics.yaml), each case re-run with its documents
// shuffled. UPDATE_GOLDEN=1 rewrites the expectations; reviewers read the YAML diff.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Document, isScalar, parse, parseAllDocuments, visit } from 'yaml';
import type { TranslateResult } from '../../src/ir/types.ts';
import { Snapshot } from '../../src/model/snapshot.ts';
import { parseManifestText } from '../../src/sources/file/parse.ts';
import { seededRandom } from './seeded-random.ts';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const SHUFFLE_SEEDS = [1, 2, 3, 4, 5];

export interface GoldenSuite<O extends { readonly upstream: 'service' | 'endpoints' }> {
  /** Folder under testdata/. */
  readonly area: string;
  readonly baseOptions: O;
  readonly translate: (snapshot: Snapshot, options: O) => TranslateResult;
  /** Whether expected.status.yaml is part of each case. */
  readonly withStatus: boolean;
  /** Maps of at most this many one-line scalars are written on one line. */
  readonly flowMapMax: number;
}

/**
 * YAML for a golden file. Shared objects are written out in full, since anchors would hide what each listener
 * holds; small maps of one-line scalars go on one line to keep the files short.
 */
function toYaml(value: unknown, flowMapMax: number): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  visit(doc, {
    Map(_key, node) {
      const oneLine = node.items.every(
        (pair) => isScalar(pair.value) && !(typeof pair.value.value === 'string' && pair.value.value.includes('\n')),
      );
      if (oneLine && node.items.length <= flowMapMax) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function shuffleDocuments(text: string, seed: number): string {
  const docs = parseAllDocuments(text);
  const parts = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toString());
  const random = seededRandom(seed);
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

export function runGoldenCases<O extends { readonly upstream: 'service' | 'endpoints' }>(suite: GoldenSuite<O>): void {
  const casesDir = join(import.meta.dirname, '..', '..', 'testdata', suite.area);

  const caseOptions = (dir: string): O => {
    const file = join(dir, 'options.yaml');
    if (!existsSync(file)) return suite.baseOptions;
    const raw: unknown = parse(readFileSync(file, 'utf8'));
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: must be a map`);
    // Other keys are translator options of the area (e.g. tcpServicesConfigMap for Ingress), passed as written.
    const { upstream = suite.baseOptions.upstream, ...rest } = raw as Record<string, unknown>;
    if (upstream !== 'service' && upstream !== 'endpoints')
      throw new Error(`${file}: upstream must be service|endpoints`);
    return { ...suite.baseOptions, ...rest, upstream } as O;
  };

  const translateText = (text: string, file: string, options: O): TranslateResult => {
    const parsed = parseManifestText(text, file);
    assert.deepEqual(parsed.diagnostics, [], `${file} must parse cleanly`);
    return suite.translate(new Snapshot(parsed.objects), options);
  };

  /** Golden text of a result; private keys never leave the input file. */
  const render = (result: TranslateResult): { ir: string; status: string; diagnostics: string } => {
    const ir = { ...result.ir, certificates: result.ir.certificates.map((c) => ({ ...c, keyPem: '<redacted>' })) };
    return {
      ir: toYaml(ir, suite.flowMapMax),
      status: suite.withStatus ? toYaml(result.status, suite.flowMapMax) : '',
      diagnostics: result.diagnostics.length === 0 ? '' : toYaml(result.diagnostics, suite.flowMapMax),
    };
  };

  const cases = readdirSync(casesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(casesDir, e.name, 'input.yaml')))
    .map((e) => e.name)
    .sort();

  describe(`${suite.area} golden cases`, () => {
    it('finds cases', () => {
      assert.ok(cases.length > 0, `no cases under ${casesDir}`);
    });

    for (const name of cases) {
      const dir = join(casesDir, name);
      const inputFile = `testdata/${suite.area}/${name}/input.yaml`;

      it(name, () => {
        const text = readFileSync(join(dir, 'input.yaml'), 'utf8');
        const options = caseOptions(dir);
        const got = render(translateText(text, inputFile, options));
        const irFile = join(dir, 'expected.ir.yaml');
        const statusFile = join(dir, 'expected.status.yaml');
        const diagFile = join(dir, 'expected.diagnostics.yaml');

        if (UPDATE) {
          writeFileSync(irFile, got.ir);
          if (suite.withStatus) writeFileSync(statusFile, got.status);
          if (got.diagnostics === '') rmSync(diagFile, { force: true });
          else writeFileSync(diagFile, got.diagnostics);
        } else {
          assert.equal(got.ir, readOptional(irFile), `${name}: IR differs from expected.ir.yaml`);
          if (suite.withStatus) {
            assert.equal(got.status, readOptional(statusFile), `${name}: status differs from expected.status.yaml`);
          }
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
}
