import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { issueCertificate } from '../../tls/certificates.ts';
import type { WatchEvent } from './api-client.ts';
import { KUBE_API_STATUS, KUBE_WATCH_PROTOCOL, KubeApiError, KubeClient } from './api-client.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function listen(server: Server, handler: Handler): Promise<string> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

const servers: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kubeclient-'));
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

async function httpServer(handler: Handler): Promise<string> {
  const s = createServer();
  servers.push(s);
  return `http://${await listen(s, handler)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("request: bearer token, JSON in and out, a content type of the caller's choice, a path prefix kept", async (t) => {
  const seen: { method: string; url: string; auth: string; type: string; body: string }[] = [];
  const url = await httpServer((req, res, body) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization ?? '',
      type: req.headers['content-type'] ?? '',
      body,
    });
    if (req.url?.endsWith('/missing')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: req.method }));
  });
  const client = new KubeClient({ server: `${url}/prefix/`, token: 'secret-token' });
  t.after(() => client.close());
  assert.deepEqual(await client.request('GET', '/api/v1/namespaces'), { status: 200, body: { ok: 'GET' } });
  assert.deepEqual(
    await client.request('PATCH', '/apis/x/v1/things/a/status', {
      body: { status: { a: 1 } },
      contentType: 'application/merge-patch+json',
    }),
    { status: 200, body: { ok: 'PATCH' } },
  );
  assert.deepEqual(await client.request('GET', '/missing'), { status: 404, body: '404 page not found\n' });
  assert.deepEqual(seen[0], {
    method: 'GET',
    url: '/prefix/api/v1/namespaces',
    auth: 'Bearer secret-token',
    type: '',
    body: '',
  });
  assert.deepEqual(seen[1], {
    method: 'PATCH',
    url: '/prefix/apis/x/v1/things/a/status',
    auth: 'Bearer secret-token',
    type: 'application/merge-patch+json',
    body: '{"status":{"a":1}}',
  });
});

test('watch: events are delivered as they arrive, whatever the chunking (lines and UTF-8 split across chunks)', async (t) => {
  let finish: (() => void) | undefined;
  const url = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const a = `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'café' } } })}\n`;
    const b = `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } })}\n`;
    const bytes = Buffer.from(a + b);
    const cut = Buffer.from(a).indexOf(Buffer.from('é')) + 1; // inside the two bytes of 'é'
    res.write(bytes.subarray(0, cut));
    setTimeout(() => res.write(bytes.subarray(cut, bytes.length - 5)), 10);
    setTimeout(() => res.write(bytes.subarray(bytes.length - 5)), 20);
    finish = () => res.end(`${JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'x' } } })}`);
  });
  const client = new KubeClient({ server: url });
  t.after(() => client.close());
  const events: WatchEvent[] = [];
  const done = client.watch('/api/v1/services?watch=1', (e) => events.push(e), new AbortController().signal);
  while (events.length < 2) await sleep(5);
  assert.deepEqual(events, [
    { type: 'ADDED', object: { metadata: { name: 'café' } } },
    { type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } },
  ]);
  finish?.();
  await done;
  assert.deepEqual(events[2], { type: 'DELETED', object: { metadata: { name: 'x' } } });
});

test('watch: a non-200 answer, a malformed stream, an abort and close() all reject', async () => {
  const url = await httpServer((req, res) => {
    if (req.url?.includes('gone')) {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' }),
      );
    } else if (req.url?.includes('garbage')) {
      res.writeHead(200).end('{"type":"ADDED"}\nnot json\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    }
  });
  const client = new KubeClient({ server: url });
  const never = new AbortController().signal;
  await assert.rejects(
    client.watch('/gone?watch=1', () => {}, never),
    (e: unknown) =>
      e instanceof KubeApiError &&
      e.code === KUBE_API_STATUS &&
      e.status === 410 &&
      e.reason === 'Expired' &&
      /too old/.test(e.message),
  );
  const seen: string[] = [];
  await assert.rejects(
    client.watch('/garbage?watch=1', (e) => seen.push(e.type), never),
    (e: unknown) => e instanceof KubeApiError && e.code === KUBE_WATCH_PROTOCOL,
  );
  assert.deepEqual(seen, ['ADDED']);
  const abort = new AbortController();
  const aborted = client.watch('/open?watch=1', () => {}, abort.signal);
  await sleep(20);
  abort.abort();
  await assert.rejects(aborted, (e: unknown) => e instanceof Error && e.name === 'AbortError');
  const closing = assert.rejects(
    client.watch('/open?watch=1', () => {}, never),
    (e: unknown) => e instanceof KubeApiError,
  );
  await sleep(20);
  await client.close();
  await closing;
  await assert.rejects(client.request('GET', '/x'), (e: unknown) => e instanceof KubeApiError);
});

test('a token file is read again after a 401 (the token rotated), and the request retried once', async (t) => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'old\n');
  let valid = 'old';
  const auths: string[] = [];
  const url = await httpServer((req, res) => {
    auths.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${valid}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  const client = new KubeClient({ server: url, tokenFile }, { tokenRefreshMs: 3_600_000 });
  t.after(() => client.close());
  assert.equal((await client.request('GET', '/a')).status, 200);
  writeFileSync(tokenFile, 'new\n');
  valid = 'new';
  assert.equal((await client.request('GET', '/b')).status, 200);
  assert.deepEqual(auths, ['Bearer old', 'Bearer old', 'Bearer new']);
  // A 401 that a fresh token does not fix is returned as it is, without a loop.
  valid = 'neither';
  assert.equal((await client.request('GET', '/c')).status, 401);
});

test('TLS: the cluster CA is trusted, a client certificate is presented, anything else is refused', async (t) => {
  const ca = issueCertificate({ commonName: 'test cluster CA', isCA: true });
  const serverCert = issueCertificate({ commonName: 'apiserver', ipAddresses: ['127.0.0.1'], issuer: ca });
  const clientCert = issueCertificate({ commonName: 'gatehouse-user', issuer: ca });
  const s = createHttpsServer({
    cert: serverCert.certPem,
    key: serverCert.keyPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: false,
  });
  servers.push(s);
  const url = `https://${await listen(s, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cn: peer.subject?.CN ?? null }));
  })}`;
  const good = new KubeClient({
    server: url,
    caPem: ca.certPem,
    certPem: clientCert.certPem,
    keyPem: clientCert.keyPem,
  });
  t.after(() => good.close());
  assert.deepEqual(await good.request('GET', '/version'), { status: 200, body: { cn: 'gatehouse-user' } });

  const untrusted = new KubeClient({ server: url });
  t.after(() => untrusted.close());
  await assert.rejects(untrusted.request('GET', '/version'));

  const insecure = new KubeClient({ server: url, insecureSkipTLSVerify: true });
  t.after(() => insecure.close());
  assert.deepEqual(await insecure.request('GET', '/version'), { status: 200, body: { cn: null } });
});
