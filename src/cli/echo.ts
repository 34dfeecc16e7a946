import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from './args.ts';

/**
 * The demo and test backend: answers every request with a JSON description of what it received. A few path
 * endings change the answer, so tests behind prefix routes (`/svc/delay/500`) can use them too:
 *   …/bytes/<n>   n bytes of body, streamed in 64 KiB chunks
 *   …/delay/<ms>  the usual answer, after ms milliseconds (so does an `x-echo-delay: <ms>` header)
 *   …/status/<c>  the usual answer with status c (200–599)
 */

export interface EchoReply {
  readonly service: string;
  readonly method: string;
  /** The request target's path exactly as received, before any `?`. */
  readonly path: string;
  /** The raw query string without `?`, as received ('' when there is none). */
  readonly query: string;
  readonly host: string;
  /** Lower-case names; a header received more than once is an array, in order. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly remoteAddress: string;
  readonly bodyBytes: number;
}

export interface EchoServer {
  readonly name: string;
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:9001`. */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish for up to a second, then closes every connection. */
  close(): Promise<void>;
}

export interface EchoOptions {
  readonly name: string;
  /** `host:port` or `[ipv6]:port`; port 0 picks a free one. */
  readonly listen: string;
}

const BYTES_PATH = /\/bytes\/(\d{1,15})$/;
const DELAY_PATH = /\/delay\/(\d{1,9})$/;
const STATUS_PATH = /\/status\/(\d{1,3})$/;
const CHUNK = Buffer.alloc(64 * 1024, 0x78);
const CLOSE_GRACE_MS = 1_000;

function noop(): void {}

export function parseListen(listen: string): { readonly host: string; readonly port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port > 65_535) return null;
  return { host: m[1] ?? m[2] ?? '', port };
}

function collectHeaders(rawHeaders: readonly string[]): Record<string, string | string[]> {
  // A null prototype so a header named __proto__ is just data.
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (typeof seen === 'string') headers[name] = [seen, value];
    else seen.push(value);
  }
  return headers;
}

function describe(name: string, req: IncomingMessage, bodyBytes: number): EchoReply {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  return {
    service: name,
    method: req.method ?? '',
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    host: req.headers.host ?? '',
    headers: collectHeaders(req.rawHeaders),
    remoteAddress: req.socket.remoteAddress ?? '',
    bodyBytes,
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.destroyed) return;
  // RFC 9110: 204 and 304 carry neither a body nor a Content-Length describing one.
  if (status === 204 || status === 304) {
    res.writeHead(status);
    res.end();
    return;
  }
  const body = Buffer.from(JSON.stringify(value) + '\n', 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function drainedOrClosed(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function streamBytes(res: ServerResponse, total: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let remaining = total;
  while (remaining > 0) {
    if (res.destroyed) return;
    const n = Math.min(remaining, CHUNK.length);
    remaining -= n;
    if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)) && !(await drainedOrClosed(res))) return;
  }
  res.end();
}

function answer(name: string, req: IncomingMessage, res: ServerResponse, bodyBytes: number): void {
  const reply = describe(name, req, bodyBytes);
  const bytes = BYTES_PATH.exec(reply.path);
  if (bytes !== null) {
    void streamBytes(res, Number(bytes[1]));
    return;
  }
  let status = 200;
  const statusMatch = STATUS_PATH.exec(reply.path);
  if (statusMatch !== null) {
    status = Number(statusMatch[1]);
    if (status < 200 || status > 599) {
      sendJson(res, 400, { error: `status ${status} is outside 200-599` });
      return;
    }
  }
  const header = req.headers['x-echo-delay'];
  const delayText = DELAY_PATH.exec(reply.path)?.[1] ?? (typeof header === 'string' ? header : '');
  const delay = /^\d{1,9}$/.test(delayText) ? Number(delayText) : 0;
  if (delay === 0) {
    sendJson(res, status, reply);
    return;
  }
  const timer = setTimeout(sendJson, delay, res, status, reply);
  res.once('close', () => clearTimeout(timer));
}

/**
 * Answers one request: counts the body as it streams past (never holding it), then replies. Exported so test
 * backends that record requests answer exactly like this one.
 */
export function handleEchoRequest(name: string, req: IncomingMessage, res: ServerResponse): void {
  let bodyBytes = 0;
  req.on('data', (chunk: Buffer) => {
    bodyBytes += chunk.length;
  });
  // A client that goes away mid-body ends in 'close' without 'end'; there is nobody left to answer.
  req.on('error', noop);
  req.on('end', () => answer(name, req, res, bodyBytes));
}

export function listenOn(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Closes a server: idle connections now, busy ones once their response is done or after graceMs at most. */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    // A connection whose response finishes after close() turns idle, and nothing else would close it.
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function formatUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export async function startEcho(options: EchoOptions): Promise<EchoServer> {
  const target = parseListen(options.listen);
  if (target === null) throw new TypeError(`invalid listen address '${options.listen}' (expected HOST:PORT)`);
  const { name } = options;
  const server = createServer((req, res) => handleEchoRequest(name, req, res));
  const bound = await listenOn(server, target.host, target.port);
  let closing: Promise<void> | null = null;
  return {
    name,
    url: formatUrl(bound.address, bound.port),
    address: bound.address,
    port: bound.port,
    close() {
      closing ??= closeServer(server, CLOSE_GRACE_MS);
      return closing;
    },
  };
}

export const ECHO_HELP = `Usage: gatehouse echo --listen HOST:PORT [--name NAME]

A demo backend: answers every request with JSON describing it (service, method, path, query, host,
headers, remoteAddress, bodyBytes). Paths ending in /bytes/N, /delay/MS or /status/CODE stream N bytes,
answer after MS milliseconds, or answer with CODE.

  --listen HOST:PORT   address to listen on ([::1]:PORT for IPv6; port 0 picks a free one)
  --name NAME          the "service" field of every answer (default echo)
`;

function parseEchoArgs(argv: readonly string[]): { name: string; listen: string } | 'help' {
  const values: { name: string; listen: string | null } = { name: 'echo', listen: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (flag !== '--name' && flag !== '--listen') throw new UsageError(`echo: unknown option '${arg}'`);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) {
      throw new UsageError(`echo: ${flag} needs a value`);
    }
    if (flag === '--name') values.name = value;
    else values.listen = value;
  }
  if (values.listen === null) throw new UsageError('echo: --listen HOST:PORT is required');
  if (parseListen(values.listen) === null) {
    throw new UsageError(`echo: --listen: '${values.listen}' is not HOST:PORT with a port 0-65535`);
  }
  return { name: values.name, listen: values.listen };
}

/**
 * `gatehouse echo`: resolves once listening; SIGINT or SIGTERM then closes the server and the process exits 0.
 * Flag mistakes throw UsageError (one line, exit status 2).
 */
export async function runEchoCommand(argv: readonly string[]): Promise<void> {
  const args = parseEchoArgs(argv);
  if (args === 'help') {
    process.stdout.write(ECHO_HELP);
    return;
  }
  let echo: EchoServer;
  try {
    echo = await startEcho(args);
  } catch (err) {
    throw new UsageError(`echo: cannot listen on ${args.listen}: ${(err as Error).message}`);
  }
  const stop = (): void => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void echo.close().then(() => {
      process.exitCode = 0;
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`echo ${echo.name} listening on ${echo.url}\n`);
}
