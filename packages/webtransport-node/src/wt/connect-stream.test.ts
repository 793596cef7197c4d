import { describe, expect, it } from 'vitest'
import { concat, encodeVarint, toHex } from '@ferry/wire'
import { H3, Http3Error } from '../errors.js'
import { CapsuleType, encodeCloseSession, encodeDrainSession } from './capsules.js'
import { ConnectStream, type ConnectStreamEvents } from './connect-stream.js'

/** A ConnectStream over a fake connection that records what it sends and what it is told. */
function setup(maxCapsuleBytes = 4096): {
  stream: ConnectStream
  events: string[]
  sent: { streamId: number; bytes: string; fin: boolean }[]
} {
  const events: string[] = []
  const sent: { streamId: number; bytes: string; fin: boolean }[] = []
  const listener: ConnectStreamEvents = {
    closeReceived: (info) => events.push(`close ${info.closeCode} ${info.reason}`),
    startDraining: () => events.push('drain'),
    connectStreamEnded: (reset) => events.push(`ended ${reset}`),
  }
  const h3 = {
    sendData: (streamId: number, payload: Uint8Array, fin: boolean) => {
      sent.push({ streamId, bytes: toHex(payload), fin })
      return Promise.resolve()
    },
  }
  return { stream: new ConnectStream(h3, 8, listener, maxCapsuleBytes), events, sent }
}

describe('ConnectStream', () => {
  it('turns capsules into session events, however the DATA is cut, ignoring unknown ones', () => {
    const unknown = concat(encodeVarint(0x1234), encodeVarint(3), Uint8Array.of(1, 2, 3))
    const bytes = concat(encodeDrainSession(), unknown, encodeCloseSession(42, 'done'))
    for (const cut of [1, 2, 5, bytes.length]) {
      const { stream, events } = setup()
      for (let o = 0; o < bytes.length; o += cut) stream.data(bytes.subarray(o, o + cut))
      stream.end(undefined)
      expect(events).toEqual(['drain', 'close 42 done', 'ended undefined'])
    }
  })

  it('reports a reset CONNECT stream with its code', () => {
    const { stream, events } = setup()
    stream.end(H3.REQUEST_CANCELLED)
    expect(events).toEqual([`ended ${H3.REQUEST_CANCELLED}`])
  })

  it('a known capsule over maxCapsuleBytes, or a malformed CLOSE, is H3_MESSAGE_ERROR', () => {
    const big = setup(8)
    expect(() => big.stream.data(encodeCloseSession(1, 'a reason too long'))).toThrow(
      expect.objectContaining({ name: 'Http3Error', code: H3.MESSAGE_ERROR }),
    )
    const short = setup()
    const truncatedClose = concat(
      encodeVarint(CapsuleType.CLOSE_WEBTRANSPORT_SESSION),
      encodeVarint(2),
      Uint8Array.of(0, 0),
    )
    expect(() => short.stream.data(truncatedClose)).toThrow(Http3Error)
    expect(short.events).toEqual([])
  })

  it('sends CLOSE with the FIN, DRAIN without, and a bare FIN, on its own stream', () => {
    const { stream, sent } = setup()
    void stream.drain()
    void stream.close(7, 'bye')
    void stream.finish()
    expect(sent).toEqual([
      { streamId: 8, bytes: '800078ae00', fin: false },
      { streamId: 8, bytes: '684307' + '00000007' + '627965', fin: true },
      { streamId: 8, bytes: '', fin: true },
    ])
  })
})
