/** What `e2e/ferry/main.ts` prints: the example pages and the endpoints they connect to. */
export interface FerryFixture {
  /** Base URL of the dev server; the examples are under `examples/`. */
  pagesUrl: string
  /** The echo endpoint's ticket. */
  ticket: string
  /** A ticket naming the echo endpoint's id but reaching the impostor (same certificate). */
  impostorTicket: string
  /** The echo endpoint's id. */
  echoId: string
}

/** What the example pages' echo demo leaves in `window.ferryDemoResult`. */
export interface DemoResult {
  id: string
  remoteId?: string
  alpn?: string
  encrypted?: boolean
  bidi?: string
  uni?: string
  datagram?: string
  closed?: { code: number; reason: string; remote: boolean }
  error?: { name: string; code?: string; message: string }
}
