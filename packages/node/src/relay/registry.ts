/**
 * Which session the connections made to an EndpointId go to: the one that registered it last.
 * Older sessions of the id (another tab or process with the same identity) stand by, oldest
 * first, instead of fighting over it; when the active one leaves, the newest of them takes over,
 * as iroh-relay keeps and promotes its inactive clients.
 */
export class IdRegistry<S> {
  readonly #active = new Map<string, S>()
  readonly #standby = new Map<string, S[]>()

  /** @param maxStandby Sessions of one id that may stand by behind the active one. */
  constructor(readonly maxStandby: number) {}

  /** Registered ids. */
  get size(): number {
    return this.#active.size
  }

  /** The session `key`'s connections go to. */
  get(key: string): S | undefined {
    return this.#active.get(key)
  }

  /** Every registered session, active or standing by. */
  all(): S[] {
    return [...this.#active.values(), ...[...this.#standby.values()].flat()]
  }

  /** Whether `key` has an active session and `maxStandby` standing by: no room for another. */
  full(key: string): boolean {
    return this.#active.has(key) && (this.#standby.get(key)?.length ?? 0) >= this.maxStandby
  }

  /** Makes `session` the active one of `key`; returns the one it displaced, now standing by. */
  add(key: string, session: S): S | undefined {
    const older = this.#active.get(key)
    this.#active.set(key, session)
    if (older !== undefined) {
      const standby = this.#standby.get(key) ?? []
      standby.push(older)
      this.#standby.set(key, standby)
    }
    return older
  }

  /** Takes `session` out; returns the standby that became active in its place, if any. */
  remove(key: string, session: S): S | undefined {
    const standby = this.#standby.get(key) ?? []
    let promoted: S | undefined
    if (this.#active.get(key) === session) {
      promoted = standby.pop()
      if (promoted === undefined) this.#active.delete(key)
      else this.#active.set(key, promoted)
    } else {
      const at = standby.indexOf(session)
      if (at >= 0) standby.splice(at, 1)
    }
    if (standby.length === 0) this.#standby.delete(key)
    return promoted
  }
}
