import { describe, expect, it } from 'vitest'
import { concat, encodeVarint } from '@ferry/wire'
import { codeOf } from '../../test/errors.js'
import { H3 } from '../errors.js'
import { ControlStream } from './control.js'
import { FrameType, encodeFrame, encodeGoaway } from './frames.js'
import { Setting, encodeSettings } from './settings.js'

const settings = encodeFrame(FrameType.SETTINGS, encodeSettings([[Setting.H3_DATAGRAM, 1]]))

/** A control stream of a peer that is (or is not) the server, recording what it reports. */
function control(peerIsServer: boolean): { stream: ControlStream; heard: string[] } {
  const heard: string[] = []
  const stream = new ControlStream(
    { peerIsServer, maxFrameBytes: 1024 },
    {
      settings: (s) => heard.push(`settings ${[...s].map(([k, v]) => `${k}=${v}`).join(',')}`),
      goaway: (id) => heard.push(`goaway ${id}`),
    },
  )
  return { stream, heard }
}

describe('the peer’s control stream', () => {
  it('reports SETTINGS, then each GOAWAY, however the bytes are cut', () => {
    // A reserved (GREASE) frame type 0x21 between them is skipped.
    const grease = concat(encodeVarint(0x21), encodeVarint(2), Uint8Array.of(1, 2))
    const bytes = concat(settings, encodeGoaway(8), grease, encodeGoaway(8), encodeGoaway(4))
    for (const cut of [1, 3, bytes.length]) {
      const { stream, heard } = control(true)
      for (let o = 0; o < bytes.length; o += cut) stream.push(bytes.subarray(o, o + cut))
      expect(heard).toEqual([
        `settings ${Setting.H3_DATAGRAM}=1`,
        'goaway 8',
        'goaway 8',
        'goaway 4',
      ])
    }
  })

  it('a server’s GOAWAY must name a client-initiated bidi stream: H3_ID_ERROR', () => {
    for (const id of [1, 2, 3, 6]) {
      const { stream } = control(true)
      expect(codeOf(() => stream.push(concat(settings, encodeGoaway(id))))).toBe(H3.ID_ERROR)
    }
  })

  it('a client’s GOAWAY carries any push id', () => {
    const { stream, heard } = control(false)
    stream.push(concat(settings, encodeGoaway(7)))
    expect(heard.at(-1)).toBe('goaway 7')
  })

  it('a GOAWAY id larger than the one before is H3_ID_ERROR', () => {
    for (const peerIsServer of [true, false]) {
      const { stream, heard } = control(peerIsServer)
      stream.push(concat(settings, encodeGoaway(4)))
      expect(codeOf(() => stream.push(encodeGoaway(8)))).toBe(H3.ID_ERROR)
      expect(heard.at(-1)).toBe('goaway 4')
    }
  })

  it('a GOAWAY payload that is not one varint is H3_FRAME_ERROR', () => {
    const { stream } = control(true)
    const bad = encodeFrame(FrameType.GOAWAY, Uint8Array.of(0, 0))
    expect(codeOf(() => stream.push(concat(settings, bad)))).toBe(H3.FRAME_ERROR)
  })

  it('anything but SETTINGS first is H3_MISSING_SETTINGS; a second SETTINGS is H3_FRAME_UNEXPECTED', () => {
    expect(codeOf(() => control(true).stream.push(encodeGoaway(0)))).toBe(H3.MISSING_SETTINGS)
    expect(codeOf(() => control(true).stream.push(concat(settings, settings)))).toBe(
      H3.FRAME_UNEXPECTED,
    )
  })

  it('request frames, and MAX_PUSH_ID from a server, are H3_FRAME_UNEXPECTED', () => {
    for (const type of [FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE]) {
      const frame = encodeFrame(type, Uint8Array.of(0))
      expect(codeOf(() => control(false).stream.push(concat(settings, frame)))).toBe(
        H3.FRAME_UNEXPECTED,
      )
    }
    const maxPushId = encodeFrame(FrameType.MAX_PUSH_ID, encodeVarint(3))
    expect(codeOf(() => control(true).stream.push(concat(settings, maxPushId)))).toBe(
      H3.FRAME_UNEXPECTED,
    )
    expect(codeOf(() => control(false).stream.push(concat(settings, maxPushId)))).toBeUndefined()
  })

  it('its end is H3_CLOSED_CRITICAL_STREAM', () => {
    const { stream } = control(true)
    stream.push(settings)
    expect(codeOf(() => stream.end())).toBe(H3.CLOSED_CRITICAL_STREAM)
  })
})
