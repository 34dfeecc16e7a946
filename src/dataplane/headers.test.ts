import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';

const facts = {
  clientAddress: '203.0.113.7',
  trustedPeer: false,
  proto: 'http' as const,
  port: 8080,
  host: 'app.example',
  requestId: 'rid-1',
  hostOverride: null,
};

function toMap(flat: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = (flat[i] as string).toLowerCase();
    m.set(k, [...(m.get(k) ?? []), flat[i + 1] as string]);
  }
  return m;
}

test('hop-by-hop and Connection-listed headers are removed before ours are added', () => {
  const out = toMap(
    upstreamRequestHeaders(
      [
        'Host',
        'app.example',
        'Connection',
        'keep-alive, X-Secret, x-forwarded-for',
        'X-Secret',
        's',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Upgrade',
        'h2c',
        'HTTP2-Settings',
        'AAA',
        'Proxy-Connection',
        'keep-alive',
        'Transfer-Encoding',
        'chunked',
        'Accept',
        '*/*',
      ],
      facts,
    ),
  );
  for (const h of [
    'connection',
    'x-secret',
    'keep-alive',
    'te',
    'upgrade',
    'http2-settings',
    'proxy-connection',
    'transfer-encoding',
  ]) {
    assert.equal(out.has(h), false, h);
  }
  assert.deepEqual(out.get('host'), ['app.example']);
  assert.deepEqual(out.get('accept'), ['*/*']);
  assert.deepEqual(out.get('x-forwarded-for'), ['203.0.113.7']);
});

test('forwarding headers from an untrusted peer are replaced, l5d-dst-override never passes', () => {
  const out = toMap(
    upstreamRequestHeaders(
      [
        'X-Forwarded-For',
        '1.2.3.4',
        'X-Real-IP',
        '1.2.3.4',
        'Forwarded',
        'for=1.2.3.4',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'evil',
        'l5d-dst-override',
        'admin.internal.svc.cluster.local:80',
        'Expect',
        '100-continue',
      ],
      facts,
    ),
  );
  assert.deepEqual(out.get('x-forwarded-for'), ['203.0.113.7']);
  assert.deepEqual(out.get('x-real-ip'), ['203.0.113.7']);
  assert.deepEqual(out.get('x-forwarded-proto'), ['http']);
  assert.deepEqual(out.get('x-forwarded-host'), ['app.example']);
  assert.deepEqual(out.get('x-forwarded-port'), ['8080']);
  assert.deepEqual(out.get('x-request-id'), ['rid-1']);
  assert.equal(out.has('forwarded'), false);
  assert.equal(out.has('l5d-dst-override'), false);
  assert.equal(out.has('expect'), false);
});

test('a trusted peer has its X-Forwarded-For extended and its X-Forwarded-Proto kept', () => {
  const out = toMap(
    upstreamRequestHeaders(['X-Forwarded-For', '1.2.3.4', 'x-forwarded-for', '5.6.7.8', 'X-Forwarded-Proto', 'https'], {
      ...facts,
      trustedPeer: true,
    }),
  );
  assert.deepEqual(out.get('x-forwarded-for'), ['1.2.3.4, 5.6.7.8, 203.0.113.7']);
  assert.deepEqual(out.get('x-forwarded-proto'), ['https']);
});

test('client X-Request-Id is kept', () => {
  const out = toMap(upstreamRequestHeaders(['X-Request-Id', 'abc'], facts));
  assert.deepEqual(out.get('x-request-id'), ['abc']);
});

test('response: hop-by-hop and Connection-listed headers are dropped', () => {
  const out = downstreamResponseHeaders({
    connection: 'x-internal',
    'x-internal': 'a',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'set-cookie': ['a=1', 'b=2'],
    'content-type': 'text/plain',
  });
  assert.deepEqual(out, { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
});
