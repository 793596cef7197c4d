/**
 * The part of Structured Field Values (RFC 8941, updated by RFC 9651) that WebTransport needs:
 * a List of sf-strings, as in `wt-available-protocols: "chat/1", "chat/2"`, and sf-string
 * serialization for `wt-protocol`.
 *
 * Parameters after a member (`"a";q=1`) are parsed, so that malformed ones are rejected, and
 * then dropped: WebTransport defines none.
 */

import { H3, Http3Error, LimitError } from '../errors.js'

/** The longest field value {@link parseStringList} accepts, in characters. */
export const MAX_STRING_LIST_BYTES = 8192
/** The most members {@link parseStringList} accepts. */
export const MAX_STRING_LIST_MEMBERS = 64

function fail(message: string, at: number): never {
  throw new Http3Error(H3.MESSAGE_ERROR, `structured field: ${message} at ${at}`)
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
const isLcAlpha = (c: number): boolean => c >= 0x61 && c <= 0x7a
const isAlpha = (c: number): boolean => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a)
/** tchar of RFC 9110 §5.6.2, minus ALPHA and DIGIT. */
const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~"
const isTchar = (c: number): boolean =>
  isAlpha(c) || isDigit(c) || TCHAR_SYMBOLS.includes(String.fromCharCode(c))
const isBase64 = (c: number): boolean =>
  isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2f || c === 0x3d
const isLowerHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66)

/** A cursor over the field value; `c()` is the current char code, NaN at the end. */
class Parser {
  i = 0
  constructor(readonly s: string) {}

  c(): number {
    return this.s.charCodeAt(this.i)
  }

  atEnd(): boolean {
    return this.i >= this.s.length
  }

  skipSp(): void {
    while (this.c() === 0x20) this.i++
  }

  skipOws(): void {
    while (this.c() === 0x20 || this.c() === 0x09) this.i++
  }

  /** sf-string (RFC 8941 §4.2.5); the cursor is on the opening quote. */
  string(): string {
    this.i++
    let out = ''
    let runStart = this.i
    for (;;) {
      const c = this.c()
      if (Number.isNaN(c)) fail('unterminated string', this.i)
      if (c === 0x22) {
        out += this.s.slice(runStart, this.i)
        this.i++
        return out
      }
      if (c === 0x5c) {
        out += this.s.slice(runStart, this.i)
        const escaped = this.s.charCodeAt(this.i + 1)
        if (escaped !== 0x22 && escaped !== 0x5c) fail('bad escape in string', this.i)
        out += String.fromCharCode(escaped)
        this.i += 2
        runStart = this.i
        continue
      }
      if (c < 0x20 || c > 0x7e) fail('non-printable character in string', this.i)
      this.i++
    }
  }

  /** Parameters (RFC 8941 §4.2.3.2), validated and discarded. */
  parameters(): void {
    while (this.c() === 0x3b) {
      this.i++
      this.skipSp()
      const first = this.c()
      if (!isLcAlpha(first) && first !== 0x2a) fail('bad parameter key', this.i)
      this.i++
      for (;;) {
        const c = this.c()
        if (!(isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a)) {
          break
        }
        this.i++
      }
      if (this.c() === 0x3d) {
        this.i++
        this.bareItem()
      }
    }
  }

  /** Any bare item (RFC 8941 §4.2.3.1, RFC 9651 dates and display strings), discarded. */
  bareItem(): void {
    const c = this.c()
    if (c === 0x2d || isDigit(c)) this.number(true)
    else if (c === 0x22) this.string()
    else if (c === 0x2a || isAlpha(c)) this.token()
    else if (c === 0x3a) this.byteSequence()
    else if (c === 0x3f) this.boolean()
    else if (c === 0x40) {
      this.i++
      this.number(false)
    } else if (c === 0x25) this.displayString()
    else fail('bad parameter value', this.i)
  }

  /** sf-integer or, if `allowDecimal`, sf-decimal (RFC 8941 §4.2.4). */
  number(allowDecimal: boolean): void {
    if (this.c() === 0x2d) this.i++
    let intDigits = 0
    while (isDigit(this.c())) {
      intDigits++
      this.i++
    }
    if (intDigits === 0) fail('number without digits', this.i)
    if (allowDecimal && this.c() === 0x2e) {
      this.i++
      let fracDigits = 0
      while (isDigit(this.c())) {
        fracDigits++
        this.i++
      }
      if (intDigits > 12 || fracDigits < 1 || fracDigits > 3) fail('bad decimal', this.i)
    } else if (intDigits > 15) {
      fail('integer too long', this.i)
    }
  }

