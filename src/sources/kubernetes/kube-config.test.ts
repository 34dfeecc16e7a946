import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import type { KubeConfig } from './kube-config.ts';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from './kube-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

let seq = 0;
function write(doc: unknown, name = `config-${++seq}`): string {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
  return path;
}

function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'dev',
    contexts: [
      { name: 'other', context: { cluster: 'nope', user: 'nope' } },
      { name: 'dev', context: { cluster: 'c1', user: 'u1', namespace: 'team-a' } },
    ],
    clusters: [{ name: 'c1', cluster }],
    users: [{ name: 'u1', user }],
    ...extra,
  };
}

function ok(r: KubeConfig | string): KubeConfig {
  if (typeof r === 'string') assert.fail(r);
  return r;
}

function err(r: KubeConfig | string): string {
  assert.equal(typeof r, 'string', `expected an error, got ${JSON.stringify(r)}`);
  return r as string;
}

test('in cluster: the service host and port, the mounted token file, CA and namespace', () => {
  const files: Record<string, string> = {
    [join(SERVICE_ACCOUNT_DIR, 'token')]: 'tok\n',
    [join(SERVICE_ACCOUNT_DIR, 'ca.crt')]: CA,
    [join(SERVICE_ACCOUNT_DIR, 'namespace')]: 'gatehouse\n',
  };
  const readFile = (p: string): string => {
    const v = files[p];
    if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return v;
  };
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  assert.deepEqual(ok(loadKubeConfig({ env, readFile })), {
    server: 'https://10.96.0.1:443',
    caPem: CA,
    tokenFile: join(SERVICE_ACCOUNT_DIR, 'token'),
    namespace: 'gatehouse',
  });
  // IPv6 service address.
  assert.equal(
    ok(loadKubeConfig({ env: { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, readFile })).server,
    'https://[fd00::1]:443',
  );
  // Without a token mounted: say so, and why it may be.
  delete files[join(SERVICE_ACCOUNT_DIR, 'token')];
  assert.match(
    err(loadKubeConfig({ env, readFile })),
    /in-cluster: cannot read the service-account token .*token: no such file .*automountServiceAccountToken/,
  );
  assert.match(
    err(loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, readFile })),
    /KUBERNETES_SERVICE_PORT is not set/,
  );
});

test('a kubeconfig: the current context picks cluster, user and namespace; -data fields are base64', () => {
  const path = write(
    kubeconfig(
      { server: 'https://api.example.com:6443/', 'certificate-authority-data': b64(CA) },
      { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) },
    ),
  );
  assert.deepEqual(ok(loadKubeConfig({ kubeconfigPath: path, env: {} })), {
    server: 'https://api.example.com:6443',
    caPem: CA,
    certPem: CERT,
    keyPem: KEY,
    namespace: 'team-a',
  });
});

test('a kubeconfig: file references are read relative to the kubeconfig; token, tokenFile and insecure-skip-tls-verify', () => {
  const sub = join(dir, 'rel');
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'ca.crt'), CA);
  writeFileSync(join(sub, 'client.crt'), CERT);
  writeFileSync(join(sub, 'client.key'), KEY);
  writeFileSync(join(sub, 'token'), 'from-file\n');
  const files = write(
    kubeconfig(
      { server: 'https://h:1', 'certificate-authority': 'ca.crt' },
      { 'client-certificate': 'client.crt', 'client-key': join(sub, 'client.key') },
    ),
    'rel/config',
  );
  const c = ok(loadKubeConfig({ kubeconfigPath: files, env: {} }));
  assert.equal(c.caPem, CA);
  assert.equal(c.certPem, CERT);
  assert.equal(c.keyPem, KEY);

  const tokenFile = write(
    kubeconfig({ server: 'https://h:1', 'insecure-skip-tls-verify': true }, { tokenFile: 'token' }),
    'rel/config2',
  );
  assert.deepEqual(ok(loadKubeConfig({ kubeconfigPath: tokenFile, env: {} })), {
    server: 'https://h:1',
    tokenFile: join(sub, 'token'),
    insecureSkipTLSVerify: true,
    namespace: 'team-a',
  });

  const token = write(kubeconfig({ server: 'http://127.0.0.1:8001' }, { token: 'abc' }));
  assert.deepEqual(ok(loadKubeConfig({ kubeconfigPath: token, env: {} })), {
    server: 'http://127.0.0.1:8001',
    token: 'abc',
    namespace: 'team-a',
  });
});

