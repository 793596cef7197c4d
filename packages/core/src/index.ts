export {
  FerryError,
  DecodeError,
  HandshakeError,
  RecordError,
  ConnectError,
  ConnectionError,
  type DecodeErrorCode,
  type HandshakeErrorCode,
  type RecordErrorCode,
  type ConnectErrorCode,
  type ConnectionErrorCode,
} from './errors.js'

// identities, addresses, tickets, codecs
export { PublicKey, SecretKey, type EndpointId } from './identity.js'
export {
  addrLimits,
  decodeAddr,
  encodeAddr,
  validateAddr,
  type DirectAddr,
  type EndpointAddr,
} from './addr.js'
export { EndpointTicket, maxTicketChars, parseTicket } from './ticket.js'
export { base32Decode, base32Encode } from './codec/base32.js'
export { ByteReader, ByteWriter, encodeVarint, varintLength } from './codec/varint.js'
export { FramedReader, FramedWriter, framed, type FramedOptions } from './codec/framed.js'

// sessions, connections, endpoints, the router
export type {
  BidiStream,
  Session,
  SessionCloseInfo,
  SessionDatagrams,
  SessionStats,
} from './session.js'
export { CloseCode, Connection } from './connection.js'
export type {
  ConnectionCloseInfo,
  ConnectionInit,
  ConnectionPath,
  ConnectionStats,
} from './connection.js'
export { Endpoint } from './endpoint.js'
export type {
  ConnectOptions,
  ConnectTarget,
  DialedSession,
  EndpointOptions,
  IncomingSessionInfo,
  Transport,
  TransportListener,
} from './endpoint.js'
export { Router, RouterBuilder } from './router.js'
export type { ProtocolHandler, RouterOptions } from './router.js'
export {
  acceptHandshake,
  dialHandshake,
  handshakeLimits,
  handshakeVersion,
  LocalIdentity,
} from './secure/handshake.js'
export type {
  AcceptHandshakeOptions,
  DialHandshakeOptions,
  HandshakeResult,
} from './secure/handshake.js'
export { MemoryTransport } from './memory/transport.js'

// in-memory transport
export { MemoryNetwork } from './memory/network.js'
export type { MemoryNetworkOptions, MemoryListener } from './memory/network.js'

// secure channel
export {
  NoiseXX,
  dhKeyPairFromSecret,
  generateDhKeyPair,
  maxNoiseMessageBytes,
} from './secure/noise.js'
export type { DhKeyPair, NoiseSplit, NoiseXXOptions } from './secure/noise.js'
export { RecordLayer, datagramOverhead, maxRecordPlaintext } from './secure/records.js'
export type { AcceptOptions, RecordLayerOptions, StreamClass } from './secure/records.js'
