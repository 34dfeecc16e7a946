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

class TextDestination extends Writable {
  readonly #out: NodeJS.WritableStream;
  constructor(out: NodeJS.WritableStream) {
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
  readonly destination?: NodeJS.WritableStream;
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
