/**
 * `@ferry/node`: a ferry endpoint for Node.js that listens for browsers and other endpoints
 * and dials them, with its identity in a key file; and the `ferry` command.
 * @module @ferry/node
 */
export { Endpoint, type NodeEndpointOptions } from './endpoint.js'
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
  Router,
  SecretKey,
} from '@ferry/core'
export type {
  BidiStream,
  ConnectOptions,
  ConnectTarget,
  ConnectionCloseInfo,
  DirectAddr,
  EndpointAddr,
  EndpointId,
  EndpointOptions,
  ProtocolHandler,
} from '@ferry/core'
