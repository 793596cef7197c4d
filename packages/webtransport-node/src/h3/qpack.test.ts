import { describe, expect, it } from 'vitest'
import { fromHex as hex } from '@ferry/wire'
import { LimitError, QpackError } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import { huffmanEncode } from './huffman.js'
import { decodeFieldSection, encodeFieldSection, STATIC_TABLE } from './qpack.js'

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const concat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out: number[] = []
  for (const p of parts) out.push(...p)
  return Uint8Array.from(out)
}
const caught = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw')
}

const BIG = { maxHeaderBytes: 1 << 20 }

describe('STATIC_TABLE', () => {
  it('has the 99 entries of RFC 9204 Appendix A', () => {
    expect(STATIC_TABLE).toHaveLength(99)
    // Spot checks against RFC 9204 Appendix A (and the indices quiche and quic-go use).
    expect(STATIC_TABLE[0]).toEqual([':authority', ''])
    expect(STATIC_TABLE[1]).toEqual([':path', '/'])
    expect(STATIC_TABLE[14]).toEqual(['set-cookie', ''])
    expect(STATIC_TABLE[15]).toEqual([':method', 'CONNECT'])
    expect(STATIC_TABLE[17]).toEqual([':method', 'GET'])
    expect(STATIC_TABLE[23]).toEqual([':scheme', 'https'])
    expect(STATIC_TABLE[25]).toEqual([':status', '200'])
    expect(STATIC_TABLE[31]).toEqual(['accept-encoding', 'gzip, deflate, br'])
    expect(STATIC_TABLE[52]).toEqual(['content-type', 'text/html; charset=utf-8'])
    expect(STATIC_TABLE[58]).toEqual([
      'strict-transport-security',
      'max-age=31536000; includesubdomains; preload',
    ])
    expect(STATIC_TABLE[62]).toEqual(['x-xss-protection', '1; mode=block'])
    expect(STATIC_TABLE[63]).toEqual([':status', '100'])
    expect(STATIC_TABLE[71]).toEqual([':status', '500'])
    expect(STATIC_TABLE[72]).toEqual(['accept-language', ''])
    expect(STATIC_TABLE[85]).toEqual([
      'content-security-policy',
      "script-src 'none'; object-src 'none'; base-uri 'none'",
    ])
    expect(STATIC_TABLE[90]).toEqual(['origin', ''])
    expect(STATIC_TABLE[95]).toEqual(['user-agent', ''])
    expect(STATIC_TABLE[98]).toEqual(['x-frame-options', 'sameorigin'])
    const statuses = STATIC_TABLE.flatMap(([n, v], i) => (n === ':status' ? [`${i}:${v}`] : []))
    expect(statuses.join(' ')).toBe(
      '24:103 25:200 26:304 27:404 28:503 ' +
        '63:100 64:204 65:206 66:302 67:400 68:403 69:421 70:425 71:500',
    )
    for (const [name] of STATIC_TABLE) expect(name).toMatch(/^:?[a-z][a-z-]*$/)
  })
})

