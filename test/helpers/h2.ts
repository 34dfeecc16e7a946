import {
  type ClientHttp2Session,
  constants,
  connect as http2Connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import { connect as tlsConnect } from 'node:tls';

/** Opens an HTTP/2 session (`http://` = h2c with prior knowledge, `https://` = TLS with ALPN h2). */
export function h2Connect(url: string, options: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url, options);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no HTTP/2 session with ${url} within 5 s`));
    }, 5_000);
    session.once('connect', () => {
      clearTimeout(timer);
      session.off('error', onError);
      // Later session errors (GOAWAY, resets) surface on the streams; keep them from crashing the test process.
      session.on('error', () => {});
      resolve(session);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.once('error', onError);
  });
}

export interface H2Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on an open session; rejects on a stream error or after timeoutMs (default 10 s). */
export function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string | Uint8Array,
  timeoutMs = 10_000,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const timer = setTimeout(() => {
      req.close();
      reject(
        new Error(`${String(headers[':method'] ?? 'GET')} ${String(headers[':path'])}: no response in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve({ status: Number(head[':status'] ?? 0), headers: head, trailers, body: Buffer.concat(chunks) });
    });
    if (body !== undefined) req.end(body);
  });
}

/** The protocol the server picks by ALPN from those offered; false when it picked none. */
export function negotiatedProtocol(
  port: number,
  servername: string,
  offered: readonly string[],
  ca: string,
): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: [...offered] });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no TLS handshake within 5 s'));
    }, 5_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const picked = socket.alpnProtocol ?? false;
      socket.destroy();
      resolve(picked);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Rapid reset (CVE-2023-44487): on one session, `streams` requests each reset (CANCEL) right after it is sent,
 * HEADERS and RST_STREAM leaving together; then watches the session for `watchMs`. Resolves with the GOAWAY
 * code the server sent, if any.
 */
export function rapidReset(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  streams: number,
  watchMs: number,
): Promise<{ readonly goaway: number | null }> {
  return new Promise((resolve) => {
    let goaway: number | null = null;
    session.on('goaway', (code: number) => {
      goaway = code;
    });
    for (let i = 0; i < streams; i++) {
      if (session.destroyed || session.closed) break;
      const req = session.request(headers);
      req.on('error', () => {});
      req.close(constants.NGHTTP2_CANCEL);
    }
    setTimeout(() => resolve({ goaway }), watchMs);
  });
}
