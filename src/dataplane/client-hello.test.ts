import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { parseClientHello } from './client-hello.ts';

/** The first bytes a real node TLS client sends: its ClientHello. */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket: Socket) => {
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        server.close();
        resolve(chunk);
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      const client = connect({ host: '127.0.0.1', port, ...(servername === undefined ? {} : { servername }) });
      client.on('error', () => {});
    });
    server.on('error', reject);
  });
}

test('reads the SNI name of a real ClientHello, lower-cased', async () => {
  const hello = await captureClientHello('App.Example.COM');
  assert.deepEqual(parseClientHello(hello), { kind: 'ok', serverName: 'app.example.com' });
});

test('a ClientHello without SNI parses with serverName null', async () => {
  // node sends no SNI for an IP address.
  const hello = await captureClientHello(undefined);
  assert.deepEqual(parseClientHello(hello), { kind: 'ok', serverName: null });
});

test('every prefix of a ClientHello is incomplete, never invalid', async () => {
  const hello = await captureClientHello('a.example.com');
  for (let n = 0; n < hello.length; n++) {
    assert.equal(parseClientHello(hello.subarray(0, n)).kind, 'incomplete', `prefix of ${n} bytes`);
  }
});

test('a ClientHello split over two TLS records is reassembled', async () => {
  const hello = await captureClientHello('split.example.com');
  const body = hello.subarray(5);
  const cut = 40;
  const record = (payload: Buffer): Buffer =>
    Buffer.concat([Buffer.from([22, 3, 1, payload.length >> 8, payload.length & 0xff]), payload]);
  const two = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
  assert.deepEqual(parseClientHello(two), { kind: 'ok', serverName: 'split.example.com' });
  assert.equal(parseClientHello(two.subarray(0, 5 + cut + 3)).kind, 'incomplete');
});

test('plain HTTP, other record types and malformed lengths are invalid', async () => {
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).kind, 'invalid');
  assert.equal(parseClientHello(Buffer.from([21, 3, 1, 0, 2, 2, 40])).kind, 'invalid');
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).kind, 'invalid');
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0x48, 0x01])).kind, 'invalid');
  // A handshake message that is not a ClientHello.
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])).kind, 'invalid');
  const hello = await captureClientHello('x.example.com');
  const bad = Buffer.from(hello);
  // Claim a longer extensions block than the message holds.
  const broken = Buffer.concat([bad.subarray(0, bad.length - 1)]);
  broken.writeUInt16BE(broken.readUInt16BE(3) - 1, 3);
  broken.writeUIntBE(broken.readUIntBE(6, 3) - 1, 6, 3);
  assert.equal(parseClientHello(broken).kind, 'invalid');
});
