import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchedOutput, createLogger } from './logger.ts';

class Collect {
  readonly writes: string[] = [];
  write(chunk: string): boolean {
    this.writes.push(chunk);
    return true;
  }
}

test('BatchedOutput writes lines together: after a short wait, at once past 16 KiB, and on flush, in order', async () => {
  const sink = new Collect();
  const out = new BatchedOutput(sink);
  out.write('a\n');
  out.write('b\n');
  assert.deepEqual(sink.writes, [], 'nothing is written line by line');
  await sleep(250);
  assert.deepEqual(sink.writes, ['a\nb\n']);
  const long = `${'x'.repeat(10_000)}\n`;
  out.write(long);
  out.write(long);
  assert.deepEqual(sink.writes, ['a\nb\n', long + long], 'a full batch goes out without waiting');
  out.write('c\n');
  out.flush();
  out.flush();
  assert.deepEqual(sink.writes.at(-1), 'c\n');
  assert.equal(sink.writes.length, 3);
  await sleep(250);
  assert.equal(sink.writes.length, 3, 'a flushed batch leaves no timer behind to write it again');
});

test('a logger over a BatchedOutput writes the same JSON lines, later', async () => {
  const sink = new Collect();
  const out = new BatchedOutput(sink);
  const logger = createLogger({ level: 'info', format: 'json', destination: out }).child({ log: 'access' });
  logger.info({ status: 200, path: '/a' }, 'request');
  logger.info({ status: 404, path: '/b' }, 'request');
  out.flush();
  const lines = sink.writes
    .join('')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((l) => [l['log'], l['status'], l['path'], l['msg']]),
    [
      ['access', 200, '/a', 'request'],
      ['access', 404, '/b', 'request'],
    ],
  );
});
