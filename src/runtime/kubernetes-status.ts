// Status write-back in --kubernetes mode: leader election plus the status writer, fed after each applied
// configuration. Nothing here blocks the data plane: publish() hands a batch over and returns.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { TranslateResult } from '../ir/types.ts';
import { type KubeObject, keyOf } from '../model/objects.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Logger } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { KubeApi } from '../status/kube-api.ts';
import { LeaderElector } from '../status/leader-election.ts';
import type { PublishConfig } from '../status/publish.ts';
import { type ObjectInfo, type StatusBatch, StatusWriter } from '../status/status-writer.ts';
import { isOurIngress } from '../translate/ingress/translate-ingress.ts';
import { GATEWAY_CONTROLLER, INGRESS_CONTROLLER, type TranslateOptions } from './translate-all.ts';

export interface StatusOptions {
  /** What Ingress and Gateway status publish (`--publish-address` / `--publish-service`); absent: nothing. */
  readonly publish?: PublishConfig;
  /** The Lease replicas elect a leader with; null: this replica writes status unconditionally. */
  readonly leaderElection: { readonly namespace: string; readonly name: string; readonly identity: string } | null;
}

/** The objects whose status may be written, with their uid and API path, by key. */
function objectInfo(snapshot: Snapshot, servedIngresses: readonly KubeObject[]): Map<string, ObjectInfo> {
  const out = new Map<string, ObjectInfo>();
  const add = (o: KubeObject): void => {
    out.set(keyOf(o), {
      ...(o.metadata.uid === '' ? {} : { uid: o.metadata.uid }),
      ...(o.origin.api === undefined ? {} : { path: o.origin.api }),
    });
  };
  for (const list of [
    snapshot.gatewayClasses,
    snapshot.gateways,
    snapshot.httpRoutes,
    snapshot.grpcRoutes,
    snapshot.tcpRoutes,
    snapshot.tlsRoutes,
    snapshot.backendTLSPolicies,
    servedIngresses,
  ]) {
    for (const o of list) add(o);
  }
  return out;
}

export class KubernetesStatus {
  readonly #writer: StatusWriter;
  readonly #elector: LeaderElector | null;
  readonly #translate: TranslateOptions;

  constructor(api: KubeApi, options: StatusOptions, translate: TranslateOptions, logger: Logger, metrics: Metrics) {
    this.#translate = translate;
    this.#writer = new StatusWriter({
      api,
      controllerName: GATEWAY_CONTROLLER,
      ...(options.publish === undefined ? {} : { publish: options.publish }),
      logger,
      onResult: (kind, result) => metrics.statusWrites.labels(kind, result).inc(),
    });
    metrics.leader.set(0);
    const election = options.leaderElection;
    this.#elector =
      election === null
        ? null
        : new LeaderElector({
            api,
            namespace: election.namespace,
            name: election.name,
            identity: election.identity,
            logger,
          });
    this.#elector?.onChange((leader) => {
      metrics.leader.set(leader ? 1 : 0);
      this.#writer.setLeader(leader);
    });
    if (this.#elector === null) {
      logger.info({}, 'leader election is off: this replica writes status');
      metrics.leader.set(1);
    }
  }

  /** Starts electing (or, without election, writing at once). */
  start(): void {
    if (this.#elector === null) this.#writer.setLeader(true);
    else this.#elector.start();
  }

  /** After a configuration was applied: its status, and the Ingresses of our class, to the writer. */
  publish(snapshot: Snapshot, result: TranslateResult): void {
    const t = this.#translate;
    const ingresses = snapshot.ingresses.filter((ing) =>
      isOurIngress(snapshot, ing, {
        ingressClass: t.ingressClass,
        controllerName: INGRESS_CONTROLLER,
        upstream: t.upstream,
        httpPort: t.httpPort,
        httpsPort: t.httpsPort,
      }),
    );
    const batch: StatusBatch = {
      entries: result.status,
      ingresses: ingresses.map((i) => ({ namespace: i.metadata.namespace, name: i.metadata.name })),
      objects: objectInfo(snapshot, ingresses),
    };
    this.#writer.update(batch);
  }

  /** Stops writing (cancelling writes in flight), then hands the Lease back. */
  async stop(): Promise<void> {
    await this.#writer.stop();
    await this.#elector?.stop();
  }
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The Lease a replica elects with when no flag says otherwise: in POD_NAMESPACE (downward API), else the service
 * account's namespace, else gatehouse-system; its identity is POD_NAME, else host name and process id.
 */
export function defaultLeaderElection(
  env: NodeJS.ProcessEnv,
  overrides: { readonly namespace?: string; readonly name?: string } = {},
): { readonly namespace: string; readonly name: string; readonly identity: string } {
  let namespace = overrides.namespace ?? env['POD_NAMESPACE'] ?? '';
  if (namespace === '') {
    try {
      namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    } catch {
      namespace = '';
    }
  }
  const pod = env['POD_NAME'] ?? '';
  return {
    namespace: namespace === '' ? 'gatehouse-system' : namespace,
    name: overrides.name ?? 'gatehouse-leader',
    identity: pod === '' ? `${hostname()}_${process.pid}` : pod,
  };
}
