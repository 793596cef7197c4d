import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  verify as verifySignature,
} from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { child, children, integerValue, oidText, readOne, type Tlv } from '../test/der-reader.js'
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

/** The parts of a certificate, read with the strict test reader (not with the encoder). */
function parts(certPem: string) {
  const cert = readOne(pemToDer(certPem))
  expect(children(cert.content)).toHaveLength(3)
  const tbs = child(cert, 0)
  expect(children(tbs.content)).toHaveLength(8) // version … extensions, no unique IDs
  const extensions = child(tbs, 7)
  return {
    tbs,
    signatureAlgorithm: child(cert, 1),
    signature: child(cert, 2),
    version: child(tbs, 0),
    serial: child(tbs, 1),
    innerAlgorithm: child(tbs, 2),
    issuer: child(tbs, 3),
    validity: child(tbs, 4),
    subject: child(tbs, 5),
    spki: child(tbs, 6),
    extensionsTag: extensions.tag,
    extensions: children(child(extensions, 0).content).map((ext) => {
      const fields = children(ext.content)
      return {
        id: oidText(child(ext, 0).content),
        // critical BOOLEAN DEFAULT FALSE: present only when TRUE, as DER wants.
        critical: fields.length === 3 && hex(child(ext, 1).bytes) === '0101ff',
        value: child(ext, fields.length - 1).content,
      }
    }),
  }
}

