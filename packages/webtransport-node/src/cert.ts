/**
 * Self-signed certificates that a browser accepts through WebTransport's
 * `serverCertificateHashes`: ECDSA P-256, signed with SHA-256, valid for at most 14 days
 * (Chromium refuses anything longer), with the host names and IP addresses in subjectAltName.
 *
 * The certificate is written by hand with the small DER encoder in `internal/der.ts` rather
 * than with an X.509 library: the one we used pulled a global `reflect-metadata` polyfill into
 * every process that imports `@ferry/node`, for a structure that fits on one screen. What it
 * holds (RFC 5280):
 *
 * ```text
 * Certificate  SEQUENCE { tbsCertificate, signatureAlgorithm, signature BIT STRING }
 * tbsCertificate SEQUENCE {
 *   [0] version v3 (2)
 *   serialNumber          16 random bytes, positive
 *   signature             ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters
 *   issuer = subject      CN=<first host name, else first IP> (PrintableString, or
 *                         UTF8String for text outside its alphabet)
 *   validity              notBefore, notAfter (UTCTime through 2049, else GeneralizedTime)
 *   subjectPublicKeyInfo  id-ecPublicKey (1.2.840.10045.2.1) + prime256v1
 *                         (1.2.840.10045.3.1.7), the uncompressed point
 *   [3] extensions        basicConstraints cA=false (critical)
 *                         keyUsage digitalSignature (critical)
 *                         extKeyUsage serverAuth
 *                         subjectAltName dNSName… iPAddress…
 *                         subjectKeyIdentifier SHA-1 of the public key bits (RFC 5280 §4.2.1.2)
 * }
 * signature              ECDSA-Sig-Value SEQUENCE { r INTEGER, s INTEGER }
 * ```
 */

import { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { toHex } from '@ferry/wire'
import {
  bitString,
  boolean,
  ecdsaSigValue,
  explicit,
  ia5String,
  implicit,
  integer,
  isPrintable,
  octetString,
  oid,
  printableString,
  sequence,
  set,
  unsignedInteger,
  utf8String,
  x509Time,
} from './internal/der.js'

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

/** Object identifiers, named as in their RFCs. */
const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  idEcPublicKey: '1.2.840.10045.2.1', // RFC 5480 §2.1.1
  prime256v1: '1.2.840.10045.3.1.7', // RFC 5480 §2.1.1.1 (secp256r1)
  commonName: '2.5.4.3', // X.520
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1', // RFC 5280 §4.2.1.12
} as const

