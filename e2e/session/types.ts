/** What `e2e/session/main.ts` prints once it listens. */
export interface SessionFixture {
  /** The page that runs the Session suite's checks (`window.ferrySessionSuite.run(name)`). */
  pageUrl: string
}

/** What the page fetches from `/config.json`: where the responder listens. */
export interface SessionFixtureConfig {
  webTransportUrl: string
  /** SHA-256 of the server's certificate, as hex. */
  certificateHash: string
}

/**
 * What `window.ferrySessionSuite.run(name)` resolves with. A failed check says as well whether
 * one of its sessions never came up (`ready` rejected): then the browser could not establish
 * the session, and the check's own assertion was never reached.
 */
export type SessionCheckOutcome =
  { passed: true } | { passed: false; error: string; notEstablished?: string }
