/**
 * A relay's self-signed certificate kept beside its key file (`FILE.cert.pem`), so that a
 * restarted relay presents the hash pages pinned: `ferry relay --key-file` and the chat's
 * `npm start` keep theirs this way.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import {
  type Certificate,
  MAX_VALIDITY_DAYS,
  certificateHash,
  createCertificate,
} from '@ferry/webtransport-node'
import { _readPrivateFile, _writePrivateFile } from './keyfile.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** A kept certificate is served while it has at least this long left; then a new one is made. */
export const minRemainingMs = DAY_MS

/** A certificate file holds two PEM blocks of an ECDSA P-256 key: far below this. */
const maxCertificateFileBytes = 16 * 1024

/** Where `--key-file FILE` keeps the self-signed certificate: beside FILE, its key with it. */
export function certificateFileOf(keyFile: string): string {
  return `${keyFile}.cert.pem`
}

/**
 * The self-signed certificate kept in `file` (certificate and private key, PEM), when it is
 * whole and valid from now for at least {@link minRemainingMs}; otherwise a new one, stored
 * there (mode 0600, replaced atomically) before it is returned; with `renew`, a new one at once.
 * @throws {KeyFileError} when `file` is not safe to read (see `loadKeyFile`): it is refused,
 *   as the key file would be, rather than replaced.
 */
export async function loadOrCreateCertificate(file: string, renew = false): Promise<Certificate> {
  if (!renew) {
    const kept = await loadCertificateFile(file)
    if (typeof kept !== 'string') return kept
    if (kept !== 'missing') process.stderr.write(`ferry relay: ${file} ${kept}; making a new one\n`)
  }
  const fresh = await createCertificate()
  await _writePrivateFile(file, fresh.certPem + fresh.keyPem)
  return fresh
}

/** The certificate in `file`, or why there is none to serve (`'missing'` if no file). */
async function loadCertificateFile(file: string): Promise<Certificate | string> {
  let bytes: Uint8Array
  try {
    bytes = await _readPrivateFile(file, maxCertificateFileBytes)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw e
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return 'is not text'
  } finally {
    bytes.fill(0)
  }
  const certPem = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----\n?/.exec(text)?.[0]
  const keyPem = /-----BEGIN PRIVATE KEY-----[^-]*-----END PRIVATE KEY-----\n?/.exec(text)?.[0]
  if (certPem === undefined || keyPem === undefined) {
    return 'does not hold a certificate and its private key'
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(certPem)
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) return 'holds a key of another certificate'
  } catch (e) {
    return `does not hold a usable certificate (${(e as Error).message})`
  }
  const notBefore = new Date(x509.validFrom)
  const notAfter = new Date(x509.validTo)
  const now = Date.now()
  if (notAfter.getTime() - now < minRemainingMs) return `expires at ${notAfter.toISOString()}`
  // Browsers pin only certificates valid for 14 days at most, and from now.
  if (
    notBefore.getTime() > now ||
    notAfter.getTime() - notBefore.getTime() > MAX_VALIDITY_DAYS * DAY_MS
  ) {
    return 'holds a certificate browsers would not pin'
  }
  const hash = await certificateHash(certPem)
  return { certPem, keyPem, hash, hashHex: Buffer.from(hash).toString('hex'), notBefore, notAfter }
}

/**
 * The self-signed certificate kept for the relay whose key file is `keyFile`, in
 * `keyFile + '.cert.pem'` (mode 0600): the same one across restarts, until a day before it
 * expires, when a new one is made; also a new one when the file is missing or unusable. Pass it
 * as `certificate` to {@link RelayServer.start}, with the same `keyFile`.
 * @throws {KeyFileError} when the file is not safe to read.
 */
export async function keptCertificate(keyFile: string): Promise<Certificate> {
  return loadOrCreateCertificate(certificateFileOf(keyFile))
}
