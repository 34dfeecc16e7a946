import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type MinorGc = (options: { type: 'minor' }) => void;

function minorGc(): MinorGc | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as MinorGc;
  } catch {
    return null;
  }
}

/**
 * Reclaims dead body chunks promptly. Proxied bytes live in buffers outside the JS heap behind tiny wrapper
 * objects, so the young generation hardly fills and V8 collects them only after external memory has grown by
 * 64 MiB: one large stream can hold that much dead memory, which the allocator then keeps. After every
 * `thresholdBytes` of body data a scavenge (young generation only, well under a millisecond when nearly
 * everything in it is dead) is run on the next turn of the event loop.
 */
export class ChunkReclaimer {
  readonly #gc: MinorGc | null;
  readonly #threshold: number;
  #bytes = 0;
  #scheduled = false;

  constructor(thresholdBytes: number) {
    this.#gc = thresholdBytes > 0 ? minorGc() : null;
    this.#threshold = thresholdBytes;
  }

  account(bytes: number): void {
    if (this.#gc === null) return;
    this.#bytes += bytes;
    if (this.#bytes < this.#threshold || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.#bytes = 0;
    (this.#gc as MinorGc)({ type: 'minor' });
  };
}
