import type { NativeConnection } from './native.js'

/** Why a connection ended, from whichever side closed it. */
export interface QuicCloseInfo {
  /** `true` when closed with an application (HTTP/3) error code. */
  app: boolean
  code: number
  reason: string
  /** `'local'`, `'peer'`, or `'idle'` when the idle timeout fired. */
  by: 'local' | 'peer' | 'idle'
}

/**
 * Whether the connection is over for the layers above: closed, or draining (RFC 9000 §10.2.2)
 * after a CONNECTION_CLOSE was received or sent. In draining nothing more is sent or read, so
 * there is no need to wait the three PTOs quiche keeps the connection for.
 */
export function isClosing(native: NativeConnection): boolean {
  return native.isClosed() || native.isDraining()
}

/** Reads why the connection ended; the peer's error comes first. */
export function closeInfoOf(native: NativeConnection): QuicCloseInfo {
  const peer = native.peerError()
  const err = peer ?? native.localError()
  return {
    app: err?.isApp ?? false,
    code: err?.errorCode ?? 0,
    reason: err ? new TextDecoder().decode(err.reason) : '',
    by: native.isTimedOut() && !err ? 'idle' : peer ? 'peer' : 'local',
  }
}
