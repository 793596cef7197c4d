import { describe, it, expect } from 'vitest'
import { H3, Http3Error, LimitError } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import {
  MAX_STRING_LIST_BYTES,
  MAX_STRING_LIST_MEMBERS,
  parseStringList,
  serializeString,
  serializeStringList,
} from './structured.js'

const errorOf = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  return undefined
}
const show = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : typeof e)
const isMessageError = (e: unknown): boolean =>
  e instanceof Http3Error && e.code === H3.MESSAGE_ERROR

describe('parseStringList', () => {
  it('parses fixed values', () => {
    expect(parseStringList('"a/1", "b/1"')).toEqual(['a/1', 'b/1'])
    expect(parseStringList('"a/1","b/1"')).toEqual(['a/1', 'b/1'])
    expect(parseStringList('"a/1"  ,\t "b/1"  ')).toEqual(['a/1', 'b/1'])
    expect(parseStringList('  "x"')).toEqual(['x'])
    expect(parseStringList('""')).toEqual([''])
    expect(parseStringList('')).toEqual([])
    expect(parseStringList('   ')).toEqual([])
    expect(parseStringList('"say \\"hi\\"", "back\\\\slash"')).toEqual(['say "hi"', 'back\\slash'])
    expect(parseStringList('" ~!#$%&\'()*+,-./:;<=>?@[]^_`{|}"')).toEqual([
      " ~!#$%&'()*+,-./:;<=>?@[]^_`{|}",
    ])
  })

  it('ignores parameters of every bare-item type', () => {
    expect(
      parseStringList(
        '"a";x=1;y=-2.5;z="s";t=tok/en:1;b=:aGk=:;f=?0;g;*h=?1;d=@1700000000;ds=%"caf%c3%a9", "b"; q=0.123',
      ),
    ).toEqual(['a', 'b'])
  })

  it('rejects malformed values with H3_MESSAGE_ERROR', () => {
    for (const bad of [
      'a',
      '"a", b',
      '1',
      '("a" "b")',
      '"a" "b"',
      '"a",',
      '"a", ',
      ',"a"',
      '"a",,"b"',
      '"unterminated',
      '"bad \\n escape"',
      '"trailing \\',
      '"tab\tinside"',
      '"caf\u00e9"',
      '"a"x',
      '"a";',
      '"a";X=1',
      '"a";1=1',
      '"a";x=',
      '"a";x=1.',
      '"a";x=1.2345',
      '"a";x=1234567890123.1',
      '"a";x=1234567890123456',
      '"a";x=-',
      '"a";x=?2',
      '"a";x=:aGk',
      '"a";x=:a-b:',
      '"a";x=@1.5',
      '"a";x=%"bad%C3%A9"',
      '"a";x=%"bad%c3"',
      '"a";x=%"unterminated',
      '"a";x=(1)',
      '"a"\u0000',
    ]) {
      const e = errorOf(() => parseStringList(bad))
      expect(isMessageError(e), `${JSON.stringify(bad)} gave ${show(e)}`).toBe(true)
    }
  })

  it('limits members and length', () => {
    const max = Array.from({ length: MAX_STRING_LIST_MEMBERS }, (_, i) => `"p${i}"`)
    expect(parseStringList(max.join(',')).length).toBe(MAX_STRING_LIST_MEMBERS)
    const tooMany = errorOf(() => parseStringList([...max, '"x"'].join(',')))
    expect(tooMany).toBeInstanceOf(LimitError)
    expect((tooMany as LimitError).limit).toBe('maxStringListMembers')

    const long = `"${'a'.repeat(MAX_STRING_LIST_BYTES - 2)}"`
    expect(parseStringList(long)).toEqual(['a'.repeat(MAX_STRING_LIST_BYTES - 2)])
    const tooLong = errorOf(() => parseStringList(long + ' '))
    expect(tooLong).toBeInstanceOf(LimitError)
    expect((tooLong as LimitError).limit).toBe('maxStringListBytes')
  })

  it('round-trips with serializeStringList (seeded)', () => {
    const prng = new Prng(60)
    for (let i = 0; i < 2000; i++) {
      const list: string[] = []
      for (let k = prng.int(6); k > 0; k--) {
        let s = ''
        for (let n = prng.int(12); n > 0; n--) s += String.fromCharCode(0x20 + prng.int(0x5f))
        list.push(s)
      }
      expect(parseStringList(serializeStringList(list))).toEqual(list)
    }
  })

  it('random and mutated input only gives clean results, H3_MESSAGE_ERROR or LimitError (seeded)', () => {
    const prng = new Prng(61)
    const alphabet = '"\\,;= \t:?@%-.*aZ09/()\u0000\u007f\u00e9'
    const seed = '"a/1";q=1, "b\\"c";t=tok;b=:aGk=:;d=%"%c3%a9", "x";f=?1;n=-1.25'
    for (let i = 0; i < 4000; i++) {
      let input: string
      if (i % 2 === 0) {
        input = ''
        for (let n = prng.int(30); n > 0; n--) input += alphabet[prng.int(alphabet.length)]
      } else {
        const chars = [...seed.slice(0, prng.int(seed.length + 1))]
        for (let n = prng.int(3); n > 0 && chars.length > 0; n--) {
          chars[prng.int(chars.length)] = alphabet[prng.int(alphabet.length)]!
        }
        input = chars.join('')
      }
      const e = errorOf(() => parseStringList(input))
      if (e !== undefined) {
        expect(
          isMessageError(e) || e instanceof LimitError,
          `${JSON.stringify(input)}: ${show(e)}`,
        ).toBe(true)
      }
    }
  })
})

describe('serializeString', () => {
  it('quotes and escapes', () => {
    expect(serializeString('')).toBe('""')
    expect(serializeString('chat/1')).toBe('"chat/1"')
    expect(serializeString('a"b\\c')).toBe('"a\\"b\\\\c"')
    expect(serializeStringList(['a', 'b'])).toBe('"a", "b"')
    expect(serializeStringList([])).toBe('')
  })

  it('rejects characters outside printable ASCII', () => {
    for (const bad of ['\u0000', 'tab\t', '\u007f', 'é', '😀']) {
      expect(() => serializeString(bad)).toThrow(RangeError)
    }
  })
})
