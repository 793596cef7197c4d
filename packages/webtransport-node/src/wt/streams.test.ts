import { describe, expect, it } from 'vitest'
import type { QuicConnection } from '../quic/connection.js'
import { OutgoingStream } from './streams.js'

describe('OutgoingStream', () => {
  it('sends the FIN with the last byte after a write that waited across event-loop turns', async () => {
    // quiche 0.18 can lose a FIN written on its own, so the close must find the last byte held.
    const calls: { bytes: number; fin: boolean }[] = []
    let release: (() => void) | undefined
    const conn = {
      write(_id: number, data: Uint8Array, fin = false): Promise<void> {
        calls.push({ bytes: data.length, fin })
        // The second write's body waits, as on flow control, until the test lets it go.
        if (calls.length === 3) return new Promise<void>((resolve) => (release = resolve))
        return Promise.resolve()
      },
    } as unknown as QuicConnection
    const writer = new OutgoingStream(conn, 0, () => {}).writable.getWriter()
    await writer.write(Uint8Array.of(1, 2, 3))
    const second = writer.write(Uint8Array.of(4, 5, 6))
    // The end of the first write's turn passes while the second still waits.
    await new Promise((resolve) => setImmediate(resolve))
    release!()
    await second
    await writer.close()
    expect(calls.reduce((n, c) => n + c.bytes, 0)).toBe(6)
    expect(calls.at(-1)).toEqual({ bytes: 1, fin: true })
  })
})
