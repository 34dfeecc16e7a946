// Manifest text → typed objects and diagnostics. Pure: the caller reads the file; this never touches the disk,
// so `gatehouse check`, golden tests and the watching source all parse the same way.
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Diagnostic } from '../../ir/types.ts';
import { decodeObject, objectRefOf, readApiVersions } from '../../model/decode.ts';
import type { KubeObject, ObjectRef } from '../../model/objects.ts';
import { objectKey } from '../../model/objects.ts';

export interface ParsedFile {
  /** Decoded objects this file holds (multi-document YAML, JSON, `kind: List` expanded), in file order. */
  readonly objects: readonly KubeObject[];
  /** Parse errors (whole file unusable: `fatal` true) and invalid objects, each naming the file and object. */
  readonly diagnostics: readonly Diagnostic[];
  /** True when the file as a whole could not be parsed: its previous objects should be kept. */
  readonly fatal: boolean;
}

/** A ParsedFile plus what a watcher needs to keep the last good version of an object that became invalid. */
export interface ParsedManifest extends ParsedFile {
  /** Objects of a kind gatehouse reads that failed to decode but could be named. */
  readonly invalid: readonly ObjectRef[];
}

export function parseManifestText(text: string, file: string): ParsedFile {
  const { objects, diagnostics, fatal } = parseManifest(text, file);
  return { objects, diagnostics, fatal };
}

/** A raw value with the index (0-based) of the YAML document it came from, and its position in a List if any. */
interface RawItem {
  readonly value: unknown;
  readonly document: number;
  readonly item?: number;
}

