import { expect } from 'vitest'
import { DecodeError } from './errors.js'

/** Runs `f`, expects it to throw a DecodeError, and returns it (for asserting its code). */
export function decodeError(f: () => unknown): DecodeError {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError)
    return e as DecodeError
  }
  throw new Error('expected a DecodeError')
}
