// Where `gatehouse serve --kubernetes` finds the API server and its credentials, in this order:
//   1. --kubeconfig PATH
//   2. KUBECONFIG (the first file of the list that exists)
//   3. in-cluster: KUBERNETES_SERVICE_HOST/PORT and the mounted service-account token, CA and namespace
//   4. $HOME/.kube/config, when it exists (a developer's machine)
// A kubeconfig is read as kubectl reads it for its current context: the cluster's server, CA and
// insecure-skip-tls-verify, and the user's token, token file or client certificate. Credential plugins (exec,
// auth-provider) run code on the machine, which a controller has no business doing: they are refused with a clear
// error. Errors are returned as one line of text naming the file and field, never thrown.
import { readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { yaml } from '../yaml.ts';

export interface KubeConfig {
  /** `https://host:port` (optionally with a path prefix), or `http://…` for tests. */
  readonly server: string;
  readonly caPem?: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  /** A fixed bearer token. */
  readonly token?: string;
  /** A file holding the bearer token, re-read periodically: bound service-account tokens rotate. */
  readonly tokenFile?: string;
  readonly insecureSkipTLSVerify?: boolean;
  /** The namespace of the kubeconfig context, or the pod's own namespace in a cluster. */
  readonly namespace?: string;
}

export interface LoadKubeConfigOptions {
  /** `--kubeconfig PATH`. */
  readonly kubeconfigPath?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Reads a file as UTF-8, throwing like fs.readFileSync when it cannot. Default: fs.readFileSync. */
  readonly readFile?: (path: string) => string;
  /** Whether a file exists (used to pick from KUBECONFIG and ~/.kube/config). Default: fs.statSync. */
  readonly fileExists?: (path: string) => boolean;
}

/** Where a pod's service-account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

function defaultFileExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

/** The API server, its credentials and the namespace, or a one-line error naming what was tried. */
export function loadKubeConfig(options: LoadKubeConfigOptions): KubeConfig | string {
  const readFile = options.readFile ?? defaultReadFile;
  const fileExists = options.fileExists ?? defaultFileExists;
  const env = options.env;

  if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== '') {
    return loadKubeconfigFile(resolve(options.kubeconfigPath), '--kubeconfig', readFile);
  }

  const list = (env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
  if (list.length > 0) {
    const found = list.find((p) => fileExists(resolve(p)));
    if (found === undefined) {
      return `KUBECONFIG names no file that exists (${list.join(', ')})`;
    }
    return loadKubeconfigFile(resolve(found), 'KUBECONFIG', readFile);
  }

  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  if (host !== '') return loadInCluster(host, env['KUBERNETES_SERVICE_PORT'] ?? '', readFile);

  const home = env['HOME'] ?? '';
  const homeConfig = home === '' ? '' : join(home, '.kube', 'config');
  if (homeConfig !== '' && fileExists(homeConfig)) return loadKubeconfigFile(homeConfig, '~/.kube/config', readFile);

  return (
    'no Kubernetes API credentials found: no --kubeconfig given, KUBECONFIG is not set, not running in a cluster ' +
    `(KUBERNETES_SERVICE_HOST is not set)${homeConfig === '' ? '' : `, and ${homeConfig} does not exist`}`
  );
}

function loadInCluster(host: string, port: string, readFile: (path: string) => string): KubeConfig | string {
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return `in-cluster: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is ${port === '' ? 'not set' : `'${port}', not a port`}`;
  }
  const tokenFile = join(SERVICE_ACCOUNT_DIR, 'token');
  let token: string;
  try {
    token = readFile(tokenFile).trim();
  } catch (err) {
    return `in-cluster: cannot read the service-account token ${tokenFile}: ${errorText(err)} (is automountServiceAccountToken off?)`;
  }
  if (token === '') return `in-cluster: the service-account token ${tokenFile} is empty`;
  const caFile = join(SERVICE_ACCOUNT_DIR, 'ca.crt');
  let caPem: string;
  try {
    caPem = readFile(caFile);
  } catch (err) {
    return `in-cluster: cannot read the cluster CA ${caFile}: ${errorText(err)}`;
  }
  let namespace: string | undefined;
  try {
    namespace = readFile(join(SERVICE_ACCOUNT_DIR, 'namespace')).trim() || undefined;
  } catch {
    namespace = undefined; // Optional: only used as a default.
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    caPem,
    tokenFile,
    ...(namespace !== undefined ? { namespace } : {}),
  };
}

type Rec = Readonly<Record<string, unknown>>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A named entry of a kubeconfig list (`clusters`, `users`, `contexts`): its inner object, or an error. */
function named(doc: Rec, list: string, field: string, name: string): Rec | string {
  const items = doc[list];
  if (items !== undefined && items !== null && !Array.isArray(items)) return `${list}: must be a list`;
  for (const item of (items as unknown[] | null | undefined) ?? []) {
    if (!isRec(item) || item['name'] !== name) continue;
    const inner = item[field];
    if (inner === undefined || inner === null) return {};
    if (!isRec(inner)) return `${list}[name=${name}].${field}: must be a map`;
    return inner;
  }
  return `${list}: no entry named '${name}'`;
}

function optionalString(o: Rec, key: string, where: string): string | undefined | { error: string } {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return { error: `${where}.${key}: must be a string` };
  return v;
}

