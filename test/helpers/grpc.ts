import type { EventEmitter } from 'node:events';
import { connect as http2Connect, type IncomingHttpHeaders } from 'node:http2';
import {
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  Metadata,
  type MethodDefinition,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type ServiceError,
  type StatusObject,
  status,
} from '@grpc/grpc-js';

/**
 * gRPC without protobuf: messages are JSON objects, serialised as UTF-8 JSON. Every test service has the same
 * methods, so a test can tell by the reply which server (and which service) answered:
 *   Unary         {text?, fail?: {code, details}, delayMs?, trailersOnly?} → {server, service, method, text, metadata}
 *   ServerStream  {count} → count × {server, i}
 *   ClientStream  stream of {n} → {server, sum, count}
 *   Bidi          each {text} → {server, echo: text}
 * Each call sends initial metadata `x-initial-server: <server>` and ends with trailing metadata
 * `x-trailer-server: <server>` and `x-trailer-custom: custom-<method>` (also on an error status). A Unary request
 * with `trailersOnly: true` sends no initial metadata, so an error goes out as a trailers-only response.
 */

export type Message = Record<string, unknown>;

const serialize = (value: Message): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const deserialize = (bytes: Buffer): Message => JSON.parse(bytes.toString('utf8')) as Message;

export const METHODS = ['Unary', 'ServerStream', 'ClientStream', 'Bidi'] as const;
export type MethodName = (typeof METHODS)[number];

