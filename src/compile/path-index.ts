import type { Route } from '../ir/types.ts';
import { ExtraMatcher, type MatchInput } from './route-matcher.ts';

class PrefixNode {
  readonly children = new Map<string, PrefixNode>();
  /** Indexes of routes whose prefix ends at this node, ascending (= precedence order). */
  readonly routes: number[] = [];
}

function trimTrailingSlash(prefix: string): string {
  let end = prefix.length;
  while (end > 1 && prefix.charCodeAt(end - 1) === 47) end--;
  return prefix.slice(0, end);
}

/**
 * The routes of one virtual host, indexed by path. Routes keep their precedence order (their index): a lookup
 * gathers only the candidates whose path matches (exact map, prefix trie, regular expressions) and returns the
 * one with the lowest index whose other matches hold — the same answer as a linear scan, without scanning.
 */
export class PathIndex<T> {
  readonly #values: readonly T[];
  readonly #extras: readonly ExtraMatcher[];
  readonly #exact = new Map<string, number[]>();
  readonly #root = new PrefixNode();
  readonly #regexes: { readonly index: number; readonly re: RegExp }[] = [];

  constructor(routes: readonly Route[], values: readonly T[]) {
    this.#values = values;
    this.#extras = routes.map((r) => new ExtraMatcher(r));
    routes.forEach((route, index) => {
      const p = route.match.path;
      if (p.kind === 'Exact') {
        const list = this.#exact.get(p.value);
        if (list === undefined) this.#exact.set(p.value, [index]);
        else list.push(index);
      } else if (p.kind === 'Prefix') {
        let node = this.#root;
        const value = trimTrailingSlash(p.value);
        if (value !== '/') {
          for (const seg of value.slice(1).split('/')) {
            let child = node.children.get(seg);
            if (child === undefined) {
              child = new PrefixNode();
              node.children.set(seg, child);
            }
            node = child;
          }
        }
        node.routes.push(index);
      } else {
        this.#regexes.push({ index, re: new RegExp(`^(?:${p.value})$`) });
      }
    });
  }

  #firstPassing(list: readonly number[], best: number, input: MatchInput): number {
    for (let i = 0; i < list.length; i++) {
      const index = list[i] as number;
      if (index >= best) return best;
      if ((this.#extras[index] as ExtraMatcher).test(input)) return index;
    }
    return best;
  }

  match(input: MatchInput): T | null {
    const path = input.path;
    let best = Number.MAX_SAFE_INTEGER;
    const exact = this.#exact.get(path);
    if (exact !== undefined) best = this.#firstPassing(exact, best, input);
    let node: PrefixNode | undefined = this.#root;
    let start = 1;
    while (node !== undefined) {
      if (node.routes.length > 0) best = this.#firstPassing(node.routes, best, input);
      if (start > path.length) break;
      let end = path.indexOf('/', start);
      if (end < 0) end = path.length;
      node = node.children.size === 0 ? undefined : node.children.get(path.slice(start, end));
      start = end + 1;
    }
    for (let i = 0; i < this.#regexes.length; i++) {
      const r = this.#regexes[i] as { readonly index: number; readonly re: RegExp };
      if (r.index >= best) break;
      if (r.re.test(path) && (this.#extras[r.index] as ExtraMatcher).test(input)) best = r.index;
    }
    return best === Number.MAX_SAFE_INTEGER ? null : (this.#values[best] as T);
  }
}
