import { afterEach, describe, expect, it } from 'vitest'
import {
  type CertificatePair,
  createCertificate,
  WebTransport,
  WebTransportServer,
} from '../src/index.js'
import { certificate } from './helpers.js'

const servers: WebTransportServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

describe('setCertificate and the certificate a session request names', () => {
  it('names the certificate the connection presented, not the one current at the session', async () => {
    const first = await certificate()
    const second = await createCertificate()
    const server = await WebTransportServer.listen({ certificate: first })
    servers.push(server)
    const accepted: CertificatePair[] = []
    const sessions: CertificatePair[] = []
    server.route('/s', {
      accept: (request) => {
        accepted.push(request.certificate)
        // The first connection's TLS handshake is done; its session opens after the rotation.
        if (accepted.length === 1) server.setCertificate(second)
        return { accept: true }
      },
      session: (_session, request) => void sessions.push(request.certificate),
    })
    const before = new WebTransport(`https://127.0.0.1:${server.port}/s`, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: first.hash }],
    })
    await before.ready
    const after = new WebTransport(`https://127.0.0.1:${server.port}/s`, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: second.hash }],
    })
    await after.ready
    expect(before.serverCertificateHash).toEqual(first.hash)
    expect(after.serverCertificateHash).toEqual(second.hash)
    // The very objects given to `listen` and `setCertificate`.
    expect(accepted).toHaveLength(2)
    expect(accepted[0]).toBe(first)
    expect(accepted[1]).toBe(second)
    expect(sessions).toHaveLength(2)
    expect(sessions[0]).toBe(first)
    expect(sessions[1]).toBe(second)
    before.close()
    after.close()
  })
})
