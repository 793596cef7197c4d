/**
 * Forwarding a client's datagrams to the peers of its virtual connections, rewriting the
 * connection id. Best effort, as datagrams are: one that does not decode, names no
 * connection, finds its target's datagram writer full, or is above its sender's byte rate
 * (see `limits.ts`) is dropped and counted.
 */
import { DecodeError } from '@ferry/core'
import { decodeDatagram, encodeDatagram } from '@ferry/core/internal'
import type { Client } from './client.js'
import type { RelayLimits } from './limits.js'

/** Reads `client`'s datagrams until its session ends, forwarding each. Never rejects. */
export async function readDatagrams(client: Client, limits: RelayLimits): Promise<void> {
  const reader = client.session.datagrams.readable.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      routeDatagram(client, value, limits)
    }
  } catch {
    // The session failed; its `closed` rejected too, and the relay ends the client from there.
  }
}

function routeDatagram(client: Client, bytes: Uint8Array, limits: RelayLimits): void {
  const counters = limits.counters
  let conn: number
  let payload: Uint8Array
  try {
    ;({ conn, payload } = decodeDatagram(bytes))
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error
    counters.datagramsDropped++
    return
  }
  const link = client.conns.get(conn)
  const writer = link?.peer.datagrams
  if (
    link === undefined ||
    writer === undefined ||
    !(writer.desiredSize! > 0) ||
    !limits.takeDatagram(client, link.account, payload.length)
  ) {
    counters.datagramsDropped++
    return
  }
  writer.write(encodeDatagram(link.conn, payload)).then(
    () => {
      counters.datagramsForwarded++
      counters.toClients += payload.length
    },
    () => {
      // Only a session that ended fails a datagram write, and the relay ends that client.
      counters.datagramsDropped++
    },
  )
}
