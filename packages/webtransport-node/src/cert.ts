/**
 * Self-signed certificates that a browser accepts through WebTransport's
 * `serverCertificateHashes`: ECDSA P-256, signed with SHA-256, valid for at most 14 days
 * (Chromium refuses anything longer), with the host names and IP addresses in subjectAltName.
 */

// @peculiar/x509 registers its ASN.1 types with tsyringe, which throws on import unless a
// Reflect metadata polyfill is installed first. This import must stay above the x509 one.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { isIP } from 'node:net'

/** A certificate and its private key, ready for a server and for `serverCertificateHashes`. */
export interface Certificate {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  certPem: string
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string
  /**
   * SHA-256 of the DER certificate: the `value` of a browser's
   * `serverCertificateHashes: [{ algorithm: 'sha-256', value }]`. Typed over a plain
   * `ArrayBuffer` so it is assignable to the DOM's `BufferSource`.
   */
  hash: Uint8Array<ArrayBuffer>
  /** {@link Certificate.hash} as lowercase hex without separators. */
  hashHex: string
  /** Start of validity as written in the certificate (whole seconds). */
  notBefore: Date
  /** End of validity as written in the certificate (whole seconds). */
  notAfter: Date
}

/** Options of {@link createCertificate}. */
export interface CreateCertificateOptions {
  /** DNS names for subjectAltName; the first is also the subject CN. Default `['localhost']`. */
  hostnames?: string[]
  /** IP addresses (v4 or v6) for subjectAltName. Default `['127.0.0.1', '::1']`. */
  ips?: string[]
  /**
   * Days the certificate stays valid, counted from now (or from `notBefore` when given).
   * Default 13; at most 14, the limit Chromium puts on `serverCertificateHashes`.
   */
  validityDays?: number
  /**
   * Start of validity. Default: one hour ago, to tolerate clock skew between server and
   * browser; the backdating is taken out of the 14-day budget, never added to it.
   */
  notBefore?: Date
  /** Aborts the generation; the promise rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** The longest validity Chromium accepts for `serverCertificateHashes`. */
export const MAX_VALIDITY_DAYS = 14

const DAY_MS = 24 * 60 * 60 * 1000
const CLOCK_SKEW_MS = 60 * 60 * 1000

const P256: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' }
const ECDSA_SHA256: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' }

/**
 * Creates a self-signed ECDSA P-256 / SHA-256 certificate for `serverCertificateHashes`.
 *
 * The total validity (`notAfter - notBefore`) never exceeds 14 days: with the default
 * one-hour backdating, `notAfter` is `now + validityDays` but no later than
 * `notBefore + 14 days`.
 *
 * @throws {RangeError} `validityDays` is not a positive number ≤ 14, `notBefore` is an
 *   invalid date, or `hostnames` and `ips` are both empty.
 * @throws {TypeError} a host name is empty or an IP address does not parse.
 */
export async function createCertificate(opts: CreateCertificateOptions = {}): Promise<Certificate> {
  const hostnames = opts.hostnames ?? ['localhost']
  const ips = opts.ips ?? ['127.0.0.1', '::1']
  const validityDays = opts.validityDays ?? 13
  const signal = opts.signal

  if (
    typeof validityDays !== 'number' ||
    !(validityDays > 0 && validityDays <= MAX_VALIDITY_DAYS)
  ) {
    throw new RangeError(
      `validityDays must be > 0 and <= ${MAX_VALIDITY_DAYS}, got ${String(validityDays)}`,
    )
  }
  if (opts.notBefore !== undefined && !Number.isFinite(opts.notBefore.getTime())) {
    throw new RangeError('notBefore must be a valid Date')
  }
  for (const name of hostnames) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`hostnames must hold non-empty strings, got ${JSON.stringify(name)}`)
    }
  }
  for (const ip of ips) {
    const version = typeof ip === 'string' ? isIP(ip) : 0
    if (version === 0) {
      throw new TypeError(`ips holds an invalid IP address: ${JSON.stringify(ip)}`)
    }
    // The ASN.1 IP encoder of @peculiar/x509 only understands hex groups in IPv6.
    if (version === 6 && ip.includes('.')) {
      throw new TypeError(`ips: write IPv6 ${ip} in hex groups, without an embedded IPv4 part`)
    }
  }
  if (hostnames.length === 0 && ips.length === 0) {
    throw new RangeError('hostnames and ips are both empty: subjectAltName needs at least one')
  }
  signal?.throwIfAborted()

  // X.509 stores whole seconds. Truncating here keeps the encoded span exactly what is
  // computed below, so rounding can never push it past 14 days.
  const now = Date.now()
  const start = floorToSecond(opts.notBefore?.getTime() ?? now - CLOCK_SKEW_MS)
  const end = floorToSecond(
    Math.min(
      (opts.notBefore === undefined ? now : start) + validityDays * DAY_MS,
      start + MAX_VALIDITY_DAYS * DAY_MS,
    ),
  )

  const crypto = globalThis.crypto
  const keys = await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])
  signal?.throwIfAborted()

  const sanNames: x509.JsonGeneralName[] = [
    ...hostnames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ]
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: [{ CN: [hostnames[0] ?? ips[0] ?? 'localhost'] }],
      notBefore: new Date(start),
      notAfter: new Date(end),
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(sanNames),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey)
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', cert.rawData))
  signal?.throwIfAborted()

  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, x509.PemConverter.PrivateKeyTag),
    hash,
    hashHex: toHex(hash),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  }
}

/**
 * SHA-256 of a certificate's DER encoding, the value `serverCertificateHashes` wants. With
 * several PEM blocks, hashes the first CERTIFICATE block.
 *
 * @throws {TypeError} `certPem` holds no CERTIFICATE block, or the block is not a certificate.
 */
export async function certificateHash(certPem: string): Promise<Uint8Array<ArrayBuffer>> {
  if (typeof certPem !== 'string') {
    throw new TypeError('certPem must be a PEM string')
  }
  let der: ArrayBuffer | undefined
  try {
    der = x509.PemConverter.decodeWithHeaders(certPem).find(
      (block) => block.type === x509.PemConverter.CertificateTag,
    )?.rawData
  } catch (cause) {
    throw new TypeError('certPem is not valid PEM', { cause })
  }
  if (der === undefined) {
    throw new TypeError('certPem holds no -----BEGIN CERTIFICATE----- block')
  }
  try {
    // Parse only to reject garbage: the hash is over the bytes exactly as given.
    new x509.X509Certificate(der)
  } catch (cause) {
    throw new TypeError('certPem does not hold a valid X.509 certificate', { cause })
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', der))
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

/** 16 random bytes with the top bit cleared, so the DER INTEGER is positive (RFC 5280 §4.1.2.2). */
function randomSerialHex(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  // A leading zero byte would make the encoding non-minimal, so the low bit is forced on.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return toHex(bytes)
}

function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}
