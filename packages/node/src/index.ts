/**
 * `@ferry/node`: a ferry endpoint for Node.js that listens for browsers and other endpoints
 * and dials them, with its identity in a key file; the relay server; and the `ferry` command.
 * @module @ferry/node
 */
export { Endpoint, type NodeEndpointOptions } from './endpoint.js'
export { RelayServer, type RelayInfo, type RelayServerOptions } from './relay-server.js'
export { keptCertificate } from './kept-certificate.js'
export { runRelay } from './run-relay.js'
export type { ListenOptions } from './transport.js'
export { KeyFileError, type KeyFileErrorCode } from './keyfile.js'
export type { Certificate } from '@ferry/webtransport-node'

// What applications use with an endpoint, from @ferry/core (protocol authors import that).
export {
  CloseCode,
  ConnectError,
  Connection,
  ConnectionError,
  DecodeError,
  EndpointTicket,
  FerryError,
  HandshakeError,
  PublicKey,
  RecordError,
  RelayCode,
  RelayError,
  Router,
  SecretKey,
} from '@ferry/core'
export type {
  BidiStream,
  CertHashes,
  ConnectOptions,
  ConnectTarget,
  ConnectionCloseInfo,
  DirectAddr,
  EndpointAddr,
  EndpointId,
  EndpointOptions,
  ProtocolHandler,
  RelayConfig,
  RelayState,
} from '@ferry/core'
