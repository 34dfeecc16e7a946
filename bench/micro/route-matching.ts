// Route matching as the data plane does it per request: HostRouter lookup, then the virtual host's PathIndex,
// over tables of 10, 1,000 and 10,000 routes. Also times compiling each table.
//
//   npx node --expose-gc bench/micro/route-matching.ts [--json FILE]
import { type CompiledListener, compileTable } from '../../src/compile/compile-table.ts';
import { SecureContextCache } from '../../src/compile/tls-contexts.ts';
import { selfSignedDefaultCertificate } from '../../src/tls/certificates.ts';
import { defaultUpstreamOptions, PoolRegistry } from '../../src/upstream/pools.ts';
import { type BenchRequest, benchRequests, ROUTES_PER_HOST, routeTableIR } from './fixtures.ts';
import {
  headline,
  jsonTarget,
  type MicroResult,
  measureLoop,
  measureRuns,
  printResult,
  writeReport,
} from './harness.ts';

const SUITE = 'route-matching';
/** Distinct requests cycled through; a power of two so the index is a mask. */
const STREAM = 4096;

/** Sizes as hosts × routes per host. */
const SIZES: readonly { readonly label: string; readonly hosts: number; readonly routesPerHost: number }[] = [
  { label: '10 routes (1 host × 10)', hosts: 1, routesPerHost: ROUTES_PER_HOST },
  { label: '1,000 routes (100 hosts × 10)', hosts: 100, routesPerHost: ROUTES_PER_HOST },
  { label: '10,000 routes (1,000 hosts × 10)', hosts: 1_000, routesPerHost: ROUTES_PER_HOST },
];

/** Host lookup plus path match for `n` requests; returns how many found a route so none of it is dead code. */
function matchLoop(listener: CompiledListener, requests: readonly BenchRequest[], n: number): number {
  let found = 0;
  const hosts = listener.hosts;
  for (let i = 0; i < n; i++) {
    const r = requests[i & (STREAM - 1)] as BenchRequest;
    const vhost = hosts.lookup(r.host);
    if (vhost !== null && vhost.routes.match(r.input) !== null) found++;
  }
  return found;
}

function hostLoop(listener: CompiledListener, requests: readonly BenchRequest[], n: number): number {
  let found = 0;
  const hosts = listener.hosts;
  for (let i = 0; i < n; i++) {
    if (hosts.lookup((requests[i & (STREAM - 1)] as BenchRequest).host) !== null) found++;
  }
  return found;
}

async function main(): Promise<void> {
  const pools = new PoolRegistry(defaultUpstreamOptions);
  const ctx = {
    pools,
    secureContexts: new SecureContextCache(),
    defaultCertificate: selfSignedDefaultCertificate(),
  };
  const results: MicroResult[] = [];
  const notes: string[] = [];
  process.stdout.write('route matching (HostRouter.lookup + PathIndex.match per request)\n');
  for (const size of SIZES) {
    const ir = routeTableIR(size.hosts, size.routesPerHost);
    const routes = ir.listeners.reduce((n, l) => n + l.virtualHosts.reduce((m, v) => m + v.routes.length, 0), 0);
    const compiled = compileTable(ir, ctx);
    if (compiled.diagnostics.length > 0) throw new Error(`compile: ${JSON.stringify(compiled.diagnostics[0])}`);
    const listener = compiled.table.listeners.get('ingress-http');
    if (listener === undefined) throw new Error('listener ingress-http missing');
    const requests = benchRequests(size.hosts, STREAM);
    const hits = matchLoop(listener, requests, STREAM);
    notes.push(
      `${size.label}: ${routes} routes incl. 1 wildcard; ${((100 * hits) / STREAM).toFixed(0)} % of requests match`,
    );

    const compile = measureRuns(SUITE, `compile ${size.label}`, () => compileTable(ir, ctx), { warmup: 2, rounds: 7 });
    results.push(size.hosts === 1_000 ? headline(compile) : compile);
    results.push(measureLoop(SUITE, `host lookup, ${size.label}`, (n) => hostLoop(listener, requests, n)));
    results.push(
      headline(measureLoop(SUITE, `host + path match, ${size.label}`, (n) => matchLoop(listener, requests, n))),
    );
    for (const r of results.slice(-3)) printResult(r);
  }
  for (const n of notes) process.stdout.write(`  note: ${n}\n`);
  writeReport({ suite: SUITE, results, notes }, jsonTarget(process.argv));
  await pools.destroy();
}

await main();
