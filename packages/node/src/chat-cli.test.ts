import { SecretKey } from '@ferry/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { chatCommand } from './chat-cli.js'

afterEach(() => {
  vi.restoreAllMocks()
})

function captured() {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0)
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0)
  return { out, err }
}

describe('ferry chat', () => {
  it('prints its usage with --help and exits 0', async () => {
    const { out } = captured()
    expect(await chatCommand(['--help'])).toBe(0)
    expect(out.join('')).toContain('usage: ferry chat <link>')
  })

  it('exits 2 without a link, with a malformed one, or with an unknown option', async () => {
    const { err } = captured()
    expect(await chatCommand([])).toBe(2)
    expect(await chatCommand(['http://127.0.0.1:8080/#not-a-room'])).toBe(2)
    expect(await chatCommand(['--colour'])).toBe(2)
    expect(err.join('')).toContain('give one room link')
  })

  it('exits 1 when the page that gave the link cannot be reached', async () => {
    const { err } = captured()
    const id = (await SecretKey.generate()).publicKey.toString()
    expect(await chatCommand([`http://127.0.0.1:9/#${'ab'.repeat(32)}.${id}`])).toBe(1)
    expect(err.join('')).toContain("cannot read the page's /config.json")
  })
})
