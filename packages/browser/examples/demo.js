// The echo demo both example pages run: it is written against the `Ferry` namespace, which the
// ESM page imports and the script-tag page finds on `window`.

const ECHO_ALPN = 'ferry/echo/1'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

async function writeAll(writable, text) {
  const writer = writable.getWriter()
  await writer.write(encoder.encode(text))
  await writer.close()
}

async function readAll(readable) {
  let text = ''
  for await (const chunk of readable) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

/** Sends datagrams until one comes back: datagrams are unreliable, so each try may be lost. */
async function datagramEcho(conn, text) {
  const incoming = conn.datagrams()
  const next = incoming.next()
  for (let attempt = 0; attempt < 20; attempt++) {
    await conn.sendDatagram(encoder.encode(text))
    const retry = new Promise((resolve) => setTimeout(() => resolve('retry'), 250))
    const got = await Promise.race([next, retry])
    if (got !== 'retry') return decoder.decode(got.value)
  }
  throw new Error('no datagram came back')
}

/**
 * Creates (or reloads) this origin's endpoint, connects to the endpoint `ticket` names, and
 * echoes a message over a bidirectional stream, a unidirectional stream and a datagram.
 */
window.runFerryEchoDemo = async function runFerryEchoDemo(Ferry, ticket, log) {
  const result = { id: undefined, remoteId: undefined, error: undefined }
  const endpoint = await Ferry.Endpoint.create()
  result.id = endpoint.id.toString()
  log(`this endpoint: ${result.id}`)
  if (!ticket) {
    log('add ?ticket=… (from `ferry echo`) to the address to connect')
    return result
  }
  try {
    const conn = await endpoint.connect(ticket, ECHO_ALPN)
    result.remoteId = conn.remoteId.toString()
    result.alpn = conn.alpn
    result.encrypted = conn.encrypted
    log(
      `connected to ${result.remoteId} (${conn.alpn}, ${conn.encrypted ? 'encrypted end to end' : 'TLS bound to its identity'})`,
    )

    const bidi = await conn.openBi()
    const [, bidiText] = await Promise.all([
      writeAll(bidi.writable, 'hello over a bidi stream'),
      readAll(bidi.readable),
    ])
    result.bidi = bidiText
    log(`bidi echo: ${bidiText}`)

    await writeAll(await conn.openUni(), 'hello over a uni stream')
    const { value: uniEcho } = await conn.uniStreams().next()
    result.uni = await readAll(uniEcho)
    log(`uni echo: ${result.uni}`)

    result.datagram = await datagramEcho(conn, 'hello as a datagram')
    log(`datagram echo: ${result.datagram}`)

    conn.close(0, 'demo done')
    result.closed = await conn.closed
  } catch (e) {
    const cause = e.cause ? `${e.cause.name}: ${e.cause.message}` : undefined
    result.error = { name: e.name, code: e.code, message: e.message, cause }
    log(`failed: ${e.name} ${e.code ?? ''}: ${e.message}${cause ? ` (${cause})` : ''}`)
  } finally {
    await endpoint.close()
  }
  return result
}

/**
 * Dials the endpoint `ticket` names `times` times, offering only an ALPN it does not serve, and
 * returns how each attempt ended (`name:code`). Every one should be `ConnectError:ALPN_REFUSED`.
 */
window.ferryRefusals = async function ferryRefusals(Ferry, ticket, times) {
  const endpoint = await Ferry.Endpoint.create({ storage: 'ephemeral' })
  const outcomes = []
  try {
    for (let i = 0; i < times; i++) {
      try {
        const conn = await endpoint.connect(ticket, 'nobody-serves/1')
        conn.close(0, 'unexpected')
        outcomes.push('connected')
      } catch (e) {
        outcomes.push(`${e.name}:${e.code}`)
      }
    }
  } finally {
    await endpoint.close()
  }
  return outcomes
}