test('order: --kubeconfig, then the first KUBECONFIG file that exists, then in cluster, then ~/.kube/config', () => {
  const a = write(kubeconfig({ server: 'https://a:1' }, { token: 'a' }));
  const b = write(kubeconfig({ server: 'https://b:1' }, { token: 'b' }));
  const inCluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const missing = join(dir, 'does-not-exist');
  assert.equal(ok(loadKubeConfig({ kubeconfigPath: a, env: { KUBECONFIG: b, ...inCluster } })).server, 'https://a:1');
  assert.equal(ok(loadKubeConfig({ env: { KUBECONFIG: `${missing}:${b}:${a}`, ...inCluster } })).server, 'https://b:1');
  assert.match(err(loadKubeConfig({ env: { KUBECONFIG: missing } })), /KUBECONFIG names no file that exists/);

  const home = join(dir, 'home');
  mkdirSync(join(home, '.kube'), { recursive: true });
  writeFileSync(join(home, '.kube', 'config'), stringify(kubeconfig({ server: 'https://home:1' }, { token: 'h' })));
  assert.equal(ok(loadKubeConfig({ env: { HOME: home } })).server, 'https://home:1');
  // In cluster comes before ~/.kube/config.
  const readFile = (p: string): string => (p.startsWith(SERVICE_ACCOUNT_DIR) ? 'x' : assert.fail(p));
  assert.equal(ok(loadKubeConfig({ env: { HOME: home, ...inCluster }, readFile })).server, 'https://10.0.0.1:443');

  const none = err(loadKubeConfig({ env: { HOME: join(dir, 'empty-home') } }));
  assert.match(none, /no Kubernetes API credentials found/);
  assert.match(none, /--kubeconfig/);
  assert.match(none, /KUBECONFIG is not set/);
  assert.match(none, /KUBERNETES_SERVICE_HOST is not set/);
  assert.match(none, /empty-home\/\.kube\/config does not exist/);
});

test('a kubeconfig that cannot be used says which file and field', () => {
  const cases: [unknown, RegExp][] = [
    [
      kubeconfig({ server: 'https://h:1' }, { exec: { command: 'aws' } }),
      /users\[name=u1\]\.user\.exec: credential plugins are not supported/,
    ],
    [
      kubeconfig({ server: 'https://h:1' }, { 'auth-provider': { name: 'gcp' } }),
      /auth-provider: credential plugins are not supported/,
    ],
    [kubeconfig({ server: 'https://h:1' }, { username: 'u', password: 'p' }), /basic authentication/],
    [kubeconfig({}, { token: 't' }), /clusters\[name=c1\]\.cluster\.server: required/],
    [kubeconfig({ server: 'ftp://h' }, {}), /must be an https:\/\//],
    [
      kubeconfig({ server: 'https://h:1', 'certificate-authority': 'nope.crt' }, {}),
      /certificate-authority: cannot read .*nope\.crt: no such file/,
    ],
    [
      kubeconfig({ server: 'https://h:1', 'certificate-authority-data': '%%%' }, {}),
      /certificate-authority-data: must be base64/,
    ],
    [
      kubeconfig({ server: 'https://h:1' }, { 'client-certificate-data': b64(CERT) }),
      /client-certificate and client-key must be given together/,
    ],
    [kubeconfig({ server: 'https://h:1' }, { tokenFile: 'missing-token' }), /tokenFile: cannot read/],
    [kubeconfig({ server: 'https://h:1', 'proxy-url': 'http://proxy:3128' }, {}), /proxy-url: .*not supported/],
    [
      { ...kubeconfig({ server: 'https://h:1' }, {}), 'current-context': '' },
      /current-context is not set \(contexts: other, dev; kubectl config use-context NAME\)/,
    ],
    [
      { ...kubeconfig({ server: 'https://h:1' }, {}), 'current-context': 'gone' },
      /current-context 'gone': contexts: no entry named 'gone'/,
    ],
    [{ ...kubeconfig({ server: 'https://h:1' }, {}), clusters: [] }, /clusters: no entry named 'c1'/],
    ['just text', /not a kubeconfig/],
    ['a: [', /invalid YAML/],
  ];
  for (const [doc, re] of cases) {
    const path = write(doc);
    const message = err(loadKubeConfig({ kubeconfigPath: path, env: {} }));
    assert.match(message, re);
    assert.ok(message.startsWith(`--kubeconfig ${path}: `), message);
  }
  assert.match(
    err(loadKubeConfig({ kubeconfigPath: join(dir, 'absent'), env: {} })),
    /absent: cannot read: no such file/,
  );
});
