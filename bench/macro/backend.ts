// The upstream for the macro benchmark, run as its own process so it does not share an event loop with the load
// generator. Listens on the same port on every address given, prints `{"port":N}` once listening, and exits
// when its stdin closes (so it never outlives the benchmark) or on SIGTERM.
//
//   node bench/macro/backend.ts 127.0.71.1 127.0.71.2
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

const SMALL_BODY = Buffer.from('hello from backend\n');
const LARGE_BODY = Buffer.alloc(64 * 1024, 'x');

/** See CHANGED_ADDRESS in manifests.ts: `/changed/...` is answered only on the address of the Service it names. */
const CHANGED_ADDRESS = '127.0.71.3';

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith('/changed/') === true && req.socket.localAddress !== CHANGED_ADDRESS) {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 0 });
    res.end();
    return;
  }
  const body = req.url === '/64k' ? LARGE_BODY : SMALL_BODY;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}

function listen(address: string, port: number): Promise<Server> {
  const server = createServer({ keepAliveTimeout: 65_000 }, handle);
  // Unlimited (the default), stated because the upstream leg must stay keep-alive for the whole run.
  server.maxRequestsPerSocket = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

async function main(addresses: readonly string[]): Promise<void> {
  const first = addresses[0];
  if (first === undefined) throw new Error('usage: backend.ts ADDRESS [ADDRESS ...]');
  const primary = await listen(first, 0);
  const servers = [primary];
  const port = (primary.address() as { port: number }).port;
  for (const a of addresses.slice(1)) servers.push(await listen(a, port));
  const stop = (): void => {
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

await main(process.argv.slice(2));
