/**
 * The quiche binding reports failures as `Error`s whose message is the Rust enum variant
 * (`Done`, `StreamReset(258)`, `StreamStopped(7)`, `InvalidStreamState(4)`, …). This is the one
 * place that reads those strings.
 */
export type NativeError =
  | { kind: 'done' }
  | { kind: 'stream-reset'; code: number }
  | { kind: 'stream-stopped'; code: number }
  | { kind: 'invalid-stream-state' }
  | { kind: 'stream-limit' }
  | { kind: 'final-size' }
  | { kind: 'other'; message: string }

const withCode = /^(StreamReset|StreamStopped)\((\d{1,20})\)$/

/** Classifies an exception thrown by a native quiche call. */
export function classifyNativeError(e: unknown): NativeError {
  const message = e instanceof Error ? e.message : String(e)
  if (message === 'Done') return { kind: 'done' }
  const m = withCode.exec(message)
  if (m) {
    const code = Number(m[2])
    return m[1] === 'StreamReset'
      ? { kind: 'stream-reset', code }
      : { kind: 'stream-stopped', code }
  }
  if (message.startsWith('InvalidStreamState')) return { kind: 'invalid-stream-state' }
  if (message === 'StreamLimit') return { kind: 'stream-limit' }
  if (message === 'FinalSize') return { kind: 'final-size' }
  return { kind: 'other', message }
}
