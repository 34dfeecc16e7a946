import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultServerLimits, type ServerLimits } from '../dataplane/dataplane.ts';
import type { LogFormat, LogLevel } from '../observe/logger.ts';
import { type PublishConfig, parsePublishAddresses, parsePublishService } from '../status/publish.ts';
import { defaultUpstreamOptions, type UpstreamOptions } from '../upstream/pools.ts';

/** A command-line mistake: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ServeArgs {
  readonly manifests: readonly string[];
  /** Watch the Kubernetes API instead of manifests (`--kubernetes`). */
  readonly kubernetes: boolean;
  /** `--kubeconfig FILE` (with --kubernetes). */
  readonly kubeconfig?: string;
  /** `--watch-namespace NS` (with --kubernetes): namespaced resources only from this namespace. */
  readonly watchNamespace?: string;
  /** `--publish-address` / `--publish-service`: what Ingress and Gateway status publish (with --kubernetes). */
  readonly publish?: PublishConfig;
  /** `--leader-election on|off` (default on): only the replica holding the Lease writes status. */
  readonly leaderElection: boolean;
  /** `--lease-namespace`; absent: POD_NAMESPACE, the service account's namespace, or gatehouse-system. */
  readonly leaseNamespace?: string;
  /** `--lease-name` (default gatehouse-leader). */
  readonly leaseName: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly adminAddress: string;
  readonly listenAddress: string;
  readonly upstream: 'service' | 'endpoints';
  readonly ingressClass: string;
  readonly sslRedirect: boolean;
  /** The Ingress ports expect a PROXY protocol header on every connection. */
  readonly proxyProtocol: boolean;
  /** `namespace/name` of an ingress-nginx style tcp-services ConfigMap. */
  readonly tcpServicesConfigMap?: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly accessLog: boolean;
  readonly http1FastPath: boolean;
  readonly trustedProxies: readonly string[];
  readonly drainTimeoutMs: number;
  /** `--workers N`: processes running the data plane; 1 runs it in the one process. */
  readonly workers: number;
  readonly limits: ServerLimits;
  readonly upstreamOptions: UpstreamOptions;
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const SERVE_HELP = `Usage: gatehouse serve --manifests PATH [--manifests PATH ...] [options]
       gatehouse serve --kubernetes [--kubeconfig FILE] [--watch-namespace NS] [options]

Serves the Ingress and Gateway API resources (and the Services, EndpointSlices and Secrets they use)
found in folders or files of YAML/JSON manifests, or read from the Kubernetes API, and applies changes
to them live.

Sources (one of):
  --manifests PATH             folder (read recursively) or file of manifests; repeatable
  --kubernetes                 list and watch the Kubernetes API instead; credentials from --kubeconfig,
                               else KUBECONFIG, else the pod's service account, else ~/.kube/config
  --kubeconfig FILE            kubeconfig to use with --kubernetes (its current context)
  --watch-namespace NS         with --kubernetes: read namespaced resources from NS only (IngressClasses,
                               GatewayClasses and Namespaces are still read cluster-wide) (default all)
Status (with --kubernetes; written by the elected leader only):
  --publish-address ADDR,...   addresses written to Ingress status.loadBalancer and Gateway status.addresses:
                               IPs as ip / IPAddress, names as hostname / Hostname
  --publish-service NS/NAME    publish that Service's load-balancer addresses instead (re-read every 30s);
                               with neither, Ingress status is not written
  --leader-election on|off     elect one replica to write status through a Lease (default on)
  --lease-namespace NS         namespace of the Lease (default POD_NAMESPACE, else the service account's,
                               else gatehouse-system)
  --lease-name NAME            name of the Lease (default gatehouse-leader)
Listeners:
  --http-port N                port for Ingress over HTTP (default 8080)
  --https-port N               port for Ingress over HTTPS (default 8443)
  --listen-address ADDR        address the traffic ports bind (default 0.0.0.0)
  --admin-port N               admin port: /healthz /readyz /metrics /api/config /api/status (default 9901)
  --admin-address ADDR         admin bind address (default 127.0.0.1)
Routing:
  --upstream service|endpoints connect to Service cluster IPs (default) or balance over ready endpoints
  --ingress-class NAME         IngressClass name to serve (default gatehouse)
  --ssl-redirect on|off        redirect plain HTTP to HTTPS for Ingress hosts with TLS, unless the Ingress's
                               ssl-redirect annotation says otherwise (default off)
  --trusted-proxies CIDR,...   peers whose X-Forwarded-For is believed and extended rather than replaced
                               (default none)
  --proxy-protocol             the Ingress ports (--http-port, --https-port) require a PROXY protocol v1/v2
                               header on every connection (a load balancer in front sends it)
  --tcp-services-configmap NS/NAME
                               ConfigMap of TCP services as ingress-nginx reads it: "<port>":
                               "<namespace>/<service>:<port>[:PROXY][:PROXY]" (default none)
Limits and timeouts (durations: 500ms, 10s, 1m; bare numbers are seconds):
  --upstream-timeout D         wait for upstream response headers / between body chunks (default 60s)
  --upstream-connect-timeout D connect to an upstream (default 5s)
  --headers-timeout D          client request head (default 10s)
  --request-timeout D          whole client request (default 30s)
  --keepalive-timeout D        idle client keep-alive connection (default 5s)
  --max-header-size BYTES      client request head size (default 16384)
  --max-header-count N         client request header count; more is answered 431 (default 100)
  --max-requests-per-socket N  requests per client connection (default 1000)
  --max-connections N          client connections per listener (default 20000)
  --websocket-idle-timeout D   WebSocket connection with no traffic either way (default 1h)
  --drain-timeout D            on SIGTERM, time given to requests in flight (default 10s)
Processes:
  --workers N                  processes serving traffic, sharing the listening ports (default: the CPUs this
                               process may use, from CPU affinity and cgroup limits; here ${availableParallelism()}).
                               Above 1, this process watches the sources, translates and runs the admin port,
                               and N worker processes (about 60-100 MB each) run the data plane; 1 runs
                               everything in one process
Logging:
  --log-level LEVEL            trace|debug|info|warn|error|fatal|silent (default info)
  --log-format json|text       (default json)
  --access-log on|off          one line per request (default on)
Performance:
  --http1-fast-path on|off     serve cleartext HTTP/1.1 on gatehouse's own HTTP/1.1 code, handing anything unusual
                               to node's HTTP server (default on)

Flags that take a value can also be set as GATEHOUSE_<FLAG> environment variables (--access-log off:
GATEHOUSE_ACCESS_LOG=off); the command line wins.
`;

