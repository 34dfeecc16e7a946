import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

/**
 * What is wrong with a certificate and key (PEM, as a `kubernetes.io/tls` Secret holds them), phrased to follow
 * "Secret ns/name …"; null when they can be served. Listener certificates and client certificates for backends
 * are checked alike.
 */
export function keyPairProblem(certPem: string, keyPem: string): string | null {
  if (certPem === '' || keyPem === '') return 'lacks tls.crt or tls.key';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return 'has no PEM certificate in tls.crt';
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'has no unencrypted PEM private key in tls.key';
  }
  if (!cert.checkPrivateKey(key)) return 'has a tls.key that does not belong to the certificate in tls.crt';
  try {
    // Catches what parses but OpenSSL still refuses to use (a key too small for its security level, say).
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    return `is refused by the TLS library: ${(err as Error).message}`;
  }
  return null;
}