function method(
  service: string,
  name: MethodName,
  requestStream: boolean,
  responseStream: boolean,
): MethodDefinition<Message, Message> {
  return {
    path: `/${service}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
    originalName: name,
  };
}

export function serviceDefinition(service: string): ServiceDefinition {
  return {
    Unary: method(service, 'Unary', false, false),
    ServerStream: method(service, 'ServerStream', false, true),
    ClientStream: method(service, 'ClientStream', true, false),
    Bidi: method(service, 'Bidi', true, true),
  };
}

/** What a test server saw of one call; `cancelled` and `ended` change as the call goes on. */
export interface RecordedCall {
  readonly service: string;
  readonly method: MethodName;
  /** Request metadata, as grpc-js hands it to the handler (string values; `-bin` keys as Buffers). */
  readonly metadata: Record<string, string | Buffer>;
  /** The deadline the server derived from `grpc-timeout`; Infinity when none came. */
  readonly deadline: number;
  readonly receivedAt: number;
  /** Authority (`:authority`) of the call as the server saw it. */
  readonly authority: string;
  /** The call was cancelled (stream reset, or its deadline passed) before the handler answered. */
  cancelled: boolean;
  /** The handler answered (status or end of stream written). */
  ended: boolean;
}

export interface GrpcTestServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly calls: readonly RecordedCall[];
  /** Resolves once predicate holds for the calls recorded (checked every 20 ms); rejects after timeoutMs. */
  waitFor(predicate: (calls: readonly RecordedCall[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface GrpcTestServerOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly services: readonly string[];
  /** Serve TLS with this certificate; cleartext h2c without it. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

function metadataObject(md: Metadata): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const [key, value] of Object.entries(md.getMap())) out[key] = value;
  return out;
}

function trailer(server: string, methodName: string): Metadata {
  const md = new Metadata();
  md.set('x-trailer-server', server);
  md.set('x-trailer-custom', `custom-${methodName}`);
  return md;
}

function initial(server: string): Metadata {
  const md = new Metadata();
  md.set('x-initial-server', server);
  return md;
}

type AnyServerCall =
  | ServerUnaryCall<Message, Message>
  | ServerWritableStream<Message, Message>
  | ServerReadableStream<Message, Message>
  | ServerDuplexStream<Message, Message>;

export async function startGrpcServer(options: GrpcTestServerOptions): Promise<GrpcTestServer> {
  const { name } = options;
  const calls: RecordedCall[] = [];
  const server = new Server();

  const record = (service: string, methodName: MethodName, call: AnyServerCall): RecordedCall => {
    const deadline = call.getDeadline();
    const rec: RecordedCall = {
      service,
      method: methodName,
      metadata: metadataObject(call.metadata),
      deadline: deadline instanceof Date ? deadline.getTime() : deadline,
      receivedAt: Date.now(),
      authority: call.getHost(),
      cancelled: false,
      ended: false,
    };
    calls.push(rec);
    // grpc-js emits 'cancelled' whenever the stream closes, also after a normal end: only count it before.
    (call as EventEmitter).on('cancelled', () => {
      if (!rec.ended) rec.cancelled = true;
    });
    return rec;
  };

  for (const service of options.services) {
    server.addService(serviceDefinition(service), {
      Unary(
        call: ServerUnaryCall<Message, Message>,
        callback: (err: Partial<ServiceError> | null, value?: Message, trailer?: Metadata) => void,
      ) {
        const rec = record(service, 'Unary', call);
        const req = call.request;
        const respond = (): void => {
          rec.ended = true;
          if (call.cancelled) return;
          const fail = req['fail'] as { code: number; details: string } | undefined;
          if (fail !== undefined) {
            callback({ code: fail.code, details: fail.details, metadata: trailer(name, 'Unary') });
            return;
          }
          const reply: Message = {
            server: name,
            service,
            method: 'Unary',
            text: req['text'] ?? null,
            metadata: Object.fromEntries(
              Object.entries(rec.metadata).map(([k, v]) => [k, typeof v === 'string' ? v : `bin:${v.toString('hex')}`]),
            ),
          };
          callback(null, reply, trailer(name, 'Unary'));
        };
        if (req['trailersOnly'] !== true) call.sendMetadata(initial(name));
        const delayMs = typeof req['delayMs'] === 'number' ? req['delayMs'] : 0;
        if (delayMs === 0) {
          respond();
          return;
        }
        const timer = setTimeout(respond, delayMs);
        call.on('cancelled', () => clearTimeout(timer));
      },
      ServerStream(call: ServerWritableStream<Message, Message>) {
        const rec = record(service, 'ServerStream', call);
        call.sendMetadata(initial(name));
        const count = typeof call.request['count'] === 'number' ? call.request['count'] : 0;
        for (let i = 0; i < count; i++) call.write({ server: name, i });
        rec.ended = true;
        call.end(trailer(name, 'ServerStream'));
      },
      ClientStream(
        call: ServerReadableStream<Message, Message>,
        callback: (err: Partial<ServiceError> | null, value?: Message, trailer?: Metadata) => void,
      ) {
        const rec = record(service, 'ClientStream', call);
        call.sendMetadata(initial(name));
        let sum = 0;
        let count = 0;
        call.on('data', (m: Message) => {
          sum += typeof m['n'] === 'number' ? m['n'] : 0;
          count++;
        });
        call.on('end', () => {
          rec.ended = true;
          callback(null, { server: name, sum, count }, trailer(name, 'ClientStream'));
        });
      },
      Bidi(call: ServerDuplexStream<Message, Message>) {
        const rec = record(service, 'Bidi', call);
        call.sendMetadata(initial(name));
        call.on('data', (m: Message) => call.write({ server: name, echo: m['text'] ?? null }));
        call.on('end', () => {
          rec.ended = true;
          call.end(trailer(name, 'Bidi'));
        });
      },
    });
  }

  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [{ private_key: Buffer.from(options.tls.keyPem), cert_chain: Buffer.from(options.tls.certPem) }],
          false,
        );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, credentials, (err, bound) => {
      if (err === null) resolve(bound);
      else reject(err);
    });
  });

  return {
    name,
    host: options.host,
    port,
    calls,
    async waitFor(predicate, timeoutMs = 5_000) {
      const end = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > end) {
          const seen = calls.map((c) => `${c.service}/${c.method} cancelled=${c.cancelled} ended=${c.ended}`);
          throw new Error(`${name}: condition not met within ${timeoutMs} ms; calls: ${seen.join(', ') || 'none'}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close() {
      return new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      });
    },
  };
}

