/**
 * The key schedule of the record layer: every key that seals records is derived from one
 * direction's Noise `Split()` key, per stream and per run of records (the format and its
 * reasons are in `record-format.ts`, "Keys").
 */
import { aead } from '#aead'
import type { AeadKey, KeySource } from './aead.js'

/** The label every record key's HKDF info starts with. */
const label = new TextEncoder().encode('ferry/record/2')

/**
 * The HKDF info of the key for records `epoch · perKey` to `(epoch + 1) · perKey - 1` of
 * stream `index` of `nonceClass` (or of the datagrams, class 4 and index 0):
 * `"ferry/record/2" | class u8 | index u24 | epoch u64`, big-endian.
 */
export function keyInfo(nonceClass: number, index: number, epoch: number): Uint8Array {
  const info = new Uint8Array(label.length + 12)
  info.set(label)
  const view = new DataView(info.buffer, label.length)
  view.setUint32(0, ((nonceClass << 24) | index) >>> 0)
  view.setUint32(4, Math.floor(epoch / 0x1_0000_0000))
  view.setUint32(8, epoch >>> 0)
  return info
}

/** One direction's record keys: see the module comment. */
export class DirectionKeys {
  private constructor(
    private readonly source: KeySource,
    /** Records one key seals before the next takes over. */
    readonly perKey: number,
  ) {}

  /**
   * Imports `secret` (a `Split()` key) into the platform's key store and wipes the caller's
   * bytes, so the raw key lives only as long as its import.
   */
  static async import(secret: Uint8Array, perKey: number): Promise<DirectionKeys> {
    try {
      return new DirectionKeys(await aead.importSecret(secret), perKey)
    } finally {
      secret.fill(0)
    }
  }

  /** The key of records `epoch · perKey` onward of stream `index` of `nonceClass`. */
  key(nonceClass: number, index: number, epoch: number): Promise<AeadKey> {
    return this.source.deriveKey(keyInfo(nonceClass, index, epoch))
  }

  /** The keys of one stream direction (or of the datagrams), record after record. */
  run(nonceClass: number, index: number): KeyRun {
    return new KeyRun(this, nonceClass, index)
  }
}

/**
 * The keys of one sequence of records (a stream direction, or a sender's datagrams), by
 * record counter: a key is derived when the first record of its epoch needs it, and kept
 * until the sequence moves past its epoch.
 */
export class KeyRun {
  private epoch = -1
  private pending: Promise<AeadKey> | undefined
  private ready: AeadKey | undefined

  constructor(
    private readonly keys: DirectionKeys,
    private readonly nonceClass: number,
    private readonly index: number,
  ) {}

  /** Starts the run with the key of epoch 0, derived already (for the opening). */
  prime(key: AeadKey): void {
    this.epoch = 0
    this.pending = Promise.resolve(key)
    this.ready = key
  }

  /**
   * The key of record `counter`: the key itself when it is derived already, so a caller can
   * seal without waiting a turn (and without copying its plaintext), else a promise of it.
   */
  keyFor(counter: number): AeadKey | Promise<AeadKey> {
    const epoch = Math.floor(counter / this.keys.perKey)
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.ready = undefined
      const pending = this.keys.key(this.nonceClass, this.index, epoch)
      this.pending = pending
      void pending.then(
        (key) => {
          if (this.pending === pending) this.ready = key
        },
        () => undefined,
      )
      return pending
    }
    return this.ready ?? this.pending!
  }
}
