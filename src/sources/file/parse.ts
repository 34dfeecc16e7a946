// Manifest text → typed objects and diagnostics. Pure: the caller reads the file; this never touches the disk,
// so `gatehouse check`, golden tests and the watching source all parse the same way.

import type { Diagnostic } from '../../ir/types.ts';
import { decodeObject, objectRefOf, readApiVersions } from '../../model/decode.ts';
import type { KubeObject, ObjectRef } from '../../model/objects.ts';
import { objectKey } from '../../model/objects.ts';
import { yaml } from '../yaml.ts';
import { readBlockDocuments } from './block-yaml.ts';

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
  /** Pass to the next parse of the same file, so unchanged documents are not parsed again; null for none. */
  readonly cache: ParseCache | null;
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
    cache: null,
  };
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What one raw item (a document's value, or an item of a List) contributes, decided on its own: an object, an
 * invalid object (named when its kind and name could be read), a warning, or nothing (a kind gatehouse ignores).
 */
type ItemOutcome =
  | { readonly kind: 'object'; readonly object: KubeObject }
  | { readonly kind: 'invalid'; readonly ref: ObjectRef | undefined; readonly diagnostic: Diagnostic }
  | { readonly kind: 'warning'; readonly diagnostic: Diagnostic }
  | null;

function outcomeOf(it: RawItem, file: string): ItemOutcome {
  const result = decodeObject(it.value, { file, document: it.document });
  if (result.kind === 'object') return { kind: 'object', object: result.object };
  if (result.kind === 'invalid') {
    if (result.ref !== undefined) {
      const { kind, namespace, name } = result.ref;
      return {
        kind: 'invalid',
        ref: result.ref,
        diagnostic: {
          severity: 'error',
          file,
          object: { kind, namespace, name },
          message: `${file}: ${describe(kind, namespace, name)}: ${result.reason}`,
        },
      };
    }
    return {
      kind: 'invalid',
      ref: undefined,
      diagnostic: { severity: 'error', file, message: `${file}: ${where(it)}: ${result.reason}` },
    };
  }
  const wanted = readApiVersions[result.objectKind];
  if (wanted === undefined) return null;
  // A known kind at a version gatehouse does not read is almost always an old manifest: say so.
  const ref = objectRefOf(it.value);
  return {
    kind: 'warning',
    diagnostic: {
      severity: 'warning',
      file,
      ...(ref !== undefined ? { object: ref } : {}),
      message: `${file}: ${ref !== undefined ? describe(ref.kind, ref.namespace, ref.name) : where(it)}: apiVersion ${result.apiVersion} is not read (use ${wanted}); ignored`,
    },
  };
}

/** Items in file order → the file's objects and diagnostics (after `leading` ones: warnings, List errors). */
function combine(
  outcomes: Iterable<ItemOutcome>,
  leading: readonly Diagnostic[],
  file: string,
  cache: ParseCache | null,
): ParsedManifest {
  const objects: KubeObject[] = [];
  const invalid: ObjectRef[] = [];
  const diagnostics: Diagnostic[] = [...leading];
  const seen = new Set<string>();
  for (const o of outcomes) {
    if (o === null) continue;
    if (o.kind === 'object') {
      const obj = o.object;
      const key = objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
      if (seen.has(key)) {
        diagnostics.push({
          severity: 'error',
          file,
          object: { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name },
          message: `${file}: ${describe(obj.kind, obj.metadata.namespace, obj.metadata.name)}: defined more than once in this file; the first definition is used`,
        });
        continue;
      }
      seen.add(key);
      objects.push(obj);
    } else {
      if (o.kind === 'invalid' && o.ref !== undefined) invalid.push(o.ref);
      diagnostics.push(o.diagnostic);
    }
  }
  return { objects, diagnostics, fatal: false, invalid, cache };
}

const YAML_OPTIONS = { prettyErrors: false, merge: true, uniqueKeys: true } as const;

/**
 * Parses one file's text. `previous` is the `cache` of the last parse of the same file: documents whose text did not
 * change are not parsed again and keep their objects. `chunked: false` parses the text as a whole and keeps
 * nothing (the reference the piecewise parse must equal).
 */
export function parseManifest(
  text: string,
  file: string,
  previous: ParseCache | null = null,
  chunked = true,
): ParsedManifest {
  const documents: unknown[] = [];
  const warnings: Diagnostic[] = [];
  if (file.toLowerCase().endsWith('.json')) {
    if (text.trim() === '') return { objects: [], diagnostics: [], fatal: false, invalid: [], cache: null };
    try {
      documents.push(JSON.parse(text));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const m = /\(line (\d+) column (\d+)\)/.exec(message);
      const detail = message.replace(/ in JSON at position \d+ \(line \d+ column \d+\)$/, '');
      return fatalResult(file, `invalid JSON: ${detail}`, m ? Number(m[1]) : undefined, m ? Number(m[2]) : undefined);
    }
  } else {
    const pieces = chunked ? parseChunks(text, file, previous) : null;
    if (pieces !== null) return pieces;
    const lineCounter = new yaml.LineCounter();
    const docs = yaml.parseAllDocuments(text, { lineCounter, ...YAML_OPTIONS });
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
  return combine(
    items.map((it) => outcomeOf(it, file)),
    diagnostics,
    file,
    null,
  );
}

/**
 * What the parse of a YAML file keeps for the next parse of the same file: per chunk of text between document
 * start markers, what its items decoded to. A file rewritten with one document changed is then parsed and decoded
 * one chunk deep, and the objects of the other documents are the same objects as before (so the store sees at
 * once that they did not change).
 */
export interface ParseCache {
  readonly file: string;
  readonly chunks: ReadonlyMap<string, Chunk>;
}

interface Chunk {
  /** Documents in the file before this chunk's first one: decoded objects record their document number. */
  readonly offset: number;
  readonly documents: number;
  readonly listDiagnostics: readonly Diagnostic[];
  readonly outcomes: readonly ItemOutcome[];
}

/** `---` at the start of a line, followed by a space, a tab, a line break or the end: a document start marker. */
function isMarkerAt(text: string, i: number): boolean {
  if (text.charCodeAt(i) !== 45 || text.charCodeAt(i + 1) !== 45 || text.charCodeAt(i + 2) !== 45) return false;
  if (i + 3 >= text.length) return true;
  const next = text.charCodeAt(i + 3);
  return next === 32 || next === 9 || next === 10 || next === 13;
}

/**
 * The text cut before every document start marker (`---` at the start of a line). A marker there always starts a
 * new document, whatever came before it (YAML forbids it inside scalars and collections; the parser ends them), so
 * each piece parses on its own to the documents the whole text has there, in order. Directives (`%YAML`, `%TAG`)
 * would tie a document to the text before its marker: files with a line starting with `%` are not cut.
 */
export function splitAtMarkers(text: string): string[] | null {
  if (text.startsWith('%') || text.includes('\n%')) return null;
  const pieces: string[] = [];
  let start = 0;
  let at = text.indexOf('\n---');
  while (at >= 0) {
    if (isMarkerAt(text, at + 1)) {
      pieces.push(text.slice(start, at + 1));
      start = at + 1;
    }
    at = text.indexOf('\n---', at + 1);
  }
  pieces.push(text.slice(start));
  return pieces;
}

/**
 * Parses a YAML text piece by piece (see splitAtMarkers), reusing what `previous` holds for pieces that did not
 * change and sit at the same document number. Returns null when the text must be parsed as a whole: directives, or
 * any error or warning, whose positions and wording are the whole parse's to give.
 */
function parseChunks(text: string, file: string, previous: ParseCache | null): ParsedManifest | null {
  const pieces = splitAtMarkers(text);
  if (pieces === null) return null;
  const old = previous !== null && previous.file === file ? previous.chunks : null;
  const chunks = new Map<string, Chunk>();
  const ordered: Chunk[] = [];
  let offset = 0;
  for (const piece of pieces) {
    let chunk = old?.get(piece);
    if (chunk === undefined || chunk.offset !== offset) {
      const parsed = parseChunk(piece, file, offset);
      if (parsed === null) return null;
      chunk = parsed;
    }
    chunks.set(piece, chunk);
    ordered.push(chunk);
    offset += chunk.documents;
  }
  const listDiagnostics: Diagnostic[] = [];
  for (const c of ordered) listDiagnostics.push(...c.listDiagnostics);
  return combine(
    (function* () {
      for (const c of ordered) yield* c.outcomes;
    })(),
    listDiagnostics,
    file,
    { file, chunks },
  );
}

function parseChunk(piece: string, file: string, offset: number): Chunk | null {
  const values = readBlockDocuments(piece) ?? fullDocuments(piece);
  if (values === null) return null;
  const items: RawItem[] = [];
  const listDiagnostics: Diagnostic[] = [];
  for (let d = 0; d < values.length; d++) {
    const value = values[d];
    if (value === null || value === undefined) continue;
    expand(value, offset + d, items, listDiagnostics, file);
  }
  return { offset, documents: values.length, listDiagnostics, outcomes: items.map((it) => outcomeOf(it, file)) };
}

/**
 * A text's document values by the full parser, one per document; null on any error or warning (the whole parse
 * reports them). The block reader must give what this gives wherever it gives anything.
 */
export function fullDocuments(piece: string): unknown[] | null {
  const docs = yaml.parseAllDocuments(piece, YAML_OPTIONS);
  if ('empty' in docs) return docs.errors.length > 0 ? null : [];
  const values: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0 || doc.warnings.length > 0) return null;
    try {
      values.push(doc.contents === null ? null : doc.toJS({ maxAliasCount: 100 }));
    } catch {
      return null;
    }
  }
  return values;
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
