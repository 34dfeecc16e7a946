import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizePath } from './request-path.ts';

test('plain paths are returned unchanged', () => {
  for (const p of ['/', '/foo', '/foo/', '/a/b.c/d', '/x-y_z~1']) assert.equal(normalizePath(p), p);
});

test('dot segments and repeated slashes are resolved', () => {
  assert.equal(normalizePath('/a/./b'), '/a/b');
  assert.equal(normalizePath('/a/../b'), '/b');
  assert.equal(normalizePath('/a//b///c'), '/a/b/c');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/a/b/.'), '/a/b/');
  assert.equal(normalizePath('//'), '/');
  assert.equal(normalizePath('/.'), '/');
});

test('encoded unreserved characters are decoded before dot segments are resolved', () => {
  assert.equal(normalizePath('/public/%2e%2e/admin'), '/admin');
  assert.equal(normalizePath('/public/%2E/x'), '/public/x');
  assert.equal(normalizePath('/%61dmin'), '/admin');
  assert.equal(normalizePath('/a%20b'), '/a%20b');
  assert.equal(normalizePath('/a%3fb'), '/a%3Fb');
});

test('ambiguous or malformed paths are refused', () => {
  for (const p of [
    '',
    'foo',
    '/a%2fb',
    '/a%5Cb',
    '/a%00',
    '/a\\b',
    '/%zz',
    '/%4',
    '/..',
    '/a/../..',
    '/%2e%2e/x',
    '/public/%252e%252e/admin',
    '/a/%252F',
    '/public/..;/admin',
    '/a/.;x/b',
  ]) {
    assert.equal(normalizePath(p), null, p);
  }
});