export interface GrpcClientOptions {
  /** `host:port` to connect to. */
  readonly target: string;
  readonly credentials: ChannelCredentials;
  /** Sent as `:authority` (and, with TLS, as SNI and the name checked in gatehouse's certificate). */
  readonly authority: string;
  readonly tls?: boolean;
}

type ServiceClient = InstanceType<ServiceClientConstructor>;

export interface TestClient {
  readonly raw: ServiceClient;
  close(): void;
}

export function grpcClient(service: string, options: GrpcClientOptions): TestClient {
  const Ctor = makeGenericClientConstructor(serviceDefinition(service), service);
  const channelOptions: ChannelOptions = {
    'grpc.default_authority': options.authority,
    // Each client on its own connection, so one test's channel never carries another's calls.
    'grpc.use_local_subchannel_pool': 1,
    ...(options.tls === true ? { 'grpc.ssl_target_name_override': options.authority } : {}),
  };
  const raw = new Ctor(options.target, options.credentials, channelOptions);
  return { raw, close: () => raw.close() };
}

/** Everything a client saw of one call. */
export interface CallResult {
  /** Unary and client-streaming: the reply; streaming responses: every message in order. */
  readonly messages: Message[];
  /** Initial metadata from the server, null when none came (e.g. a trailers-only error). */
  readonly initialMetadata: Record<string, string | Buffer> | null;
  /**
   * The status from the trailers. For a unary call it can be OK while `messages` is empty: the response ended
   * without a complete message (grpc-js then hands its callback "No message received").
   */
  readonly status: StatusObject;
  /** Trailing metadata (status.metadata) as a plain object. */
  readonly trailers: Record<string, string | Buffer>;
}

export interface CallOptions {
  readonly metadata?: Metadata;
  /** Deadline relative to now. */
  readonly deadlineMs?: number;
  /** Whole call must end within this (default 10 s), or the promise rejects. */
  readonly timeoutMs?: number;
  /** The client cancels the call this long after starting it. */
  readonly cancelAfterMs?: number;
}

type AnyClientCall =
  | ClientUnaryCall
  | ClientReadableStream<Message>
  | ClientWritableStream<Message>
  | ClientDuplexStream<Message, Message>;

function observe(call: AnyClientCall, messages: Message[], options: CallOptions, label: string): Promise<CallResult> {
  const events = call as EventEmitter;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const cancelTimer =
    options.cancelAfterMs === undefined ? null : setTimeout(() => call.cancel(), options.cancelAfterMs);
  return new Promise((resolve, reject) => {
    let initialMetadata: Record<string, string | Buffer> | null = null;
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`${label}: no status within ${timeoutMs} ms`));
    }, timeoutMs);
    events.on('metadata', (md: Metadata) => {
      initialMetadata = metadataObject(md);
    });
    events.on('data', (m: Message) => messages.push(m));
    // Errors also arrive as a status; the stream's 'error' event must have a listener or it throws.
    events.on('error', () => {});
    events.on('status', (s: StatusObject) => {
      clearTimeout(timer);
      if (cancelTimer !== null) clearTimeout(cancelTimer);
      // The unary callback runs before 'status'; let it push its message first.
      setImmediate(() => resolve({ messages, initialMetadata, status: s, trailers: metadataObject(s.metadata) }));
    });
  });
}

function callOptions(options: CallOptions): { deadline?: Date } {
  return options.deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + options.deadlineMs) };
}

type UnaryFn = (
  req: Message,
  md: Metadata,
  opts: { deadline?: Date },
  cb: (err: ServiceError | null, res?: Message) => void,
) => ClientUnaryCall;
type ServerStreamFn = (req: Message, md: Metadata, opts: { deadline?: Date }) => ClientReadableStream<Message>;
type ClientStreamFn = (
  md: Metadata,
  opts: { deadline?: Date },
  cb: (err: ServiceError | null, res?: Message) => void,
) => ClientWritableStream<Message>;
type BidiFn = (md: Metadata, opts: { deadline?: Date }) => ClientDuplexStream<Message, Message>;

