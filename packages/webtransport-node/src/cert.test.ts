import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MAX_VALIDITY_DAYS, certificateHash, createCertificate } from './cert.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** DER bytes of the first PEM block, decoded by hand so the test does not trust the library. */
function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const body = pem
    .replace(/-----BEGIN [A-Z ]+-----/, '')
    .replace(/-----END [A-Z ]+-----[\s\S]*$/, '')
    .replace(/\s+/g, '')
  return new Uint8Array(Buffer.from(body, 'base64'))
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

describe('createCertificate', () => {
  it('produces PEMs that parse back, with an ECDSA P-256 key and a SHA-256 signature', async () => {
    const c = await createCertificate()
    expect(c.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    expect(c.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)

    const cert = new x509.X509Certificate(c.certPem)
    expect(cert.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } })
    expect(cert.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' })
    expect(cert.subject).toBe('CN=localhost')
    expect(cert.issuer).toBe(cert.subject)
    expect(await cert.verify({ signatureOnly: true })).toBe(true)

    // The key is PKCS#8 for P-256, by WebCrypto and by OpenSSL, and it belongs to the cert.
    const imported = await crypto.subtle.importKey(
      'pkcs8',
      pemToDer(c.keyPem),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    )
    expect(imported.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' })
    const key = createPrivateKey(c.keyPem)
    expect(key.asymmetricKeyType).toBe('ec')
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(new X509Certificate(c.certPem).checkPrivateKey(key)).toBe(true)
  })

  it('lists the default host names and IPs in subjectAltName', async () => {
    const c = await createCertificate()
    const san = new x509.X509Certificate(c.certPem).getExtension(
      x509.SubjectAlternativeNameExtension,
    )
    expect(san?.names.toJSON()).toEqual([
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ])
    const node = new X509Certificate(c.certPem)
    expect(node.checkHost('localhost')).toBe('localhost')
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(node.checkIP('::1')).toBe('::1')
  })

  it('lists custom host names and IPs in subjectAltName', async () => {
    const c = await createCertificate({
      hostnames: ['ferry.test', 'peer.ferry.test'],
      ips: ['10.0.0.7', 'fe80::1'],
    })
    const node = new X509Certificate(c.certPem)
    expect(node.subject).toBe('CN=ferry.test')
    expect(node.checkHost('ferry.test')).toBe('ferry.test')
    expect(node.checkHost('peer.ferry.test')).toBe('peer.ferry.test')
    expect(node.checkHost('localhost')).toBeUndefined()
    expect(node.checkIP('10.0.0.7')).toBe('10.0.0.7')
    expect(node.checkIP('fe80::1')).toBe('fe80::1')
    expect(node.checkIP('127.0.0.1')).toBeUndefined()
  })

  it('hashes the DER certificate like `openssl x509 -outform der | sha256sum`', async () => {
    const c = await createCertificate()
    const expected = createHash('sha256').update(pemToDer(c.certPem)).digest('hex')
    expect(c.hash).toBeInstanceOf(Uint8Array)
    expect(c.hash.length).toBe(32)
    expect(hex(c.hash)).toBe(expected)
    expect(c.hashHex).toBe(expected)
    const fingerprint = new X509Certificate(c.certPem).fingerprint256.replaceAll(':', '')
    expect(c.hashHex).toBe(fingerprint.toLowerCase())
  })

  it('backdates by one hour and keeps the default validity within 14 days', async () => {
    const before = Date.now()
    const c = await createCertificate()
    const after = Date.now()
    const node = new X509Certificate(c.certPem)
    expect(new Date(node.validFrom).getTime()).toBe(c.notBefore.getTime())
    expect(new Date(node.validTo).getTime()).toBe(c.notAfter.getTime())

    const span = c.notAfter.getTime() - c.notBefore.getTime()
    expect(span).toBeLessThanOrEqual(MAX_VALIDITY_DAYS * DAY_MS)
    // Default 13 days from now, plus the hour of backdating (whole seconds in X.509).
    expect(c.notBefore.getTime()).toBeLessThanOrEqual(before - 60 * 60 * 1000)
    expect(c.notBefore.getTime()).toBeGreaterThan(before - 60 * 60 * 1000 - 2000)
    expect(c.notAfter.getTime()).toBeGreaterThan(before + 13 * DAY_MS - 2000)
    expect(c.notAfter.getTime()).toBeLessThanOrEqual(after + 13 * DAY_MS)
  })

  it('caps the total span at 14 days when validityDays is 14 and notBefore is backdated', async () => {
    const c = await createCertificate({ validityDays: 14 })
    expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(MAX_VALIDITY_DAYS * DAY_MS)
    expect(c.notBefore.getTime()).toBeLessThan(Date.now() - 59 * 60 * 1000)
  })

  it('counts validity from an explicit notBefore', async () => {
    const notBefore = new Date('2030-01-02T03:04:05.678Z')
    const c = await createCertificate({ notBefore, validityDays: 2 })
    expect(c.notBefore.toISOString()).toBe('2030-01-02T03:04:05.000Z')
    expect(c.notAfter.toISOString()).toBe('2030-01-04T03:04:05.000Z')
  })

  it('throws RangeError for validityDays above 14 or not positive', async () => {
    await expect(createCertificate({ validityDays: 15 })).rejects.toThrow(RangeError)
    await expect(createCertificate({ validityDays: 14.01 })).rejects.toThrow(RangeError)
    await expect(createCertificate({ validityDays: 0 })).rejects.toThrow(RangeError)
    await expect(createCertificate({ validityDays: Number.NaN })).rejects.toThrow(RangeError)
  })

  it('throws on bad names and addresses', async () => {
    await expect(createCertificate({ hostnames: [], ips: [] })).rejects.toThrow(RangeError)
    await expect(createCertificate({ ips: ['300.1.1.1'] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ ips: ['::ffff:1.2.3.4'] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ hostnames: [''] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ notBefore: new Date(Number.NaN) })).rejects.toThrow(RangeError)
  })

  it('rejects with the abort reason when the signal is already aborted', async () => {
    const reason = new Error('stop')
    await expect(createCertificate({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })

  it('makes a fresh key and serial every time', async () => {
    const [a, b] = await Promise.all([createCertificate(), createCertificate()])
    expect(a.keyPem).not.toBe(b.keyPem)
    expect(a.hashHex).not.toBe(b.hashHex)
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(
      new X509Certificate(b.certPem).serialNumber,
    )
  })
})

describe('certificateHash', () => {
  it('matches createCertificate().hash and node:crypto over the DER', async () => {
    const c = await createCertificate()
    const hash = await certificateHash(c.certPem)
    expect(hash).toBeInstanceOf(Uint8Array)
    expect(hex(hash)).toBe(c.hashHex)
    expect(hex(hash)).toBe(createHash('sha256').update(pemToDer(c.certPem)).digest('hex'))
  })

  it('accepts CRLF line endings and a key block before the certificate', async () => {
    const c = await createCertificate()
    const bundle = `${c.keyPem}\n${c.certPem}\n`.replace(/\n/g, '\r\n')
    expect(hex(await certificateHash(bundle))).toBe(c.hashHex)
  })

  it('throws TypeError when there is no certificate', async () => {
    const c = await createCertificate()
    await expect(certificateHash('not a pem')).rejects.toThrow(TypeError)
    await expect(certificateHash(c.keyPem)).rejects.toThrow(TypeError)
    const garbage = x509.PemConverter.encode(new Uint8Array([1, 2, 3, 4]), 'CERTIFICATE')
    await expect(certificateHash(garbage)).rejects.toThrow(TypeError)
  })
})
