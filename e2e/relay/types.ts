/** What `e2e/relay/main.ts` prints: the pages, the relay and the Node endpoint behind it. */
export interface RelayFixture {
  /** Base URL of the Vite dev server serving `index.html` (which loads `page.ts`). */
  pagesUrl: string
  /** The relay, as `ferry relay --json` printed it. */
  relay: RelayAddress
  /** The Node endpoint that serves `relay-e2e/1` and is reachable only through the relay. */
  nodeId: string
}

/** A relay's address in JSON: its URL, its certificate hashes in hex, its EndpointId. */
export interface RelayAddress {
  url: string
  certHashes: string[]
  id: string
}

/** How a connection ended, as `Connection.closed` reported it. */
export interface ClosedResult {
  code: number
  reason: string
  remote: boolean
  /** With `UNAUTHENTICATED_CLOSE`: the transport's code and reason (see `ConnectionCloseInfo`). */
  transport?: { code: number; reason: string }
}

/** A connection the `relay-e2e/1` server accepted, as it saw it. */
export interface ServedConnection {
  /** The dialer's EndpointId. */
  peer: string
  path: 'direct' | 'relay'
  /** Set once the connection closed. */
  closed?: ClosedResult
  /** What failed while serving it (each an `Name: message`); empty when all went well. */
  errors: string[]
}

/** What a dialer does on a `relay-e2e/1` connection (see `runSteps` in `protocol.ts`). */
export interface StepsOptions {
  /** Sent in each message, so the answers tell the runs apart. */
  text: string
  /** Bytes of the hashed transfer; 0 for none. */
  hashBytes: number
  /** The seed of the PRNG that makes those bytes. */
  seed: number
}

/** The hashed transfer, as the dialer measured it. */
export interface HashResult {
  bytes: number
  /** SHA-256 (hex) of what the dialer sent, computed by the dialer. */
  expected: string
  /** What the peer answered: the SHA-256 (hex) of what it received. */
  got: string
  /** From opening the stream to reading the answer. */
  ms: number
}

/** The answers the dialer got. */
export interface StepsResult {
  remoteId: string
  path: 'direct' | 'relay'
  alpn: string
  bidi: string
  uni: string
  datagram: string
  /** How many datagrams were sent before an echo came back (they are unreliable). */
  datagramsSent: number
  hash?: HashResult
}

/** A dial, its steps and its close, or the error it failed with (serialised by the page). */
export interface DialResult {
  steps?: StepsResult
  closed?: ClosedResult
  error?: ErrorResult
}

/** An error serialised out of the page: tests assert on `name` and `code`. */
export interface ErrorResult {
  name: string
  code?: string
  message: string
}

/** What the page puts on `window.relayE2e`. */
export interface RelayE2ePage {
  /** Starts the endpoint on the relay, serves `relay-e2e/1`, waits until online; its id. */
  start(relay: RelayAddress): Promise<string>
  /** The connections served so far. */
  served(): ServedConnection[]
  /** Each relay state the endpoint went through (`connecting`, `online`, …), in order. */
  relayStates(): string[]
  /** The endpoint's relay state now (`endpoint.relayState.state`). */
  relayState(): string
  /** Dials `id` by EndpointId, runs the steps, closes with `code` and `reason`. */
  dial(id: string, steps: StepsOptions, code: number, reason: string): Promise<DialResult>
  /** Dials a freshly made EndpointId that nobody registered: the error it fails with. */
  dialOffline(): Promise<DialResult>
}
