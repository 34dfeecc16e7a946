import { createAccessLogger, createLogger } from '../observe/logger.ts';
import { Gateway } from '../runtime/gateway.ts';
import { defaultLeaderElection } from '../runtime/kubernetes-status.ts';
import { type KubeConfig, loadKubeConfig } from '../sources/kubernetes/kube-config.ts';
import { type ServeArgs, UsageError } from './args.ts';

/** Starts a gateway for `gatehouse serve` and stops it gracefully on SIGTERM/SIGINT (exit 0 after draining). */
export async function serve(args: ServeArgs, onStopped?: () => Promise<void>): Promise<Gateway> {
  let kubeConfig: KubeConfig | undefined;
  if (args.kubernetes) {
    const loaded = loadKubeConfig({
      ...(args.kubeconfig !== undefined ? { kubeconfigPath: args.kubeconfig } : {}),
      env: process.env,
    });
    if (typeof loaded === 'string') throw new UsageError(`--kubernetes: ${loaded}`);
    kubeConfig = loaded;
  }
  const logger = createLogger({ level: args.logLevel, format: args.logFormat });
  if (kubeConfig !== undefined) {
    logger.info(
      {
        server: kubeConfig.server,
        ...(args.watchNamespace !== undefined ? { watchNamespace: args.watchNamespace } : {}),
      },
      'watching the Kubernetes API',
    );
  }
  const gateway = new Gateway(
    {
      manifests: args.manifests,
      ...(kubeConfig !== undefined
        ? {
            kubernetes: {
              config: kubeConfig,
              ...(args.watchNamespace !== undefined ? { watchNamespace: args.watchNamespace } : {}),
              status: {
                ...(args.publish !== undefined ? { publish: args.publish } : {}),
                leaderElection: args.leaderElection
                  ? defaultLeaderElection(process.env, {
                      ...(args.leaseNamespace !== undefined ? { namespace: args.leaseNamespace } : {}),
                      name: args.leaseName,
                    })
                  : null,
              },
            },
          }
        : {}),
      translate: {
        ingressClass: args.ingressClass,
        sslRedirect: args.sslRedirect,
        proxyProtocol: args.proxyProtocol,
        ...(args.tcpServicesConfigMap !== undefined ? { tcpServicesConfigMap: args.tcpServicesConfigMap } : {}),
        upstream: args.upstream,
        httpPort: args.httpPort,
        httpsPort: args.httpsPort,
      },
      adminPort: args.adminPort,
      adminAddress: args.adminAddress,
      listenAddress: args.listenAddress,
      limits: args.limits,
      upstream: args.upstreamOptions,
      trustedProxies: args.trustedProxies,
      accessLog: args.accessLog,
      http1FastPath: args.http1FastPath,
      drainTimeoutMs: args.drainTimeoutMs,
      workers: args.workers,
      logLevel: args.logLevel,
      logFormat: args.logFormat,
      ...(args.accessLog ? { accessLogger: () => createAccessLogger(args.logLevel, args.logFormat, {}) } : {}),
      debounceMs: 50,
      maxDebounceMs: 250,
    },
    logger,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway
      .stop()
      .then(() => onStopped?.())
      .then(
        () => process.exit(0),
        (err: Error) => {
          logger.error({ err: err.message }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await gateway.start();
  return gateway;
}
