/**
 * `@ferry/core/internal`: what ferry's own platform packages (`@ferry/browser`,
 * `@ferry/node`) build on — the transport interface an endpoint runs over, the local identity
 * the handshake signs with, and small shared codecs. Not for applications: these names may
 * change in any release.
 * @module @ferry/core/internal
 */
export type {
  DialedSession,
  IncomingSessionInfo,
  Transport,
  TransportListener,
} from './endpoint.js'
export type { Session, SessionCloseInfo, SessionDatagrams, SessionStats } from './session.js'
export { LocalIdentity } from './secure/handshake.js'
export { alpnOfferOf, withAlpnOffer } from './alpn-offer.js'
export { base32Decode, base32Encode } from './codec/base32.js'
export * from './relay/frames.js'
export { signAuth, verifyAuth } from './relay/auth.js'
export { RelayClient, type RelayClientOptions } from './relay/client.js'
export { VirtualSession, type VirtualSessionHost } from './relay/virtual-session.js'
export { prepend, readStreamHeader, type HeaderedStream } from './relay/stream-header.js'
export {
  type AddrRecord,
  signAddrRecord,
  verifyAddrRecord,
  type VerifyAddrRecordOptions,
} from './relay/addr-record.js'
