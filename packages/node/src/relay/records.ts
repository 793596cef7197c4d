/**
 * The address records a relay keeps: the newest one each client published about itself
 * (`PUBLISH`), which any client may look up (`RESOLVE`). See `@ferry/core`'s `addr-record.ts`.
 */
import type { PublicKey } from '@ferry/core'
import { verifyAddrRecord } from '@ferry/core/internal'

/** Records kept at most; the least recently published go first. */
export const maxRecords = 100_000

/** The records, by EndpointId. */
export class AddrRecords {
  readonly #records = new Map<string, { bytes: Uint8Array; timestamp: number }>()

  constructor(private readonly max: number = maxRecords) {}

  /**
   * Keeps `bytes` as `id`'s record if it is `id`'s, signed, fresh, and newer than the one
   * kept. Resolves whether it was kept.
   */
  async publish(id: PublicKey, bytes: Uint8Array): Promise<boolean> {
    let timestamp: number
    try {
      const record = await verifyAddrRecord(bytes)
      if (!record.addr.id.equals(id)) return false
      timestamp = record.timestamp
    } catch {
      return false
    }
    const key = id.toString()
    const kept = this.#records.get(key)
    if (kept && kept.timestamp >= timestamp) return false
    this.#records.delete(key)
    this.#records.set(key, { bytes: bytes.slice(), timestamp })
    if (this.#records.size > this.max) {
      this.#records.delete(this.#records.keys().next().value!)
    }
    return true
  }

  /** `id`'s record, or `undefined`. The dialer checks its signature and freshness itself. */
  get(id: PublicKey): Uint8Array | undefined {
    return this.#records.get(id.toString())?.bytes
  }

  /** Records kept. */
  get size(): number {
    return this.#records.size
  }
}