export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (m === null) throw new UsageError(`${flag}: invalid duration '${value}' (examples: 500ms, 10s, 1m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000);
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: '${value}' is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag}: ${n} is out of range ${min}-${max}`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag}: '${value}' is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * `env`: flags taking a value may also come from `GATEHOUSE_<FLAG>` variables (`--access-log` from
 * `GATEHOUSE_ACCESS_LOG`); the command line wins. `--manifests` and the on/off-less flags come from the command line.
 */
export function parseServeArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ServeArgs {
  let parsed: ReturnType<typeof parseServeFlags>;
  try {
    parsed = parseServeFlags(argv);
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const v = withEnvironment(parsed.values, env);
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const manifests = v.manifests ?? [];
  const kubernetes = v.kubernetes === true;
  if (kubernetes && manifests.length > 0) {
    throw new UsageError('--kubernetes and --manifests cannot be used together: choose one source');
  }
  if (!kubernetes) {
    if (v.kubeconfig !== undefined) throw new UsageError('--kubeconfig needs --kubernetes');
    if (v['watch-namespace'] !== undefined) throw new UsageError('--watch-namespace needs --kubernetes');
    if (manifests.length === 0) throw new UsageError('serve needs at least one --manifests PATH, or --kubernetes');
  }
  if (v.kubeconfig === '') throw new UsageError('--kubeconfig: empty path');
  const watchNamespace = v['watch-namespace'];
  if (watchNamespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(watchNamespace)) {
    throw new UsageError(`--watch-namespace: '${watchNamespace}' is not a namespace name`);
  }
  if (v['publish-address'] !== undefined && v['publish-service'] !== undefined) {
    throw new UsageError('--publish-address and --publish-service cannot be used together: choose one');
  }
  let publish: PublishConfig | undefined;
  if (v['publish-address'] !== undefined) {
    const addresses = parsePublishAddresses(v['publish-address']);
    if (typeof addresses === 'string') throw new UsageError(`--publish-address: ${addresses}`);
    publish = { kind: 'addresses', addresses };
  } else if (v['publish-service'] !== undefined) {
    const service = parsePublishService(v['publish-service']);
    if (typeof service === 'string') throw new UsageError(`--publish-service: ${service}`);
    publish = { kind: 'service', ...service };
  }
  if (!kubernetes) {
    for (const flag of ['leader-election', 'lease-namespace', 'lease-name'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} needs --kubernetes`);
    }
  }
  const leaseNamespace = v['lease-namespace'];
  if (leaseNamespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(leaseNamespace)) {
    throw new UsageError(`--lease-namespace: '${leaseNamespace}' is not a namespace name`);
  }
  const leaseName = v['lease-name'] ?? 'gatehouse-leader';
  if (!/^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/.test(leaseName)) {
    throw new UsageError(`--lease-name: '${leaseName}' is not an object name`);
  }
  const d = defaultServerLimits;
  const limits: ServerLimits = {
    headersTimeoutMs:
      v['headers-timeout'] === undefined
        ? d.headersTimeoutMs
        : parseDuration('--headers-timeout', v['headers-timeout']),
    requestTimeoutMs:
      v['request-timeout'] === undefined
        ? d.requestTimeoutMs
        : parseDuration('--request-timeout', v['request-timeout']),
    keepAliveTimeoutMs:
      v['keepalive-timeout'] === undefined
        ? d.keepAliveTimeoutMs
        : parseDuration('--keepalive-timeout', v['keepalive-timeout']),
    maxHeaderSize:
      v['max-header-size'] === undefined
        ? d.maxHeaderSize
        : parseInteger('--max-header-size', v['max-header-size'], 1024, 1 << 20),
    maxHeaderCount:
      v['max-header-count'] === undefined
        ? d.maxHeaderCount
        : parseInteger('--max-header-count', v['max-header-count'], 1, 10_000),
    maxRequestsPerSocket:
      v['max-requests-per-socket'] === undefined
        ? d.maxRequestsPerSocket
        : parseInteger('--max-requests-per-socket', v['max-requests-per-socket'], 0, 1_000_000),
    maxConnections:
      v['max-connections'] === undefined
        ? d.maxConnections
        : parseInteger('--max-connections', v['max-connections'], 1, 1_000_000),
    tlsHandshakeTimeoutMs: d.tlsHandshakeTimeoutMs,
    webSocketIdleTimeoutMs:
      v['websocket-idle-timeout'] === undefined
        ? d.webSocketIdleTimeoutMs
        : parseDuration('--websocket-idle-timeout', v['websocket-idle-timeout']),
    h2MaxConcurrentStreams: d.h2MaxConcurrentStreams,
    h2IdleTimeoutMs: d.h2IdleTimeoutMs,
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new UsageError('--headers-timeout must not be longer than --request-timeout');
  }
  const u = defaultUpstreamOptions;
  const upstreamOptions: UpstreamOptions = {
    ...u,
    timeoutMs:
      v['upstream-timeout'] === undefined ? u.timeoutMs : parseDuration('--upstream-timeout', v['upstream-timeout']),
    connectTimeoutMs:
      v['upstream-connect-timeout'] === undefined
        ? u.connectTimeoutMs
        : parseDuration('--upstream-connect-timeout', v['upstream-connect-timeout']),
  };
  const tcpServices = v['tcp-services-configmap'];
  if (
    tcpServices !== undefined &&
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(tcpServices)
  ) {
    throw new UsageError(`--tcp-services-configmap: '${tcpServices}' is not NAMESPACE/NAME`);
  }
  const trustedProxies = (v['trusted-proxies'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    manifests,
    kubernetes,
    ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}),
    ...(watchNamespace !== undefined ? { watchNamespace } : {}),
    ...(publish !== undefined ? { publish } : {}),
    leaderElection: oneOf('--leader-election', v['leader-election'] ?? 'on', ['on', 'off']) === 'on',
    ...(leaseNamespace !== undefined ? { leaseNamespace } : {}),
    leaseName,
    httpPort: parseInteger('--http-port', v['http-port'] ?? '8080', 1, 65535),
    httpsPort: parseInteger('--https-port', v['https-port'] ?? '8443', 1, 65535),
    adminPort: parseInteger('--admin-port', v['admin-port'] ?? '9901', 0, 65535),
    adminAddress: v['admin-address'] ?? '127.0.0.1',
    listenAddress: v['listen-address'] ?? '0.0.0.0',
    upstream: oneOf('--upstream', v.upstream ?? 'service', ['service', 'endpoints']),
    ingressClass: v['ingress-class'] ?? 'gatehouse',
    sslRedirect: oneOf('--ssl-redirect', v['ssl-redirect'] ?? 'off', ['on', 'off']) === 'on',
    proxyProtocol: v['proxy-protocol'] === true,
    ...(tcpServices !== undefined ? { tcpServicesConfigMap: tcpServices } : {}),
    logLevel: oneOf('--log-level', v['log-level'] ?? 'info', LOG_LEVELS),
    logFormat: oneOf('--log-format', v['log-format'] ?? 'json', ['json', 'text']),
    accessLog: oneOf('--access-log', v['access-log'] ?? 'on', ['on', 'off']) === 'on',
    http1FastPath: oneOf('--http1-fast-path', v['http1-fast-path'] ?? 'on', ['on', 'off']) === 'on',
    trustedProxies,
    drainTimeoutMs: v['drain-timeout'] === undefined ? 10_000 : parseDuration('--drain-timeout', v['drain-timeout']),
    workers: v.workers === undefined ? availableParallelism() : parseInteger('--workers', v.workers, 1, 1024),
    limits,
    upstreamOptions,
  };
}

type ServeFlagValues = ReturnType<typeof parseServeFlags>['values'];

/** Fills string flags not given on the command line from their GATEHOUSE_* environment variables. */
function withEnvironment(values: ServeFlagValues, env: Readonly<Record<string, string | undefined>>): ServeFlagValues {
  const out: Record<string, unknown> = { ...values };
  for (const [name, spec] of Object.entries(SERVE_FLAGS)) {
    if (spec.type !== 'string' || 'multiple' in spec || out[name] !== undefined) continue;
    const fromEnv = env[`GATEHOUSE_${name.toUpperCase().replaceAll('-', '_')}`];
    if (fromEnv !== undefined && fromEnv !== '') out[name] = fromEnv;
  }
  return out as ServeFlagValues;
}

const SERVE_FLAGS = {
  manifests: { type: 'string', multiple: true },
  kubernetes: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'watch-namespace': { type: 'string' },
  'publish-address': { type: 'string' },
  'publish-service': { type: 'string' },
  'leader-election': { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-name': { type: 'string' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'admin-address': { type: 'string' },
  'listen-address': { type: 'string' },
  upstream: { type: 'string' },
  'ingress-class': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'access-log': { type: 'string' },
  'http1-fast-path': { type: 'string' },
  'ssl-redirect': { type: 'string' },
  'proxy-protocol': { type: 'boolean' },
  'trusted-proxies': { type: 'string' },
  'tcp-services-configmap': { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'upstream-connect-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'keepalive-timeout': { type: 'string' },
  'max-header-size': { type: 'string' },
  'max-header-count': { type: 'string' },
  'max-requests-per-socket': { type: 'string' },
  'max-connections': { type: 'string' },
  'websocket-idle-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  workers: { type: 'string' },
} as const;

function parseServeFlags(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: SERVE_FLAGS,
  });
}
