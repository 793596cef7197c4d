/**
 * Who may register with a relay: everyone, a list of EndpointIds (allowed or denied), or
 * whoever presents the shared token in its AUTH. Checked once the AUTH signature verifies.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { PublicKey } from '@ferry/core'
import { maxTokenBytes } from '@ferry/core/internal'

/** A relay's access control. */
export type RelayAccess =
  /** Everyone whose AUTH verifies (the default). */
  | { mode: 'open' }
  /** Only these EndpointIds. */
  | { mode: 'allow'; ids: PublicKey[] }
  /** Everyone but these EndpointIds. */
  | { mode: 'deny'; ids: PublicKey[] }
  /** Whoever sends this token in its AUTH (1 to 256 bytes of UTF-8). */
  | { mode: 'token'; token: string }

const utf8 = new TextEncoder()
const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()

/** An access policy, replaceable while the relay runs. */
export class AccessPolicy {
  #mode: RelayAccess['mode'] = 'open'
  #ids = new Set<string>()
  #tokenHash: Buffer | undefined

  /** @throws {TypeError | RangeError} as {@link AccessPolicy.set}. */
  constructor(access: RelayAccess | undefined) {
    this.set(access ?? { mode: 'open' })
  }

  get mode(): RelayAccess['mode'] {
    return this.#mode
  }

  /**
   * Replaces the policy (checked whole before anything changes).
   * @throws {TypeError} for an unknown mode, ids that are not `PublicKey`s, a token that is not
   *   a string.
   * @throws {RangeError} for a token that is empty or above 256 bytes of UTF-8.
   */
  set(access: RelayAccess): void {
    const mode = (access as { mode?: unknown } | undefined)?.mode
    if (mode === 'open') {
      this.#install(mode, new Set(), undefined)
    } else if (mode === 'allow' || mode === 'deny') {
      const ids = (access as { ids?: unknown }).ids
      if (!Array.isArray(ids) || !ids.every((id) => id instanceof PublicKey)) {
        throw new TypeError(`options.access.ids must be an array of PublicKey`)
      }
      this.#install(mode, new Set(ids.map((id: PublicKey) => id.toString())), undefined)
    } else if (mode === 'token') {
      const token = (access as { token?: unknown }).token
      if (typeof token !== 'string') throw new TypeError('options.access.token must be a string')
      const length = utf8.encode(token).length
      if (length < 1 || length > maxTokenBytes) {
        throw new RangeError(`options.access.token must be 1 to ${maxTokenBytes} bytes of UTF-8`)
      }
      this.#install(mode, new Set(), sha256(token))
    } else {
      throw new TypeError(`options.access.mode must be 'open', 'allow', 'deny' or 'token'`)
    }
  }

  /** Whether `id`, which sent `token` in its AUTH, may register. */
  allows(id: PublicKey, token: string | undefined): boolean {
    switch (this.#mode) {
      case 'open':
        return true
      case 'allow':
        return this.#ids.has(id.toString())
      case 'deny':
        return !this.#ids.has(id.toString())
      case 'token':
        // Equal-length digests, compared in constant time: neither the token's bytes nor its
        // length leak through how long a refusal takes.
        return timingSafeEqual(sha256(token ?? ''), this.#tokenHash!)
    }
  }

  #install(mode: RelayAccess['mode'], ids: Set<string>, tokenHash: Buffer | undefined): void {
    this.#mode = mode
    this.#ids = ids
    this.#tokenHash = tokenHash
  }
}
