import { describe, expect, it } from 'vitest'
import { Requeue } from './requeue.js'

/** A stand-in for quiche's `stream_send`, recording the re-queues; `gone` streams throw. */
function fakeNative() {
  const calls: { id: number; length: number; fin: boolean }[] = []
  const gone = new Set<number>()
  return {
    calls,
    gone,
    streamSend(id: number, data: Uint8Array, fin: boolean): number {
      if (gone.has(id)) throw new Error('InvalidStreamState')
      calls.push({ id, length: data.length, fin })
      return 0
    },
  }
}

/** Runs `requeue` once per millisecond from `from` to `to`, returning the times it re-queued. */
function runEachMs(requeue: Requeue, clock: { t: number }, from: number, to: number): number[] {
  const at: number[] = []
  for (clock.t = from; clock.t <= to; clock.t++) if (requeue.run()) at.push(clock.t)
  return at
}

describe('Requeue', () => {
  it('re-queues a written stream with an empty write, at once, then ever more rarely down to every 64 ms, for a second', () => {
    const native = fakeNative()
    const clock = { t: 0 }
    const requeue = new Requeue(native, () => clock.t)
    requeue.written(4, false)
    const at = runEachMs(requeue, clock, 0, 3000)
    const every64 = Array.from({ length: 14 }, (_, i) => 128 + 64 * i) // 128 … 960
    expect(at).toEqual([0, 1, 2, 4, 8, 16, 32, 64, ...every64])
    expect(native.calls.every((c) => c.id === 4 && c.length === 0 && !c.fin)).toBe(true)
  })

  it('keeps the FIN flag once the FIN is written, so the write is legal in quiche', () => {
    const native = fakeNative()
    const clock = { t: 0 }
    const requeue = new Requeue(native, () => clock.t)
    requeue.written(8, true)
    clock.t = 5
    requeue.written(8, false) // a later empty write without the flag does not undo the FIN
    requeue.run()
    expect(native.calls).toEqual([{ id: 8, length: 0, fin: true }])
  })

  it('starts the schedule over on every write, so a stream being written is re-queued on each pass', () => {
    const native = fakeNative()
    const clock = { t: 0 }
    const requeue = new Requeue(native, () => clock.t)
    const at: number[] = []
    for (clock.t = 0; clock.t < 100; clock.t += 10) {
      requeue.written(0, false)
      if (requeue.run()) at.push(clock.t)
    }
    expect(at).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
  })

  it('bounds the duplicate FINs of many finished streams to a few each, however often it runs', () => {
    const native = fakeNative()
    const clock = { t: 0 }
    const requeue = new Requeue(native, () => clock.t)
    for (let id = 0; id < 256 * 4; id += 4) requeue.written(id, true)
    // A pass every 0.1 ms for two seconds: 20 000 passes.
    for (let i = 0; i < 20_000; i++) {
      clock.t = i / 10
      requeue.run()
    }
    expect(native.calls.length).toBe(256 * 22)
    expect(requeue.run()).toBe(false)
  })

  it('forgets a stream quiche no longer knows, and says when nothing was re-queued', () => {
    const native = fakeNative()
    const clock = { t: 0 }
    const requeue = new Requeue(native, () => clock.t)
    requeue.written(12, false)
    native.gone.add(12)
    expect(requeue.run()).toBe(false)
    native.gone.delete(12)
    clock.t = 10
    expect(requeue.run()).toBe(false)
    expect(native.calls).toEqual([])
  })
})
