import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddressOf, forwardedForOf, plainAddress, TrustedProxies } from './client-address.ts';

const none = new TrustedProxies([]);
const lb = new TrustedProxies(['10.0.0.0/8', '192.168.1.1', '2001:db8:ffff::/48']);

test('TrustedProxies: CIDRs and bare addresses, IPv4-mapped peers, nothing by default', () => {
  assert.equal(none.empty, true);
  assert.equal(none.has('10.0.0.1'), false);
  assert.equal(lb.has('10.1.2.3'), true);
  assert.equal(lb.has('::ffff:10.1.2.3'), true);
  assert.equal(lb.has('11.0.0.1'), false);
  assert.equal(lb.has('192.168.1.1'), true);
  assert.equal(lb.has('192.168.1.2'), false);
  assert.equal(lb.has('2001:db8:ffff:1::5'), true);
  assert.equal(lb.has('2001:db8:fffe::5'), false);
  assert.equal(lb.has(''), false);
  assert.equal(lb.has('garbage'), false);
  assert.equal(lb.has('gar:bage'), false);
});

test('TrustedProxies refuses ranges that do not parse (an empty prefix is no /0)', () => {
  for (const bad of [
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0/8',
    'host.example',
    '::/129',
    '10.0.0.0/8/8',
    'fe80::1%eth0',
  ]) {
    assert.throws(() => new TrustedProxies([bad]), /invalid trusted proxy range/, bad);
  }
});

test('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
  assert.equal(clientAddressOf('203.0.113.9', '127.0.0.1', none), '203.0.113.9');
  assert.equal(clientAddressOf('203.0.113.9', '10.0.0.1, 1.1.1.1', lb), '203.0.113.9');
  assert.equal(clientAddressOf('10.0.0.2', null, lb), '10.0.0.2');
});

test('behind trusted hops: the first untrusted address from the right', () => {
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1', lb), '198.51.100.1');
  // The leftmost entry is the client's own claim; the rightmost untrusted one was written by a trusted proxy.
  assert.equal(clientAddressOf('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.9.9.9', lb), '198.51.100.1');
  assert.equal(clientAddressOf('10.0.0.2', '6.6.6.6,198.51.100.1 ,\t10.9.9.9', lb), '198.51.100.1');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, ::ffff:10.9.9.9', lb), '198.51.100.1');
  assert.equal(clientAddressOf('10.0.0.2', '::ffff:198.51.100.1', lb), '198.51.100.1');
});

test('every entry trusted: the leftmost', () => {
  assert.equal(clientAddressOf('10.0.0.2', '10.0.0.5, 192.168.1.1', lb), '10.0.0.5');
  assert.equal(clientAddressOf('10.0.0.2', '', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', ' , ,', lb), '10.0.0.2');
});

test('an entry that is no IP address stops the walk at the last trusted hop', () => {
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, unknown', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, garbage, 10.0.0.7', lb), '10.0.0.7');
  assert.equal(clientAddressOf('10.0.0.2', 'garbage, 198.51.100.1', lb), '198.51.100.1');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, 01.2.3.4', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, fe80::1%eth0', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, host.example:80', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, 10.0.0.7:99999', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, [10.0.0.7]', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, [2001:db8::1', lb), '10.0.0.2');
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1, [2001:db8::1]x', lb), '10.0.0.2');
});

test('entries with ports, and IPv6', () => {
  assert.equal(clientAddressOf('10.0.0.2', '198.51.100.1:4711, 10.0.0.3:80', lb), '198.51.100.1');
  assert.equal(clientAddressOf('10.0.0.2', '[2001:db8::1]:4711', lb), '2001:db8::1');
  assert.equal(clientAddressOf('10.0.0.2', '[2001:db8::1]', lb), '2001:db8::1');
  assert.equal(clientAddressOf('10.0.0.2', '2001:db8::1, 2001:db8:ffff::1', lb), '2001:db8::1');
  assert.equal(clientAddressOf('2001:db8:ffff::2', '198.51.100.1', lb), '198.51.100.1');
  assert.equal(clientAddressOf('2001:db8:ffff::2', '2001:db8:ffff::9', lb), '2001:db8:ffff::9');
});

test('forwardedForOf joins every X-Forwarded-For field in order', () => {
  assert.equal(forwardedForOf(['Host', 'a']), null);
  assert.equal(
    forwardedForOf(['X-Forwarded-For', '1.1.1.1', 'Accept', '*/*', 'x-forwarded-for', '2.2.2.2, 3.3.3.3']),
    '1.1.1.1, 2.2.2.2, 3.3.3.3',
  );
  assert.equal(forwardedForOf(['x-forwarded-for', '']), '');
});

test('a spoofed chain split over two fields still resolves from the right', () => {
  const xff = forwardedForOf(['X-Forwarded-For', '127.0.0.1', 'X-Forwarded-For', '198.51.100.1']);
  assert.equal(clientAddressOf('10.0.0.2', xff, lb), '198.51.100.1');
});

test('plainAddress unmaps IPv4-mapped IPv6 only', () => {
  assert.equal(plainAddress('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(plainAddress('::1'), '::1');
  assert.equal(plainAddress(undefined), '');
});
