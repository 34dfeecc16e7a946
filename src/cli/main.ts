#!/usr/bin/env node
// The entry point. It turns on node's module compile cache before anything else of gatehouse is loaded: stripping the
// types of and compiling the whole module graph takes ~0.8 s at every start (and in every worker), ~0.35 s when read
// from the cache. NODE_DISABLE_COMPILE_CACHE=1 turns it off; where it cannot be written it is skipped without a word.
import { lstatSync, mkdirSync } from 'node:fs';
import { enableCompileCache, flushCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * NODE_COMPILE_CACHE when set, else a directory of this user's own in the temporary directory. Cached code is run
 * as it is found, so a directory others could write to (a shared /tmp, where node's default would be) is not used.
 */
function compileCacheDir(): string | null {
  // Turned off: nothing to make either.
  if ((process.env['NODE_DISABLE_COMPILE_CACHE'] ?? '') !== '') return null;
  const configured = process.env['NODE_COMPILE_CACHE'];
  if (configured !== undefined && configured !== '') return configured;
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  const dir = join(tmpdir(), `gatehouse-compile-cache-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // it exists (checked below), or cannot be made
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : null;
  } catch {
    return null;
  }
}

const cacheDir = compileCacheDir();
if (cacheDir !== null) enableCompileCache(cacheDir);
const { run } = await import('./commands.ts');
// Written now rather than at exit: a server may never exit cleanly (a SIGKILL at the end of a pod's grace period).
if (cacheDir !== null) flushCompileCache();
run(process.argv.slice(2));
