import { fileURLToPath } from 'node:url';
import { parseServeArgs } from './args.ts';
import { startEcho } from './echo.ts';
import { serve } from './serve.ts';

const QUICKSTART = fileURLToPath(new URL('../../examples/quickstart', import.meta.url));

/** The demo backends named by examples/quickstart's Services and EndpointSlices. */
const DEMO_BACKENDS = [
  { name: 'foo', listen: '127.0.0.1:9001' },
  { name: 'bar', listen: '127.0.0.1:9002' },
];

/** `npm start`: the quickstart manifests, their demo backends and gatehouse in one process; Ctrl-C stops all. */
export async function runQuickstart(extra: readonly string[]): Promise<void> {
  const echoes = await Promise.all(DEMO_BACKENDS.map((b) => startEcho(b)));
  for (const e of echoes) process.stdout.write(`demo backend listening on ${e.url}\n`);
  const args = parseServeArgs([
    '--manifests',
    QUICKSTART,
    '--tcp-services-configmap',
    'default/tcp-services',
    '--log-format',
    'text',
    ...extra,
  ]);
  await serve(args, async () => {
    await Promise.all(echoes.map((e) => e.close()));
  });
  process.stdout.write(
    `\ngatehouse is serving examples/quickstart on http://localhost:${args.httpPort}\n` +
      `  curl http://localhost:${args.httpPort}/foo/hello\n  curl http://localhost:${args.httpPort}/bar/hello\n` +
      'layer 4 (TCP straight to Service bar): curl http://localhost:1234/anything (TCPRoute), ' +
      'curl http://localhost:1235/anything (tcp-services map)\n' +
      `admin: http://${args.adminAddress}:${args.adminPort}/api/config\nCtrl-C stops everything.\n\n`,
  );
}
