import {
  type Child,
  startChatDemo,
  startChild,
  startFerryFixture,
  startFixtureProcess,
  startRelayFixture,
  startSessionFixture,
} from './processes.js'

/**
 * Starts the real servers the browser tests talk to — the echo demo (the main job), the
 * transport-check fixture, the ferry endpoints with the example pages, the responder of the
 * Session suite, and `ferry relay` with an endpoint behind it and its pages — each in its own
 * process, and hands their addresses to the tests.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const [demo, demoUrl] = await startChild(
    'apps/echo/server.ts',
    { FERRY_WT_PORT: '0', FERRY_HTTP_PORT: '0' },
    (line) => /open (http:\/\/\S+)/.exec(line)?.[1],
  )
  const started: Child[] = [demo]
  try {
    const [chat, chatUrl] = await startChatDemo()
    started.push(chat)
    process.env.FERRY_CHAT_PAGE = chatUrl
    const [fixture, { pageUrl }] = await startFixtureProcess()
    started.push(fixture)
    const [ferry, ferryFixture] = await startFerryFixture()
    started.push(ferry)
    const [session, sessionFixture] = await startSessionFixture()
    started.push(session)
    const [relay, relayFixture] = await startRelayFixture()
    started.push(relay)
    process.env.FERRY_ECHO_PAGE = demoUrl
    process.env.FERRY_CHECKS_PAGE = pageUrl
    process.env.FERRY_ENDPOINT_FIXTURE = ferryFixture
    process.env.FERRY_SESSION_FIXTURE = sessionFixture
    process.env.FERRY_RELAY_FIXTURE = relayFixture
  } catch (e) {
    await Promise.all(started.map((c) => c.stop()))
    throw e
  }
  return async () => {
    await Promise.all(started.map((c) => c.stop()))
  }
}
