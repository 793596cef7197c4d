import type { BidiStream } from '../session.js'

/** In a {@link Tap}'s answer: end the stream here (the reader sees a clean end). */
export const END = Symbol('end of stream')

/**
 * A chunk filter on one direction of a {@link bidiPair}: returns the chunks to pass on, and
 * {@link END} to end the stream after them.
 */
export type Tap = (chunk: Uint8Array, index: number) => (Uint8Array | typeof END)[]

/**
 * Two ends of an in-process bidirectional byte stream, for tests of stream protocols. `aToB`
 * and `bToA` may rewrite, drop or duplicate chunks (each chunk is one write).
 */
export function bidiPair(taps: { aToB?: Tap; bToA?: Tap } = {}): [BidiStream, BidiStream] {
  const ab = tapStream(taps.aToB)
  const ba = tapStream(taps.bToA)
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ]
}

function tapStream(tap: Tap | undefined): TransformStream<Uint8Array, Uint8Array> {
  let index = 0
  return new TransformStream({
    transform(chunk, controller) {
      const out = tap ? tap(chunk.slice(), index++) : [chunk.slice()]
      for (const c of out) {
        if (c === END) return controller.terminate()
        controller.enqueue(c)
      }
    },
  })
}
