import { Writable } from 'node:stream';
import pino from 'pino';

export type LogFormat = 'json' | 'text';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type Logger = pino.Logger;

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

const SKIPPED_TEXT_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** Renders pino's JSON lines as `time LEVEL msg key=value ...` for people at a terminal. */
export function textLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString() : '';
  const level = LEVEL_NAMES[typeof record['level'] === 'number' ? record['level'] : 30] ?? 'INFO';
  let line = `${time} ${level.padEnd(5)} ${typeof record['msg'] === 'string' ? record['msg'] : ''}`;
  for (const key of Object.keys(record)) {
    if (SKIPPED_TEXT_FIELDS.has(key)) continue;
    line += ` ${key}=${formatValue(record[key])}`;
  }
  return `${line}\n`;
}

/** Where log lines go: a stream, or anything else that takes strings. */
export interface LineOutput {
  write(chunk: string): unknown;
}

class TextDestination extends Writable {
  readonly #out: LineOutput;
  constructor(out: LineOutput) {
    super({ decodeStrings: false });
    this.#out = out;
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let out = '';
    for (const part of text.split('\n')) if (part !== '') out += textLine(part);
    this.#out.write(out);
    done();
  }
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Defaults to stdout; tests pass their own stream. */
  readonly destination?: LineOutput;
}

/** How long an access-log line may wait to be written, and how much may wait. */
const BATCH_MS = 100;
const BATCH_CHARS = 16 * 1024;

/**
 * Lines gathered and written together: when BATCH_CHARS are waiting, else BATCH_MS after the first, and at exit.
 * The access log goes through one, so that a request costs no write of its own (what nginx's `access_log ...
 * buffer=` does): lines reach the output up to BATCH_MS late, and a process killed outright loses those.
 */
export class BatchedOutput {
  readonly #out: LineOutput;
  #pending = '';
  #timer: NodeJS.Timeout | null = null;

  constructor(out: LineOutput) {
    this.#out = out;
  }

  write(chunk: string): boolean {
    this.#pending += chunk;
    if (this.#pending.length >= BATCH_CHARS) this.flush();
    else if (this.#timer === null) {
      this.#timer = setTimeout(flushBatch, BATCH_MS, this);
      this.#timer.unref();
    }
    return true;
  }

  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.#out.write(text);
  }
}

function flushBatch(out: BatchedOutput): void {
  out.flush();
}

/**
 * The access logger of a serving process: lines batched on stdout (see BatchedOutput), flushed when the process
 * exits — stdout writes are synchronous for files and pipes on Linux, so an exit handler can still write.
 */
export function createAccessLogger(level: LogLevel, format: LogFormat, bindings: Record<string, unknown>): Logger {
  const out = new BatchedOutput(process.stdout);
  process.on('exit', () => out.flush());
  return createLogger({ level, format, destination: out }).child({ ...bindings, log: 'access' });
}

export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout;
  const destination = options.format === 'text' ? new TextDestination(out) : out;
  return pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (_label, number) => ({ level: number }) },
    },
    destination,
  );
}
