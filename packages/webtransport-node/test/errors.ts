import { expect } from 'vitest'
import { Http3Error } from '../src/errors.js'

/** The code of the {@link Http3Error} that `f` throws (anything else fails the test), or `undefined`. */
export function codeOf(f: () => unknown): number | undefined {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(Http3Error)
    return (e as Http3Error).code
  }
  return undefined
}
