/**
 * The AUTH signature of `ferry-relay/1`: a client proves to its relay that it holds its
 * EndpointId's key by signing the CHALLENGE of this very session (see `frames.ts`).
 */
import { _signRaw, type PublicKey, type SecretKey, signatureInput } from '../identity.js'
import { authContext, authMessage } from './frames.js'

/** `secretKey`'s AUTH signature for the CHALLENGE `nonce` of relay `relayId`. */
export function signAuth(
  secretKey: SecretKey,
  nonce: Uint8Array,
  relayId: PublicKey,
): Promise<Uint8Array> {
  return _signRaw(secretKey, signatureInput(authContext, authMessage(nonce, relayId)))
}

/** Whether `signature` is `id`'s AUTH signature for the CHALLENGE `nonce` of relay `relayId`. */
export function verifyAuth(
  id: PublicKey,
  nonce: Uint8Array,
  relayId: PublicKey,
  signature: Uint8Array,
): Promise<boolean> {
  return id.verify(authContext, authMessage(nonce, relayId), signature)
}
