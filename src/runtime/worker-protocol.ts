// Messages between the primary and its worker processes (`--workers N`), over the cluster IPC channel with
// advanced (structured clone) serialisation. Everything sent is plain data: the IR and settings go out, compiled
// tables never leave the process that built them.
import type { ListenerError } from '../dataplane/dataplane.ts';
import type { Diagnostic, IR } from '../ir/types.ts';
import type { LogFormat, LogLevel } from '../observe/logger.ts';
import type { MetricsSnapshot } from '../observe/metrics.ts';
import type { DataPlaneSettings } from './serving.ts';

/** Everything a worker needs to start, sent once it says hello. */
export interface WorkerInit {
  readonly settings: DataPlaneSettings;
  readonly drainTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

export type ToWorker =
  | { readonly type: 'gatehouse:init'; readonly init: WorkerInit }
  /** Compile and serve this IR; `seq` orders configurations (higher is newer). */
  | { readonly type: 'gatehouse:config'; readonly seq: number; readonly hash: string; readonly ir: IR }
  | { readonly type: 'gatehouse:metrics'; readonly request: number };

export type FromWorker =
  /** The worker listens for messages: the primary may send init and the configuration. */
  | { readonly type: 'gatehouse:hello' }
  | {
      readonly type: 'gatehouse:applied';
      readonly seq: number;
      readonly hash: string;
      readonly diagnostics: readonly Diagnostic[];
      readonly listenerErrors: readonly ListenerError[];
    }
  /** The configuration could not be compiled; the worker keeps serving the previous one. */
  | { readonly type: 'gatehouse:rejected'; readonly seq: number; readonly hash: string; readonly error: string }
  | { readonly type: 'gatehouse:metrics'; readonly request: number; readonly metrics: MetricsSnapshot };

export function isFromWorker(m: unknown): m is FromWorker {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('gatehouse:')
  );
}

export function isToWorker(m: unknown): m is ToWorker {
  return isFromWorker(m);
}
