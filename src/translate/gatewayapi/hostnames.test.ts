import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareHostSpecificity, hostnameCovers, hostnameIntersection, listenerPattern } from './hostnames.ts';

describe('hostnameIntersection', () => {
  // [listener, route, expected]
  const table: [string, string, string | undefined][] = [
    ['*', 'a.example.com', 'a.example.com'],
    ['*', '*.example.com', '*.example.com'],
    ['a.example.com', 'a.example.com', 'a.example.com'],
    ['a.example.com', 'b.example.com', undefined],
    ['a.example.com', '*.example.com', 'a.example.com'],
    ['a.b.example.com', '*.example.com', 'a.b.example.com'],
    ['a.example.com', '*.com', 'a.example.com'],
    ['example.com', '*.example.com', undefined],
    ['*.example.com', 'a.example.com', 'a.example.com'],
    ['*.example.com', 'a.b.example.com', 'a.b.example.com'],
    ['*.example.com', 'example.com', undefined],
    ['*.example.com', 'a.example.org', undefined],
    ['*.example.com', '*.example.com', '*.example.com'],
    ['*.example.com', '*.com', '*.example.com'],
    ['*.example.com', '*.b.example.com', '*.b.example.com'],
    ['*.example.com', '*.example.org', undefined],
    ['*.com', '*.example.com', '*.example.com'],
  ];
  for (const [listener, route, want] of table) {
    it(`${listener} ∩ ${route} = ${want ?? 'nothing'}`, () => {
      assert.equal(hostnameIntersection(listener, route), want);
      assert.equal(hostnameIntersection(route, listener), want, 'symmetric');
    });
  }
});

describe('hostnameCovers', () => {
  it('a wildcard covers one or more labels but not its bare suffix', () => {
    assert.ok(hostnameCovers('*.example.com', 'a.example.com'));
    assert.ok(hostnameCovers('*.example.com', 'a.b.example.com'));
    assert.ok(!hostnameCovers('*.example.com', 'example.com'));
    assert.ok(!hostnameCovers('*.example.com', 'aexample.com'));
  });
  it('only the catch-all covers the catch-all', () => {
    assert.ok(hostnameCovers('*', '*'));
    assert.ok(!hostnameCovers('*.com', '*'));
    assert.ok(!hostnameCovers('a.com', '*'));
  });
});

describe('compareHostSpecificity', () => {
  it('orders exact, then longer wildcards, then the catch-all', () => {
    const sorted = ['*', '*.com', 'b.example.com', '*.example.com', 'a.example.com', 'example.com'].sort(
      compareHostSpecificity,
    );
    assert.deepEqual(sorted, ['a.example.com', 'b.example.com', 'example.com', '*.example.com', '*.com', '*']);
  });
});

describe('listenerPattern', () => {
  it('lower-cases and stands for any host when absent', () => {
    assert.equal(listenerPattern(undefined), '*');
    assert.equal(listenerPattern(''), '*');
    assert.equal(listenerPattern('Foo.Example.com'), 'foo.example.com');
  });
});
