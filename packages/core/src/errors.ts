import type { RelayCodeName } from './relay/frames.js'

/**
 * Every error ferry raises is a {@link FerryError} with a stable `code`; tests and callers
 * branch on `name` and `code`, never on message text.
 */
export class FerryError<Code extends string = string> extends Error {
  /** A stable, machine-readable reason. */
  readonly code: Code

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }

  static {
    this.prototype.name = 'FerryError'
  }
}

/** Why bytes or text from outside could not be decoded. */
export type DecodeErrorCode =
  /** The input ended before the value did. */
  | 'TRUNCATED'
  /** A length or count is above the decoder's limit. */
  | 'TOO_LARGE'
  /** Bytes or characters that no valid encoding contains. */
  | 'INVALID'
  /** A valid encoding, but not the one canonical form the format allows. */
  | 'NON_CANONICAL'
  /** Bytes left over after the value. */
  | 'TRAILING_BYTES'
  /** A version or kind this code does not know. */
  | 'UNKNOWN_VERSION'

/** Input from the network, a file or a user did not decode. */
export class DecodeError extends FerryError<DecodeErrorCode> {
  static {
    this.prototype.name = 'DecodeError'
  }
}

/** Why the authenticated handshake failed. */
export type HandshakeErrorCode =
  /** The stream ended inside a handshake message. */
  | 'TRUNCATED'
  /** A message or payload that does not parse, or is above the size limit. */
  | 'MALFORMED'
  /** A message that does not authenticate: tampered, replayed, or from another handshake. */
  | 'DECRYPT_FAILED'
  /** An identity signature that does not verify. */
  | 'BAD_SIGNATURE'
  /** The responder is not the endpoint the dialer asked for. */
  | 'WRONG_ENDPOINT'
  /**
   * The dialer verified one certificate over TLS but the acceptor's identity signed another:
   * something between them terminates TLS.
   */
  | 'CERT_HASH_MISMATCH'
  /** The two ends disagree on the ALPN, or the choice was not among the offer. */
  | 'ALPN_MISMATCH'
  /** The peer speaks a handshake version this code does not. */
  | 'UNSUPPORTED_VERSION'
  /** The peer did not finish in time. */
  | 'TIMEOUT'

/** The connection handshake failed; the connection is closed. */
export class HandshakeError extends FerryError<HandshakeErrorCode> {
  static {
    this.prototype.name = 'HandshakeError'
  }
}

/** Why an encrypted record was refused. */
export type RecordErrorCode =
  /** A record that does not authenticate (tampered, reordered or from another stream). */
  | 'AUTH_FAILED'
  /** The stream ended without its authenticated end record. */
  | 'TRUNCATED'
  /** A record above the size limit. */
  | 'TOO_LARGE'
  /** A stream or datagram number seen before, or too old to tell. */
  | 'REPLAYED'
  /** A key has sealed as many records as it safely may. */
  | 'KEY_EXHAUSTED'
  /** Bytes that no valid record, stream preamble or datagram contains, found before decrypting. */
  | 'MALFORMED'
  /** A stream the peer opened whose open record did not authenticate in time. */
  | 'TIMEOUT'
  /**
   * Too many at once: streams waiting for their open record, or datagrams that failed to
   * authenticate on one connection (its integrity limit).
   */
  | 'TOO_MANY'
  /**
   * The transport reset the stream without the peer's authenticated reset record, or stopped
   * it (STOP_SENDING): anyone on the path may have forged either. The transport's error is the `cause`; its code is not
   * the peer's word.
   */
  | 'RESET'

/** End-to-end encryption refused a record. */
export class RecordError extends FerryError<RecordErrorCode> {
  static {
    this.prototype.name = 'RecordError'
  }
}

/** Why a connection could not be made. */
export type ConnectErrorCode =
  /** The peer accepts none of the offered ALPNs. */
  | 'ALPN_REFUSED'
  /** The address has no way to reach the endpoint. */
  | 'NO_ADDRESS'
  /** The transport failed before the handshake (unreachable, refused, certificate). */
  | 'TRANSPORT'
  /** The caller's signal aborted the attempt. */
  | 'ABORTED'
  /** The endpoint is closed. */
  | 'CLOSED'

/** `connect()` failed; the `cause` holds the underlying error, if any. */
export class ConnectError extends FerryError<ConnectErrorCode> {
  static {
    this.prototype.name = 'ConnectError'
  }
}

/** Why an established connection ended or refused an operation. */
export type ConnectionErrorCode =
  /** The connection is closed; `closeCode` and `reason` say by whom and why. */
  | 'CLOSED'
  /** The transport under the connection was lost. */
  | 'LOST'

/** An operation on a closed or lost connection. */
export class ConnectionError extends FerryError<ConnectionErrorCode> {
  constructor(
    code: ConnectionErrorCode,
    message: string,
    /** The close code, when the connection was closed with one. */
    readonly closeCode?: number,
    /** The close reason, when the connection was closed with one. */
    readonly reason?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options)
  }

  static {
    this.prototype.name = 'ConnectionError'
  }
}

/**
 * A relay refused something, with a code saying why: a virtual connection (`OFFLINE`,
 * `ACCESS_DENIED`, `TOO_MANY_CONNECTIONS`, …) or this endpoint's session (`AUTH_FAILED`,
 * `REPLACED`, `SHUTTING_DOWN`, …). The numeric code of each is in `RelayCode`.
 */
export class RelayError extends FerryError<RelayCodeName> {
  static {
    this.prototype.name = 'RelayError'
  }
}
