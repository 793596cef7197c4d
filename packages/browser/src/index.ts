/**
 * `@ferry/browser`: a ferry endpoint in the browser, on the native WebTransport API, with its
 * identity kept in IndexedDB.
 * @module @ferry/browser
 */
export { Endpoint, type BrowserEndpointOptions } from './endpoint.js'

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