describe('decodeFieldSection', () => {
  it('decodes RFC 9204 Appendix B.1 (literal field line with name reference)', () => {
    expect(decodeFieldSection(hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'), BIG)).toEqual([
      [':path', '/index.html'],
    ])
  })

  it('rejects the dynamic-table examples of RFC 9204 Appendix B.2 and B.4', () => {
    // B.2: Required Insert Count = 2, Base = 0, two post-base indexed field lines
    expect(() => decodeFieldSection(hex('0381 10 11'), BIG)).toThrow(QpackError)
    // B.4: Required Insert Count = 4, Base = 4, dynamic / static / dynamic indexed lines
    expect(() => decodeFieldSection(hex('0500 80 c1 81'), BIG)).toThrow(QpackError)
    expect(caught(() => decodeFieldSection(hex('0381 10 11'), BIG))).toMatchObject({
      name: 'QpackError',
      code: 0x200,
    })
  })

  it('rejects every dynamic-table representation even with Required Insert Count 0', () => {
    for (const block of [
      '0000 80', // indexed field line, T = 0
      '0000 10', // indexed field line with post-base index
      '0000 400161', // literal with name reference, T = 0
      '0000 000161', // literal with post-base name reference
    ]) {
      expect(() => decodeFieldSection(hex(block), BIG), block).toThrow(QpackError)
    }
  })

  it('decodes indexed static lines, including multi-byte indices', () => {
    // :method GET (17), :status 200 (25), x-frame-options sameorigin (98 = 63 + 35)
    expect(decodeFieldSection(hex('0000 d1 d9 ff23'), BIG)).toEqual([
      [':method', 'GET'],
      [':status', '200'],
      ['x-frame-options', 'sameorigin'],
    ])
    // index 99 is past the table
    expect(() => decodeFieldSection(hex('0000 ff24'), BIG)).toThrow(QpackError)
  })

  it('decodes Huffman-coded literals (name reference and literal name)', () => {
    // :authority (static 0) = Huffman "www.example.com" (RFC 7541 C.4.1)
    expect(decodeFieldSection(hex('0000 508c f1e3 c2e5 f23a 6ba0 ab90 f4ff'), BIG)).toEqual([
      [':authority', 'www.example.com'],
    ])
    // literal name, both Huffman: custom-key (8 bytes: 7 + 1) = custom-value (RFC 7541 C.4.3)
    expect(
      decodeFieldSection(hex('0000 2f01 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), BIG),
    ).toEqual([['custom-key', 'custom-value']])
    // the N (never-index) bit is accepted and ignored, on both literal forms
    expect(decodeFieldSection(hex('0000 7103 2f61 62 3161 0361 6263'), BIG)).toEqual([
      [':path', '/ab'],
      ['a', 'abc'],
    ])
  })

  it('ignores the Base when the Required Insert Count is 0', () => {
    expect(decodeFieldSection(hex('0080 d1'), BIG)).toEqual([[':method', 'GET']])
    expect(decodeFieldSection(hex('0005 d1'), BIG)).toEqual([[':method', 'GET']])
    expect(decodeFieldSection(hex('0000'), BIG)).toEqual([])
  })

  it('decodes bytes as ISO-8859-1 and leaves name validation to the HTTP layer', () => {
    // literal name "Ab" = bytes ff 00 c3 28 (invalid UTF-8)
    expect(decodeFieldSection(hex('0000 2241 6204 ff00 c328'), BIG)).toEqual([
      ['Ab', '\u00ff\u0000\u00c3('],
    ])
  })

  it('rejects truncated input', () => {
    for (const block of [
      '', // no prefix
      '00', // half a prefix
      '00ff', // Delta Base continuation missing
      '0000 510b 2f69', // value shorter than its length
      '0000 5f', // index continuation missing
      '0000 2f', // name length continuation missing
      '0000 2361 62', // name shorter than its length
      '0000 2161', // value missing
      '0000 51', // value length missing
    ]) {
      expect(() => decodeFieldSection(hex(block), BIG), block).toThrow(QpackError)
    }
  })

  it('guards prefixed integers against overflow and endless continuation', () => {
    // Required Insert Count with 2^63-ish continuation: too large
    expect(() => decodeFieldSection(hex('ff ffffffffffffffffff7f'), BIG)).toThrow(QpackError)
    // a string length of 2^53 and more
    expect(() => decodeFieldSection(hex('0000 51 7f ffffffffffffff0f'), BIG)).toThrow(QpackError)
    // zero-valued continuation bytes add nothing: 10 of them (9 + the last) are accepted…
    expect(decodeFieldSection(hex('0000 ff 80808080808080808000'), BIG)).toEqual([
      [':status', '100'], // static 63 + 0
    ])
    // …but 11 are refused, so padding cannot run on forever
    expect(() => decodeFieldSection(hex('0000 ff 8080808080808080808000'), BIG)).toThrow(QpackError)
  })

  it('enforces maxHeaderBytes as name + value + 32 per field', () => {
    const block = hex('0000 510b 2f69 6e64 6578 2e68 746d 6c') // :path /index.html: 5+11+32 = 48
    expect(decodeFieldSection(block, { maxHeaderBytes: 48 })).toHaveLength(1)
    const err = caught(() => decodeFieldSection(block, { maxHeaderBytes: 47 }))
    expect(err).toBeInstanceOf(LimitError)
    expect(err).toMatchObject({ name: 'LimitError', limit: 'maxHeaderBytes' })

    // indexed static lines count too: :method GET = 42, twice = 84
    expect(decodeFieldSection(hex('0000 d1d1'), { maxHeaderBytes: 84 })).toHaveLength(2)
    expect(() => decodeFieldSection(hex('0000 d1d1'), { maxHeaderBytes: 83 })).toThrow(LimitError)

    // a Huffman value is limited by its decoded size: :authority www.example.com = 57
    const huff = hex('0000 508c f1e3 c2e5 f23a 6ba0 ab90 f4ff')
    expect(decodeFieldSection(huff, { maxHeaderBytes: 57 })).toHaveLength(1)
    expect(caught(() => decodeFieldSection(huff, { maxHeaderBytes: 56 }))).toMatchObject({
      limit: 'maxHeaderBytes',
    })

    // a literal name alone can blow the limit
    const longName = encodeFieldSection([['x'.repeat(5000), '']])
    expect(() => decodeFieldSection(longName, { maxHeaderBytes: 4000 })).toThrow(LimitError)

    expect(() => decodeFieldSection(block, { maxHeaderBytes: -1 })).toThrow(RangeError)
  })
})

describe('encodeFieldSection', () => {
  it('encodes a Chromium-style WebTransport CONNECT request exactly', () => {
    const fields: [string, string][] = [
      [':method', 'CONNECT'],
      [':protocol', 'webtransport'],
      [':scheme', 'https'],
      [':authority', 'localhost:4433'],
      [':path', '/echo'],
      ['origin', 'https://localhost'],
      ['sec-webtransport-http3-draft02', '1'],
      ['wt-available-protocols', '"a/1", "b/1"'],
    ]
    const h = (s: string): Uint8Array => huffmanEncode(ascii(s))
    // Lengths hand-summed from RFC 7541 Appendix B code lengths; every string but "1" is
    // shorter Huffman-coded.
    const expected = concat(
      [0x00, 0x00], // Required Insert Count 0; S = 0, Delta Base 0
      [0xcf], // indexed, static 15 (:method CONNECT)
      [0x2f, 0x00], // literal name, H, length 7 (= 7 + 0): 50 bits
      h(':protocol'),
      [0x89], // H, length 9: 67 bits
      h('webtransport'),
      [0xd7], // indexed, static 23 (:scheme https)
      [0x50, 0x8a], // name ref static 0 (:authority); H, length 10: 79 bits
      h('localhost:4433'),
      [0x51, 0x84], // name ref static 1 (:path); H, length 4: 27 bits
      h('/echo'),
      [0x5f, 0x4b, 0x8c], // name ref static 90 (= 15 + 75, origin); H, length 12: 94 bits
      h('https://localhost'),
      [0x2f, 0x0e], // literal name, H, length 21 (= 7 + 14): 165 bits
      h('sec-webtransport-http3-draft02'),
      [0x01, 0x31], // raw "1": Huffman would be no shorter
      [0x2f, 0x09], // literal name, H, length 16 (= 7 + 9): 122 bits
      h('wt-available-protocols'),
      [0x8b], // H, length 11: 87 bits
      h('"a/1", "b/1"'),
    )
    const encoded = encodeFieldSection(fields)
    expect(encoded.subarray(0, 5)).toEqual(Uint8Array.of(0x00, 0x00, 0xcf, 0x2f, 0x00))
    expect(encoded).toEqual(expected)
    expect(decodeFieldSection(encoded, BIG)).toEqual(fields)
  })

  it('encodes every static entry as an indexed field line with its own index', () => {
    STATIC_TABLE.forEach(([name, value], index) => {
      const expected = index < 63 ? [0, 0, 0xc0 | index] : [0, 0, 0xff, index - 63]
      const encoded = encodeFieldSection([[name, value]])
      expect(encoded, `${index}`).toEqual(Uint8Array.from(expected))
      expect(decodeFieldSection(encoded, BIG)).toEqual([[name, value]])
    })
  })

  it('picks the static match, then the static name, then a literal name', () => {
    expect(encodeFieldSection([[':status', '200']])).toEqual(hex('0000 d9'))
    expect(encodeFieldSection([[':status', '500']])).toEqual(hex('0000 ff08')) // 71 = 63 + 8
    // :status 299: name ref to the first :status (24 = 15 + 9), raw "299" (Huffman is 3 bytes)
    expect(encodeFieldSection([[':status', '299']])).toEqual(hex('0000 5f09 0332 3939'))
    // raw literal name and value when Huffman would not be shorter
    expect(encodeFieldSection([['a', 'b']])).toEqual(hex('0000 2161 0162'))
    expect(encodeFieldSection([])).toEqual(hex('0000'))
  })

  it('round-trips ISO-8859-1 text and refuses wider characters', () => {
    const fields: [string, string][] = [['x-bin', '\u0000\u00ff\u0080 caf\u00e9']]
    expect(decodeFieldSection(encodeFieldSection(fields), BIG)).toEqual(fields)
    expect(() => encodeFieldSection([['x', '\u20ac']])).toThrow(TypeError)
    expect(() => encodeFieldSection([['\u{1f600}', 'x']])).toThrow(TypeError)
  })

  it('round-trips seeded random field lists', () => {
    const prng = new Prng(9204)
    const pick = <T>(xs: readonly T[]): T => xs[prng.int(xs.length)]!
    const token = (n: number): string =>
      Array.from({ length: n }, () => pick([...'abcdefghijklmnopqrstuvwxyz0123456789-_'])).join('')
    for (let round = 0; round < 300; round++) {
      const fields: [string, string][] = []
      const count = prng.int(12)
      for (let i = 0; i < count; i++) {
        const [staticName, staticValue] = pick(STATIC_TABLE)
        const kind = prng.int(5)
        const name = kind < 3 ? staticName : token(1 + prng.int(40))
        const value =
          kind === 0
            ? staticValue
            : kind === 4
              ? String.fromCharCode(...prng.bytes(prng.int(60)))
              : token(prng.int(prng.int(2) ? 10 : 300))
        fields.push([name, value])
      }
      const encoded = encodeFieldSection(fields)
      expect(decodeFieldSection(encoded, BIG)).toEqual(fields)
      const size = fields.reduce((n, [k, v]) => n + k.length + v.length + 32, 0)
      expect(decodeFieldSection(encoded, { maxHeaderBytes: size })).toEqual(fields)
      if (size > 0) {
        expect(() => decodeFieldSection(encoded, { maxHeaderBytes: size - 1 })).toThrow(LimitError)
      }
    }
  })
})

describe('decodeFieldSection fuzz', () => {
  const expectOnlyTypedErrors = (block: Uint8Array, maxHeaderBytes: number): boolean => {
    try {
      const fields = decodeFieldSection(block, { maxHeaderBytes })
      const size = fields.reduce((n, [k, v]) => n + k.length + v.length + 32, 0)
      expect(size).toBeLessThanOrEqual(maxHeaderBytes)
      return true
    } catch (e) {
      if (e instanceof QpackError || e instanceof LimitError) return false
      throw e
    }
  }

  it('random blocks give a result, QpackError or LimitError', () => {
    const prng = new Prng(0xf022)
    let ok = 0
    for (let round = 0; round < 3000; round++) {
      // Start most blocks with a valid prefix so the fuzz reaches the field lines.
      const body = prng.bytes(prng.int(64))
      const block = prng.int(4) === 0 ? body : concat([0x00, prng.int(2) ? 0x00 : 0x80], body)
      if (expectOnlyTypedErrors(block, prng.int(2) ? 1 << 16 : prng.int(200))) ok++
    }
    expect(ok).toBeGreaterThan(0)
  })

  it('truncations and bit flips of valid blocks give a result, QpackError or LimitError', () => {
    const prng = new Prng(77)
    const valid = encodeFieldSection([
      [':method', 'CONNECT'],
      [':protocol', 'webtransport'],
      [':scheme', 'https'],
      [':authority', 'localhost:4433'],
      [':path', '/echo?x=' + 'y'.repeat(200)],
      ['origin', 'https://localhost'],
      ['x-raw', '\u00ff\u00fe'],
      ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36'],
    ])
    for (let cut = 0; cut < valid.length; cut++) {
      expectOnlyTypedErrors(valid.subarray(0, cut), 1 << 16)
    }
    for (let round = 0; round < 3000; round++) {
      const mutated = valid.slice(0, valid.length - prng.int(8))
      for (let flips = 1 + prng.int(3); flips > 0; flips--) {
        const i = prng.int(mutated.length)
        mutated[i] = mutated[i]! ^ (1 << prng.int(8))
      }
      expectOnlyTypedErrors(mutated, prng.int(2) ? 1 << 16 : prng.int(600))
    }
  })
})
