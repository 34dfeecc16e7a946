import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestIds } from './request-ids.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('request ids are UUID version 4 strings, distinct within a process and between processes', () => {
  const a = new RequestIds();
  const b = new RequestIds();
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    for (const id of [a.next(), b.next()]) {
      assert.match(id, UUID_V4);
      assert.ok(!seen.has(id), id);
      seen.add(id);
    }
  }
});
