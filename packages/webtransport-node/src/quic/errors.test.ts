import { describe, expect, it } from 'vitest'
import { classifyNativeError } from './errors.js'

describe('classifyNativeError', () => {
  it('reads the codes out of quiche error strings', () => {
    expect(classifyNativeError(new Error('Done'))).toEqual({ kind: 'done' })
    expect(classifyNativeError(new Error('StreamReset(91149637471451)'))).toEqual({
      kind: 'stream-reset',
      code: 91149637471451,
    })
    expect(classifyNativeError(new Error('StreamStopped(7)'))).toEqual({
      kind: 'stream-stopped',
      code: 7,
    })
    expect(classifyNativeError(new Error('InvalidStreamState(4)'))).toEqual({
      kind: 'invalid-stream-state',
    })
    expect(classifyNativeError(new Error('StreamLimit'))).toEqual({ kind: 'stream-limit' })
    expect(classifyNativeError('weird')).toEqual({ kind: 'other', message: 'weird' })
  })
})
