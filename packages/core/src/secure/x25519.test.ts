import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../internal/bytes.js'
import { dhKeyPairFromSecret } from './noise.js'
import { x25519 as node } from './x25519-node.js'
import { x25519 as web } from './x25519-web.js'

// RFC 7748 §6.1.
const alicePrivate = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
const bobPublic = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'

describe.each([
  ['node:crypto', node],
  ['WebCrypto', web],
])('X25519 on %s', (_name, impl) => {
  it('computes the RFC 7748 shared secret', async () => {
    const alice = await dhKeyPairFromSecret(alicePrivate)
    const theirs = await impl.importPeerKey(bobPublic)
    expect(toHex(await impl.deriveShared(alice.privateKey, theirs))).toBe(shared)
  })

  it('gives all zeros or a rejection for a low-order peer key, never a secret', async () => {
    const alice = await dhKeyPairFromSecret(alicePrivate)
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const outcome = await impl
        .importPeerKey(point)
        .then((k) => impl.deriveShared(alice.privateKey, k))
        .then(
          (bytes) => toHex(bytes),
          () => 'rejected',
        )
      expect(['rejected', '00'.repeat(32)]).toContain(outcome)
    }
  })
})
