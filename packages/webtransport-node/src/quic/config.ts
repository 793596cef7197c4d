import { rootCertificates } from 'node:tls'
import { quiche, type NativeConfig } from './native.js'

/** QUIC transport settings shared by server and client. */
export interface QuicOptions {
  /** Idle timeout in milliseconds. Default 30 000. */
  idleTimeoutMs?: number
  /** Congestion control. Default `cubic`. */
  congestionControl?: 'cubic' | 'reno' | 'bbr'
}

const enc = new TextEncoder()

/**
 * Flow-control windows. They bound what one connection can make us buffer: quiche keeps
 * unread stream bytes only up to these windows, and streams are read only on demand.
 */
const windows = {
  connection: 24 * 1024 * 1024,
  stream: 8 * 1024 * 1024,
  maxConnection: 48 * 1024 * 1024,
  maxStream: 16 * 1024 * 1024,
}

function configure(config: NativeConfig, options: QuicOptions): NativeConfig {
  config.setApplicationProtos(['h3'])
  config.setMaxIdleTimeout(options.idleTimeoutMs ?? 30_000)
  config.setMaxRecvUdpPayloadSize(1500)
  config.setMaxSendUdpPayloadSize(1350)
  config.setInitialMaxData(windows.connection)
  config.setInitialMaxStreamDataBidiLocal(windows.stream)
  config.setInitialMaxStreamDataBidiRemote(windows.stream)
  config.setInitialMaxStreamDataUni(windows.stream)
  config.setMaxConnectionWindow(windows.maxConnection)
  config.setMaxStreamWindow(windows.maxStream)
  config.setInitialMaxStreamsBidi(256)
  config.setInitialMaxStreamsUni(256)
  config.setDisableActiveMigration(true)
  config.enableDgram(true, 1024, 1024)
  config.setCcAlgorithmName(options.congestionControl ?? 'cubic')
  config.enablePacing(true)
  config.grease(true)
  return config
}

/** A server config presenting `certificate`. */
export function serverConfig(
  certificate: { certPem: string; keyPem: string },
  options: QuicOptions,
): NativeConfig {
  const config = quiche.Config.withBoringSslCtx(
    false,
    false,
    null,
    [enc.encode(certificate.keyPem)],
    [enc.encode(certificate.certPem)],
    null,
  )
  return configure(config, options)
}

/**
 * A client config. With `verifyWithRoots` the server's chain is checked against Node's bundled
 * root CAs by BoringSSL; without it the caller checks the certificate hash itself.
 */
export function clientConfig(verifyWithRoots: boolean, options: QuicOptions): NativeConfig {
  const config = verifyWithRoots
    ? quiche.Config.withBoringSslCtx(
        true,
        false,
        enc.encode(rootCertificates.join('\n')),
        null,
        null,
        null,
      )
    : quiche.Config.withBoringSslCtx(false, false, null, null, null, null)
  return configure(config, options)
}
