// Reads manifests from files and folders and keeps reading them as they change.
//
// Change detection combines fs.watch (fast: one non-recursive watcher per directory, so new, renamed and
// replaced directories are picked up the same way on every platform) with a stat poll (certain: it catches
// what watchers miss, such as events during a rename-over-write, a watched directory that was replaced, or a
// Kubernetes ConfigMap volume swapping its `..data` symlink). Unchanged files are never reparsed: a file is
// re-read only when its stat changes, a watcher names it, or it was modified too recently for its mtime to
// be trusted; and reparsed only when the content hash changes.
import { createHash } from 'node:crypto';
import type { Dirent, FSWatcher, Stats } from 'node:fs';
import { watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Diagnostic } from '../../ir/types.ts';
import type { KubeObject } from '../../model/objects.ts';
import { keyOf, objectKey } from '../../model/objects.ts';
import { type ParseCache, parseManifest } from './parse.ts';

export interface FileSourceUpdate {
  /** Every object currently read, files in path order and objects in file order. */
  readonly objects: KubeObject[];
  /** Everything currently wrong with the files, not only what changed. */
  readonly diagnostics: Diagnostic[];
}

export interface FileSourceOptions {
  /** How often to stat every file in case a watcher missed something. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Delay after a watcher event before rescanning, so a burst of events becomes one scan. Default 25 ms. */
  readonly settleMs?: number;
  /** Use fs.watch besides the poll. Default true; turn off where file events do not arrive (some network mounts). */
  readonly watch?: boolean;
}

interface FileState {
  readonly root: number;
  readonly display: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  /** Content hash; undefined when the file could not be read. */
  readonly hash: string | undefined;
  readonly objects: readonly KubeObject[];
  readonly diagnostics: readonly Diagnostic[];
  /** What the last parse keeps for the next one, so a rewrite parses only the documents that changed. */
  readonly parseCache: ParseCache | null;
}

interface Candidate {
  readonly root: number;
  readonly abs: string;
  readonly display: string;
}

interface WatchedDir {
  readonly watcher: FSWatcher;
  readonly dev: number;
  readonly ino: number;
}

const manifestExtension = /\.(ya?ml|json)$/i;
/** A modification this recent may be followed by another within the same mtime tick: re-read to be sure. */
const racyWindowMs = 2000;

/** Dot-files and dot-directories, and the backup, autosave and lock files editors leave beside the real one. */
function skipName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('#') || name.startsWith('~') || name.endsWith('~');
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
}

