import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Session } from '../session.js'
import { lateStreamGraceMs, VirtualSession, type VirtualSessionHost } from './virtual-session.js'

function host(): VirtualSessionHost & { closes: unknown[]; forgotten: number[] } {
  const closes: unknown[] = []
  const forgotten: number[] = []
  return {
    closes,
    forgotten,
    session: { datagrams: { maxDatagramSize: 1200 } } as unknown as Session,
    sendClose: (conn, code, reason) => void closes.push({ conn, code, reason }),
    sendDatagram: () => undefined,
    forget: (conn) => void forgotten.push(conn),
  }
}

const text = (s: string): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(s))
      c.close()
    },
  })

afterEach(() => {
  vi.useRealTimers()
})

describe('VirtualSession', () => {
  it('still takes unidirectional streams for a while after the peer’s close, then no more', async () => {
    vi.useFakeTimers()
    const h = host()
    const session = new VirtualSession(h, 3, 'x/1', undefined)
    const incoming = session.incomingUnidirectionalStreams.getReader()
    session.remoteClosed(7, 'bye')
    expect(await session.closed).toEqual({ closeCode: 7, reason: 'bye' })
    // The peer's last stream overtaken by its close: still delivered.
    session.deliverUni(text('last words'))
    const late = await incoming.read()
    expect(late.done).toBe(false)
    expect(h.forgotten).toEqual([])
    await vi.advanceTimersByTimeAsync(lateStreamGraceMs)
    expect(h.forgotten).toEqual([3])
    expect((await incoming.read()).done).toBe(true)
    let cancelled = false
    session.deliverUni(new ReadableStream({ cancel: () => void (cancelled = true) }))
    await vi.advanceTimersByTimeAsync(0)
    expect(cancelled).toBe(true)
    // The peer closed: nothing is sent back.
    expect(h.closes).toEqual([])
  })

  it('sends its own close once, ends its queues at once, and refuses new streams', async () => {
    const h = host()
    const session = new VirtualSession(h, 2, undefined, undefined)
    session.close({ closeCode: 5, reason: 'done' })
    session.close({ closeCode: 6, reason: 'again' })
    expect(h.closes).toEqual([{ conn: 2, code: 5, reason: 'done' }])
    expect(await session.closed).toEqual({ closeCode: 5, reason: 'done' })
    expect(h.forgotten).toEqual([2])
    expect((await session.incomingUnidirectionalStreams.getReader().read()).done).toBe(true)
    await expect(session.createUnidirectionalStream()).rejects.toThrow(TypeError)
  })

  it('rejects closed when the relay session is lost', async () => {
    const h = host()
    const session = new VirtualSession(h, 4, undefined, undefined)
    const error = new Error('lost')
    session.lost(error)
    await expect(session.closed).rejects.toBe(error)
    await expect(session.incomingBidirectionalStreams.getReader().read()).rejects.toBe(error)
  })
})
