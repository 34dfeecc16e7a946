import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * X.509 v3 certificates issued with node:crypto alone, so tests, examples and the default certificate need no
 * openssl binary. Only the DER this module itself produces is encoded, plus just enough decoding to take an
 * issuer's subject name and key identifier from its certificate.
 */

export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

export interface IssueCertificateOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly isCA?: boolean;
  /** Signs with this CA; self-signed without it. */
  readonly issuer?: IssuedCertificate;
  /** Default: one hour ago, so a peer whose clock is slightly behind accepts it. */
  readonly notBefore?: Date;
  /** Default: 365 days after notBefore (10 years for a CA). */
  readonly notAfter?: Date;
  /** The new certificate's key: ECDSA P-256 (default) or RSA-2048. */
  readonly keyType?: 'ec' | 'rsa';
}

export const CERTIFICATE_INVALID = 'GH_ERR_CERTIFICATE_INVALID';

/** Bad input to issueCertificate: an unusable name, address, validity period or issuer. */
export class CertificateError extends Error {
  readonly code = CERTIFICATE_INVALID;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CertificateError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// DER encoding (X.690), limited to the types a certificate needs.

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_UTF8_STRING = 0x0c;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.of(tag), encodeLength(body.length), body]);
}

function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new CertificateError(`invalid object identifier ${oid}`);
    return Number(a);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39)) {
    throw new CertificateError(`invalid object identifier ${oid}`);
  }
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new CertificateError(`invalid object identifier ${oid}`);
    // Base 128, most significant group first, high bit set on all groups but the last.
    const groups = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n % 128) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG_OID, Buffer.from(out));
}

/** Unsigned big-endian magnitude → minimal two's-complement INTEGER, always non-negative. */
function encodeUnsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return tlv(TAG_INTEGER, needsPad ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed);
}

function encodeTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const pad = (n: number) => String(n).padStart(2, '0');
  const rest =
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds()) +
    'Z';
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  if (year >= 1950 && year < 2050) return tlv(TAG_UTC_TIME, Buffer.from(pad(year % 100) + rest, 'ascii'));
  if (year < 0 || year > 9999) throw new CertificateError(`date out of range: ${date.toISOString()}`);
  return tlv(TAG_GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + rest, 'ascii'));
}

/** A BIT STRING of named bits (bit 0 = most significant bit of the first byte), trailing zero bits dropped. */
function encodeNamedBits(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = 7 - (highest & 7);
  return tlv(TAG_BIT_STRING, Buffer.of(unused), bytes);
}

/** The encoder's building blocks, exported for tests and for other DER this project may need. */
export const der = {
  tlv,
  length: encodeLength,
  sequence: (...items: Buffer[]) => tlv(TAG_SEQUENCE, ...items),
  set: (...items: Buffer[]) => tlv(TAG_SET, ...items),
  oid: encodeOid,
  unsignedInteger: encodeUnsignedInteger,
  boolean: (value: boolean) => tlv(TAG_BOOLEAN, Buffer.of(value ? 0xff : 0x00)),
  null: () => tlv(TAG_NULL),
  octetString: (value: Buffer) => tlv(TAG_OCTET_STRING, value),
  bitString: (value: Buffer) => tlv(TAG_BIT_STRING, Buffer.of(0), value),
  namedBits: encodeNamedBits,
  utf8String: (value: string) => tlv(TAG_UTF8_STRING, Buffer.from(value, 'utf8')),
  time: encodeTime,
  /** [n] EXPLICIT: constructed, wraps a whole TLV. */
  explicit: (n: number, inner: Buffer) => tlv(0xa0 | n, inner),
  /** [n] IMPLICIT over a primitive type: replaces its tag, keeps only its contents. */
  implicitPrimitive: (n: number, contents: Buffer) => tlv(0x80 | n, contents),
} as const;

// ---------------------------------------------------------------------------------------------------------------
// DER decoding, only as far as reading an issuer certificate.

interface Element {
  readonly tag: number;
  /** The whole TLV. */
  readonly raw: Buffer;
  readonly contents: Buffer;
}