function errorText(err: unknown): string {
  const code = errorCode(err);
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

function describeObject(o: KubeObject): string {
  const ns = o.metadata.namespace;
  return ns === '' ? `${o.kind} ${o.metadata.name}` : `${o.kind} ${ns}/${o.metadata.name}`;
}

function plural(n: number, word: string): string {
  return n === 1 ? `1 ${word}` : `${n} ${word}s`;
}

export class FileSource {
  readonly #paths: readonly string[];
  readonly #pollIntervalMs: number;
  readonly #settleMs: number;
  readonly #watch: boolean;
  #onUpdate: ((u: FileSourceUpdate) => void) | undefined;
  #files = new Map<string, FileState>();
  #rootDiagnostics: readonly Diagnostic[] = [];
  readonly #watchers = new Map<string, WatchedDir>();
  #forced = new Set<string>();
  #forceAll = false;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #settleTimer: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(paths: readonly string[], options: FileSourceOptions = {}) {
    if (paths.length === 0) throw new Error('FileSource needs at least one path');
    this.#paths = paths;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#settleMs = options.settleMs ?? 25;
    this.#watch = options.watch ?? true;
  }

  /** Loads everything once (calling onUpdate before resolving), then watches and calls it again on each change. */
  async start(onUpdate: (u: FileSourceUpdate) => void): Promise<void> {
    if (this.#onUpdate !== undefined) throw new Error('FileSource already started');
    this.#onUpdate = onUpdate;
    this.#forceAll = true;
    await this.#scan(true);
    if (this.#closed) return;
    this.#pollTimer = setInterval(() => this.#requestScan(), this.#pollIntervalMs);
  }

  /** Stops watching; no onUpdate call starts after this. Resolves once a scan in progress has finished. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer !== undefined) clearInterval(this.#pollTimer);
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#pollTimer = undefined;
    this.#settleTimer = undefined;
    for (const w of this.#watchers.values()) w.watcher.close();
    this.#watchers.clear();
    await this.#scanning;
  }

  /** `forced`: a file a watcher named, to re-read even if its stat looks unchanged; `all` when it named none. */
  #requestScan(forced?: string): void {
    if (this.#closed) return;
    if (forced === 'all') this.#forceAll = true;
    else if (forced !== undefined) this.#forced.add(forced);
    if (this.#scanning !== undefined) {
      this.#again = true;
      return;
    }
    if (forced === undefined) {
      void this.#scan(false);
      return;
    }
    this.#settleTimer ??= setTimeout(() => {
      this.#settleTimer = undefined;
      void this.#scan(false);
    }, this.#settleMs);
  }

  async #scan(initial: boolean): Promise<void> {
    if (this.#scanning !== undefined) {
      this.#again = true;
      return this.#scanning;
    }
    const run = async (): Promise<void> => {
      let first = initial;
      do {
        this.#again = false;
        await this.#scanOnce(first);
        first = false;
      } while (this.#again && !this.#closed);
    };
    this.#scanning = run().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scanOnce(initial: boolean): Promise<void> {
    const forced = this.#forced;
    const forceAll = this.#forceAll;
    this.#forced = new Set();
    this.#forceAll = false;

    const { candidates, dirs, missingRoots, rootDiagnostics } = await this.#enumerate();
    if (this.#closed) return;
    if (this.#watch) this.#updateWatchers(dirs);

    let changed = initial || JSON.stringify(rootDiagnostics) !== JSON.stringify(this.#rootDiagnostics);
    this.#rootDiagnostics = rootDiagnostics;
    const next = new Map<string, FileState>();
    const seenInodes = new Set<string>();
    const now = Date.now();
    for (const c of candidates) {
      let st: Stats;
      try {
        st = await stat(c.abs);
      } catch {
        continue; // Gone since it was listed: the next scan sees the directory without it.
      }
      const inode = `${st.dev}:${st.ino}`;
      // The same file reached twice (overlapping paths, symlinks) is read once.
      if (seenInodes.has(inode)) continue;
      seenInodes.add(inode);
      const prev = this.#files.get(c.abs);
      const statSame =
        prev !== undefined &&
        prev.hash !== undefined &&
        prev.mtimeMs === st.mtimeMs &&
        prev.size === st.size &&
        prev.ino === st.ino &&
        prev.dev === st.dev &&
        prev.display === c.display;
      if (statSame && !forceAll && !forced.has(c.abs) && now - st.mtimeMs >= racyWindowMs) {
        next.set(c.abs, prev);
        continue;
      }
      const state = await this.#load(c, st, prev);
      if (state === undefined) continue;
      if (prev === undefined || state.objects !== prev.objects || state.diagnostics !== prev.diagnostics)
        changed = true;
      next.set(c.abs, state);
    }
    // Files under a root that has disappeared keep their objects until it comes back.
    for (const [abs, state] of this.#files) {
      if (missingRoots.has(state.root) && !next.has(abs)) next.set(abs, state);
    }
    if (next.size !== this.#files.size) changed = true;
    else for (const abs of next.keys()) if (!this.#files.has(abs)) changed = true;
    this.#files = next;

    if (changed && !this.#closed) this.#onUpdate?.(this.#output());
  }

  /** Reads and parses a file whose stat changed. Returns `prev` itself when the content turns out unchanged. */
  async #load(c: Candidate, st: Stats, prev: FileState | undefined): Promise<FileState | undefined> {
    const base = { root: c.root, display: c.display, mtimeMs: st.mtimeMs, size: st.size, dev: st.dev, ino: st.ino };
    let text: string;
    try {
      text = await readFile(c.abs, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      const message = `${c.display}: cannot read: ${errorText(err)}${keeping(prev?.objects.length ?? 0)}`;
      if (prev !== undefined && prev.hash === undefined && prev.diagnostics[0]?.message === message) return prev;
      return {
        ...base,
        hash: undefined,
        objects: prev?.objects ?? [],
        diagnostics: [{ severity: 'error', file: c.display, message }],
        parseCache: prev?.parseCache ?? null,
      };
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (prev !== undefined && prev.hash === hash && prev.display === c.display) {
      // Same content under a new stat (touched, or rewritten identically): remember the stat, keep the result.
      return { ...prev, ...base };
    }

    const parsed = parseManifest(text, c.display, prev?.parseCache ?? null);
    if (parsed.fatal) {
      const kept = prev?.objects ?? [];
      const diagnostics = parsed.diagnostics.map((d, i) =>
        i === 0 && kept.length > 0 ? { ...d, message: d.message + keeping(kept.length) } : d,
      );
      return { ...base, hash, objects: kept, diagnostics, parseCache: prev?.parseCache ?? null };
    }

    // An object that became invalid keeps its last good version from this file, if it had one.
    const previous = new Map<string, KubeObject>();
    for (const o of prev?.objects ?? []) previous.set(keyOf(o), o);
    const objects = [...parsed.objects];
    const present = new Set(objects.map(keyOf));
    const keptKeys = new Set<string>();
    for (const ref of parsed.invalid) {
      const key = objectKey(ref.kind, ref.namespace, ref.name);
      const old = previous.get(key);
      if (old === undefined || present.has(key)) continue;
      objects.push(old);
      present.add(key);
      keptKeys.add(key);
    }
    const diagnostics = parsed.diagnostics.map((d) => {
      if (d.severity !== 'error' || d.object === undefined) return d;
      const key = objectKey(d.object.kind, d.object.namespace, d.object.name);
      return keptKeys.has(key) ? { ...d, message: `${d.message}; keeping the previous version` } : d;
    });
    return { ...base, hash, objects, diagnostics, parseCache: parsed.cache };
  }

  #output(): FileSourceUpdate {
    const files = [...this.#files.values()].sort((a, b) =>
      a.display < b.display ? -1 : a.display > b.display ? 1 : 0,
    );
    const objects: KubeObject[] = [];
    const diagnostics: Diagnostic[] = [...this.#rootDiagnostics];
    const owner = new Map<string, string>();
    for (const f of files) {
      diagnostics.push(...f.diagnostics);
      for (const o of f.objects) {
        const key = keyOf(o);
        const first = owner.get(key);
        if (first !== undefined) {
          diagnostics.push({
            severity: 'error',
            file: f.display,
            object: { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name },
            message: `${f.display}: ${describeObject(o)}: also defined in ${first}, which is used`,
          });
          continue;
        }
        owner.set(key, f.display);
        objects.push(o);
      }
    }
    return { objects, diagnostics };
  }

  async #enumerate(): Promise<{
    candidates: Candidate[];
    dirs: Map<string, Stats>;
    missingRoots: Set<number>;
    rootDiagnostics: Diagnostic[];
  }> {
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    const dirs = new Map<string, Stats>();
    const visitedDirs = new Set<string>();
    const missingRoots = new Set<number>();
    const rootDiagnostics: Diagnostic[] = [];
    const add = (root: number, abs: string, display: string): void => {
      if (seen.has(abs)) return;
      seen.add(abs);
      candidates.push({ root, abs, display });
    };
    const watchParent = async (abs: string): Promise<void> => {
      const parent = dirname(abs);
      if (dirs.has(parent)) return;
      try {
        const st = await stat(parent);
        if (st.isDirectory()) dirs.set(parent, st);
      } catch {
        // The poll notices when the parent appears.
      }
    };
    const walk = async (root: number, abs: string, display: string, st: Stats): Promise<void> => {
      const inode = `${st.dev}:${st.ino}`;
      if (visitedDirs.has(inode)) return; // a symlink loop, or a folder reached twice
      visitedDirs.add(inode);
      dirs.set(abs, st);
      let entries: Dirent[];
      try {
        entries = await readdir(abs, { withFileTypes: true });
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') {
          rootDiagnostics.push({ severity: 'error', file: display, message: `${display}: ${errorText(err)}` });
        }
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (skipName(e.name)) continue;
        const childAbs = join(abs, e.name);
        const childDisplay = join(display, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        let childStat: Stats | undefined;
        if (e.isSymbolicLink() || isDir) {
          try {
            childStat = await stat(childAbs);
          } catch {
            continue; // dangling symlink, or removed meanwhile
          }
          isDir = childStat.isDirectory();
          isFile = childStat.isFile();
        }
        if (isDir && childStat !== undefined) await walk(root, childAbs, childDisplay, childStat);
        else if (isFile && manifestExtension.test(e.name)) add(root, childAbs, childDisplay);
      }
    };

    for (let i = 0; i < this.#paths.length; i++) {
      const display = this.#paths[i] ?? '';
      const abs = resolve(display);
      let st: Stats;
      try {
        st = await stat(abs);
      } catch (err) {
        missingRoots.add(i);
        const kept = [...this.#files.values()].filter((f) => f.root === i).reduce((n, f) => n + f.objects.length, 0);
        rootDiagnostics.push({
          severity: 'error',
          file: display,
          message: `${display}: ${errorText(err)}${keeping(kept)}`,
        });
        await watchParent(abs);
        continue;
      }
      if (st.isDirectory()) await walk(i, abs, display, st);
      else {
        // A file named explicitly is read whatever its extension; its folder is watched for rename-over writes.
        add(i, abs, display);
        await watchParent(abs);
      }
    }
    return { candidates, dirs, missingRoots, rootDiagnostics };
  }

  #updateWatchers(dirs: ReadonlyMap<string, Stats>): void {
    for (const [abs, w] of this.#watchers) {
      const st = dirs.get(abs);
      // A directory that is gone or was replaced by another with the same name needs a new watcher.
      if (st === undefined || st.dev !== w.dev || st.ino !== w.ino) {
        w.watcher.close();
        this.#watchers.delete(abs);
      }
    }
    for (const [abs, st] of dirs) {
      if (this.#watchers.has(abs)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(abs, { persistent: true }, (_event, filename) => {
          this.#requestScan(filename === null ? 'all' : join(abs, filename.toString()));
        });
      } catch {
        continue; // Removed since it was listed, or out of watches: the poll still covers it.
      }
      watcher.on('error', () => {
        watcher.close();
        if (this.#watchers.get(abs)?.watcher === watcher) this.#watchers.delete(abs);
        this.#requestScan('all');
      });
      this.#watchers.set(abs, { watcher, dev: st.dev, ino: st.ino });
    }
  }
}

function keeping(n: number): string {
  return n === 0 ? '' : `; keeping the ${plural(n, 'object')} last read from it`;
}
