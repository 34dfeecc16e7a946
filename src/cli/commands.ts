// The commands, loaded by main.ts once node's compile cache is on.
import { readFileSync } from 'node:fs';
import { parseServeArgs, SERVE_HELP, UsageError } from './args.ts';
import { serve } from './serve.ts';

const HELP = `Usage: gatehouse <command> [options]

Commands:
  serve        serve the Ingress resources in folders of manifests (gatehouse serve --help)
  echo         a demo backend that answers with a JSON description of each request
  quickstart   serve examples/quickstart with its demo backends (what \`npm start\` runs)
  version      print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Refuses what would weaken request parsing: the class of bug a front door must not have. */
function checkEnvironment(): void {
  if (
    (process.env['NODE_OPTIONS'] ?? '').includes('--insecure-http-parser') ||
    process.execArgv.includes('--insecure-http-parser')
  ) {
    throw new UsageError('refusing to start with --insecure-http-parser: it allows request smuggling');
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    case 'version':
    case '--version':
      process.stdout.write(`gatehouse ${version()}\n`);
      return 0;
    case 'serve':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(SERVE_HELP);
        return 0;
      }
      checkEnvironment();
      await serve(parseServeArgs(rest, process.env));
      return -1;
    case 'echo': {
      const { runEchoCommand } = await import('./echo.ts');
      await runEchoCommand(rest);
      return -1;
    }
    case 'quickstart': {
      const { runQuickstart } = await import('./quickstart.ts');
      await runQuickstart(rest);
      return -1;
    }
    default:
      throw new UsageError(`unknown command '${command}' (try: gatehouse --help)`);
  }
}

/** Runs the command in `argv` and exits with its status (servers keep the process alive instead). */
export function run(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: Error) => {
      if (err instanceof UsageError) {
        process.stderr.write(`gatehouse: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`gatehouse: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
