import { startChild, startFixtureProcess } from './processes.js'

/**
 * Starts the real servers the browser tests talk to — the echo demo (the main job) and the
 * transport-check fixture — each in its own process, and hands their pages to the tests.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const [demo, demoUrl] = await startChild(
    'apps/echo/server.ts',
    { FERRY_WT_PORT: '0', FERRY_HTTP_PORT: '0' },
    (line) => /open (http:\/\/\S+)/.exec(line)?.[1],
  )
  let fixture, pageUrl
  try {
    ;[fixture, { pageUrl }] = await startFixtureProcess()
  } catch (e) {
    await demo.stop()
    throw e
  }
  process.env.FERRY_ECHO_PAGE = demoUrl
  process.env.FERRY_CHECKS_PAGE = pageUrl
  return async () => {
    await Promise.all([demo.stop(), fixture.stop()])
  }
}
