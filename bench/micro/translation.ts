// Configuration load cost, stage by stage and end to end: YAML → typed objects → Snapshot → IR → compiled table,
// for 10,000 Ingress paths across 1,000 hosts and for 1,000 HTTPRoutes.
//
//   npx node --expose-gc bench/micro/translation.ts [--json FILE]
import { compileTable, hashIR } from '../../src/compile/compile-table.ts';
import { SecureContextCache } from '../../src/compile/tls-contexts.ts';
import type { IR } from '../../src/ir/types.ts';
import type { KubeObject } from '../../src/model/objects.ts';
import { Snapshot } from '../../src/model/snapshot.ts';
import { ObjectStore } from '../../src/model/store.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER, translateAll } from '../../src/runtime/translate-all.ts';
import { type ParseCache, parseManifest, parseManifestText } from '../../src/sources/file/parse.ts';
import { selfSignedDefaultCertificate } from '../../src/tls/certificates.ts';
import { translateGatewayAPI } from '../../src/translate/gatewayapi/translate-gatewayapi.ts';
import { translateIngresses } from '../../src/translate/ingress/translate-ingress.ts';
import { defaultUpstreamOptions, PoolRegistry } from '../../src/upstream/pools.ts';
import { hostIngressYaml, httpRouteManifest, ingressManifest } from './fixtures.ts';
import {
  headline,
  jsonTarget,
  type MicroResult,
  measureRuns,
  printResult,
  type RunOptions,
  writeReport,
} from './harness.ts';

const SUITE = 'translation';
const TRANSLATE_OPTIONS = { ingressClass: 'gatehouse', upstream: 'service', httpPort: 8080, httpsPort: 8443 } as const;

interface Case {
  readonly label: string;
  readonly text: string;
  /** The translator this case is about, on its own. */
  readonly translate: (snapshot: Snapshot) => { readonly ir: IR };
  /** The same text with one path added to one document, for the one-route change. */
  readonly edited?: string;
}

function countRoutes(ir: IR): number {
  let n = 0;
  for (const l of ir.listeners) for (const v of l.virtualHosts) n += v.routes.length;
  return n;
}

function parse(text: string): readonly KubeObject[] {
  const parsed = parseManifestText(text, 'bench.yaml');
  const error = parsed.diagnostics.find((d) => d.severity === 'error');
  if (error !== undefined) throw new Error(`fixture does not parse: ${error.message}`);
  return parsed.objects;
}

async function main(): Promise<void> {
  // Slow stages (YAML parsing takes seconds) stop after three rounds; fast ones get seven.
  const runs: RunOptions = { warmup: 1, rounds: 7, budgetMs: 2_500 };
  const pools = new PoolRegistry(defaultUpstreamOptions);
  const compileContext = {
    pools,
    secureContexts: new SecureContextCache(),
    defaultCertificate: selfSignedDefaultCertificate(),
  };
  const ingressText = ingressManifest(1_000);
  const cases: Case[] = [
    {
      label: '10,000 Ingress paths / 1,000 hosts',
      text: ingressText,
      edited: ingressText.replace(hostIngressYaml(500), hostIngressYaml(500, undefined, ['/changed'])),
      translate: (s) =>
        translateIngresses(s, {
          ingressClass: 'gatehouse',
          controllerName: INGRESS_CONTROLLER,
          upstream: 'service',
          httpPort: 8080,
          httpsPort: 8443,
        }),
    },
    {
      label: '1,000 HTTPRoutes',
      text: httpRouteManifest(1_000),
      translate: (s) => translateGatewayAPI(s, { controllerName: GATEWAY_CONTROLLER, upstream: 'service' }),
    },
  ];
  // What the runtime does with a folder on start: file source parse, store, every translator, hash, compile.
  const wholeLoad = (text: string): unknown => {
    const store = new ObjectStore({ onChange: () => {} });
    store.set('files', parse(text));
    const result = translateAll(store.snapshot(), TRANSLATE_OPTIONS);
    store.close();
    return compileTable(result.ir, compileContext, hashIR(result.ir));
  };
  /**
   * A one-route change as the file source and the runtime apply it: the file parsed again with the cache of its
   * last parse (only the changed document is parsed), the store, every translator, hash, compile. Alternates
   * between the two versions, so every operation is a change.
   */
  const oneChange = (text: string, edited: string): MicroResult[] => {
    if (edited === text) throw new Error('the edit changed nothing');
    const versions = [text, edited];
    let version = 0;
    let cache: ParseCache | null = parseManifest(text, 'bench.yaml').cache;
    const reparse = (): readonly KubeObject[] => {
      version ^= 1;
      const parsed = parseManifest(versions[version] as string, 'bench.yaml', cache);
      cache = parsed.cache;
      return parsed.objects;
    };
    const store = new ObjectStore({ onChange: () => {} });
    store.set('files', reparse());
    const change = (): unknown => {
      store.set('files', reparse());
      const result = translateAll(store.snapshot(), TRANSLATE_OPTIONS);
      return compileTable(result.ir, compileContext, hashIR(result.ir));
    };
    const out = [
      measureRuns(SUITE, '10,000 Ingress paths: one-path change, re-parse of the file (cached)', reparse, runs),
      headline(
        measureRuns(SUITE, '10,000 Ingress paths: one-path change (re-parse→store→translateAll→compile)', change, runs),
      ),
    ];
    store.close();
    return out;
  };
  const results: MicroResult[] = [];
  const notes: string[] = [];
  process.stdout.write('translation (parse → snapshot → translate → hash → compile)\n');
  for (const c of cases) {
    // Before anything else touches this case: a gateway starting up loads its folder with a cold JIT, once.
    const cold = measureRuns(SUITE, `${c.label}: whole load, first run in process`, () => wholeLoad(c.text), {
      warmup: 0,
      rounds: 1,
    });
    const objects = parse(c.text);
    const snapshot = new Snapshot(objects);
    const translated = c.translate(snapshot);
    const ir = translated.ir;
    const compiled = compileTable(ir, compileContext);
    notes.push(
      `${c.label}: ${(c.text.length / 1024 / 1024).toFixed(1)} MiB of YAML, ${objects.length} objects → ${countRoutes(ir)} IR routes, ${ir.backends.length} backends, ${compiled.table.listeners.size} listener(s)`,
    );
    const stage: MicroResult[] = [
      measureRuns(SUITE, `${c.label}: parse YAML + decode`, () => parse(c.text), runs),
      measureRuns(SUITE, `${c.label}: Snapshot`, () => new Snapshot(objects), runs),
      headline(measureRuns(SUITE, `${c.label}: translate`, () => c.translate(snapshot), runs)),
      measureRuns(SUITE, `${c.label}: hash IR`, () => hashIR(ir), runs),
      measureRuns(SUITE, `${c.label}: compile`, () => compileTable(ir, compileContext), runs),
      headline(
        measureRuns(SUITE, `${c.label}: whole load (parse→store→translateAll→compile)`, () => wholeLoad(c.text), runs),
      ),
      headline(cold),
    ];
    if (c.edited !== undefined) stage.push(...oneChange(c.text, c.edited));
    for (const r of stage) printResult(r);
    results.push(...stage);
  }
  for (const n of notes) process.stdout.write(`  note: ${n}\n`);
  writeReport({ suite: SUITE, results, notes }, jsonTarget(process.argv));
  await pools.destroy();
}

await main();
