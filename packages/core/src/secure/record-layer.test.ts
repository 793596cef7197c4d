import { afterEach, describe, expect, it, vi } from 'vitest'
import { RecordError } from '../errors.js'
import { toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { NoiseXX, generateDhKeyPair } from './noise.js'
import { datagramOverhead } from './record-format.js'
import {
  acceptorKey,
  acceptorLayer,
  deferred,
  dialerKey,
  expectRecordError,
  layers,
  openingFor,
  sink,
  source,
  transportPair,
  utf8,
  writeAll,
} from './record-fixtures.js'
import { readBytes } from '../testing.js'
import { RecordLayer, type RecordLayerOptions } from './record-layer.js'

describe('RecordLayer streams', () => {
  it('round-trips seeded random writes over random chunkings, both ways on bidi streams', async () => {
    const cases = [
      { seed: 1, maxPiece: 1, size: 20_000, maxWrite: 3000 },
      { seed: 2, maxPiece: 7, size: 60_000, maxWrite: 70_000 },
      { seed: 3, maxPiece: 1500, size: 400_000, maxWrite: 9000 },
      { seed: 4, maxPiece: 100_000, size: 700_000, maxWrite: 300_000 },
      { seed: 5, maxPiece: 70_000, size: 1, maxWrite: 1 },
      { seed: 6, maxPiece: 3, size: 5000, maxWrite: 1 },
    ]
    for (const { seed, maxPiece, size, maxWrite } of cases) {
      const prng = new Prng(seed)
      const { dialer, acceptor } = await layers()
      const [dialerSide, acceptorSide] = transportPair(prng, maxPiece)
      const opened = dialer.openedBidi(dialerSide)
      const accepted = await acceptor.acceptedBidi(acceptorSide)
      const request = prng.bytes(size)
      const response = prng.bytes(1 + prng.int(size))
      const [, , gotRequest, gotResponse] = await Promise.all([
        writeAll(opened.writable, request, new Prng(seed * 7), maxWrite),
        writeAll(accepted.writable, response, new Prng(seed * 11), maxWrite),
        readBytes(accepted.readable),
        readBytes(opened.readable),
      ])
      expect(toHex(gotRequest)).toBe(toHex(request))
      expect(toHex(gotResponse)).toBe(toHex(response))
    }
  })

  it('lets the acceptor answer a bidi stream the opener has not written to', async () => {
    const { dialer, acceptor } = await layers()
    const [dialerSide, acceptorSide] = transportPair()
    const opened = dialer.openedBidi(dialerSide)
    const accepted = await acceptor.acceptedBidi(acceptorSide)
    const answer = accepted.writable.getWriter()
    await answer.write(utf8('pong'))
    const reader = opened.readable.getReader()
    expect(await reader.read()).toEqual({ value: utf8('pong'), done: false })
    await answer.close()
    expect((await reader.read()).done).toBe(true)
    await writeAll(opened.writable, utf8('ping'), new Prng(1), 10)
    expect(await readBytes(accepted.readable)).toEqual(utf8('ping'))
  })

  it('works with the keys of a real Noise handshake, datagrams included', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue: utf8('x') })
    const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue: utf8('x') })
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))
    await i.readMessage(await r.writeMessage(new Uint8Array(0)))
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))
    const ik = i.split()
    const rk = r.split()
    const dialer = await RecordLayer.create({
      sendKey: ik.initiatorToResponder,
      receiveKey: ik.responderToInitiator,
      isDialer: true,
    })
    const acceptor = await RecordLayer.create({
      sendKey: rk.responderToInitiator,
      receiveKey: rk.initiatorToResponder,
      isDialer: false,
    })
    const [dialerSide, acceptorSide] = transportPair()
    const opened = dialer.openedBidi(dialerSide)
    const accepted = await acceptor.acceptedBidi(acceptorSide)
    // Both directions are read while they are written: backpressure holds a writer whose
    // reader is not reading.
    const [, , got, back] = await Promise.all([
      writeAll(opened.writable, utf8('hello'), new Prng(1), 2),
      writeAll(accepted.writable, utf8('world'), new Prng(2), 3),
      readBytes(accepted.readable),
      readBytes(opened.readable),
    ])
    expect(got).toEqual(utf8('hello'))
    expect(back).toEqual(utf8('world'))
    expect(await dialer.unsealDatagram(await acceptor.sealDatagram(utf8('d')))).toEqual(utf8('d'))
  })
})

