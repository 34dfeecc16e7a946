import type { VirtualHost } from '../ir/types.ts';

/**
 * Host name → virtual host. Exact names first, then wildcards (the longest suffix wins), then the catch-all.
 * Lookups take the host already lower-cased and without its port.
 */
export class HostRouter<T> {
  readonly #exact = new Map<string, T>();
  /** `.example.com` → vhost for Ingress-style wildcards that cover exactly one label. */
  readonly #oneLabel = new Map<string, T>();
  /** `.example.com` → vhost for wildcards that cover one or more labels. */
  readonly #multiLabel = new Map<string, T>();
  readonly #any: T | null;

  constructor(vhosts: readonly Pick<VirtualHost, 'hostname' | 'hostMatch'>[], values: readonly T[]) {
    let any: T | null = null;
    vhosts.forEach((vh, i) => {
      const value = values[i] as T;
      const name = vh.hostname.toLowerCase();
      switch (vh.hostMatch) {
        case 'exact':
          if (!this.#exact.has(name)) this.#exact.set(name, value);
          break;
        case 'wildcard-one-label':
          if (!this.#oneLabel.has(name.slice(1))) this.#oneLabel.set(name.slice(1), value);
          break;
        case 'wildcard':
          if (!this.#multiLabel.has(name.slice(1))) this.#multiLabel.set(name.slice(1), value);
          break;
        case 'any':
          any ??= value;
          break;
      }
    });
    this.#any = any;
  }

  lookup(host: string): T | null {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    const dot = host.indexOf('.');
    if (dot > 0) {
      if (this.#oneLabel.size > 0) {
        const v = this.#oneLabel.get(host.slice(dot));
        if (v !== undefined) return v;
      }
      if (this.#multiLabel.size > 0) {
        // Walk suffixes from the longest: `a.b.example.com` tries `.b.example.com`, then `.example.com`, ...
        for (let i = dot; i >= 0 && i < host.length; i = host.indexOf('.', i + 1)) {
          const v = this.#multiLabel.get(host.slice(i));
          if (v !== undefined) return v;
        }
      }
    }
    return this.#any;
  }
}
