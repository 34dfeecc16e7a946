// gRPC end to end: real @grpc/grpc-js clients and servers (JSON messages, no protobuf) through a real gatehouse
// process. A GRPCRoute on a Gateway HTTP listener (clients in cleartext, h2c with prior knowledge, servers h2c):
// the four call kinds, metadata both ways, trailers, large messages, error statuses, deadlines and cancels, method
// matching, and the statuses gatehouse answers itself (UNIMPLEMENTED, UNAVAILABLE); a GRPCRoute to a TLS server
// through a BackendTLSPolicy. Ingress `backend-protocol: GRPC` on the HTTP and HTTPS ports, and `GRPCS` to a TLS
// gRPC server with and without verification. Addresses: 127.0.90.x.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { type IssuedCertificate, issueCertificate } from '../src/tls/certificates.ts';
import { freeTcpPort, type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import {
  bidiPingPong,
  clientStream,
  type GrpcTestServer,
  grpcClient,
  type Message,
  Metadata,
  type RawGrpcResponse,
  type RecordedCall,
  rawGrpcCall,
  STATUS_NAMES,
  serverStream,
  startGrpcServer,
  status,
  type TestClient,
  unary,
} from './helpers/grpc.ts';
import {
  backendTLSPolicy,
  configMap,
  gateway,
  gatewayClass,
  grpcRoute,
  ingress,
  ingressClass,
  type Manifest,
  secret,
  service,
  tlsSecret,
  toYaml,
} from './helpers/manifests.ts';

const ADDR = {
  a: '127.0.90.1',
  b: '127.0.90.2',
  /** Nothing listens here. */
  down: '127.0.90.3',
  tls: '127.0.90.4',
  /** The TLS server behind the GRPCRoute, reached with a BackendTLSPolicy. */
  tlsGw: '127.0.90.5',
} as const;
const PORT = 50051;
const TLS_PORT = 50443;
const SERVICES = ['gh.test.Echo', 'gh.test.Alpha', 'gh.test.Beta', 'gh.test.Gamma', 'gh.test.Down', 'gh.test.Secure'];

/** Signs the certificate gatehouse serves to clients. */
const EDGE_CA = issueCertificate({ commonName: 'gatehouse grpc test edge CA', isCA: true });
const EDGE_CERT = issueCertificate({ commonName: 'grpcs-edge.test', dnsNames: ['grpcs-edge.test'], issuer: EDGE_CA });
/** Signs the TLS gRPC backend's certificate. */
const BACKEND_CA = issueCertificate({ commonName: 'gatehouse grpc test backend CA', isCA: true });
const BACKEND_NAME = 'grpc-backend.internal';
const BACKEND_CERT = issueCertificate({ commonName: BACKEND_NAME, dnsNames: [BACKEND_NAME], issuer: BACKEND_CA });
const WRONG_CA = issueCertificate({ commonName: 'gatehouse grpc test unrelated CA', isCA: true });

const HOSTS = {
  route: 'grpc.test',
  plain: 'grpc-ing.test',
  edge: 'grpcs-edge.test',
  noVerify: 'grpcs-noverify.test',
  verify: 'grpcs-verify.test',
  wrongCA: 'grpcs-wrongca.test',
} as const;

let dir = '';
let gh: GatehouseProcess;
let gwPort = 0;
let serverA: GrpcTestServer;
let serverB: GrpcTestServer;
let serverTLS: GrpcTestServer;
let serverTLSGw: GrpcTestServer;
const clients: TestClient[] = [];

const caSecret = (name: string, ca: IssuedCertificate): Manifest => secret(name, { 'ca.crt': ca.certPem });

function manifests(): Manifest[] {
  const svc = (name: string, ip: string, port: number): Manifest[] =>
    service({ name, clusterIP: ip, port, portName: 'grpc', targetPort: port, endpoints: [{ ip }] });
  const exact = (svcName: string, methodName?: string) => ({
    method: { type: 'Exact', service: svcName, ...(methodName === undefined ? {} : { method: methodName }) },
  });
  /** An Ingress for one host: GRPC ones to the h2c server A, GRPCS ones to the TLS server; TLS on request. */
  const grpcIngress = (name: string, host: string, annotations: Record<string, string>, tlsSecretName?: string) => {
    const tlsBackend = annotations['nginx.ingress.kubernetes.io/backend-protocol'] === 'GRPCS';
    return ingress({
      name,
      annotations,
      ...(tlsSecretName === undefined ? {} : { tls: [{ hosts: [host], secretName: tlsSecretName }] }),
      rules: [
        {
          host,
          paths: [{ path: '/', service: tlsBackend ? 'grpc-tls' : 'grpc-a', port: tlsBackend ? TLS_PORT : PORT }],
        },
      ],
    });
  };
  const GRPC = { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' };
  const GRPCS = { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPCS' };
  const verifyWith = (secretName: string) => ({
    ...GRPCS,
    'nginx.ingress.kubernetes.io/proxy-ssl-secret': `default/${secretName}`,
    'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
    'nginx.ingress.kubernetes.io/proxy-ssl-name': BACKEND_NAME,
    'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'on',
  });
  return [
    ingressClass(),
    gatewayClass(),
    ...svc('grpc-a', ADDR.a, PORT),
    ...svc('grpc-b', ADDR.b, PORT),
    ...svc('grpc-down', ADDR.down, PORT),
    ...svc('grpc-tls', ADDR.tls, TLS_PORT),
    ...svc('grpc-tls-gw', ADDR.tlsGw, TLS_PORT),
    configMap('grpc-backend-ca', { 'ca.crt': BACKEND_CA.certPem }),
    backendTLSPolicy('grpc-tls-gw', {
      services: ['grpc-tls-gw'],
      caConfigMaps: ['grpc-backend-ca'],
      hostname: BACKEND_NAME,
    }),
    tlsSecret('edge-cert', EDGE_CERT.certPem, EDGE_CERT.keyPem),
    caSecret('grpc-backend-ca', BACKEND_CA),
    caSecret('wrong-ca', WRONG_CA),
    gateway('grpc-gw', [{ name: 'http', port: gwPort }]),
    grpcRoute('echo', {
      parentRefs: [{ name: 'grpc-gw' }],
      hostnames: [HOSTS.route],
      rules: [
        { matches: [exact('gh.test.Echo')], backendRefs: [{ name: 'grpc-a', port: PORT }] },
        { matches: [exact('gh.test.Alpha')], backendRefs: [{ name: 'grpc-a', port: PORT }] },
        { matches: [exact('gh.test.Beta', 'Unary')], backendRefs: [{ name: 'grpc-b', port: PORT }] },
        { matches: [exact('gh.test.Down')], backendRefs: [{ name: 'grpc-down', port: PORT }] },
        { matches: [exact('gh.test.Secure')], backendRefs: [{ name: 'grpc-tls-gw', port: TLS_PORT }] },
      ],
    }),
    grpcIngress('grpc-plain', HOSTS.plain, GRPC),
    grpcIngress('grpc-edge', HOSTS.edge, GRPC, 'edge-cert'),
    grpcIngress('grpcs-noverify', HOSTS.noVerify, GRPCS),
    grpcIngress('grpcs-verify', HOSTS.verify, verifyWith('grpc-backend-ca')),
    grpcIngress('grpcs-wrongca', HOSTS.wrongCA, verifyWith('wrong-ca')),
  ];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-grpc-'));
  gwPort = await freeTcpPort();
  serverA = await startGrpcServer({ name: 'server-a', host: ADDR.a, port: PORT, services: SERVICES });
  serverB = await startGrpcServer({ name: 'server-b', host: ADDR.b, port: PORT, services: SERVICES });
  serverTLS = await startGrpcServer({
    name: 'server-tls',
    host: ADDR.tls,
    port: TLS_PORT,
    services: SERVICES,
    tls: BACKEND_CERT,
  });
  serverTLSGw = await startGrpcServer({
    name: 'server-tls-gw',
    host: ADDR.tlsGw,
    port: TLS_PORT,
    services: SERVICES,
    tls: BACKEND_CERT,
  });
  writeFileSync(join(dir, 'all.yaml'), toYaml(manifests()));
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  for (const c of clients) c.close();
  const code = gh === undefined ? 0 : await gh.stop();
  // Servers close whatever gatehouse did, or they would keep this process alive.
  await Promise.all([serverA?.close(), serverB?.close(), serverTLS?.close(), serverTLSGw?.close()]);
  rmSync(dir, { recursive: true, force: true });
  assertCleanExit(code);
});

/** gatehouse exited 0 (after SIGTERM and draining); otherwise fails with its last log lines. */
function assertCleanExit(code: number | null): void {
  assert.equal(
    code,
    0,
    `gatehouse exited with ${String(code)}; last log lines:\n${JSON.stringify(gh?.logs.slice(-15), null, 1)}`,
  );
}

/** A client through the Gateway listener (cleartext: h2c with prior knowledge). */
function viaGateway(svc = 'gh.test.Echo'): TestClient {
  const c = grpcClient(svc, {
    target: `127.0.0.1:${gwPort}`,
    credentials: credentials.createInsecure(),
    authority: HOSTS.route,
  });
  clients.push(c);
  return c;
}

/** A client through the Ingress HTTP port (h2c) with the given authority. */
function viaHttpPort(authority: string, svc = 'gh.test.Echo'): TestClient {
  const c = grpcClient(svc, {
    target: `127.0.0.1:${gh.httpPort}`,
    credentials: credentials.createInsecure(),
    authority,
  });
  clients.push(c);
  return c;
}

let callSeq = 0;
/** Metadata carrying a unique call id, so a test finds its own call among those a server recorded. */
function tagged(extra: Record<string, string | Buffer> = {}): { id: string; metadata: Metadata } {
  const id = `call-${process.pid}-${++callSeq}`;
  const metadata = new Metadata();
  metadata.set('x-call-id', id);
  for (const [k, v] of Object.entries(extra)) metadata.set(k, v);
  return { id, metadata };
}

const callsWithId = (server: GrpcTestServer, id: string): RecordedCall[] =>
  server.calls.filter((c) => c.metadata['x-call-id'] === id);

const codeName = (code: number): string => `${code} ${STATUS_NAMES[code] ?? '?'}`;

function assertOk(result: { status: { code: number; details: string } }, label: string): void {
  assert.equal(
    codeName(result.status.code),
    codeName(status.OK),
    `${label}: status ${codeName(result.status.code)} "${result.status.details}"`,
  );
}

/** gatehouse's own gRPC error answer: HTTP 200, grpc-status set, a gRPC content type, no HTML page. */
function assertGrpcErrorAnswer(res: RawGrpcResponse, expected: number, label: string): void {
  assert.equal(res.status, 200, `${label}: HTTP status ${res.status}, body ${JSON.stringify(res.body.toString())}`);
  assert.equal(res.grpcStatus, String(expected), `${label}: grpc-status`);
  assert.match(String(res.headers['content-type']), /^application\/grpc/, `${label}: content-type`);
  assert.doesNotMatch(res.body.toString('latin1'), /<html|<body|Bad Gateway/i, `${label}: an HTML body`);
}

describe('GRPCRoute on a Gateway HTTP listener (h2c)', () => {
  test('the GRPCRoute is accepted and its references resolved', async () => {
    const all = JSON.parse((await gh.admin('/api/status')).body) as {
      kind: string;
      name: string;
      parents?: { conditions: { type: string; status: string; reason: string }[] }[];
    }[];
    const route = all.find((s) => s.kind === 'GRPCRoute' && s.name === 'echo');
    assert.ok(route !== undefined, 'GRPCRoute echo has a status entry');
    const conditions = route.parents?.[0]?.conditions ?? [];
    const cond = (type: string) => conditions.find((c) => c.type === type);
    assert.equal(cond('Accepted')?.status, 'True', JSON.stringify(conditions));
    assert.equal(cond('ResolvedRefs')?.status, 'True', JSON.stringify(conditions));
  });

  test('unary: request metadata reaches the server; initial and trailing metadata reach the client', async () => {
    const { id, metadata } = tagged({ 'x-request-meta': 'hello', 'x-blob-bin': Buffer.from([0, 1, 2, 255]) });
    const res = await unary(viaGateway(), { text: 'ping' }, { metadata });
    assertOk(res, 'unary');
    const reply = res.messages[0] as Message & { metadata: Record<string, string> };
    assert.equal(reply.server, 'server-a');
    assert.equal(reply.text, 'ping');
    assert.equal(reply.metadata['x-request-meta'], 'hello');
    assert.equal(reply.metadata['x-blob-bin'], 'bin:000102ff', 'binary metadata arrives intact');
    assert.equal(res.initialMetadata?.['x-initial-server'], 'server-a', 'initial metadata');
    assert.equal(res.trailers['x-trailer-server'], 'server-a', 'trailing metadata');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary', 'custom trailer key');
    const [call] = callsWithId(serverA, id);
    assert.equal(call?.authority, HOSTS.route, 'the server sees the authority the client sent');
  });

  test('server streaming: every message in order, then the trailers', async () => {
    const res = await serverStream(viaGateway(), { count: 50 }, { metadata: tagged().metadata });
    assertOk(res, 'server streaming');
    assert.deepEqual(
      res.messages.map((m) => m['i']),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(res.initialMetadata?.['x-initial-server'], 'server-a');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-ServerStream');
  });

  test('client streaming: the server receives every message before the half-close', async () => {
    const reqs = Array.from({ length: 20 }, (_, i) => ({ n: i + 1 }));
    const res = await clientStream(viaGateway(), reqs, { metadata: tagged().metadata });
    assertOk(res, 'client streaming');
    assert.deepEqual(res.messages, [{ server: 'server-a', sum: 210, count: 20 }]);
    assert.equal(res.trailers['x-trailer-custom'], 'custom-ClientStream');
  });

  test('bidi: each message is echoed before the next is sent (streamed both ways, not buffered)', async () => {
    const texts = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const res = await bidiPingPong(viaGateway(), texts, { metadata: tagged().metadata });
    assertOk(res, 'bidi');
    assert.equal(res.echoedInTurn, true, 'an echo did not come back before the next message was sent');
    assert.deepEqual(
      res.messages.map((m) => m['echo']),
      texts,
    );
    assert.equal(res.initialMetadata?.['x-initial-server'], 'server-a');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Bidi');
  });

  test('a 2 MB message each way crosses the h2c hops intact (flow control on both sides)', async () => {
    const text = Array.from({ length: 2048 }, (_, i) => String(i % 10).repeat(1024)).join('');
    const res = await unary(viaGateway(), { text }, { timeoutMs: 30_000 });
    assertOk(res, 'large unary');
    const reply = res.messages[0];
    const got = reply?.['text'];
    const summary = `${res.messages.length} message(s); text: ${typeof got === 'string' ? `${got.length} chars` : String(got)}; reply keys: ${Object.keys(reply ?? {}).join(',')}`;
    assert.ok(got === text, `the 2 MB text did not come back intact: ${summary}`);
  });

  test('a 2 MB response to a slow reader arrives whole before its trailers (backpressure upstream)', async () => {
    const text = Array.from({ length: 2048 }, (_, i) => String(i % 10).repeat(1024)).join('');
    for (let i = 0; i < 3; i++) {
      const raw = await rawGrpcCall({
        url: `http://127.0.0.1:${gwPort}`,
        authority: HOSTS.route,
        path: '/gh.test.Echo/Unary',
        message: { text },
        readDelayMs: 2,
        timeoutMs: 30_000,
      });
      const expected = raw.body.length >= 5 ? raw.body.readUInt32BE(1) + 5 : -1;
      assert.equal(raw.grpcStatus, '0', `call ${i}`);
      assert.equal(
        raw.body.length,
        expected,
        `call ${i}: ${raw.body.length} of ${expected} body bytes before grpc-status 0`,
      );
      assert.equal(raw.message?.['text'], text, `call ${i}`);
    }
  });

  test('100 concurrent calls on one channel run side by side (streams multiplexed upstream)', async () => {
    const client = viaGateway();
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => unary(client, { text: `c${i}`, delayMs: 200 }, { timeoutMs: 20_000 })),
    );
    const took = Date.now() - started;
    assert.deepEqual(
      results.map((r) => `${codeName(r.status.code)} ${String(r.messages[0]?.['text'])}`),
      Array.from({ length: 100 }, (_, i) => `0 OK c${i}`),
    );
    // One after another would take 20 s.
    assert.ok(took < 5_000, `100 calls of 200 ms took ${took} ms`);
  });

  test('an error status from the server reaches the client unchanged, with its trailers', async () => {
    const res = await unary(viaGateway(), { fail: { code: status.NOT_FOUND, details: 'no such widget: w-42' } });
    assert.equal(codeName(res.status.code), codeName(status.NOT_FOUND));
    assert.equal(res.status.details, 'no such widget: w-42');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
  });

  test('a trailers-only error from the server (no initial metadata) reaches the client unchanged', async () => {
    const res = await unary(viaGateway(), {
      trailersOnly: true,
      fail: { code: status.FAILED_PRECONDITION, details: 'widget is locked' },
    });
    assert.equal(codeName(res.status.code), codeName(status.FAILED_PRECONDITION));
    assert.equal(res.status.details, 'widget is locked');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
  });

  test('a deadline shorter than the handler: DEADLINE_EXCEEDED, grpc-timeout forwarded, server call cancelled', async () => {
    const { id, metadata } = tagged();
    const started = Date.now();
    const res = await unary(viaGateway(), { delayMs: 4_000 }, { metadata, deadlineMs: 600 });
    const elapsed = Date.now() - started;
    assert.equal(codeName(res.status.code), codeName(status.DEADLINE_EXCEEDED));
    assert.ok(elapsed < 2_500, `the client waited ${elapsed} ms for a 600 ms deadline`);
    await serverA.waitFor((calls) => calls.some((c) => c.metadata['x-call-id'] === id && c.cancelled), 3_000);
    const [call] = callsWithId(serverA, id);
    assert.ok(call !== undefined);
    assert.ok(Number.isFinite(call.deadline), 'the server got no grpc-timeout: its call has no deadline');
    const budget = call.deadline - call.receivedAt;
    assert.ok(budget > 0 && budget <= 700, `the server's deadline is ${budget} ms after it got the call`);
  });

  test('a client cancel crosses gatehouse: the server call is cancelled at once (no deadline involved)', async () => {
    const { id, metadata } = tagged();
    const res = await unary(viaGateway(), { delayMs: 4_000 }, { metadata, cancelAfterMs: 300 });
    assert.equal(codeName(res.status.code), codeName(status.CANCELLED));
    await serverA.waitFor((calls) => calls.some((c) => c.metadata['x-call-id'] === id && c.cancelled), 1_500);
    assert.equal(callsWithId(serverA, id)[0]?.deadline, Number.POSITIVE_INFINITY, 'no grpc-timeout was sent');
  });

  test('method matching: service Alpha goes to server A, Beta/Unary to server B', async () => {
    const alpha = await unary(viaGateway('gh.test.Alpha'), { text: 'a' });
    assertOk(alpha, 'Alpha');
    assert.deepEqual([alpha.messages[0]?.['server'], alpha.messages[0]?.['service']], ['server-a', 'gh.test.Alpha']);
    const beta = await unary(viaGateway('gh.test.Beta'), { text: 'b' });
    assertOk(beta, 'Beta');
    assert.deepEqual([beta.messages[0]?.['server'], beta.messages[0]?.['service']], ['server-b', 'gh.test.Beta']);
  });

  test('an unmatched service or method gets UNIMPLEMENTED from gatehouse and reaches no server', async () => {
    const { id, metadata } = tagged();
    const gamma = await unary(viaGateway('gh.test.Gamma'), { text: 'g' }, { metadata });
    assert.equal(codeName(gamma.status.code), codeName(status.UNIMPLEMENTED), gamma.status.details);
    // Beta is only routed for Unary; its bidi method matches no rule.
    const betaBidi = await bidiPingPong(viaGateway('gh.test.Beta'), [], { metadata });
    assert.equal(codeName(betaBidi.status.code), codeName(status.UNIMPLEMENTED), betaBidi.status.details);
    assert.deepEqual([...callsWithId(serverA, id), ...callsWithId(serverB, id)], [], 'a server got the call');

    const raw = await rawGrpcCall({
      url: `http://127.0.0.1:${gwPort}`,
      authority: HOSTS.route,
      path: '/gh.test.Gamma/Unary',
    });
    assertGrpcErrorAnswer(raw, status.UNIMPLEMENTED, 'raw Gamma/Unary');
  });

  test('an unreachable upstream gives UNAVAILABLE as a gRPC status, never an HTML 502', async () => {
    const res = await unary(viaGateway('gh.test.Down'), { text: 'd' });
    assert.equal(codeName(res.status.code), codeName(status.UNAVAILABLE), res.status.details);
    const raw = await rawGrpcCall({
      url: `http://127.0.0.1:${gwPort}`,
      authority: HOSTS.route,
      path: '/gh.test.Down/Unary',
    });
    assertGrpcErrorAnswer(raw, status.UNAVAILABLE, 'raw Down/Unary');
  });
});

describe('GRPCRoute to a TLS gRPC server (BackendTLSPolicy): HTTP/2 over TLS upstream', () => {
  test('unary and bidi reach the TLS server, verified against the CA in the ConfigMap', async () => {
    const client = viaGateway('gh.test.Secure');
    const res = await unary(client, { text: 'secure' }, { metadata: tagged().metadata });
    assertOk(res, 'unary');
    assert.deepEqual([res.messages[0]?.['server'], res.messages[0]?.['service']], ['server-tls-gw', 'gh.test.Secure']);
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
    const bidi = await bidiPingPong(client, ['s1', 's2']);
    assertOk(bidi, 'bidi');
    assert.deepEqual(
      bidi.messages.map((m) => m['echo']),
      ['s1', 's2'],
    );
  });
});

describe('Ingress backend-protocol: GRPC', () => {
  test('on the HTTP port (h2c): unary and bidi reach the h2c server', async () => {
    const { id, metadata } = tagged();
    const client = viaHttpPort(HOSTS.plain);
    const res = await unary(client, { text: 'plain' }, { metadata });
    assertOk(res, 'unary');
    assert.equal(res.messages[0]?.['server'], 'server-a');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
    assert.equal(callsWithId(serverA, id)[0]?.authority, HOSTS.plain);
    const bidi = await bidiPingPong(client, ['x', 'y', 'z']);
    assertOk(bidi, 'bidi');
    assert.equal(bidi.echoedInTurn, true);
    assert.deepEqual(
      bidi.messages.map((m) => m['echo']),
      ['x', 'y', 'z'],
    );
  });

  test('a gRPC call no Ingress rule matches gets grpc-status 12 from gatehouse', async () => {
    const raw = await rawGrpcCall({
      url: `http://127.0.0.1:${gh.httpPort}`,
      authority: 'no-such-host.grpc.test',
      path: '/gh.test.Echo/Unary',
    });
    assertGrpcErrorAnswer(raw, status.UNIMPLEMENTED, 'unmatched host on the Ingress port');
  });

  test('on the HTTPS port (TLS, ALPN h2): unary and bidi reach the h2c server', async () => {
    const client = grpcClient('gh.test.Echo', {
      target: `127.0.0.1:${gh.httpsPort}`,
      credentials: credentials.createSsl(Buffer.from(EDGE_CA.certPem)),
      authority: HOSTS.edge,
      tls: true,
    });
    clients.push(client);
    const res = await unary(client, { text: 'secure' }, { metadata: tagged().metadata });
    assertOk(res, 'unary over TLS');
    assert.equal(res.messages[0]?.['server'], 'server-a');
    assert.equal(res.initialMetadata?.['x-initial-server'], 'server-a');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
    const bidi = await bidiPingPong(client, ['p', 'q']);
    assertOk(bidi, 'bidi over TLS');
    assert.equal(bidi.echoedInTurn, true);
    assert.deepEqual(
      bidi.messages.map((m) => m['echo']),
      ['p', 'q'],
    );
  });
});

describe('Ingress backend-protocol: GRPCS (TLS to the gRPC server)', () => {
  test('proxy-ssl-verify off (the default): works without a CA', async () => {
    const client = viaHttpPort(HOSTS.noVerify);
    const res = await unary(client, { text: 'tls' }, { metadata: tagged().metadata });
    assertOk(res, 'GRPCS unary');
    assert.equal(res.messages[0]?.['server'], 'server-tls');
    assert.equal(res.trailers['x-trailer-custom'], 'custom-Unary');
    const bidi = await bidiPingPong(client, ['one', 'two']);
    assertOk(bidi, 'GRPCS bidi');
    assert.deepEqual(
      bidi.messages.map((m) => m['echo']),
      ['one', 'two'],
    );
  });

  test('proxy-ssl-secret with the right ca.crt, proxy-ssl-verify on and proxy-ssl-name: works', async () => {
    const client = viaHttpPort(HOSTS.verify);
    const res = await unary(client, { text: 'verified' }, { metadata: tagged().metadata });
    assertOk(res, 'verified GRPCS unary');
    assert.equal(res.messages[0]?.['server'], 'server-tls');
    const bidi = await bidiPingPong(client, ['v1', 'v2']);
    assertOk(bidi, 'verified GRPCS bidi');
  });

  test('a CA that did not sign the server certificate: UNAVAILABLE, and the server never gets the call', async () => {
    const { id, metadata } = tagged();
    const res = await unary(viaHttpPort(HOSTS.wrongCA), { text: 'nope' }, { metadata });
    assert.equal(codeName(res.status.code), codeName(status.UNAVAILABLE), res.status.details);
    assert.deepEqual(callsWithId(serverTLS, id), []);
    const raw = await rawGrpcCall({
      url: `http://127.0.0.1:${gh.httpPort}`,
      authority: HOSTS.wrongCA,
      path: '/gh.test.Echo/Unary',
    });
    assertGrpcErrorAnswer(raw, status.UNAVAILABLE, 'raw call with the wrong CA');
  });
});
