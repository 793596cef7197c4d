/**
 * The relay an endpoint is given (`EndpointOptions.relay`), checked and made canonical before
 * the endpoint starts, so a mistake fails `Endpoint.create` with the option's name instead of
 * leaving the relay client offline with a transport error.
 */
import { checkUrl } from '../addr.js'
import type { RelayConfig } from '../endpoint.js'
import { fromHex } from '../internal/bytes.js'
import { maxTokenBytes } from './frames.js'

const hashBytes = 32
const utf8 = new TextEncoder()
const hexHash = /^[0-9a-f]{64}$/i
const colonHexHash = /^[0-9a-f]{2}(?::[0-9a-f]{2}){31}$/i

/** A relay, checked: see {@link relayConfigOf}. */
export interface CheckedRelay {
  url: string
  /** The hashes to pin on the next connection to the relay (called before each). */
  certHashes: () => Promise<Uint8Array[]>
  token?: string
}

/**
 * The relay's address and token from `relay`: a URL, or a {@link RelayConfig} whose
 * certificate hashes are bytes or hex (as `ferry relay` prints them; colons between the bytes,
 * as `openssl x509 -fingerprint` prints them, are fine too), or a function giving them.
 * @throws {TypeError} naming the field, for a value of the wrong type or a URL that does not
 *   parse.
 * @throws {RangeError} naming the field, for a URL that is not `https:`, a hash that is not 32
 *   bytes (or 64 hex digits), or a token above 256 bytes of UTF-8.
 */
export function relayConfigOf(relay: string | RelayConfig): CheckedRelay {
  const config: unknown = typeof relay === 'string' ? { url: relay } : relay
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('relay must be a URL or an object with a url')
  }
  const { url, certHashes: hashes = [], token } = config as RelayConfig
  checkUrl(url, 'relay.url')
  if (token !== undefined) {
    if (typeof token !== 'string') throw new TypeError('relay.token must be a string')
    if (utf8.encode(token).length > maxTokenBytes) {
      throw new RangeError(`relay.token is longer than ${maxTokenBytes} bytes of UTF-8`)
    }
  }
  if (typeof hashes === 'function') {
    // Checked on each call: a mistake there fails that connection attempt, with the field named.
    return { url, certHashes: async () => hashesOf(await hashes(), 'relay.certHashes()'), token }
  }
  const certHashes = hashesOf(hashes, 'relay.certHashes')
  return { url, certHashes: () => Promise.resolve(certHashes), token }
}

function hashesOf(hashes: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(hashes)) throw new TypeError(`${field} must be an array`)
  return hashes.map((hash: unknown, i) => hashOf(hash, `${field}[${i}]`))
}

function hashOf(hash: unknown, field: string): Uint8Array {
  if (hash instanceof Uint8Array) {
    if (hash.length !== hashBytes) {
      throw new RangeError(`${field} must be ${hashBytes} bytes, not ${hash.length}`)
    }
    return hash.slice()
  }
  if (typeof hash !== 'string') throw new TypeError(`${field} must be a Uint8Array or hex`)
  if (!hexHash.test(hash) && !colonHexHash.test(hash)) {
    throw new RangeError(`${field} must be ${hashBytes * 2} hex digits (a SHA-256 hash)`)
  }
  return fromHex(hash.replaceAll(':', ''))
}