function loadKubeconfigFile(path: string, how: string, readFile: (path: string) => string): KubeConfig | string {
  const label = `${how} ${path}`;
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    return `${label}: cannot read: ${errorText(err)}`;
  }
  let doc: unknown;
  try {
    doc = yaml.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    return `${label}: invalid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  if (!isRec(doc)) return `${label}: not a kubeconfig (expected a map with clusters, users and contexts)`;
  const base = dirname(path);
  const fail = (message: string): string => `${label}: ${message}`;

  const current = doc['current-context'];
  if (typeof current !== 'string' || current === '') {
    const names = Array.isArray(doc['contexts'])
      ? doc['contexts'].flatMap((c) => (isRec(c) && typeof c['name'] === 'string' ? [c['name']] : []))
      : [];
    return fail(
      `current-context is not set${names.length > 0 ? ` (contexts: ${names.join(', ')}; kubectl config use-context NAME)` : ''}`,
    );
  }
  const context = named(doc, 'contexts', 'context', current);
  if (typeof context === 'string') return fail(`current-context '${current}': ${context}`);
  const clusterName = context['cluster'];
  const userName = context['user'];
  if (typeof clusterName !== 'string' || clusterName === '') {
    return fail(`context '${current}' names no cluster`);
  }
  const cluster = named(doc, 'clusters', 'cluster', clusterName);
  if (typeof cluster === 'string') return fail(`context '${current}': ${cluster}`);
  let user: Rec = {};
  if (typeof userName === 'string' && userName !== '') {
    const u = named(doc, 'users', 'user', userName);
    if (typeof u === 'string') return fail(`context '${current}': ${u}`);
    user = u;
  }
  const cw = `clusters[name=${clusterName}].cluster`;
  const uw = `users[name=${typeof userName === 'string' ? userName : ''}].user`;

  const server = optionalString(cluster, 'server', cw);
  if (typeof server === 'object') return fail(server.error);
  if (server === undefined) return fail(`${cw}.server: required`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(`${cw}.server: '${server}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return fail(`${cw}.server: '${server}' must be an https:// (or http://) URL`);
  }
  if (cluster['proxy-url'] !== undefined && cluster['proxy-url'] !== null && cluster['proxy-url'] !== '') {
    return fail(`${cw}.proxy-url: connecting through a proxy is not supported`);
  }

  for (const plugin of ['exec', 'auth-provider'] as const) {
    if (user[plugin] !== undefined && user[plugin] !== null) {
      return fail(
        `${uw}.${plugin}: credential plugins are not supported (gatehouse runs no commands to get a token); ` +
          'use a kubeconfig with a token, tokenFile or client certificate, e.g. from a ServiceAccount',
      );
    }
  }
  if (user['username'] !== undefined || user['password'] !== undefined) {
    return fail(`${uw}: basic authentication (username/password) is not supported`);
  }

  /** A `*-data` field (base64 PEM) or its file twin (a path, relative to the kubeconfig's folder). */
  const pem = (o: Rec, where: string, fileKey: string): string | undefined | { error: string } => {
    const dataKey = `${fileKey}-data`;
    const data = optionalString(o, dataKey, where);
    if (typeof data === 'object') return data;
    if (data !== undefined) {
      const s = data.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
        return { error: `${where}.${dataKey}: must be base64` };
      }
      return Buffer.from(s, 'base64').toString('utf8');
    }
    const file = optionalString(o, fileKey, where);
    if (typeof file === 'object') return file;
    if (file === undefined) return undefined;
    const abs = isAbsolute(file) ? file : resolve(base, file);
    try {
      return readFile(abs);
    } catch (err) {
      return { error: `${where}.${fileKey}: cannot read ${abs}: ${errorText(err)}` };
    }
  };

  const caPem = pem(cluster, cw, 'certificate-authority');
  if (typeof caPem === 'object') return fail(caPem.error);
  const certPem = pem(user, uw, 'client-certificate');
  if (typeof certPem === 'object') return fail(certPem.error);
  const keyPem = pem(user, uw, 'client-key');
  if (typeof keyPem === 'object') return fail(keyPem.error);
  if ((certPem === undefined) !== (keyPem === undefined)) {
    return fail(`${uw}: client-certificate and client-key must be given together`);
  }
  const insecure = cluster['insecure-skip-tls-verify'];
  if (insecure !== undefined && insecure !== null && typeof insecure !== 'boolean') {
    return fail(`${cw}.insecure-skip-tls-verify: must be true or false`);
  }

  const token = optionalString(user, 'token', uw);
  if (typeof token === 'object') return fail(token.error);
  const tokenFileRaw = optionalString(user, 'tokenFile', uw);
  if (typeof tokenFileRaw === 'object') return fail(tokenFileRaw.error);
  let tokenFile: string | undefined;
  if (token === undefined && tokenFileRaw !== undefined) {
    tokenFile = isAbsolute(tokenFileRaw) ? tokenFileRaw : resolve(base, tokenFileRaw);
    try {
      if (readFile(tokenFile).trim() === '') return fail(`${uw}.tokenFile: ${tokenFile} is empty`);
    } catch (err) {
      return fail(`${uw}.tokenFile: cannot read ${tokenFile}: ${errorText(err)}`);
    }
  }
  const namespace = typeof context['namespace'] === 'string' ? context['namespace'] : '';

  return {
    server: server.replace(/\/+$/, ''),
    ...(caPem !== undefined ? { caPem } : {}),
    ...(certPem !== undefined ? { certPem } : {}),
    ...(keyPem !== undefined ? { keyPem } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    ...(insecure === true ? { insecureSkipTLSVerify: true } : {}),
    ...(namespace !== '' ? { namespace } : {}),
  };
}