describe('RecordLayer datagrams', () => {
  it('round-trips datagrams with 24 bytes of overhead', async () => {
    const { dialer, acceptor } = await layers()
    for (const size of [0, 1, 1000, 65536]) {
      const payload = new Prng(size).bytes(size)
      const sealed = await dialer.sealDatagram(payload)
      expect(sealed.length).toBe(size + datagramOverhead)
      expect(await acceptor.unsealDatagram(sealed)).toEqual(payload)
    }
    const back = await acceptor.sealDatagram(utf8('back'))
    expect(await dialer.unsealDatagram(back)).toEqual(utf8('back'))
    // Sealed by the acceptor for the dialer: an acceptor cannot unseal it.
    await expect((await acceptorLayer()).unsealDatagram(back)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    })
  })

  it('refuses a flipped bit in any byte, and short datagrams', async () => {
    const { dialer } = await layers()
    const sealed = await dialer.sealDatagram(utf8('payload'))
    for (let position = 0; position < sealed.length; position++) {
      const tampered = sealed.slice()
      tampered[position]! ^= 1 << (position % 8)
      const error = await (await acceptorLayer()).unsealDatagram(tampered).catch((e: unknown) => e)
      expectRecordError(error, ['AUTH_FAILED'])
    }
    for (const length of [0, 8, 23]) {
      const error = await (
        await acceptorLayer()
      )
        .unsealDatagram(new Uint8Array(length))
        .catch((e: unknown) => e)
      expectRecordError(error, ['MALFORMED'])
    }
  })

  it('gives only RecordError for seeded garbage', async () => {
    const prng = new Prng(77)
    const acceptor = await acceptorLayer()
    for (let round = 0; round < 500; round++) {
      const garbage = prng.bytes(prng.int(80))
      if (prng.int(2) === 0) garbage.fill(0, 0, Math.min(5, garbage.length))
      const error = await acceptor.unsealDatagram(garbage).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RecordError)
    }
  })
})

describe('RecordLayer limits and options', () => {
  it('stops opening streams after the index budget of a class', async () => {
    const { dialer } = await layers({ streams: 2 })
    dialer.openedUni(new WritableStream())
    dialer.openedUni(new WritableStream())
    const aborted = deferred<unknown>()
    let thrown: unknown
    try {
      dialer.openedUni(new WritableStream({ abort: (reason) => aborted.resolve(reason) }))
    } catch (error) {
      thrown = error
    }
    expectRecordError(thrown, ['KEY_EXHAUSTED'])
    expect(await aborted.promise).toBe(thrown)
    // Bidi streams are another class, with their own budget.
    const [stream] = transportPair()
    dialer.openedBidi(stream)
  })

  it('refuses malformed keys', async () => {
    const good = () => ({ sendKey: dialerKey(), receiveKey: acceptorKey(), isDialer: true })
    await expect(RecordLayer.create({ ...good(), sendKey: new Uint8Array(16) })).rejects.toThrow(
      TypeError,
    )
    await expect(RecordLayer.create({ ...good(), receiveKey: dialerKey() })).rejects.toThrow(
      TypeError,
    )
  })
})

describe('RecordLayer close and reset records', () => {
  /** The wire bytes of `layer`'s close record, as one transport chunk. */
  async function closeStream(
    layer: RecordLayer,
    code: number,
    reason: string,
  ): Promise<Uint8Array> {
    const { writable, chunks } = sink()
    await layer.sendClose(writable, code, reason)
    expect(chunks.length).toBe(1)
    return chunks[0]!
  }

  it('carries a close in one write: preamble, close record header (4, length), ciphertext', async () => {
    const { dialer, acceptor } = await layers()
    const wire = await closeStream(dialer, 7, 'bye')
    // Uni index 0, then type 4 and length 4 + 3 + 16.
    expect(toHex(wire.subarray(0, 5))).toBe('0004000017')
    expect(wire.length).toBe(1 + 4 + 23)
    const incoming = await acceptor.acceptedIncomingUni(source([wire]).readable)
    expect(incoming.close).toEqual({ code: 7, reason: 'bye' })
  })

  it('refuses a close record that is tampered, on a bidi stream, or too long', async () => {
    const { dialer, acceptor } = await layers()
    const wire = await closeStream(dialer, 7, 'bye')
    const tampered = wire.slice()
    tampered[tampered.length - 1]! ^= 1
    await acceptor.acceptedIncomingUni(source([tampered]).readable).then(
      () => expect.unreachable(),
      (error: unknown) => expectRecordError(error, ['AUTH_FAILED']),
    )
    // An application's accept never takes a close stream for a stream.
    const again = await closeStream(dialer, 8, '')
    await acceptor.acceptedUni(source([again]).readable).then(
      () => expect.unreachable(),
      (error: unknown) => expectRecordError(error, ['MALFORMED']),
    )
    // A length above 4 + 1024 + 16 is refused before anything is buffered or decrypted.
    const long = Uint8Array.of(1, 4, 0, 0x04, 0x15)
    await acceptor.acceptedIncomingUni(source([long], 'hang').readable).then(
      () => expect.unreachable(),
      (error: unknown) => expectRecordError(error, ['MALFORMED']),
    )
    await expect(dialer.sendClose(new WritableStream(), 0, 'x'.repeat(1025))).rejects.toThrow(
      RangeError,
    )
  })

  it("reads the peer's abort as its code, and a bare transport reset as RESET", async () => {
    const { dialer, acceptor } = await layers()
    const [dialerSide, acceptorSide] = transportPair()
    const opened = dialer.openedBidi(dialerSide)
    const writer = opened.writable.getWriter()
    await writer.write(utf8('part'))
    const accepted = await acceptor.acceptedBidi(acceptorSide)
    const reader = accepted.readable.getReader()
    // Once the data is through, the stream is idle: the abort goes in a reset record.
    expect((await reader.read()).value).toEqual(utf8('part'))
    await writer.abort(Object.assign(new Error('stop'), { streamErrorCode: 42 }))
    await expect(reader.read()).rejects.toMatchObject({
      name: 'WebTransportError',
      streamErrorCode: 42,
    })

    const reset = Object.assign(new Error('reset'), { source: 'stream', streamErrorCode: 42 })
    const raw = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        controller.enqueue(await openingFor(1))
        controller.error(reset)
      },
    })
    const plaintext = await acceptor.acceptedUni(raw)
    const error = await readBytes(plaintext).then(
      () => expect.unreachable(),
      (e: unknown) => e,
    )
    expectRecordError(error, ['RESET'])
    expect((error as Error).cause).toBe(reset)
  })
})

