// Shared pieces of the decoders: reading fields from `unknown`, collecting errors by field path, and the
// Kubernetes name formats and object metadata every kind has.
import type { ObjectMeta } from './objects.ts';

export type Raw = Readonly<Record<string, unknown>>;

const dns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035LabelRe = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** A field's value, with JSON/YAML `null` read as absent (as the API server does). */
export function get(o: Raw, key: string): unknown {
  if (!Object.hasOwn(o, key)) return undefined;
  const v = o[key];
  return v === null ? undefined : v;
}

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && dns1123LabelRe.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && dns1123SubdomainRe.test(s);
}

export function isDns1035Label(s: string): boolean {
  return s.length <= 63 && dns1035LabelRe.test(s);
}

export const msgLabel =
  "must be a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and ending alphanumeric, at most 63)";
export const msgSubdomain =
  "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', each part starting and ending alphanumeric, at most 253)";
export const msgDns1035 = "must be a lowercase RFC 1035 label (a-z, 0-9 and '-', starting with a letter, at most 63)";

/**
 * Collects every problem with one object, each prefixed by its field path, so a user fixes them in one pass.
 * Readers return a usable fallback after recording an error, which lets decoding continue past it.
 */
export class Ctx {
  readonly errors: string[] = [];

  fail(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }

  obj(o: Raw, key: string, path: string, required = false): Raw | undefined {
    const v = get(o, key);
    if (v === undefined) {
      if (required) this.fail(path, 'required');
      return undefined;
    }
    if (!isRecord(v)) {
      this.fail(path, 'must be an object');
      return undefined;
    }
    return v;
  }

  list(o: Raw, key: string, path: string, required = false): readonly unknown[] {
    const v = get(o, key);
    if (v === undefined) {
      if (required) this.fail(path, 'required');
      return [];
    }
    if (!Array.isArray(v)) {
      this.fail(path, 'must be a list');
      return [];
    }
    return v;
  }

  /** Items of a list that must be objects; non-objects are reported and skipped. */
  objects(o: Raw, key: string, path: string, required = false): Array<[Raw, string]> {
    const out: Array<[Raw, string]> = [];
    const items = this.list(o, key, path, required);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const p = `${path}[${i}]`;
      if (isRecord(item)) out.push([item, p]);
      else this.fail(p, 'must be an object');
    }
    return out;
  }

  str(o: Raw, key: string, path: string, required = false): string | undefined {
    const v = get(o, key);
    if (v === undefined) {
      if (required) this.fail(path, 'required');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.fail(path, 'must be a string');
      return undefined;
    }
    if (required && v === '') {
      this.fail(path, 'required');
      return undefined;
    }
    return v;
  }

  int(o: Raw, key: string, path: string, required = false): number | undefined {
    const v = get(o, key);
    if (v === undefined) {
      if (required) this.fail(path, 'required');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.fail(path, 'must be an integer');
      return undefined;
    }
    return v;
  }

  port(o: Raw, key: string, path: string, required = false): number | undefined {
    const v = this.int(o, key, path, required);
    if (v === undefined) return undefined;
    if (v < 1 || v > 65535) {
      this.fail(path, 'must be between 1 and 65535');
      return undefined;
    }
    return v;
  }

  /** Tri-state condition: absent means unknown. */
  bool(o: Raw, key: string, path: string): boolean | null {
    const v = get(o, key);
    if (v === undefined) return null;
    if (typeof v !== 'boolean') {
      this.fail(path, 'must be true or false');
      return null;
    }
    return v;
  }

  oneOf<T extends string>(o: Raw, key: string, path: string, allowed: readonly T[], fallback?: T): T | undefined {
    const v = get(o, key);
    if (v === undefined) {
      if (fallback === undefined) this.fail(path, 'required');
      return fallback;
    }
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(path, `must be one of ${allowed.join(', ')}`);
      return undefined;
    }
    return v as T;
  }

  stringMap(o: Raw, key: string, path: string): Record<string, string> {
    const v = get(o, key);
    const out: Record<string, string> = {};
    if (v === undefined) return out;
    if (!isRecord(v)) {
      this.fail(path, 'must be a map of strings');
      return out;
    }
    for (const [k, value] of Object.entries(v)) {
      if (typeof value !== 'string') this.fail(`${path}[${k}]`, 'must be a string');
      else out[k] = value;
    }
    return out;
  }
}

export type NameRule = 'label' | 'subdomain' | 'dns1035';

function formatTimestamp(d: Date): string {
  // RFC 3339 at second precision, as the API server writes it.
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function decodeMeta(ctx: Ctx, raw: Raw, namespaced: boolean, nameRule: NameRule): ObjectMeta {
  const m = ctx.obj(raw, 'metadata', 'metadata') ?? {};
  const name = ctx.str(m, 'name', 'metadata.name', true) ?? '';
  if (name !== '') {
    if (nameRule === 'label' && !isDns1123Label(name)) ctx.fail('metadata.name', msgLabel);
    if (nameRule === 'subdomain' && !isDns1123Subdomain(name)) ctx.fail('metadata.name', msgSubdomain);
    if (nameRule === 'dns1035' && !isDns1035Label(name)) ctx.fail('metadata.name', msgDns1035);
  }
  let namespace = '';
  if (namespaced) {
    namespace = ctx.str(m, 'namespace', 'metadata.namespace') || 'default';
    if (!isDns1123Label(namespace)) ctx.fail('metadata.namespace', msgLabel);
  }
  const uid = ctx.str(m, 'uid', 'metadata.uid') ?? '';
  const generation = ctx.int(m, 'generation', 'metadata.generation') ?? 1;
  if (generation < 0) ctx.fail('metadata.generation', 'must not be negative');
  let creationTimestamp = '';
  const ts = get(m, 'creationTimestamp');
  if (ts instanceof Date) creationTimestamp = formatTimestamp(ts);
  else creationTimestamp = ctx.str(m, 'creationTimestamp', 'metadata.creationTimestamp') ?? '';
  const labels = ctx.stringMap(m, 'labels', 'metadata.labels');
  const annotations = ctx.stringMap(m, 'annotations', 'metadata.annotations');
  return { name, namespace, uid, generation, creationTimestamp, labels, annotations };
}
