import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostOf } from './routing.ts';

test('hostOf: lower-case host without port, or null for what is no host name or address literal', () => {
  assert.equal(hostOf('example.com'), 'example.com');
  assert.equal(hostOf('Example.COM:8080'), 'example.com');
  assert.equal(hostOf('a-b_c.d:'), 'a-b_c.d');
  assert.equal(hostOf('127.0.0.1:80'), '127.0.0.1');
  assert.equal(hostOf('[::1]:8443'), '[::1]');
  assert.equal(hostOf('[FE80::1]'), '[fe80::1]');
  assert.equal(hostOf(''), '');
  assert.equal(hostOf('x:123456'), null);
  assert.equal(hostOf('x:8o'), null);
  assert.equal(hostOf('a b'), null);
  assert.equal(hostOf('a@b'), null);
  assert.equal(hostOf('exa\u0430mple.com'), null);
  assert.equal(hostOf('[::1]x'), null);
  assert.equal(hostOf('[::1'), null);
});
