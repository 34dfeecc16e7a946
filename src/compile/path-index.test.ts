import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PathMatch, Route } from '../ir/types.ts';
import { HostRouter } from './host-router.ts';
import { PathIndex } from './path-index.ts';
import type { MatchInput } from './route-matcher.ts';

function route(name: string, path: PathMatch, extra: Partial<Route['match']> = {}): Route {
  return {
    name,
    source: { kind: 'Ingress', namespace: 'default', name: 'x' },
    match: { path, headers: [], queryParams: [], ...extra },
    action: { kind: 'forward', backends: [] },
  };
}

function input(path: string, more: Partial<MatchInput> = {}): MatchInput {
  return { path, method: 'GET', headers: {}, query: '', ...more };
}

function index(routes: Route[]): PathIndex<string> {
  return new PathIndex(
    routes,
    routes.map((r) => r.name),
  );
}

const prefix = (value: string): PathMatch => ({ kind: 'Prefix', value });
const exact = (value: string): PathMatch => ({ kind: 'Exact', value });

// Rows of the Prefix-matching examples table in the Kubernetes Ingress documentation.
const TABLE: readonly [routes: PathMatch[], request: string, expected: string | null][] = [
  [[prefix('/')], '/anything/at/all', '/'],
  [[exact('/foo')], '/foo', '/foo'],
  [[exact('/foo')], '/bar', null],
  [[exact('/foo')], '/foo/', null],
  [[exact('/foo/')], '/foo', null],
  [[prefix('/foo')], '/foo', '/foo'],
  [[prefix('/foo')], '/foo/', '/foo'],
  [[prefix('/foo/')], '/foo', '/foo/'],
  [[prefix('/foo/')], '/foo/', '/foo/'],
  [[prefix('/aaa/bb')], '/aaa/bbb', null],
  [[prefix('/aaa/bbb')], '/aaa/bbb', '/aaa/bbb'],
  [[prefix('/aaa/bbb/')], '/aaa/bbb', '/aaa/bbb/'],
  [[prefix('/aaa/bbb')], '/aaa/bbb/', '/aaa/bbb'],
  [[prefix('/aaa/bbb')], '/aaa/bbb/ccc', '/aaa/bbb'],
  [[prefix('/aaa/bbb')], '/aaa/bbbxyz', null],
  [[prefix('/aaa'), prefix('/')], '/aaa/ccc', '/aaa'],
  [[prefix('/aaa/bbb'), prefix('/aaa'), prefix('/')], '/aaa/bbb', '/aaa/bbb'],
  [[prefix('/aaa/bbb'), prefix('/aaa'), prefix('/')], '/ccc', '/'],
  [[prefix('/aaa')], '/ccc', null],
  [[exact('/foo'), prefix('/foo')], '/foo', 'exact:/foo'],
];

test('every row of the Kubernetes Prefix-matching table', () => {
  for (const [paths, request, expected] of TABLE) {
    // Routes arrive in precedence order (Exact first, longest prefix first), as translators emit them.
    const routes = paths.map((p) => route(p.kind === 'Exact' && paths.length > 1 ? `exact:${p.value}` : p.value, p));
    assert.equal(index(routes).match(input(request)), expected, `${JSON.stringify(paths)} ${request}`);
  }
});

test('the lowest-index candidate wins across exact, prefix and regex candidates', () => {
  const idx = index([
    route('regex', { kind: 'RegularExpression', value: '/api/v[0-9]+/.*' }),
    route('exact', exact('/api/v1/users')),
    route('prefix', prefix('/api')),
  ]);
  assert.equal(idx.match(input('/api/v1/users')), 'regex');
  assert.equal(idx.match(input('/api/x')), 'prefix');
  assert.equal(
    index([route('p', prefix('/api')), route('r', { kind: 'RegularExpression', value: '/api.*' })]).match(
      input('/api/v1'),
    ),
    'p',
  );
});

test('header, query and method matches are applied after the path', () => {
  const idx = index([
    route('hdr', prefix('/'), { headers: [{ name: 'X-Version', kind: 'Exact', value: 'v2' }] }),
    route('query', prefix('/'), { queryParams: [{ name: 'a b', kind: 'RegularExpression', value: '[0-9]+' }] }),
    route('post', prefix('/'), { method: 'POST' }),
    route('fallback', prefix('/')),
  ]);
  assert.equal(idx.match(input('/x', { headers: { 'x-version': ['v2'] } })), 'hdr');
  assert.equal(idx.match(input('/x', { headers: { 'x-version': ['v3'] } })), 'fallback');
  assert.equal(idx.match(input('/x', { query: 'z=1&a+b=42' })), 'query');
  assert.equal(idx.match(input('/x', { query: 'a%20b=x' })), 'fallback');
  assert.equal(idx.match(input('/x', { method: 'POST' })), 'post');
});

test('host router: exact, one-label wildcard, multi-label wildcard, catch-all', () => {
  const vhosts = [
    { name: 'a', hostname: 'foo.bar.com', hostMatch: 'exact' as const, routes: [] },
    { name: 'b', hostname: '*.foo.com', hostMatch: 'wildcard-one-label' as const, routes: [] },
    { name: 'c', hostname: '*.wild.org', hostMatch: 'wildcard' as const, routes: [] },
    { name: 'd', hostname: '*', hostMatch: 'any' as const, routes: [] },
  ];
  const r = new HostRouter(
    vhosts,
    vhosts.map((v) => v.name),
  );
  assert.equal(r.lookup('foo.bar.com'), 'a');
  assert.equal(r.lookup('bar.foo.com'), 'b');
  assert.equal(r.lookup('baz.bar.foo.com'), 'd');
  assert.equal(r.lookup('foo.com'), 'd');
  assert.equal(r.lookup('a.wild.org'), 'c');
  assert.equal(r.lookup('a.b.wild.org'), 'c');
  assert.equal(r.lookup('wild.org'), 'd');
});