export function unary(client: TestClient, req: Message, options: CallOptions = {}): Promise<CallResult> {
  const messages: Message[] = [];
  const fn = client.raw['Unary'] as UnaryFn;
  const call = fn.call(client.raw, req, options.metadata ?? new Metadata(), callOptions(options), (err, res) => {
    if (err === null && res !== undefined) messages.push(res);
  });
  return observe(call, messages, options, 'Unary');
}

export function serverStream(client: TestClient, req: Message, options: CallOptions = {}): Promise<CallResult> {
  const fn = client.raw['ServerStream'] as ServerStreamFn;
  const call = fn.call(client.raw, req, options.metadata ?? new Metadata(), callOptions(options));
  return observe(call, [], options, 'ServerStream');
}

export function clientStream(
  client: TestClient,
  reqs: readonly Message[],
  options: CallOptions = {},
): Promise<CallResult> {
  const messages: Message[] = [];
  const fn = client.raw['ClientStream'] as ClientStreamFn;
  const call = fn.call(client.raw, options.metadata ?? new Metadata(), callOptions(options), (err, res) => {
    if (err === null && res !== undefined) messages.push(res);
  });
  const result = observe(call, messages, options, 'ClientStream');
  for (const r of reqs) call.write(r);
  call.end();
  return result;
}

/**
 * A bidirectional call that sends one message at a time and waits for its echo before the next (so it shows the
 * proxy streams both ways rather than buffering), then half-closes.
 */
export async function bidiPingPong(
  client: TestClient,
  texts: readonly string[],
  options: CallOptions = {},
): Promise<CallResult & { readonly echoedInTurn: boolean }> {
  const fn = client.raw['Bidi'] as BidiFn;
  const call = fn.call(client.raw, options.metadata ?? new Metadata(), callOptions(options));
  const messages: Message[] = [];
  let ended = false;
  const result = observe(call, messages, options, 'Bidi').finally(() => {
    ended = true;
  });
  let echoedInTurn = true;
  for (const [i, text] of texts.entries()) {
    call.write({ text });
    const deadline = Date.now() + 5_000;
    while (messages.length <= i && !ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (messages.length <= i) {
      echoedInTurn = false;
      break;
    }
  }
  call.end();
  return { ...(await result), echoedInTurn };
}

export { Metadata, status };

/** One gRPC call made by hand over node:http2, to see exactly what gatehouse answers (status, headers, body). */
export interface RawGrpcResponse {
  readonly status: number;
  /** The first length-prefixed message of the body, parsed; null when the body holds no complete message. */
  readonly message: Message | null;
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** grpc-status from the trailers, or from the headers of a trailers-only response. */
  readonly grpcStatus: string | undefined;
}

export function rawGrpcCall(options: {
  readonly url: string;
  readonly authority: string;
  readonly path: string;
  readonly message?: Message;
  readonly timeoutMs?: number;
  /** Reads the response slowly: pauses this long after each chunk (so the proxy has to hold back). */
  readonly readDelayMs?: number;
}): Promise<RawGrpcResponse> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(options.url);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`raw gRPC call ${options.path}: no complete response within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const payload = serialize(options.message ?? {});
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    const req = session.request({
      ':method': 'POST',
      ':path': options.path,
      ':authority': options.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      headers = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    const readDelayMs = options.readDelayMs ?? 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      if (readDelayMs > 0) {
        req.pause();
        setTimeout(() => req.resume(), readDelayMs);
      }
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      const pick = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
      const body = Buffer.concat(chunks);
      const length = body.length >= 5 ? body.readUInt32BE(1) : -1;
      resolve({
        status: Number(headers[':status'] ?? 0),
        message: length >= 0 && body.length >= 5 + length ? deserialize(body.subarray(5, 5 + length)) : null,
        headers,
        trailers,
        body,
        grpcStatus: pick(trailers['grpc-status']) ?? pick(headers['grpc-status']),
      });
    });
    req.end(frame);
  });
}

export const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);
