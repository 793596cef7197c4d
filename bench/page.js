// Browser side of `bench/transport.ts`. Plain JavaScript served as-is by the bench's HTTP
// server; every function returns milliseconds measured with `performance.now()` in the page, so
// WebTransport and WebSocket are timed by the same clock the same way.

const config = await (await fetch('/config.json')).json()
const certificateHash = Uint8Array.from(config.certificateHash.match(/../g), (h) => parseInt(h, 16))
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const chunkBytes = 64 * 1024
// One chunk for every send. Nothing writes to it after this line, so handing the same buffer
// to a write that has not completed yet is safe.
const chunk = crypto.getRandomValues(new Uint8Array(chunkBytes))

/**
 * How much a WebSocket may hold unsent before the page waits. The wait polls on a timer
 * (there is no event for `bufferedAmount` falling), and nested timers are clamped to 4 ms; at
 * a few hundred MiB/s a 4 ms pause drains about 1–2 MiB, so 8 MiB keeps the socket busy.
 */
const wsHighWaterBytes = 8 * 1024 * 1024

/** Opens a session on the server's `/up`, `/down` or `/setup` route. */
function openWebTransport(path) {
  return new WebTransport(`${config.webTransportUrl}${path}`, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: certificateHash }],
  })
}

function openWebSocket() {
  const ws = new WebSocket(config.webSocketUrl)
  ws.binaryType = 'arraybuffer'
  return ws
}

function opened(ws) {
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error('WebSocket failed to open'))
  })
}

function closedSocket(ws) {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve()
    else ws.addEventListener('close', () => resolve(), { once: true })
  })
}

async function readAll(readable) {
  let text = ''
  for (const reader = readable.getReader(); ;) {
    const { value, done } = await reader.read()
    if (done) return text + decoder.decode()
    text += decoder.decode(value, { stream: true })
  }
}

async function closeWebTransport(wt) {
  wt.close()
  await wt.closed.catch(() => {})
}

function expectCount(what, got, bytes) {
  if (got !== bytes) throw new Error(`${what}: receiver counted ${got} bytes, sent ${bytes}`)
}

/** Closes a WebSocket that is done, without its close counting as a failure. */
async function closeWebSocket(ws) {
  ws.onclose = null
  ws.close()
  await closedSocket(ws)
}

/**
 * Milliseconds since `started`, taken before `close()` runs so teardown is not timed; then
 * checks, when given, that the receiver counted all `[label, counted, bytes]`.
 */
async function stopClock(started, close, check) {
  const ms = performance.now() - started
  await close()
  if (check) expectCount(...check)
  return ms
}

window.ferryBench = {
  /** Page → server on one bidi stream; the server answers with the byte count it received. */
  async webTransportUp(bytes) {
    const wt = openWebTransport('/up')
    await wt.ready
    const { readable, writable } = await wt.createBidirectionalStream()
    const writer = writable.getWriter()
    const started = performance.now()
    for (let sent = 0; sent < bytes; sent += chunkBytes) {
      await writer.ready
      // Not awaited: `ready` is the backpressure signal, and the chunk is never modified. A
      // failed write also fails `close()` below, which is where it is reported.
      writer
        .write(sent + chunkBytes <= bytes ? chunk : chunk.subarray(0, bytes - sent))
        .catch(() => {})
    }
    await writer.close()
    const counted = Number(await readAll(readable))
    return stopClock(started, () => closeWebTransport(wt), ['WebTransport upload', counted, bytes])
  },

  /** Asks for `bytes` on one bidi stream and counts them as they arrive. */
  async webTransportDown(bytes) {
    const wt = openWebTransport('/down')
    await wt.ready
    const { readable, writable } = await wt.createBidirectionalStream()
    const writer = writable.getWriter()
    const started = performance.now()
    await writer.write(encoder.encode(String(bytes)))
    await writer.close()
    let got = 0
    for (const reader = readable.getReader(); ;) {
      const { value, done } = await reader.read()
      if (done) break
      got += value.byteLength
    }
    return stopClock(started, () => closeWebTransport(wt), ['WebTransport download', got, bytes])
  },

  /** Page → server in binary messages; the server answers with a text message of its count. */
  async webSocketUp(bytes) {
    const ws = openWebSocket()
    await opened(ws)
    const answer = new Promise((resolve, reject) => {
      ws.onmessage = (e) => resolve(Number(e.data))
      ws.onclose = () => reject(new Error('WebSocket closed before the server answered'))
    })
    const started = performance.now()
    ws.send(`up ${bytes}`)
    for (let sent = 0; sent < bytes; sent += chunkBytes) {
      while (ws.bufferedAmount > wsHighWaterBytes) await new Promise((r) => setTimeout(r, 0))
      ws.send(sent + chunkBytes <= bytes ? chunk : chunk.subarray(0, bytes - sent))
    }
    const counted = await answer
    return stopClock(started, () => closeWebSocket(ws), ['WebSocket upload', counted, bytes])
  },

  /** Asks for `bytes` in binary messages and counts them as they arrive. */
  async webSocketDown(bytes) {
    const ws = openWebSocket()
    await opened(ws)
    let got = 0
    const done = new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        got += e.data.byteLength
        if (got >= bytes) resolve()
      }
      ws.onclose = () => reject(new Error(`WebSocket closed after ${got} of ${bytes} bytes`))
    })
    const started = performance.now()
    ws.send(`down ${bytes}`)
    await done
    return stopClock(started, () => closeWebSocket(ws), ['WebSocket download', got, bytes])
  },

  /** `new WebTransport(…)` until `ready`, in ms; the session is closed before returning. */
  async webTransportSetup() {
    const started = performance.now()
    const wt = openWebTransport('/setup')
    await wt.ready
    return stopClock(started, () => closeWebTransport(wt))
  },

  /** `new WebSocket(…)` until `open`, in ms; the socket is closed before returning. */
  async webSocketSetup() {
    const started = performance.now()
    const ws = openWebSocket()
    await opened(ws)
    return stopClock(started, () => closeWebSocket(ws))
  },
}

document.body.dataset.ready = 'true'
