/**
 * `@ferry/core`: what applications and protocol authors use on every platform — identities,
 * addresses and tickets, connections and their streams, the router and protocol handlers,
 * codecs for protocol messages, and typed errors. Endpoints come from `@ferry/browser` and
 * `@ferry/node`; tests use `@ferry/core/testing`.
 * @module @ferry/core
 */
export {
  ConnectError,
  ConnectionError,
  DecodeError,
  FerryError,
  HandshakeError,
  RecordError,
  RelayError,
  type ConnectErrorCode,
  type ConnectionErrorCode,
  type DecodeErrorCode,
  type HandshakeErrorCode,
  type RecordErrorCode,
} from './errors.js'

// identities, addresses, tickets
export { PublicKey, SecretKey, type EndpointId } from './identity.js'
export type { DirectAddr, EndpointAddr } from './addr.js'
export { EndpointTicket } from './ticket.js'

// endpoints, connections, the router
export { Endpoint, directDialTimeoutMs, toAddr } from './endpoint.js'
export type {
  CertHashes,
  ConnectOptions,
  ConnectTarget,
  EndpointOptions,
  RelayConfig,
} from './endpoint.js'
export { RelayCode, type RelayCodeName } from './relay/frames.js'
export type { RelayState } from './relay/client.js'
export { CloseCode, Connection } from './connection.js'
export type { ConnectionCloseInfo, ConnectionPath, ConnectionStats } from './connection.js'
export type { BidiStream } from './session.js'
export { Router, RouterBuilder } from './router.js'
export type { ProtocolHandler, RouterOptions } from './router.js'

// codecs for protocol messages
export { ByteReader, ByteWriter } from './codec/varint.js'
export {
  FramedReader,
  FramedWriter,
  framed,
  type Framed,
  type FramedOptions,
} from './codec/framed.js'
