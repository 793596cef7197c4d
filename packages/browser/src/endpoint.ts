import { Endpoint as CoreEndpoint, type EndpointOptions, SecretKey } from '@ferry/core'
import { LocalIdentity } from '@ferry/core/internal'
import { loadOrCreateStoredKey } from './keystore.js'
import { BrowserTransport } from './transport.js'

/** Options of {@link Endpoint.create}. */
export interface BrowserEndpointOptions extends EndpointOptions {
  /** The identity to use as it is (nothing is stored). */
  secretKey?: SecretKey
  /**
   * Where the identity lives when no `secretKey` is given: `'indexeddb'` (default) keeps it in
   * this origin's IndexedDB, so every page of the origin is the same endpoint;
   * `'ephemeral'` makes a fresh one that dies with the page.
   */
  storage?: 'indexeddb' | 'ephemeral'
  /** The IndexedDB entry, for an origin that keeps several identities. Default `'default'`. */
  storageName?: string
}

/**
 * A ferry endpoint in the browser. It dials other endpoints over the browser's native
 * WebTransport and keeps its identity in IndexedDB, as a non-extractable WebCrypto key where
 * the browser has Ed25519.
 *
 * ```ts
 * const ep = await Endpoint.create()
 * const conn = await ep.connect(ticket, 'my-app/chat/1')
 * ```
 */
export class Endpoint extends CoreEndpoint {
  /**
   * Makes an endpoint with the stored (or a given, or an ephemeral) identity.
   * @throws {TypeError} for an unknown `storage`.
   */
  static async create(options: BrowserEndpointOptions = {}): Promise<Endpoint> {
    const secretKey = options.secretKey ?? (await chooseKey(options))
    const identity = await LocalIdentity.create(secretKey)
    return new Endpoint(identity, new BrowserTransport(), options).start()
  }
}

function chooseKey(options: BrowserEndpointOptions): Promise<SecretKey> {
  const storage = options.storage ?? 'indexeddb'
  if (storage === 'ephemeral') return SecretKey.generate()
  if (storage !== 'indexeddb') throw new TypeError(`storage: unknown kind ${String(storage)}`)
  return loadOrCreateStoredKey(options.storageName ?? 'default')
}
