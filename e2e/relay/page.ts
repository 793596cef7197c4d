/**
 * The browser side of the relay tests: an `@ferry/browser` endpoint on the fixture's relay that
 * serves `relay-e2e/1` and dials other endpoints by EndpointId. The spec (Chromium) and the
 * Firefox runner drive it through `window.relayE2e` ({@link RelayE2ePage}); everything it
 * returns is plain JSON.
 */
import { Endpoint, Router, SecretKey } from '@ferry/browser'
import { RELAY_E2E_ALPN, RelayE2eProtocol, hexBytes, runSteps } from './protocol.js'
import type { DialResult, ErrorResult, RelayAddress, RelayE2ePage } from './types.js'

const protocol = new RelayE2eProtocol()
let endpoint: Endpoint | undefined
/** Each relay state the endpoint went through, in order (`onRelayState`). */
const relayStates: string[] = []

function errorResult(e: unknown): ErrorResult {
  if (!(e instanceof Error)) return { name: typeof e, message: String(e) }
  const code = (e as { code?: unknown }).code
  return { name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message }
}

function started(): Endpoint {
  if (!endpoint) throw new Error('start() the endpoint first')
  return endpoint
}

const page: RelayE2ePage = {
  async start(relay: RelayAddress) {
    // The identity is this origin's, from IndexedDB: each browser context is its own endpoint.
    endpoint = await Endpoint.create({
      relay: { url: relay.url, certHashes: relay.certHashes.map(hexBytes) },
      onRelayState: (state) => relayStates.push(state.state),
    })
    Router.builder(endpoint).accept(RELAY_E2E_ALPN, protocol).spawn()
    await endpoint.online()
    return endpoint.id.toString()
  },

  served() {
    return protocol.served
  },

  relayStates() {
    return relayStates
  },

  relayState() {
    return started().relayState?.state ?? 'none'
  },

  async dial(id, steps, code, reason): Promise<DialResult> {
    try {
      const conn = await started().connect(id, RELAY_E2E_ALPN)
      const result = await runSteps(conn, steps)
      conn.close(code, reason)
      const { code: closeCode, reason: closeReason, remote } = await conn.closed
      return { steps: result, closed: { code: closeCode, reason: closeReason, remote } }
    } catch (e) {
      return { error: errorResult(e) }
    }
  },

  async dialOffline(): Promise<DialResult> {
    const nobody = (await SecretKey.generate()).publicKey
    try {
      const conn = await started().connect(nobody, RELAY_E2E_ALPN)
      conn.close(0, 'unexpected')
      return { error: { name: 'none', message: `connected to ${nobody.toString()}` } }
    } catch (e) {
      return { error: errorResult(e) }
    }
  },
}

;(window as unknown as { relayE2e: RelayE2ePage }).relayE2e = page
const state = document.getElementById('state')!
state.textContent = 'ready'
state.dataset.ready = 'true'