  /** sf-token (RFC 8941 §4.2.6); the cursor is on its first character. */
  token(): void {
    this.i++
    for (;;) {
      const c = this.c()
      if (!(isTchar(c) || c === 0x3a || c === 0x2f)) return
      this.i++
    }
  }

  /** sf-binary (RFC 8941 §4.2.7); the cursor is on the opening colon. */
  byteSequence(): void {
    this.i++
    while (isBase64(this.c())) this.i++
    if (this.c() !== 0x3a) fail('unterminated byte sequence', this.i)
    this.i++
  }

  /** sf-boolean (RFC 8941 §4.2.8); the cursor is on the question mark. */
  boolean(): void {
    const c = this.s.charCodeAt(this.i + 1)
    if (c !== 0x30 && c !== 0x31) fail('bad boolean', this.i)
    this.i += 2
  }

  /** sf-displaystring (RFC 9651 §4.2.10); the cursor is on the percent sign. */
  displayString(): void {
    if (this.s.charCodeAt(this.i + 1) !== 0x22) fail('bad display string', this.i)
    this.i += 2
    const bytes: number[] = []
    for (;;) {
      const c = this.c()
      if (Number.isNaN(c)) fail('unterminated display string', this.i)
      if (c < 0x20 || c > 0x7e) fail('non-printable character in display string', this.i)
      if (c === 0x22) break
      if (c === 0x25) {
        const hi = this.s.charCodeAt(this.i + 1)
        const lo = this.s.charCodeAt(this.i + 2)
        if (!isLowerHex(hi) || !isLowerHex(lo)) fail('bad percent escape', this.i)
        bytes.push(Number.parseInt(this.s.slice(this.i + 1, this.i + 3), 16))
        this.i += 3
      } else {
        bytes.push(c)
        this.i++
      }
    }
    this.i++
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes))
    } catch {
      fail('display string is not UTF-8', this.i)
    }
  }
}

/**
 * The members of a structured-field List whose members are all sf-strings
 * (`wt-available-protocols`). Whitespace around commas is allowed; parameters after a member
 * are checked and ignored. An empty (or all-whitespace) value is an empty list.
 *
 * @throws {Http3Error} `H3_MESSAGE_ERROR` for a member that is not a string, a bad escape, a
 *   character outside printable ASCII, or anything else malformed.
 * @throws {LimitError} `maxStringListBytes` for a value longer than
 *   {@link MAX_STRING_LIST_BYTES}; `maxStringListMembers` for more than
 *   {@link MAX_STRING_LIST_MEMBERS} members.
 */
export function parseStringList(value: string): string[] {
  if (value.length > MAX_STRING_LIST_BYTES) {
    throw new LimitError(
      'maxStringListBytes',
      `structured field of ${value.length} characters exceeds ${MAX_STRING_LIST_BYTES}`,
    )
  }
  const p = new Parser(value)
  // HTTP trims a field value's surrounding whitespace; do it too in case a caller did not.
  p.skipOws()
  const members: string[] = []
  if (p.atEnd()) return members
  for (;;) {
    if (p.c() !== 0x22) fail('list member is not a string', p.i)
    if (members.length === MAX_STRING_LIST_MEMBERS) {
      throw new LimitError(
        'maxStringListMembers',
        `structured field list has more than ${MAX_STRING_LIST_MEMBERS} members`,
      )
    }
    members.push(p.string())
    p.parameters()
    p.skipOws()
    if (p.atEnd()) return members
    if (p.c() !== 0x2c) fail('expected a comma', p.i)
    p.i++
    p.skipOws()
    if (p.atEnd()) fail('trailing comma', p.i)
  }
}

/**
 * `s` as an sf-string: in double quotes, with `\` and `"` escaped.
 *
 * @throws {RangeError} if `s` has a character outside printable ASCII (0x20–0x7e).
 */
export function serializeString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) {
      throw new RangeError(`s has a character outside printable ASCII at index ${i}`)
    }
  }
  return `"${s.replace(/[\\"]/g, '\\$&')}"`
}

/**
 * `list` as a structured-field List of sf-strings, e.g. `"a/1", "b/1"`.
 *
 * @throws {RangeError} if a member has a character outside printable ASCII.
 */
export function serializeStringList(list: readonly string[]): string {
  return list.map(serializeString).join(', ')
}
