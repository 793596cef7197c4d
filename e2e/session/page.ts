/**
 * The browser side of the Session suite: runs a check of `@ferry/core/testing` against the
 * browser's native `WebTransport`, connected to the fixture's responder (`main.ts`). The same
 * page serves Chromium (Playwright) and Firefox (the puppeteer runner).
 */
import type { Session } from '@ferry/core/internal'
import { runSessionCheck, sessionChecks } from '@ferry/core/testing'
import type { SessionCheckOutcome, SessionFixtureConfig } from './types.js'

const config = (await (await fetch('/config.json')).json()) as SessionFixtureConfig
const hash = Uint8Array.from(config.certificateHash.match(/../g) ?? [], (h) => parseInt(h, 16))

/** The sessions the running check opened. */
const opened: WebTransport[] = []

/** A native session to the responder, pinned to the fixture's certificate. */
function open(): Promise<Session> {
  const transport = new WebTransport(config.webTransportUrl, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
  })
  opened.push(transport)
  // The DOM's stream types are narrower than `Session`'s, not different.
  return Promise.resolve(transport as unknown as Session)
}

/** Runs the check named `name`; a failure comes back as data, so the runner can show it. */
async function run(name: string): Promise<SessionCheckOutcome> {
  const check = sessionChecks.find((c) => c.name === name)
  if (!check) return { passed: false, error: `no check is named ${JSON.stringify(name)}` }
  opened.length = 0
  try {
    await runSessionCheck(check, open)
    return { passed: true }
  } catch (e) {
    const error = describe(e)
    // `runSessionCheck` closed every session, so each `ready` has settled by now.
    for (const transport of opened) {
      const failure = await transport.ready.then(
        () => undefined,
        (reason: unknown) => describe(reason),
      )
      if (failure !== undefined) return { passed: false, error, notEstablished: failure }
    }
    return { passed: false, error }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

;(window as unknown as { ferrySessionSuite: unknown }).ferrySessionSuite = { run }
const state = document.getElementById('state')!
state.textContent = 'ready'
state.dataset.ready = 'true'
