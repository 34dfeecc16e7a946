/** Runtime errors with a stable code and the HTTP status they are answered with; never match on messages. */
export class GatehouseError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = status;
  }
}

export const CLIENT_ABORTED = 'GH_ERR_CLIENT_ABORTED';
export const UPSTREAM_TIMEOUT = 'GH_ERR_UPSTREAM_TIMEOUT';
export const UPSTREAM_CONNECT = 'GH_ERR_UPSTREAM_CONNECT';
export const UPSTREAM_PROTOCOL = 'GH_ERR_UPSTREAM_PROTOCOL';
export const UPSTREAM_RESET = 'GH_ERR_UPSTREAM_RESET';
/** The TLS handshake with the backend failed: its certificate did not verify, or no protocol/cipher was shared. */
export const UPSTREAM_TLS = 'GH_ERR_UPSTREAM_TLS';

/** OpenSSL's certificate verification results as node reports them (X509_V_ERR_* names). */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);
/** The upstream answered a WebSocket upgrade with a 101 that does not complete the handshake. */
export const UPSTREAM_INVALID_UPGRADE = 'GH_ERR_UPSTREAM_INVALID_UPGRADE';
/** A WebSocket tunnel closed after its idle timeout. */
export const TUNNEL_IDLE = 'GH_ERR_TUNNEL_IDLE';

/** Maps an error from the upstream client to the status the client gets and a stable code for logs/metrics. */
export function classifyUpstreamError(err: Error): { readonly status: number; readonly code: string } {
  if (err instanceof GatehouseError) return { status: err.status, code: err.code };
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (CERTIFICATE_ERRORS.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
  ) {
    return { status: 502, code: UPSTREAM_TLS };
  }
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { status: 504, code: UPSTREAM_TIMEOUT };
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return { status: 502, code: UPSTREAM_CONNECT };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { status: 502, code: UPSTREAM_RESET };
    default:
      return { status: 502, code: UPSTREAM_PROTOCOL };
  }
}
