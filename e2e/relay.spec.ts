/**
 * Browsers reaching each other through a relay started by `ferry relay`: two browser contexts
 * (so two identities, each kept in its context's IndexedDB) register with the fixture's relay
 * (`e2e/relay/main.ts`) and connect by EndpointId alone; a browser dials the fixture's Node
 * endpoint, which does not listen; a dial to an id nobody registered fails at once; two tabs of
 * one origin, one identity, take turns on the relay instead of fighting over it; and the
 * relay process is killed and started again (same key file, so same id and certificate) while
 * two pages are on it: they come back online by themselves and connect again, without a reload.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test'
import type {
  DialResult,
  RelayAddress,
  RelayE2ePage,
  RelayFixture,
  ServedConnection,
  StepsOptions,
} from './relay/types.js'

const MiB = 1024 * 1024

const fixture = (): RelayFixture => JSON.parse(process.env.FERRY_RELAY_FIXTURE!) as RelayFixture

/** The contexts a test opened, closed after it. */
const contexts: BrowserContext[] = []

test.afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()))
})

/**
 * A page of its own browser context (or of `context`: another tab of that origin, with the same
 * identity), its endpoint started on the relay; with its id.
 */
async function onlinePeer(
  browser: Browser,
  context?: BrowserContext,
): Promise<{ page: Page; id: string }> {
  if (!context) {
    context = await browser.newContext()
    contexts.push(context)
  }
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('page error:', e))
  await page.goto(fixture().pagesUrl)
  await expect(page.locator('#state')).toHaveAttribute('data-ready', 'true')
  const id = await page.evaluate(
    (relay) => (window as unknown as { relayE2e: RelayE2ePage }).relayE2e.start(relay),
    fixture().relay,
  )
  return { page, id }
}

async function dial(
  page: Page,
  id: string,
  steps: StepsOptions,
  code: number,
  reason: string,
): Promise<DialResult> {
  return page.evaluate(
    ([id, steps, code, reason]) =>
      (window as unknown as { relayE2e: RelayE2ePage }).relayE2e.dial(id, steps, code, reason),
    [id, steps, code, reason] as const,
  )
}

/** Waits until `page` has served a connection from `peer` that has closed; returns it. */
async function closedServedFrom(page: Page, peer: string): Promise<ServedConnection> {
  const handle = await page.waitForFunction(
    (peer) =>
      (window as unknown as { relayE2e: RelayE2ePage }).relayE2e
        .served()
        .find((c) => c.peer === peer && c.closed !== undefined),
    peer,
  )
  return (await handle.jsonValue()) as ServedConnection
}

/** The relay states `page`'s endpoint went through so far. */
async function relayStates(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (window as unknown as { relayE2e: RelayE2ePage }).relayE2e.relayStates(),
  )
}

/**
 * Waits until `page`'s endpoint, after the first `seen` relay states, lost its relay session
 * (some state other than online) and is online again, by itself.
 */
async function backOnline(page: Page, seen: number): Promise<string[]> {
  const handle = await page.waitForFunction(
    (seen) => {
      const e2e = (window as unknown as { relayE2e: RelayE2ePage }).relayE2e
      const since = e2e.relayStates().slice(seen)
      const lost = since.some((state) => state !== 'online')
      return lost && since.at(-1) === 'online' && e2e.relayState() === 'online' && since
    },
    seen,
    { timeout: 90_000 },
  )
  return (await handle.jsonValue()) as string[]
}

function expectSteps(result: DialResult, remoteId: string, steps: StepsOptions): void {
  expect(result.error).toBeUndefined()
  expect(result.steps).toMatchObject({
    remoteId,
    path: 'relay',
    alpn: 'relay-e2e/1',
    bidi: `bidi ${steps.text}`,
    uni: `echo:uni ${steps.text}`,
    datagram: `echo:datagram ${steps.text}`,
  })
  if (steps.hashBytes > 0) {
    const hash = result.steps!.hash!
    expect(hash.bytes).toBe(steps.hashBytes)
    expect(hash.got).toMatch(/^[0-9a-f]{64}$/)
    expect(hash.got).toBe(hash.expected)
  }
}

