// The fast path's upstream connections read into one reusable buffer per connection; a user that keeps a chunk
// past its callback marks the buffer taken, and the next read must land elsewhere.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { H1Origin, type H1Upstream, type H1UpstreamUser } from './h1-origin.ts';

let server: Server;
let port = 0;

before(async () => {
  // Sends one piece per request byte it reads, so each piece is read by itself.
  server = createServer((socket: Socket) => {
    socket.on('data', (d: Buffer) => {
      for (const c of d.toString('latin1')) socket.write(c.repeat(1000));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(() => server.close());

/** Asks for one piece at a time and records what each read gave, as it was in the callback and later. */
class Reader implements H1UpstreamUser {
  readonly chunks: Buffer[] = [];
  readonly copies: string[] = [];
  readonly take: boolean;
  up: H1Upstream | null = null;
  #next: (() => void) | null = null;

  constructor(take: boolean) {
    this.take = take;
  }

  upstreamReady(up: H1Upstream): void {
    this.up = up;
  }

  upstreamData(up: H1Upstream, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.copies.push(chunk.toString('latin1'));
    if (this.take) up.bufferTaken = true;
    this.#next?.();
  }

  upstreamClosed(): void {}
  upstreamDrain(): void {}

  async ask(letter: string): Promise<void> {
    const got = new Promise<void>((resolve) => {
      this.#next = resolve;
    });
    this.up?.socket.write(letter);
    await got;
  }
}

const OPTIONS = { connectTimeoutMs: 2_000, timeoutMs: 5_000, keepAliveTimeoutMs: 5_000, maxConnections: 4 };

/** Asks for each of `letters` in turn over one connection, then closes it; `take` marks every chunk taken. */
async function readPieces(take: boolean, letters: readonly string[]): Promise<Reader> {
  const origin = new H1Origin('127.0.0.1', port, OPTIONS);
  const user = new Reader(take);
  origin.acquire(user, false);
  for (const letter of letters) await user.ask(letter);
  origin.release(user.up as H1Upstream, false);
  origin.close();
  return user;
}

test('reads reuse the connection buffer: a chunk is valid during its callback only', async () => {
  const user = await readPieces(false, ['a', 'b']);
  assert.deepEqual(user.copies, ['a'.repeat(1000), 'b'.repeat(1000)]);
  const [first, second] = user.chunks as [Buffer, Buffer];
  assert.equal(first.buffer, second.buffer, 'both reads went into the same memory');
  assert.equal(first.toString('latin1'), 'b'.repeat(1000), 'the first chunk was overwritten by the second read');
});

test('a chunk marked taken keeps its bytes: the next read goes into a fresh buffer', async () => {
  const user = await readPieces(true, ['a', 'b', 'c']);
  const [first, second, third] = user.chunks as [Buffer, Buffer, Buffer];
  assert.notEqual(first.buffer, second.buffer);
  assert.notEqual(second.buffer, third.buffer);
  assert.equal(first.toString('latin1'), 'a'.repeat(1000));
  assert.equal(second.toString('latin1'), 'b'.repeat(1000));
  assert.equal(third.toString('latin1'), 'c'.repeat(1000));
});