describe('createCertificate', () => {
  it('produces PEMs that parse back, with an ECDSA P-256 key and a SHA-256 signature', async () => {
    const c = await createCertificate()
    expect(c.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    expect(c.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)

    const cert = new X509Certificate(c.certPem)
    expect(cert.subject).toBe('CN=localhost')
    expect(cert.issuer).toBe(cert.subject)
    expect(cert.publicKey.asymmetricKeyType).toBe('ec')
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(cert.verify(cert.publicKey)).toBe(true)
    expect(cert.ca).toBe(false)
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']) // node:crypto's name for extKeyUsage

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
    expect(cert.checkPrivateKey(key)).toBe(true)
  })

  it('is a v3 certificate signed with ecdsa-with-SHA256 over a P-256 SubjectPublicKeyInfo', async () => {
    const c = await createCertificate()
    const p = parts(c.certPem)
    // AlgorithmIdentifier { ecdsa-with-SHA256 } with parameters absent (RFC 5758 §3.2),
    // the same inside the TBSCertificate and outside it.
    expect(hex(p.signatureAlgorithm.bytes)).toBe('300a06082a8648ce3d040302')
    expect(hex(p.innerAlgorithm.bytes)).toBe('300a06082a8648ce3d040302')
    expect(hex(p.version.bytes)).toBe('a003020102')
    expect(hex(p.issuer.bytes)).toBe(hex(p.subject.bytes))
    // Name { RDN { commonName PrintableString "localhost" } }, as the certificates before.
    expect(hex(p.subject.bytes)).toBe(
      '3014' + '3112' + '3010' + '0603550403' + '1309' + Buffer.from('localhost').toString('hex'),
    )

    // SPKI: id-ecPublicKey with the prime256v1 parameter, byte for byte what OpenSSL writes
    // for the private key's public half.
    const spki = new Uint8Array(p.spki.bytes)
    expect(hex(spki).slice(0, 4 + 42)).toBe('3059' + '301306072a8648ce3d020106082a8648ce3d030107')
    const openssl = createPublicKey(createPrivateKey(c.keyPem)).export({
      type: 'spki',
      format: 'der',
    })
    expect(hex(spki)).toBe(hex(openssl))

    // The serial is a positive INTEGER of 16 bytes (RFC 5280: at most 20, positive).
    expect(p.serial.tag).toBe(0x02)
    expect(p.serial.content.length).toBe(16)
    expect(integerValue(p.serial.content) > 0n).toBe(true)

    // The signature is a DER ECDSA-Sig-Value, which both OpenSSL (through node:crypto, whose
    // ECDSA default is DER) and WebCrypto (after turning it back into r || s) accept.
    expect(p.signature.tag).toBe(0x03)
    expect(p.signature.content[0]).toBe(0) // no unused bits
    const sigValue = p.signature.content.subarray(1)
    const sequence = readOne(sigValue)
    expect(children(sequence.content)).toHaveLength(2)
    const publicKey = new X509Certificate(c.certPem).publicKey
    expect(verifySignature('sha256', p.tbs.bytes, publicKey, sigValue)).toBe(true)
    const fixed = (n: Tlv): Uint8Array => {
      const value = integerValue(n.content)
      return Buffer.from(value.toString(16).padStart(64, '0'), 'hex')
    }
    const webKey = await crypto.subtle.importKey(
      'spki',
      spki,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    )
    const raw = new Uint8Array([...fixed(child(sequence, 0)), ...fixed(child(sequence, 1))])
    expect(
      await crypto.subtle.verify(
        { name: 'ECDSA', hash: 'SHA-256' },
        webKey,
        raw,
        new Uint8Array(p.tbs.bytes),
      ),
    ).toBe(true)
  })

  it('carries the extensions a WebTransport server certificate needs', async () => {
    const c = await createCertificate()
    const p = parts(c.certPem)
    expect(p.extensionsTag).toBe(0xa3)
    const point = child(p.spki, 1).content
    const keyId = createHash('sha1').update(point.subarray(1)).digest('hex')
    expect(p.extensions.map((e) => [e.id, e.critical, hex(e.value)])).toEqual([
      ['2.5.29.19', true, '3000'], // basicConstraints: cA FALSE
      ['2.5.29.15', true, '03020780'], // keyUsage: digitalSignature
      ['2.5.29.37', false, '300a06082b06010505070301'], // extKeyUsage: serverAuth
      [
        '2.5.29.17', // subjectAltName: dNSName localhost, iPAddress 127.0.0.1 and ::1
        false,
        '3023' +
          '8209' +
          Buffer.from('localhost').toString('hex') +
          '87047f000001' +
          '8710' +
          '00'.repeat(15) +
          '01',
      ],
      ['2.5.29.14', false, '0414' + keyId], // subjectKeyIdentifier: SHA-1 of the key bits
    ])
  })

  it('signs every certificate verifiably, r and s with or without a sign byte', async () => {
    const lengths = new Set<number>()
    for (let i = 0; i < 24; i++) {
      const c = await createCertificate()
      const p = parts(c.certPem)
      const sigValue = p.signature.content.subarray(1)
      for (const n of children(readOne(sigValue).content)) lengths.add(n.content.length)
      const cert = new X509Certificate(c.certPem)
      expect(cert.verify(cert.publicKey)).toBe(true)
    }
    // A 33-byte INTEGER is a value with its top bit set, written with its zero sign byte:
    // over 48 random values, one is missing with probability 2^-48.
    expect(lengths.has(33)).toBe(true)
  })

  it('lists the default host names and IPs in subjectAltName', async () => {
    const c = await createCertificate()
    const node = new X509Certificate(c.certPem)
    expect(node.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    )
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

  it('writes IPv6 addresses in every textual form as their 16 bytes', async () => {
    const c = await createCertificate({
      hostnames: [],
      ips: ['::ffff:1.2.3.4', '2001:db8::1:0:0:1', '1:2:3:4:5:6:7:8', '::', '64:ff9b::10.0.0.1'],
    })
    const node = new X509Certificate(c.certPem)
    expect(node.subject).toBe('CN=::ffff:1.2.3.4')
    expect(node.subjectAltName).toBe(
      [
        'IP Address:0:0:0:0:0:FFFF:102:304',
        'IP Address:2001:DB8:0:0:1:0:0:1',
        'IP Address:1:2:3:4:5:6:7:8',
        'IP Address:0:0:0:0:0:0:0:0',
        'IP Address:64:FF9B:0:0:0:0:A00:1',
      ].join(', '),
    )
    expect(node.checkIP('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4')
    expect(node.checkIP('2001:db8:0:0:1::1')).toBe('2001:db8:0:0:1::1')
    expect(node.checkIP('1.2.3.4')).toBeUndefined()
  })

  it('writes a CN outside the PrintableString alphabet as UTF8String', async () => {
    const printable = parts((await createCertificate({ hostnames: ['ferry.test'] })).certPem)
    const wildcard = await createCertificate({ hostnames: ['*.ferry.test'] })
    const node = new X509Certificate(wildcard.certPem)
    expect(node.subject).toBe('CN=*.ferry.test')
    // checkHost answers with the name in the certificate that matched.
    expect(node.checkHost('peer.ferry.test')).toBe('*.ferry.test')
    expect(node.checkHost('ferry.test')).toBeUndefined()
    // Name = SEQUENCE { SET { SEQUENCE { commonName, value } } }: the value's tag.
    const cnTag = (name: Tlv): number => child(child(child(name, 0), 0), 1).tag
    expect(cnTag(printable.subject)).toBe(0x13)
    expect(cnTag(parts(wildcard.certPem).subject)).toBe(0x0c)
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

  it('writes validity from 2050 on as GeneralizedTime', async () => {
    const c = await createCertificate({
      notBefore: new Date('2049-12-31T12:00:00Z'),
      validityDays: 1,
    })
    const p = parts(c.certPem)
    const from = child(p.validity, 0)
    const to = child(p.validity, 1)
    expect(from.tag).toBe(0x17)
    expect(Buffer.from(from.content).toString('latin1')).toBe('491231120000Z')
    expect(to.tag).toBe(0x18)
    expect(Buffer.from(to.content).toString('latin1')).toBe('20500101120000Z')
    const node = new X509Certificate(c.certPem)
    expect(new Date(node.validFrom).toISOString()).toBe('2049-12-31T12:00:00.000Z')
    expect(new Date(node.validTo).toISOString()).toBe('2050-01-01T12:00:00.000Z')
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
    await expect(createCertificate({ ips: ['fe80::1%eth0'] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ hostnames: [''] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ hostnames: ['münchen.de'] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ hostnames: ['a b'] })).rejects.toThrow(TypeError)
    await expect(createCertificate({ notBefore: new Date(Number.NaN) })).rejects.toThrow(RangeError)
    await expect(
      createCertificate({ notBefore: new Date('+010000-01-01T00:00:00Z') }),
    ).rejects.toThrow(RangeError)
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
    const garbage = '-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n'
    await expect(certificateHash(garbage)).rejects.toThrow(TypeError)
    const notBase64 = c.certPem.replace(/\n[A-Za-z0-9+/]{4}/, '\n!!!!')
    await expect(certificateHash(notBase64)).rejects.toThrow(TypeError)
  })
})
