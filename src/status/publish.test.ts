import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comparable } from './build.ts';
import { addressesOfService, parsePublishAddresses, parsePublishService } from './publish.ts';

test('parsePublishAddresses: IPv4, IPv6 (bare or bracketed) as ip, DNS names as hostname, duplicates once', () => {
  assert.deepEqual(parsePublishAddresses('203.0.113.7, 2001:db8::1,[2001:db8::2],LB.Example.com,203.0.113.7'), [
    { ip: '203.0.113.7' },
    { ip: '2001:db8::1' },
    { ip: '2001:db8::2' },
    { hostname: 'lb.example.com' },
  ]);
});

test('parsePublishAddresses: problems are messages', () => {
  assert.equal(typeof parsePublishAddresses('not_a_host'), 'string');
  assert.equal(typeof parsePublishAddresses('http://lb.example.com'), 'string');
  assert.equal(parsePublishAddresses(' , '), 'no address given');
});

test('parsePublishService: NAMESPACE/NAME', () => {
  assert.deepEqual(parsePublishService('gatehouse/gatehouse'), { namespace: 'gatehouse', name: 'gatehouse' });
  assert.equal(typeof parsePublishService('gatehouse'), 'string');
  assert.equal(typeof parsePublishService('a/b/c'), 'string');
});

test('addressesOfService: load balancer ingress (ip before hostname), else external IPs, else nothing', () => {
  assert.deepEqual(
    addressesOfService({
      spec: { externalIPs: ['192.0.2.1'] },
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.4', hostname: 'x' }, { hostname: 'lb.example.com' }] } },
    }),
    [{ ip: '198.51.100.4' }, { hostname: 'lb.example.com' }],
  );
  assert.deepEqual(addressesOfService({ spec: { externalIPs: ['192.0.2.1'] }, status: { loadBalancer: {} } }), [
    { ip: '192.0.2.1' },
  ]);
  assert.deepEqual(addressesOfService({ spec: { type: 'LoadBalancer' } }), []);
  assert.deepEqual(addressesOfService(null), []);
});

test('comparable: key order and lastTransitionTime do not matter', () => {
  assert.equal(
    comparable({ b: 1, a: [{ type: 'X', lastTransitionTime: 't1', status: 'True' }] }),
    comparable({ a: [{ status: 'True', type: 'X', lastTransitionTime: 't2' }], b: 1 }),
  );
  assert.notEqual(comparable({ a: [1, 2] }), comparable({ a: [2, 1] }));
});
