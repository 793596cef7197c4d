/**
 * Small containers the protocol state machines share: an insertion-ordered set with random
 * picks, a cache whose entries expire, and the random source the state machines draw from.
 */

/** Where a state machine's randomness comes from: `[0, n)` integers. Seeded in tests. */
export interface Rng {
  int(n: number): number
}

/** `Math.random`, for running code: the choices only need to be unpredictable to peers. */
export const defaultRng: Rng = { int: (n) => Math.floor(Math.random() * n) }

/** An insertion-ordered set of peer ids with O(1) membership and uniform random picks. */
export class IndexSet<T> {
  private readonly items: T[] = []
  private readonly index = new Map<T, number>()

  get size(): number {
    return this.items.length
  }

  has(item: T): boolean {
    return this.index.has(item)
  }

  /** Adds `item`; false if it was there already. */
  add(item: T): boolean {
    if (this.index.has(item)) return false
    this.index.set(item, this.items.length)
    this.items.push(item)
    return true
  }

  /** Removes `item` (swapping the last one into its place); false if it was not there. */
  delete(item: T): boolean {
    const i = this.index.get(item)
    if (i === undefined) return false
    const last = this.items.pop()!
    this.index.delete(item)
    if (i < this.items.length) {
      this.items[i] = last
      this.index.set(last, i)
    }
    return true
  }

  values(): readonly T[] {
    return this.items
  }

  /** A uniformly random member other than those in `skip`, or undefined. */
  pick(rng: Rng, skip: readonly T[] = []): T | undefined {
    const candidates = skip.length === 0 ? this.items : this.items.filter((x) => !skip.includes(x))
    if (candidates.length === 0) return undefined
    return candidates[rng.int(candidates.length)]
  }

  /** Up to `n` distinct members in random order, none of them in `skip`. */
  sample(rng: Rng, n: number, skip: readonly T[] = []): T[] {
    const pool = this.items.filter((x) => !skip.includes(x))
    // A partial Fisher-Yates shuffle: the first `n` places are a uniform sample.
    const count = Math.min(n, pool.length)
    for (let i = 0; i < count; i++) {
      const j = i + rng.int(pool.length - i)
      const t = pool[i]!
      pool[i] = pool[j]!
      pool[j] = t
    }
    return pool.slice(0, count)
  }
}

/**
 * A map whose entries expire: `expire(now)` drops every entry whose deadline has passed. Entries
 * are kept in deadline order (deadlines only grow, as every insert uses now + a fixed
 * retention), so expiry costs only what it removes.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>()

  get size(): number {
    return this.entries.size
  }

  has(key: K): boolean {
    return this.entries.has(key)
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  /** Sets `key` until `until`, moving it to the end of the expiry order. */
  set(key: K, value: V, until: number): void {
    this.entries.delete(key)
    this.entries.set(key, { value, until })
  }

  expire(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.until > now) break
      this.entries.delete(key)
    }
  }
}

/** Lowercase hex of `bytes`: the text form of peer and message ids inside the state machines. */
export function toHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16)
  return s
}

/** The bytes of an even-length lowercase hex string made by {@link toHex}. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length >>> 1)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
