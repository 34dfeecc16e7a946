// Entry of a worker process (`gatehouse serve --workers N`, N > 1): the data plane only. The primary forks it
// through node:cluster, which shares the listening sockets; it receives the settings and each new IR over IPC,
// compiles the IR itself and swaps it in atomically, and reports back. SIGTERM or SIGINT — from the primary or
// from a signal to the whole process group — drains it: stop accepting, let requests finish (up to the drain
// timeout), exit 0.
import cluster from 'node:cluster';
import { createAccessLogger, createLogger, type Logger } from '../observe/logger.ts';
import { Metrics } from '../observe/metrics.ts';
import { LocalServing } from './serving.ts';
import { type FromWorker, isToWorker, type ToWorker, type WorkerInit } from './worker-protocol.ts';

if (!cluster.isWorker || cluster.worker === undefined) {
  process.stderr.write('gatehouse: the worker entry is started by `gatehouse serve --workers N`\n');
  process.exit(2);
}

const id = cluster.worker.id;
const metrics = new Metrics('data');
let init: WorkerInit | null = null;
let logger: Logger | null = null;
let serving: LocalServing | null = null;
let stopping = false;
/** Configurations are applied one at a time, in the order they came. */
let applying: Promise<void> = Promise.resolve();

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

function start(i: WorkerInit): void {
  if (init !== null) return;
  init = i;
  logger = createLogger({ level: i.logLevel, format: i.logFormat }).child({ worker: id });
  const access = i.settings.accessLog ? createAccessLogger(i.logLevel, i.logFormat, { worker: id }) : undefined;
  serving = new LocalServing(i.settings, logger, metrics, id, access);
  logger.debug({ pid: process.pid }, 'worker started');
}

async function apply(m: Extract<ToWorker, { type: 'gatehouse:config' }>): Promise<void> {
  if (serving === null || stopping) return;
  try {
    const outcome = await serving.apply(m.ir, m.hash);
    send({
      type: 'gatehouse:applied',
      seq: m.seq,
      hash: m.hash,
      diagnostics: outcome.diagnostics,
      listenerErrors: outcome.listenerErrors,
    });
  } catch (err) {
    send({ type: 'gatehouse:rejected', seq: m.seq, hash: m.hash, error: (err as Error).message });
  }
}

async function onMessage(m: unknown): Promise<void> {
  if (!isToWorker(m)) return;
  switch (m.type) {
    case 'gatehouse:init':
      start(m.init);
      return;
    case 'gatehouse:config':
      applying = applying.then(() => apply(m));
      return;
    case 'gatehouse:metrics':
      send({ type: 'gatehouse:metrics', request: m.request, metrics: await metrics.registry.getMetricsAsJSON() });
      return;
  }
}

function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  if (serving === null || init === null) process.exit(0);
  logger?.info({ signal, inflight: serving.inflight }, 'draining');
  serving.drain(init.drainTimeoutMs).then(
    () => {
      logger?.info('stopped');
      process.exit(0);
    },
    (err: Error) => {
      logger?.error({ err: err.message }, 'drain failed');
      process.exit(1);
    },
  );
}

process.on('message', (m: unknown) => {
  onMessage(m).catch((err: Error) => logger?.error({ err: err.message }, 'message from the primary failed'));
});
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
send({ type: 'gatehouse:hello' });
