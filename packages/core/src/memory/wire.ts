import { Prng } from '../internal/prng.js'
import { Scheduler } from './scheduler.js'

/** What every session and stream of one network shares. */
export class Wire {
  readonly prng: Prng
  readonly scheduler: Scheduler

  constructor(
    seed: number,
    readonly datagramLoss: number,
    readonly maxDatagramSize: number,
    readonly windowBytes: number,
  ) {
    this.prng = new Prng(seed)
    this.scheduler = new Scheduler(this.prng)
  }

  /** Whether the next datagram is lost. */
  lose(): boolean {
    return this.datagramLoss > 0 && this.prng.u32() / 0x1_0000_0000 < this.datagramLoss
  }

  /** Cuts `bytes` into 1–4 pieces at random, each with its own buffer (byte streams transfer it). */
  split(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>[] {
    if (bytes.length < 2 || this.prng.int(2) === 0) return [owned(bytes)]
    const cuts = new Set<number>()
    const pieces = 1 + this.prng.int(3)
    for (let i = 0; i < pieces; i++) cuts.add(1 + this.prng.int(bytes.length - 1))
    const out: Uint8Array<ArrayBuffer>[] = []
    let start = 0
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      out.push(bytes.slice(start, cut))
      start = cut
    }
    out.push(bytes.slice(start))
    return out
  }

  /** How many queued pieces a read returns: mostly one, sometimes several merged. */
  mergeCount(available: number): number {
    if (available < 2 || this.prng.int(4) !== 0) return 1
    return 2 + this.prng.int(available - 1)
  }
}

/** `bytes` itself when it spans its whole buffer, else a copy that does. */
function owned(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice()
}

/** A copy of a written chunk (the writer may reuse its buffer). */
export function copyChunk(chunk: unknown): Uint8Array<ArrayBuffer> {
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0))
  throw new TypeError('chunk must be a Uint8Array or another BufferSource')
}
