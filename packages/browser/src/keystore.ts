import { SecretKey } from '@ferry/core'
import { createStore, get, update, type UseStore } from 'idb-keyval'

/**
 * What IndexedDB holds for one identity: a WebCrypto key pair whose private half page scripts
 * can use but never read out, where the browser has Ed25519 in WebCrypto; the raw seed
 * otherwise.
 */
type StoredKey = { kind: 'webcrypto'; pair: CryptoKeyPair } | { kind: 'seed'; seed: Uint8Array }

let store: UseStore | undefined

function identities(): UseStore {
  store ??= createStore('ferry', 'identities')
  return store
}

/**
 * The identity stored under `name` in this origin's IndexedDB, made and stored on first use.
 * Tabs racing to make it agree on one: the first write wins and every caller returns it.
 */
export async function loadOrCreateStoredKey(name: string): Promise<SecretKey> {
  const existing = await get<StoredKey>(name, identities())
  if (existing) return fromStored(existing)
  const fresh = await freshKey()
  await update<StoredKey>(name, (old) => old ?? fresh, identities())
  const stored = await get<StoredKey>(name, identities())
  if (!stored) throw new Error(`IndexedDB did not keep the identity ${name}`)
  return fromStored(stored)
}

async function freshKey(): Promise<StoredKey> {
  try {
    const key = await SecretKey.generateNonExtractable()
    return { kind: 'webcrypto', pair: key.cryptoKeyPair! }
  } catch {
    const key = await SecretKey.generate()
    return { kind: 'seed', seed: key.toBytes() }
  }
}

function fromStored(stored: StoredKey): Promise<SecretKey> {
  return stored.kind === 'webcrypto'
    ? SecretKey.fromCryptoKeyPair(stored.pair)
    : SecretKey.fromBytes(stored.seed)
}
