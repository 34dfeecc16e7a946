import type { WeightedBackend } from '../ir/types.ts';
import type { UpstreamBackend } from '../upstream/backend.ts';

/** A route's backends with their weights, chosen at random in proportion to weight (per request or connection). */
export class WeightedBackends {
  /** The backends that can be chosen: known ones with a weight above zero. */
  readonly backends: readonly UpstreamBackend[];
  /** For each entry of `backends`, its index in the IR list it came from. */
  readonly sourceIndexes: readonly number[];
  /** Running sums of the weights; empty with a single backend. */
  readonly #cumulative: readonly number[];
  readonly #total: number;

  constructor(list: readonly WeightedBackend[], known: ReadonlyMap<string, UpstreamBackend>) {
    const chosen: UpstreamBackend[] = [];
    const indexes: number[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const wb = list[i] as WeightedBackend;
      const b = known.get(wb.backend);
      if (b === undefined || wb.weight <= 0) continue;
      total += wb.weight;
      chosen.push(b);
      indexes.push(i);
      cumulative.push(total);
    }
    this.backends = chosen;
    this.sourceIndexes = indexes;
    this.#cumulative = chosen.length > 1 ? cumulative : [];
    this.#total = total;
  }

  /** The index (in `backends`) of a backend chosen by weight; -1 when there is none (every weight zero). */
  pick(): number {
    const n = this.backends.length;
    if (n <= 1) return n - 1;
    const r = Math.random() * this.#total;
    const c = this.#cumulative;
    for (let i = 0; i < n; i++) if (r < (c[i] as number)) return i;
    return n - 1;
  }
}
