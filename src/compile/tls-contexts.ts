import { constants, createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Certificate, Diagnostic, IR, ListenerTLS } from '../ir/types.ts';

// Forward secrecy and AEAD only: no static RSA key exchange, no CBC-SHA1 suites.
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS_SERVER_OPTIONS: SecureContextOptions = {
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
};

export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * Secure contexts by certificate content, kept across configuration changes so an unchanged certificate is not
 * parsed again and a rotated one gets a new context.
 */
export class SecureContextCache {
  #contexts = new Map<string, SecureContext>();
  #used = new Set<string>();

  get(pair: KeyPair): SecureContext {
    const key = createHash('sha256').update(pair.certPem).update('\0').update(pair.keyPem).digest('base64');
    this.#used.add(key);
    let ctx = this.#contexts.get(key);
    if (ctx === undefined) {
      ctx = createSecureContext({ ...TLS_SERVER_OPTIONS, cert: pair.certPem, key: pair.keyPem });
      this.#contexts.set(key, ctx);
    }
    return ctx;
  }

  /** Forgets contexts not asked for since the last sweep. */
  sweep(): void {
    for (const key of this.#contexts.keys()) if (!this.#used.has(key)) this.#contexts.delete(key);
    this.#used = new Set();
  }
}

/** SNI name → secure context for one HTTPS listener. */
export class SniTable {
  readonly defaultContext: SecureContext;
  readonly #exact = new Map<string, SecureContext>();
  readonly #wildcard = new Map<string, SecureContext>();

  constructor(defaultContext: SecureContext) {
    this.defaultContext = defaultContext;
  }

  add(host: string, ctx: SecureContext): void {
    const h = host.toLowerCase();
    if (h.startsWith('*.')) {
      if (!this.#wildcard.has(h.slice(1))) this.#wildcard.set(h.slice(1), ctx);
    } else if (!this.#exact.has(h)) this.#exact.set(h, ctx);
  }

  /** The context for a ClientHello's server name; TLS wildcards cover exactly one label. */
  lookup(servername: string): SecureContext | null {
    const h = servername.toLowerCase();
    const exact = this.#exact.get(h);
    if (exact !== undefined) return exact;
    const dot = h.indexOf('.');
    return dot > 0 ? (this.#wildcard.get(h.slice(dot)) ?? null) : null;
  }

  get size(): number {
    return this.#exact.size + this.#wildcard.size;
  }
}

/** Names a certificate is valid for, from its subjectAltName DNS entries. */
export function certificateHosts(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  const hosts: string[] = [];
  for (const part of san.split(',')) {
    const t = part.trim();
    if (t.startsWith('DNS:')) hosts.push(t.slice(4).toLowerCase());
  }
  return hosts;
}

export function buildSniTable(
  certificates: readonly Certificate[],
  names: readonly string[],
  defaultContext: SecureContext,
  cache: SecureContextCache,
  diagnostics: Diagnostic[],
): SniTable {
  const byName = new Map(certificates.map((c) => [c.name, c]));
  const table = new SniTable(defaultContext);
  for (const name of names) {
    const cert = byName.get(name);
    if (cert === undefined) continue;
    let ctx: SecureContext;
    let hosts: readonly string[];
    try {
      ctx = cache.get(cert);
      hosts = cert.hosts.length > 0 ? cert.hosts : certificateHosts(cert.certPem);
    } catch (err) {
      diagnostics.push({
        severity: 'error',
        object: cert.source,
        message: `certificate ${cert.name} cannot be used: ${(err as Error).message}`,
      });
      continue;
    }
    for (const host of hosts) table.add(host, ctx);
  }
  return table;
}

/** The SNI table and default certificate of a TLS-terminating listener. */
export function compileListenerTLS(
  tls: ListenerTLS | undefined,
  ir: IR,
  ctx: { readonly secureContexts: SecureContextCache; readonly defaultCertificate: KeyPair },
  diagnostics: Diagnostic[],
): { readonly sni: SniTable; readonly defaultPair: KeyPair } {
  let defaultPair: KeyPair = ctx.defaultCertificate;
  let defaultContext: SecureContext = ctx.secureContexts.get(ctx.defaultCertificate);
  const named = tls?.defaultCertificate;
  const def = named === undefined ? undefined : ir.certificates.find((c) => c.name === named);
  if (def !== undefined) {
    try {
      defaultContext = ctx.secureContexts.get(def);
      defaultPair = def;
    } catch (err) {
      diagnostics.push({
        severity: 'error',
        object: def.source,
        message: `default certificate ${def.name} cannot be used: ${(err as Error).message}`,
      });
    }
  }
  const sni = buildSniTable(ir.certificates, tls?.certificates ?? [], defaultContext, ctx.secureContexts, diagnostics);
  return { sni, defaultPair };
}
