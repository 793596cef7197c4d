/** What `ferry relay --json` prints: the relay's URL, certificate hashes (hex) and id. */
export interface RelayAddress {
  url: string
  certHashes: string[]
  id: string
  http?: string
}

/** The path a connection took, as `Connection.path` says. */
export type Path = 'direct' | 'relay'

/** What the bench page puts on `window.ferryRelayBench`; times are milliseconds. */
export interface RelayBenchPage {
  /** Starts an endpoint on the relay (an ephemeral identity), serves the bench protocol; its id. */
  start(relay: RelayAddress): Promise<string>
  /** Connects to `target` (a ticket or an EndpointId) and keeps the connection as `key`. */
  open(key: string, target: string, path: Path): Promise<void>
  /** Sends `bytes` on a fresh stream of connection `key` for the peer to count. */
  send(key: string, bytes: number): Promise<number>
  /** One echoed byte on a fresh stream of connection `key`. */
  echo(key: string): Promise<number>
  /** From nothing to a first echoed byte: connect to `target`, echo, close. */
  connectEcho(target: string, path: Path): Promise<number>
  /** Closes connection `key`. */
  close(key: string): void
  /** Failures while serving, as `Name: message`. */
  errors(): string[]
}
