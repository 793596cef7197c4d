import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseByteSize, relayCommand } from './relay-cli.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('parseByteSize', () => {
  it('reads plain counts, decimal and binary units, in any case', () => {
    expect(parseByteSize('65536', 'x')).toBe(65536)
    expect(parseByteSize('500kB', 'x')).toBe(500_000)
    expect(parseByteSize('4MiB', 'x')).toBe(4 * 1024 * 1024)
    expect(parseByteSize('4mib', 'x')).toBe(4 * 1024 * 1024)
    expect(parseByteSize('1.5GB', 'x')).toBe(1_500_000_000)
    expect(parseByteSize('2 KiB', 'x')).toBe(2048)
    expect(parseByteSize('12B', 'x')).toBe(12)
  })

  it('refuses what is not a size of at least a byte, naming the option', () => {
    for (const bad of ['', 'fast', '-1', '0', '0.4', '4 MiBs', '1e6', '4 Mb/s', 'Infinity']) {
      expect(() => parseByteSize(bad, '--client-rate')).toThrow(/--client-rate must be a size/)
    }
  })
})

describe('`ferry relay` byte-rate options', () => {
  it('exits 2 with the usage for a bad --client-rate, or a --client-burst without a rate', async () => {
    const err: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0)
    expect(await relayCommand(['--client-rate', 'fast'])).toBe(2)
    expect(await relayCommand(['--client-burst', '1MiB'])).toBe(2)
    expect(err.join('')).toContain('--client-rate must be a size in bytes')
    expect(err.join('')).toContain('--client-burst goes with --client-rate')
    expect(err.join('')).toContain('usage: ferry relay')
  })
})
