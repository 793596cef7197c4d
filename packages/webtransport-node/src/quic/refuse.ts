import { randomBytes } from 'node:crypto'
import { quiche, type HostPort, type NativeConfig, type NativeConnection } from './native.js'

/** QUIC transport error CONNECTION_REFUSED (RFC 9000 §20.1): the server refuses to accept. */
export const CONNECTION_REFUSED = 0x2

/** Packets one refusal may send (the CONNECTION_CLOSE, coalesced, fits in one or two). */
const maxRefusalPackets = 8

/**
 * Refuses a new connection at once with a QUIC CONNECTION_CLOSE carrying `CONNECTION_REFUSED`
 * and `reason`, keeping no state: the client then fails at once instead of waiting for its
 * handshake or idle timeout.
 *
 * quiche 0.18 has no stateless close, and a connection that has processed no packet closes
 * silently (`close()` marks it closed when `recv_count == 0`), so the refusal goes through a
 * throwaway connection: it takes the client's Initial (which derives the Initial keys — and
 * runs the TLS server's first flight, the cost of a refusal), is closed with a transport error
 * (allowed before the handshake completes, RFC 9000 §10.2.3), sends what quiche writes for that,
 * and is dropped. A client that retransmits its Initial is refused again the same way.
 */
export function refuseInitial(
  packet: Uint8Array,
  local: HostPort,
  from: HostPort,
  config: NativeConfig,
  reason: string,
  sendPacket: (data: Uint8Array, to: HostPort) => void,
): void {
  const scid = new Uint8Array(randomBytes(16))
  const native = quiche.Connection.accept(scid, null, local, from, config)
  try {
    native.recv(packet, { from, to: local })
  } catch {
    return // quiche rejected the packet: nothing was processed, so nothing can be sent.
  }
  // quiche 0.18 writes a CONNECTION_CLOSE only at its latest write level, which after the
  // ClientHello is Handshake, and the client has no Handshake keys before our ServerHello. So the
  // first flight goes out first (within quiche's anti-amplification limit), then the close.
  flushAll(native, sendPacket)
  try {
    native.close(false, CONNECTION_REFUSED, new TextEncoder().encode(reason))
  } catch {
    // Already closed by the packet itself: whatever quiche has to say still goes out below.
  }
  flushAll(native, sendPacket)
}

function flushAll(
  native: NativeConnection,
  sendPacket: (data: Uint8Array, to: HostPort) => void,
): void {
  for (let i = 0; i < maxRefusalPackets; i++) {
    const out = new Uint8Array(quiche.MAX_DATAGRAM_SIZE)
    let r
    try {
      r = native.send(out)
    } catch {
      return // `Done`
    }
    if (!r) return
    sendPacket(out.subarray(0, r[0]), r[1].to)
  }
}
