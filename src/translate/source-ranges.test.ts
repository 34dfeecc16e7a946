import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSourceRanges } from './source-ranges.ts';

test('CIDRs and bare addresses, trimmed, repeats dropped, in the order written', () => {
  assert.deepEqual(parseSourceRanges(' 10.0.0.0/8, 2001:db8::/32,10.0.0.0/8 ,192.168.1.7 '), {
    allow: ['10.0.0.0/8', '2001:db8::/32', '192.168.1.7'],
    problems: [],
  });
});

test('unset and blank values admit everyone (no list)', () => {
  assert.deepEqual(parseSourceRanges(undefined), { allow: undefined, problems: [] });
  assert.deepEqual(parseSourceRanges(' , '), { allow: undefined, problems: [] });
});

test('one bad entry makes the list admit nobody, and every bad entry is named', () => {
  const parsed = parseSourceRanges('10.0.0.0/8, 10.0.0.0/33, office, ::1/129');
  assert.deepEqual(parsed.allow, []);
  assert.deepEqual(parsed.problems, [
    '"10.0.0.0/33" has an invalid prefix length',
    '"office" is not an IP address or CIDR range',
    '"::1/129" has an invalid prefix length',
  ]);
});
