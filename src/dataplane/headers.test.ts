import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionTokens, downstreamResponseHeaders, forwardedElement, upstreamRequestHeaders } from './headers.ts';

const facts = {
  peer: '203.0.113.7',
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
  assert.deepEqual(out.get('forwarded'), ['for=203.0.113.7;proto=http;host=app.example']);
  assert.equal(out.has('l5d-dst-override'), false);
  assert.equal(out.has('expect'), false);
});

test('a trusted peer has its X-Forwarded-For extended and its X-Forwarded-Proto kept', () => {
  const out = toMap(
    upstreamRequestHeaders(['X-Forwarded-For', '1.2.3.4', 'x-forwarded-for', '5.6.7.8', 'X-Forwarded-Proto', 'https'], {
      ...facts,
      peer: '10.0.0.2',
      clientAddress: '5.6.7.8',
      trustedPeer: true,
    }),
  );
  assert.deepEqual(out.get('x-forwarded-for'), ['1.2.3.4, 5.6.7.8, 10.0.0.2']);
  assert.deepEqual(out.get('x-forwarded-proto'), ['https']);
  assert.deepEqual(out.get('x-forwarded-host'), ['app.example']);
  assert.deepEqual(out.get('x-forwarded-port'), ['8080']);
  assert.deepEqual(out.get('x-real-ip'), ['5.6.7.8']);
});

test('a trusted peer: X-Forwarded-Host/-Port kept, X-Real-IP replaced, Forwarded extended', () => {
  const out = toMap(
    upstreamRequestHeaders(
      [
        'X-Forwarded-Host',
        'public.example',
        'X-Forwarded-Port',
        '443',
        'X-Real-IP',
        '6.6.6.6',
        'Forwarded',
        'for=192.0.2.60;proto=https',
        'forwarded',
        'for="[2001:db8::7]"',
      ],
      { ...facts, peer: '10.0.0.2', clientAddress: '192.0.2.60', trustedPeer: true },
    ),
  );
  assert.deepEqual(out.get('x-forwarded-host'), ['public.example']);
  assert.deepEqual(out.get('x-forwarded-port'), ['443']);
  assert.deepEqual(out.get('x-forwarded-proto'), ['http']);
  assert.deepEqual(out.get('x-real-ip'), ['192.0.2.60']);
  assert.deepEqual(out.get('forwarded'), [
    'for=192.0.2.60;proto=https, for="[2001:db8::7]", for=10.0.0.2;proto=http;host=app.example',
  ]);
});

test('spoofed forwarding headers from an untrusted peer never reach the backend', () => {
  const out = toMap(
    upstreamRequestHeaders(
      [
        'X-Forwarded-For',
        '127.0.0.1',
        'X-Forwarded-Port',
        '1',
        'X-Real-IP',
        '127.0.0.1',
        'Forwarded',
        'for=127.0.0.1;host=admin',
        'FORWARDED',
        'for=unknown',
      ],
      { ...facts, peer: '198.51.100.9', clientAddress: '198.51.100.9' },
    ),
  );
  assert.deepEqual(out.get('x-forwarded-for'), ['198.51.100.9']);
  assert.deepEqual(out.get('x-forwarded-port'), ['8080']);
  assert.deepEqual(out.get('x-real-ip'), ['198.51.100.9']);
  assert.deepEqual(out.get('forwarded'), ['for=198.51.100.9;proto=http;host=app.example']);
});

test('Connection cannot remove the forwarding headers of a trusted peer', () => {
  const out = toMap(
    upstreamRequestHeaders(
      [
        'Connection',
        'X-Forwarded-For, Forwarded, X-Forwarded-Proto',
        'X-Forwarded-For',
        '192.0.2.1',
        'Forwarded',
        'for=192.0.2.1',
        'X-Forwarded-Proto',
        'https',
      ],
      { ...facts, peer: '10.0.0.2', clientAddress: '192.0.2.1', trustedPeer: true },
    ),
  );
  assert.deepEqual(out.get('x-forwarded-for'), ['192.0.2.1, 10.0.0.2']);
  assert.deepEqual(out.get('x-forwarded-proto'), ['https']);
  assert.deepEqual(out.get('forwarded'), ['for=192.0.2.1, for=10.0.0.2;proto=http;host=app.example']);
});

test('Forwarded elements: IPv6 bracketed and quoted, hosts quoted unless tokens, unknown peers', () => {
  assert.equal(forwardedElement('192.0.2.43', 'http', 'app.example'), 'for=192.0.2.43;proto=http;host=app.example');
  assert.equal(
    forwardedElement('2001:db8::1', 'https', 'app.example'),
    'for="[2001:db8::1]";proto=https;host=app.example',
  );
  assert.equal(
    forwardedElement('192.0.2.43', 'https', 'app.example:8443'),
    'for=192.0.2.43;proto=https;host="app.example:8443"',
  );
  assert.equal(forwardedElement('192.0.2.43', 'http', '[::1]:8080'), 'for=192.0.2.43;proto=http;host="[::1]:8080"');
  assert.equal(forwardedElement('192.0.2.43', 'http', 'a"b\\c'), 'for=192.0.2.43;proto=http;host="a\\"b\\\\c"');
  assert.equal(forwardedElement('192.0.2.43', 'http', ''), 'for=192.0.2.43;proto=http');
  assert.equal(forwardedElement('', 'http', 'h'), 'for=unknown;proto=http;host=h');
  const ipv6 = toMap(upstreamRequestHeaders([], { ...facts, peer: '2001:db8::1', clientAddress: '2001:db8::1' }));
  assert.deepEqual(ipv6.get('x-forwarded-for'), ['2001:db8::1']);
  assert.deepEqual(ipv6.get('x-real-ip'), ['2001:db8::1']);
  assert.deepEqual(ipv6.get('forwarded'), ['for="[2001:db8::1]";proto=http;host=app.example']);
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

test('connectionTokens: the field names a Connection value lists, never close, keep-alive, Host or Content-Length', () => {
  assert.equal(connectionTokens(undefined), null);
  assert.equal(connectionTokens(''), null);
  for (const v of [
    'keep-alive',
    'Keep-Alive',
    'close',
    'CLOSE',
    ' close ',
    'close, keep-alive',
    'host, Content-Length',
  ]) {
    assert.equal(connectionTokens(v), null, v);
  }
  assert.deepEqual([...(connectionTokens('Keep-Alive, X-Secret,  x-other ') ?? [])], ['x-secret', 'x-other']);
  assert.deepEqual([...(connectionTokens('X-Abcdefgh') ?? [])], ['x-abcdefgh']);
  assert.deepEqual([...(connectionTokens('x-one') ?? [])], ['x-one']);
});