function readElement(buf: Buffer, offset: number): Element {
  const tag = buf[offset];
  const first = buf[offset + 1];
  if (tag === undefined || first === undefined) throw new CertificateError('truncated DER');
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new CertificateError('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new CertificateError('truncated DER');
      length = length * 256 + b;
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new CertificateError('truncated DER');
  return { tag, raw: buf.subarray(offset, end), contents: buf.subarray(offset + header, end) };
}

function children(parent: Buffer): Element[] {
  const out: Element[] = [];
  for (let offset = 0; offset < parent.length; ) {
    const el = readElement(parent, offset);
    out.push(el);
    offset += el.raw.length;
  }
  return out;
}

const OID_SUBJECT_KEY_IDENTIFIER = encodeOid('2.5.29.14');

interface IssuerFacts {
  readonly subject: Buffer;
  readonly keyIdentifier: Buffer | null;
}

function readIssuerFacts(certDer: Buffer): IssuerFacts {
  const cert = readElement(certDer, 0);
  const tbs = children(cert.contents)[0];
  if (cert.tag !== TAG_SEQUENCE || tbs?.tag !== TAG_SEQUENCE) throw new CertificateError('issuer is not a certificate');
  const fields = children(tbs.contents);
  // version [0] is optional; serial, signature, issuer, validity, subject follow.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  if (subject?.tag !== TAG_SEQUENCE) throw new CertificateError('issuer certificate has no subject');
  let keyIdentifier: Buffer | null = null;
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (extensions !== undefined) {
    const list = children(extensions.contents)[0];
    for (const ext of list === undefined ? [] : children(list.contents)) {
      const parts = children(ext.contents);
      if (parts[0]?.raw.equals(OID_SUBJECT_KEY_IDENTIFIER) !== true) continue;
      const value = parts[parts.length - 1];
      if (value?.tag !== TAG_OCTET_STRING) break;
      const inner = readElement(value.contents, 0);
      if (inner.tag === TAG_OCTET_STRING) keyIdentifier = Buffer.from(inner.contents);
      break;
    }
  }
  return { subject: Buffer.from(subject.raw), keyIdentifier };
}

// ---------------------------------------------------------------------------------------------------------------
// Certificates.

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface SignatureScheme {
  readonly algorithm: Buffer;
  readonly digest: string;
}

function signatureScheme(key: KeyObject): SignatureScheme {
  if (key.asymmetricKeyType === 'rsa') {
    return { algorithm: der.sequence(encodeOid(OID.sha256WithRsa), der.null()), digest: 'sha256' };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    // RFC 5758: ECDSA AlgorithmIdentifiers carry no parameters.
    if (curve === 'prime256v1') return { algorithm: der.sequence(encodeOid(OID.ecdsaWithSha256)), digest: 'sha256' };
    if (curve === 'secp384r1') return { algorithm: der.sequence(encodeOid(OID.ecdsaWithSha384)), digest: 'sha384' };
  }
  throw new CertificateError(`unsupported signing key: ${key.asymmetricKeyType ?? 'unknown'}`);
}

function encodeName(commonName: string): Buffer {
  return der.sequence(der.set(der.sequence(encodeOid(OID.commonName), der.utf8String(commonName))));
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const bitString = children(readElement(spki, 0).contents)[1];
  if (bitString?.tag !== TAG_BIT_STRING) throw new CertificateError('unexpected public key encoding');
  return createHash('sha1').update(bitString.contents.subarray(1)).digest();
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(encodeOid(oid), der.boolean(true), der.octetString(value))
    : der.sequence(encodeOid(oid), der.octetString(value));
}

function encodeDnsName(name: string): Buffer {
  // IA5String: callers pass internationalised names in their A-label (punycode) form.
  if (name === '' || !/^[\x21-\x7e]+$/.test(name))
    throw new CertificateError(`invalid DNS name ${JSON.stringify(name)}`);
  return der.implicitPrimitive(2, Buffer.from(name, 'ascii'));
}

function ipv6Bytes(address: string): Buffer {
  // isIPv6 has already vouched for the syntax; a trailing dotted quad is rewritten as its two hex groups first.
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, lastColon + 1) + (((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16));
  }
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const [left, right] = text.split('::') as [string, string | undefined];
  const head = groups(left);
  const tail = right === undefined ? [] : groups(right);
  const all = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

function encodeIpAddress(address: string): Buffer {
  if (isIPv4(address)) return der.implicitPrimitive(7, Buffer.from(address.split('.').map(Number)));
  if (isIPv6(address) && !address.includes('%')) return der.implicitPrimitive(7, ipv6Bytes(address));
  throw new CertificateError(`invalid IP address ${JSON.stringify(address)}`);
}

/** 16 random bytes, top bit clear (positive) and next bit set (minimal, never zero); RFC 5280 allows 20. */
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

function generateKey(keyType: 'ec' | 'rsa'): { privateKey: KeyObject; publicKey: KeyObject } {
  return keyType === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

interface SignerContext {
  readonly key: KeyObject;
  readonly name: Buffer;
  readonly keyIdentifier: Buffer;
}

function issuerContext(issuer: IssuedCertificate): SignerContext {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(issuer.certPem);
    key = createPrivateKey(issuer.keyPem);
  } catch (err) {
    throw new CertificateError('issuer certificate or key cannot be parsed', { cause: err });
  }
  if (!cert.ca) throw new CertificateError(`issuer ${cert.subject} is not a CA`);
  if (!cert.checkPrivateKey(key)) throw new CertificateError('issuer key does not match its certificate');
  const facts = readIssuerFacts(cert.raw);
  return { key, name: facts.subject, keyIdentifier: facts.keyIdentifier ?? keyIdentifier(cert.publicKey) };
}

/** Issues an X.509 v3 certificate and a fresh key; self-signed unless `issuer` is given. */
export function issueCertificate(options: IssueCertificateOptions): IssuedCertificate {
  const isCA = options.isCA ?? false;
  const keyType = options.keyType ?? 'ec';
  if (keyType !== 'ec' && keyType !== 'rsa') throw new CertificateError(`unsupported key type ${String(keyType)}`);
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (isCA ? 3650 : 365) * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()) || notAfter <= notBefore) {
    throw new CertificateError('notAfter must be a valid date after notBefore');
  }
  const generalNames = [
    ...(options.dnsNames ?? []).map(encodeDnsName),
    ...(options.ipAddresses ?? []).map(encodeIpAddress),
  ];

  const subjectKey = generateKey(keyType);
  const subjectName = encodeName(options.commonName);
  const subjectKeyId = keyIdentifier(subjectKey.publicKey);
  const signer: SignerContext =
    options.issuer === undefined
      ? { key: subjectKey.privateKey, name: subjectName, keyIdentifier: subjectKeyId }
      : issuerContext(options.issuer);
  const scheme = signatureScheme(signer.key);

  const keyUsage: number[] = [KEY_USAGE.digitalSignature];
  if (isCA) keyUsage.push(KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign);
  // RSA key exchange needs keyEncipherment; TLS 1.2 clients may still check for it on RSA leaves.
  else if (keyType === 'rsa') keyUsage.push(KEY_USAGE.keyEncipherment);

  const extensions = [
    // cA FALSE is the DEFAULT, which DER requires to be left out: an empty SEQUENCE means "not a CA".
    extension(OID.basicConstraints, true, isCA ? der.sequence(der.boolean(true)) : der.sequence()),
    extension(OID.keyUsage, true, encodeNamedBits(keyUsage)),
  ];
  if (!isCA) {
    extensions.push(
      extension(OID.extKeyUsage, false, der.sequence(encodeOid(OID.serverAuth), encodeOid(OID.clientAuth))),
    );
  }
  // An empty subjectAltName is invalid (RFC 5280 4.2.1.6), so it is left out when there are no names.
  if (generalNames.length > 0) extensions.push(extension(OID.subjectAltName, false, der.sequence(...generalNames)));
  extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(subjectKeyId)));
  extensions.push(
    extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, signer.keyIdentifier))),
  );

  const tbs = der.sequence(
    der.explicit(0, der.unsignedInteger(Buffer.of(2))),
    der.unsignedInteger(randomSerial()),
    scheme.algorithm,
    signer.name,
    der.sequence(encodeTime(notBefore), encodeTime(notAfter)),
    subjectName,
    subjectKey.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions)),
  );
  // ECDSA signatures come out as DER Ecdsa-Sig-Value, which is what X.509 expects.
  const signature = sign(scheme.digest, tbs, signer.key);
  const certificate = der.sequence(tbs, scheme.algorithm, der.bitString(signature));

  return {
    certPem: toPem('CERTIFICATE', certificate),
    keyPem: subjectKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The certificate served when no configured one matches the SNI name; its only name can never be a real host. */
export function selfSignedDefaultCertificate(): IssuedCertificate {
  return issueCertificate({ commonName: 'gatehouse default certificate', dnsNames: ['gatehouse.invalid'] });
}