/** An acceptor (the dialer's keys reversed) with lowered limits. */
function limitedAcceptor(limits: RecordLayerOptions['_limits']): Promise<RecordLayer> {
  return RecordLayer.create({
    sendKey: acceptorKey(),
    receiveKey: dialerKey(),
    isDialer: false,
    _limits: limits,
  })
}

/** A datagram with a reachable sequence and a random ciphertext: it cannot authenticate. */
function forgedDatagram(prng: Prng, sequence: number): Uint8Array {
  const bytes = prng.bytes(datagramOverhead + 8)
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, 0)
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, sequence)
  return bytes
}

describe('RecordLayer limits', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('refuses every datagram with TOO_MANY once more datagrams than the integrity limit failed to authenticate', async () => {
    const prng = new Prng(21)
    const { dialer } = await layers()
    const acceptor = await limitedAcceptor({ forgeries: 3 })
    // Refused before decrypting: these cost the key nothing and are not counted.
    for (let i = 0; i < 5; i++) {
      await acceptor.unsealDatagram(prng.bytes(10)).then(
        () => expect.fail('a short datagram was accepted'),
        (e: unknown) => expectRecordError(e, ['MALFORMED']),
      )
    }
    for (let sequence = 0; sequence < 3; sequence++) {
      await acceptor.unsealDatagram(forgedDatagram(prng, sequence)).then(
        () => expect.fail('a forged datagram was accepted'),
        (e: unknown) => expectRecordError(e, ['AUTH_FAILED']),
      )
    }
    // At the limit, genuine datagrams still pass.
    const genuine = await dialer.sealDatagram(utf8('still fine'))
    expect(await acceptor.unsealDatagram(genuine)).toEqual(utf8('still fine'))
    await acceptor.unsealDatagram(forgedDatagram(prng, 3)).then(
      () => expect.fail('a forged datagram was accepted'),
      (e: unknown) => expectRecordError(e, ['TOO_MANY']),
    )
    const later = await dialer.sealDatagram(utf8('too late'))
    await acceptor.unsealDatagram(later).then(
      () => expect.fail('a datagram was accepted past the integrity limit'),
      (e: unknown) => expectRecordError(e, ['TOO_MANY']),
    )
  })

  it('cancels a stream whose open record has not come within the opening time with TIMEOUT', async () => {
    vi.useFakeTimers()
    const acceptor = await limitedAcceptor({ openingMs: 1000 })
    // A preamble, then nothing: the open record never comes.
    const { readable, cancelled } = source([Uint8Array.of(0)], 'hang')
    let settled = false
    const accepting = acceptor.acceptedUni(readable).finally(() => (settled = true))
    accepting.catch(() => undefined)
    await vi.advanceTimersByTimeAsync(999)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const error = await accepting.then(
      () => expect.fail('a stream without its open record was accepted'),
      (e: unknown) => e,
    )
    expectRecordError(error, ['TIMEOUT'])
    expect(await cancelled).toBe(error)
  })

  it('refuses a stream with TOO_MANY while the cap of streams waiting for their opening is reached', async () => {
    const acceptor = await limitedAcceptor({ pendingOpenings: 2 })
    const stop = new AbortController()
    const waiting = [0, 1].map((index) =>
      acceptor.acceptedUni(source([Uint8Array.of(index)], 'hang').readable, {
        signal: stop.signal,
      }),
    )
    for (const w of waiting) w.catch(() => undefined)
    const refused = source([await openingFor(2)])
    const error = await acceptor.acceptedUni(refused.readable).then(
      () => expect.fail('a stream beyond the cap was accepted'),
      (e: unknown) => e,
    )
    expectRecordError(error, ['TOO_MANY'])
    expect(await refused.cancelled).toBe(error)
    // Once the waiting streams give up, a new stream is read again.
    const reason = new Error('given up')
    stop.abort(reason)
    for (const w of waiting) await expect(w).rejects.toBe(reason)
    const plaintext = await acceptor.acceptedUni(source([await openingFor(3)]).readable)
    await plaintext.cancel()
  })
})