test.describe('browsers through `ferry relay`', () => {
  test('two browsers connect by EndpointId: streams and datagrams both ways, 64 MiB hashed, close code and reason on both sides', async ({
    browser,
  }) => {
    const [a, b] = await Promise.all([onlinePeer(browser), onlinePeer(browser)])
    expect(a.id).not.toBe(b.id)
    expect(a.id).toMatch(/^[a-z2-7]{52}$/)

    // a → b, with the big transfer.
    const aToB: StepsOptions = { text: 'from a', hashBytes: 64 * MiB, seed: 1 }
    const there = await dial(a.page, b.id, aToB, 4242, 'a is done')
    expectSteps(there, b.id, aToB)
    console.log(
      `chromium → relay → chromium: 64 MiB hashed in ${there.steps!.hash!.ms} ms ` +
        `(${((64 * 1000) / there.steps!.hash!.ms).toFixed(1)} MiB/s)`,
    )
    expect(there.closed).toEqual({ code: 4242, reason: 'a is done', remote: false })
    const servedByB = await closedServedFrom(b.page, a.id)
    expect(servedByB).toEqual({
      peer: a.id,
      path: 'relay',
      closed: { code: 4242, reason: 'a is done', remote: true },
      errors: [],
    })

    // b → a: the other way round, on a connection b dials.
    const bToA: StepsOptions = { text: 'from b', hashBytes: 1 * MiB, seed: 2 }
    const back = await dial(b.page, a.id, bToA, 7, 'b is done too')
    expectSteps(back, a.id, bToA)
    expect(back.closed).toEqual({ code: 7, reason: 'b is done too', remote: false })
    expect(await closedServedFrom(a.page, b.id)).toEqual({
      peer: b.id,
      path: 'relay',
      closed: { code: 7, reason: 'b is done too', remote: true },
      errors: [],
    })
  })

  test('a browser dials the Node endpoint that is reachable only through the relay', async ({
    browser,
  }) => {
    const { page } = await onlinePeer(browser)
    const steps: StepsOptions = { text: 'to node', hashBytes: 4 * MiB, seed: 3 }
    const result = await dial(page, fixture().nodeId, steps, 1, 'bye, node')
    expectSteps(result, fixture().nodeId, steps)
    expect(result.closed).toEqual({ code: 1, reason: 'bye, node', remote: false })
  })

  test('dialing an id that is not on the relay fails at once with RelayError OFFLINE', async ({
    browser,
  }) => {
    const { page } = await onlinePeer(browser)
    const result = await page.evaluate(() =>
      (window as unknown as { relayE2e: RelayE2ePage }).relayE2e.dialOffline(),
    )
    expect(result.error).toMatchObject({ name: 'RelayError', code: 'OFFLINE' })
  })

  test('two tabs of one origin share its identity: the newer is reached, the older stands by and takes over when the newer closes', async ({
    browser,
  }) => {
    const context = await browser.newContext()
    contexts.push(context)
    const older = await onlinePeer(browser, context)
    const newer = await onlinePeer(browser, context)
    expect(newer.id).toBe(older.id)
    const relayStateIs = (page: Page, state: string) =>
      page.waitForFunction(
        (state) =>
          (window as unknown as { relayE2e: RelayE2ePage }).relayE2e.relayState() === state,
        state,
      )
    await relayStateIs(older.page, 'standby')
    const dialer = await onlinePeer(browser)

    const steps: StepsOptions = { text: 'to the tab', hashBytes: 0, seed: 4 }
    expectSteps(await dial(dialer.page, older.id, steps, 1, 'first'), older.id, steps)
    expect((await closedServedFrom(newer.page, dialer.id)).closed).toMatchObject({ code: 1 })

    await newer.page.close()
    await relayStateIs(older.page, 'online')
    expectSteps(await dial(dialer.page, older.id, steps, 2, 'second'), older.id, steps)
    expect((await closedServedFrom(older.page, dialer.id)).closed).toMatchObject({ code: 2 })
    // Neither tab lost the relay on the way: they did not fight over the id.
    expect(await relayStates(older.page)).toEqual(['connecting', 'online', 'standby', 'online'])
  })

  // Last: the relay it restarts is the one the other tests use.
  test('the relay process is killed and restarted: both pages come back online by themselves and connect again by EndpointId', async ({
    browser,
  }) => {
    const [a, b] = await Promise.all([onlinePeer(browser), onlinePeer(browser)])
    const seen = await Promise.all([relayStates(a.page), relayStates(b.page)])
    expect(seen.map((states) => states.at(-1))).toEqual(['online', 'online'])

    // SIGKILL: the relay says no goodbye; the pages find out from the transport.
    const response = await fetch(new URL('/restart-relay', fixture().pagesUrl), { method: 'POST' })
    expect(response.status).toBe(200)
    const restarted = (await response.json()) as RelayAddress
    // Same key file: same id, same certificate, so the hashes the pages pinned still hold.
    const { url, id, certHashes } = restarted
    expect({ url, id, certHashes }).toEqual(fixture().relay)

    const [aSince, bSince] = await Promise.all([
      backOnline(a.page, seen[0].length),
      backOnline(b.page, seen[1].length),
    ])
    console.log(`after the restart: a ${aSince.join(' → ')}; b ${bSince.join(' → ')}`)

    const steps: StepsOptions = { text: 'after the restart', hashBytes: 1 * MiB, seed: 4 }
    const result = await dial(a.page, b.id, steps, 9, 'restarted')
    expectSteps(result, b.id, steps)
    expect(result.closed).toEqual({ code: 9, reason: 'restarted', remote: false })
    expect(await closedServedFrom(b.page, a.id)).toEqual({
      peer: a.id,
      path: 'relay',
      closed: { code: 9, reason: 'restarted', remote: true },
      errors: [],
    })
  })
})
