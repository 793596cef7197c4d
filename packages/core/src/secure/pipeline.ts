/** How the record layer keeps several AEAD calls in flight per stream, in order. */

/**
 * Encryptions (or decryptions) in flight per stream. `crypto.subtle` calls are asynchronous
 * and run off the main thread; keeping a few in flight, in order, overlaps them with each
 * other and with the transport instead of paying a round trip per record.
 */
export const pipelineDepth = 4

/**
 * A promise's outcome as a value. `crypto.subtle` promises are settled out of order but
 * consumed in order; converting them at once keeps a failure from counting as unhandled.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** `promise`'s outcome, as a value that never rejects. */
export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  )
}
