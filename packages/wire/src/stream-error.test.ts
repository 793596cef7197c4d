import { describe, expect, it } from 'vitest'
import { streamErrorCodeOf } from './stream-error.js'

describe('streamErrorCodeOf', () => {
  it('takes the streamErrorCode of an error shaped like a W3C WebTransportError', () => {
    const error = Object.assign(new Error('reset'), { streamErrorCode: 7 })
    expect(streamErrorCodeOf(error)).toBe(7)
    expect(streamErrorCodeOf({ streamErrorCode: 0 })).toBe(0)
    expect(streamErrorCodeOf({ streamErrorCode: 0xffffffff })).toBe(0xffffffff)
  })

  it('gives 0 for any other reason, as the W3C spec resets a stream with code 0', () => {
    for (const reason of [
      undefined,
      null,
      'text',
      42,
      new Error('plain'),
      { streamErrorCode: null },
      { streamErrorCode: -1 },
      { streamErrorCode: 1.5 },
      { streamErrorCode: 2 ** 32 },
      { streamErrorCode: '7' },
    ]) {
      expect(streamErrorCodeOf(reason), JSON.stringify(reason)).toBe(0)
    }
  })
})
