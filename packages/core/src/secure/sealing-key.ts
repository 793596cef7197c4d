import { RecordError } from '../errors.js'
import type { AeadKey } from './aead.js'

/** The send key and its record budget, shared by every stream and datagram it seals. */
export class SealingKey {
  private used = 0

  constructor(
    readonly key: AeadKey,
    private readonly limit: number,
  ) {}

  /** Claims one record's nonce. @throws RecordError `KEY_EXHAUSTED` past the budget. */
  claim(): void {
    if (this.used >= this.limit) {
      throw new RecordError(
        'KEY_EXHAUSTED',
        `this key has sealed its ${this.limit} records; the connection needs a new handshake`,
      )
    }
    this.used++
  }
}