function fatalResult(file: string, message: string, line?: number, col?: number): ParsedManifest {
  const where = line === undefined ? file : col === undefined ? `${file}:${line}` : `${file}:${line}:${col}`;
  return {
    objects: [],
    diagnostics: [{ severity: 'error', file, message: `${where}: ${message}` }],
    fatal: true,
    invalid: [],
  };
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseManifest(text: string, file: string): ParsedManifest {
  const documents: unknown[] = [];
  const warnings: Diagnostic[] = [];
  if (file.toLowerCase().endsWith('.json')) {
    if (text.trim() === '') return { objects: [], diagnostics: [], fatal: false, invalid: [] };
    try {
      documents.push(JSON.parse(text));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const m = /\(line (\d+) column (\d+)\)/.exec(message);
      const detail = message.replace(/ in JSON at position \d+ \(line \d+ column \d+\)$/, '');
      return fatalResult(file, `invalid JSON: ${detail}`, m ? Number(m[1]) : undefined, m ? Number(m[2]) : undefined);
    }
  } else {
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
    // An empty stream carries its own errors (e.g. a lone stray directive).
    const streamErrors = 'empty' in docs ? docs.errors : docs.flatMap((d) => d.errors);
    const first = streamErrors[0];
    if (first !== undefined) {
      const { line, col } = lineCounter.linePos(first.pos[0]);
      const more = streamErrors.length > 1 ? ` (and ${streamErrors.length - 1} more)` : '';
      return fatalResult(file, `invalid YAML: ${first.message}${more}`, line, col);
    }
    for (const doc of docs) {
      for (const w of doc.warnings) {
        const { line, col } = lineCounter.linePos(w.pos[0]);
        warnings.push({ severity: 'warning', file, message: `${file}:${line}:${col}: ${w.message}` });
      }
      try {
        // The default alias limit stops "billion laughs" documents from exhausting memory.
        documents.push(doc.contents === null ? null : doc.toJS({ maxAliasCount: 100 }));
      } catch (err) {
        const start = doc.range[0];
        const { line } = lineCounter.linePos(start);
        return fatalResult(file, `invalid YAML: ${err instanceof Error ? err.message : String(err)}`, line);
      }
    }
  }

  const items: RawItem[] = [];
  const diagnostics: Diagnostic[] = [...warnings];
  for (let d = 0; d < documents.length; d++) {
    const value = documents[d];
    if (value === null || value === undefined) continue;
    expand(value, d, items, diagnostics, file);
  }

  const objects: KubeObject[] = [];
  const invalid: ObjectRef[] = [];
  const seen = new Set<string>();
  for (const it of items) {
    const result = decodeObject(it.value, { file, document: it.document });
    if (result.kind === 'object') {
      const o = result.object;
      const key = objectKey(o.kind, o.metadata.namespace, o.metadata.name);
      if (seen.has(key)) {
        diagnostics.push({
          severity: 'error',
          file,
          object: { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name },
          message: `${file}: ${describe(o.kind, o.metadata.namespace, o.metadata.name)}: defined more than once in this file; the first definition is used`,
        });
        continue;
      }
      seen.add(key);
      objects.push(o);
    } else if (result.kind === 'invalid') {
      if (result.ref !== undefined) {
        const { kind, namespace, name } = result.ref;
        invalid.push(result.ref);
        diagnostics.push({
          severity: 'error',
          file,
          object: { kind, namespace, name },
          message: `${file}: ${describe(kind, namespace, name)}: ${result.reason}`,
        });
      } else {
        diagnostics.push({ severity: 'error', file, message: `${file}: ${where(it)}: ${result.reason}` });
      }
    } else {
      const wanted = readApiVersions[result.objectKind];
      if (wanted !== undefined) {
        // A known kind at a version gatehouse does not read is almost always an old manifest: say so.
        const ref = objectRefOf(it.value);
        diagnostics.push({
          severity: 'warning',
          file,
          ...(ref !== undefined ? { object: ref } : {}),
          message: `${file}: ${ref !== undefined ? describe(ref.kind, ref.namespace, ref.name) : where(it)}: apiVersion ${result.apiVersion} is not read (use ${wanted}); ignored`,
        });
      }
    }
  }
  return { objects, diagnostics, fatal: false, invalid };
}

const maxListDepth = 4;

function isList(v: unknown): v is Readonly<Record<string, unknown>> & { readonly kind: string } {
  return isRecord(v) && typeof v['kind'] === 'string' && v['kind'].endsWith('List') && 'items' in v;
}

/** Expands `kind: List` and typed lists (`IngressList`, ...), whose items may omit kind and apiVersion. */
function expand(
  value: unknown,
  document: number,
  out: RawItem[],
  diagnostics: Diagnostic[],
  file: string,
  depth = 0,
): void {
  if (!isList(value)) {
    out.push({ value, document });
    return;
  }
  const items = value['items'];
  if (items === null || items === undefined) return;
  if (!Array.isArray(items) || depth >= maxListDepth) {
    const reason = Array.isArray(items) ? 'lists nested too deeply' : 'items: must be a list';
    diagnostics.push({
      severity: 'error',
      file,
      message: `${file}: ${value.kind} in document ${document + 1}: ${reason}`,
    });
    return;
  }
  const itemKind = value.kind === 'List' ? undefined : value.kind.slice(0, -'List'.length);
  const apiVersion = value['apiVersion'];
  for (let i = 0; i < items.length; i++) {
    let item: unknown = items[i];
    if (itemKind !== undefined && isRecord(item)) {
      item = { ...(typeof apiVersion === 'string' ? { apiVersion } : {}), kind: itemKind, ...item };
    }
    if (isList(item)) expand(item, document, out, diagnostics, file, depth + 1);
    else out.push({ value: item, document, item: i });
  }
}

function describe(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

/** Where an unnamed object is, in 1-based numbers for people. */
function where(it: RawItem): string {
  const kind = isRecord(it.value) && typeof it.value['kind'] === 'string' ? `${it.value['kind']} in ` : '';
  const item = it.item === undefined ? '' : `, item ${it.item + 1}`;
  return `${kind}document ${it.document + 1}${item}`;
}
