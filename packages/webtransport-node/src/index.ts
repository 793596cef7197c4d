/**
 * `@ferry/webtransport-node`: WebTransport over HTTP/3 for Node.js, on `@matrixai/quic` — a
 * server that browsers reach over real QUIC, and a client shaped like the browser's
 * `WebTransport`.
 * @module @ferry/webtransport-node
 */
export { WebTransportServer } from './server.js'
export type {
  CertificatePair,
  Route,
  SessionDecision,
  SessionRequest,
  WebTransportServerOptions,
} from './server.js'
export { WebTransport } from './client.js'
export type { WebTransportHash, WebTransportOptions } from './client.js'
export { WebTransportSession } from './wt/session.js'
export type {
  WebTransportCloseInfo,
  WebTransportConnectionStats,
  WebTransportDatagramDuplexStream,
} from './wt/session.js'
export type { WebTransportBidirectionalStream } from './wt/streams.js'
export { WebTransportError } from './wt/error.js'
export type { WebTransportErrorOptions } from './wt/error.js'
export {
  ConnectionClosedError,
  H3,
  Http3Error,
  Http3StreamError,
  LimitError,
  QpackError,
} from './errors.js'
export { defaultLimits } from './h3/connection.js'
export type { Http3Limits, HeaderList } from './h3/connection.js'
export type { QuicOptions } from './quic/config.js'
export { MAX_VALIDITY_DAYS, certificateHash, createCertificate } from './cert.js'
export type { Certificate, CreateCertificateOptions } from './cert.js'
