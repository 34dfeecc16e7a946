import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledHeaderModifier, rewritePath } from './route-filters.ts';

test('header modifier: remove, then set (replacing), then add; names case-insensitive', () => {
  const m = new CompiledHeaderModifier({
    set: [{ name: 'X-Set', value: 'new' }],
    add: [{ name: 'X-Add', value: 'two' }],
    remove: ['X-Gone'],
  });
  assert.deepEqual(m.applyFlat(['x-set', 'old', 'X-GONE', '1', 'X-Add', 'one', 'Host', 'h']), [
    'X-Add',
    'one',
    'Host',
    'h',
    'x-set',
    'new',
    'x-add',
    'two',
  ]);
  const obj: Record<string, string | string[]> = { 'x-set': 'old', 'x-gone': '1', 'x-add': 'one' };
  m.applyObject(obj);
  assert.deepEqual(obj, { 'x-set': 'new', 'x-add': ['one', 'two'] });
});

test('path rewrites: full path, and prefix replacement element-wise', () => {
  assert.equal(rewritePath('/foo/bar', { kind: 'ReplaceFullPath', value: '/x' }, '/foo'), '/x');
  const prefix = { kind: 'ReplacePrefixMatch', value: '/bar' } as const;
  assert.equal(rewritePath('/foo/x', prefix, '/foo'), '/bar/x');
  assert.equal(rewritePath('/foo', prefix, '/foo'), '/bar');
  assert.equal(rewritePath('/foo/', prefix, '/foo'), '/bar/');
  const toRoot = { kind: 'ReplacePrefixMatch', value: '/' } as const;
  assert.equal(rewritePath('/foo/x', toRoot, '/foo'), '/x');
  assert.equal(rewritePath('/foo', toRoot, '/foo'), '/');
  assert.equal(rewritePath('/x/y', { kind: 'ReplacePrefixMatch', value: '/p' }, '/'), '/p/x/y');
  assert.equal(rewritePath('/foo/x', { kind: 'ReplacePrefixMatch', value: '/bar/' }, '/foo'), '/bar/x');
});