/**
 * Creates a self-signed ECDSA P-256 / SHA-256 certificate for `serverCertificateHashes`.
 *
 * The total validity (`notAfter - notBefore`) never exceeds 14 days: with the default
 * one-hour backdating, `notAfter` is `now + validityDays` but no later than
 * `notBefore + 14 days`.
 *
 * @throws {RangeError} `validityDays` is not a positive number ≤ 14, `notBefore` is an
 *   invalid date or the validity falls outside the years 0..9999 X.509 can write, or
 *   `hostnames` and `ips` are both empty.
 * @throws {TypeError} a host name is empty or not printable ASCII (write internationalized
 *   names as `xn--` A-labels), or an IP address does not parse or carries a zone index.
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
    // dNSName is an IA5String; a space or control character is no host name either.
    if (typeof name !== 'string' || !/^[!-~]+$/.test(name)) {
      throw new TypeError(
        `hostnames must hold non-empty printable ASCII strings (A-labels), got ${JSON.stringify(name)}`,
      )
    }
  }
  for (const ip of ips) {
    if (typeof ip !== 'string' || isIP(ip) === 0) {
      throw new TypeError(`ips holds an invalid IP address: ${JSON.stringify(ip)}`)
    }
    // isIP accepts fe80::1%eth0, but an iPAddress holds only the 16 address bytes.
    if (ip.includes('%')) {
      throw new TypeError(`ips: ${ip} has a zone index, which a certificate cannot hold`)
    }
  }
  if (hostnames.length === 0 && ips.length === 0) {
    throw new RangeError('hostnames and ips are both empty: subjectAltName needs at least one')
  }
  signal?.throwIfAborted()

  // X.509 stores whole seconds. Truncating here keeps the encoded span exactly what is
  // computed below, so rounding can never push it past 14 days.
  const now = Date.now()
  const notBefore = new Date(floorToSecond(opts.notBefore?.getTime() ?? now - CLOCK_SKEW_MS))
  const notAfter = new Date(
    floorToSecond(
      Math.min(
        (opts.notBefore === undefined ? now : notBefore.getTime()) + validityDays * DAY_MS,
        notBefore.getTime() + MAX_VALIDITY_DAYS * DAY_MS,
      ),
    ),
  )
  // Encoded before the key is made, so a date X.509 cannot write fails fast.
  const validity = sequence(x509Time(notBefore), x509Time(notAfter))

  const crypto = globalThis.crypto
  const keys = await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])
  // WebCrypto's raw EC export is the uncompressed point 04 || x || y (SEC 1 §2.3.3).
  const point = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey))
  const keyId = new Uint8Array(await crypto.subtle.digest('SHA-1', point))
  signal?.throwIfAborted()

  const name = sequence(
    set(sequence(oid(OID.commonName), directoryString(hostnames[0] ?? ips[0] ?? 'localhost'))),
  )
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSHA256))
  const tbsCertificate = sequence(
    explicit(0, integer(2)),
    unsignedInteger(randomSerial()),
    signatureAlgorithm,
    name,
    validity,
    name,
    sequence(sequence(oid(OID.idEcPublicKey), oid(OID.prime256v1)), bitString(point)),
    explicit(
      3,
      sequence(
        // cA defaults to FALSE, and DER leaves defaults out: an empty SEQUENCE.
        extension(OID.basicConstraints, true, sequence()),
        // digitalSignature is bit 0, the top bit of the one byte; the other 7 are unused.
        extension(OID.keyUsage, true, bitString(Uint8Array.of(0x80), 7)),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
        extension(
          OID.subjectAltName,
          false,
          sequence(
            ...hostnames.map((host) => implicit(2, ia5String(host))),
            ...ips.map((ip) => implicit(7, octetString(ipAddressBytes(ip)))),
          ),
        ),
        extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
      ),
    ),
  )

  const rawSignature = new Uint8Array(
    await crypto.subtle.sign(ECDSA_SHA256, keys.privateKey, tbsCertificate),
  )
  const der = sequence(tbsCertificate, signatureAlgorithm, bitString(ecdsaSigValue(rawSignature)))
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey))
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', der))
  signal?.throwIfAborted()

  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: toPem('PRIVATE KEY', pkcs8),
    hash,
    hashHex: toHex(hash),
    notBefore,
    notAfter,
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
  const der = firstPemBlock(certPem, 'CERTIFICATE')
  try {
    // Parse only to reject garbage: the hash is over the bytes exactly as given.
    new X509Certificate(der)
  } catch (cause) {
    throw new TypeError('certPem does not hold a valid X.509 certificate', { cause })
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', der))
}

/** One X.509 Extension: `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`. */
function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value))
}

/**
 * A DirectoryString (RFC 5280 §4.1.2.4): PrintableString when the text fits its alphabet, as
 * the certificates ferry made before did, otherwise UTF8String (a wildcard `*` or an
 * underscore does not fit).
 */
function directoryString(text: string): Uint8Array {
  return isPrintable(text) ? printableString(text) : utf8String(text)
}

/**
 * The `[7] iPAddress` bytes: 4 for IPv4, 16 for IPv6 (RFC 5280 §4.2.1.6). Expects an address
 * that `isIP` accepted and that has no zone index.
 */
function ipAddressBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split('.'), Number)
  // A dotted IPv4 tail (::ffff:1.2.3.4) stands for the last two hex groups.
  let text = ip
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip)
  if (v4 !== null) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.slice(1).map(Number)
    text = `${ip.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'))
  const [head = '', tail] = text.split('::')
  const headGroups = groupsOf(head)
  const tailGroups = tail === undefined ? [] : groupsOf(tail)
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0')
  const bytes = new Uint8Array(16)
  ;[...headGroups, ...zeros, ...tailGroups].forEach((group, i) => {
    const value = parseInt(group, 16)
    bytes[2 * i] = value >> 8
    bytes[2 * i + 1] = value & 0xff
  })
  return bytes
}

/** 16 random bytes with the top bit cleared, so the DER INTEGER is positive (RFC 5280 §4.1.2.2). */
function randomSerial(): Uint8Array {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  // A leading zero byte would shorten the encoding, so the low bit is forced on: always 16.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return bytes
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

/** RFC 7468 text: base64 in lines of 64 characters between BEGIN and END lines. */
function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  const lines = base64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/**
 * The bytes of the first `label` block in PEM text (RFC 7468), skipping other blocks and any
 * text around them; CRLF and LF line ends alike. A copy, not a view of a pooled Buffer.
 *
 * @throws {TypeError} there is no such block, or its body is not base64.
 */
function firstPemBlock(text: string, label: string): Uint8Array<ArrayBuffer> {
  for (const match of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g)) {
    if (match[1] !== label) continue
    const body = (match[2] ?? '').replace(/\s+/g, '')
    if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      throw new TypeError(`certPem: the ${label} block is not valid base64`)
    }
    return new Uint8Array(Buffer.from(body, 'base64'))
  }
  throw new TypeError(`certPem holds no -----BEGIN ${label}----- block`)
}
