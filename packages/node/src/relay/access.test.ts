import { SecretKey } from '@ferry/core'
import { describe, expect, it } from 'vitest'
import { AccessPolicy } from './access.js'

describe('AccessPolicy', () => {
  it('admits by mode: open, allow, deny, token', async () => {
    const [a, b] = [(await SecretKey.generate()).publicKey, (await SecretKey.generate()).publicKey]
    const policy = new AccessPolicy(undefined)
    expect(policy.mode).toBe('open')
    expect(policy.allows(a, undefined)).toBe(true)
    policy.set({ mode: 'allow', ids: [a] })
    expect([policy.allows(a, undefined), policy.allows(b, undefined)]).toEqual([true, false])
    policy.set({ mode: 'deny', ids: [a] })
    expect([policy.allows(a, undefined), policy.allows(b, undefined)]).toEqual([false, true])
    policy.set({ mode: 'token', token: 'sesame' })
    expect(policy.allows(a, 'sesame')).toBe(true)
    for (const token of ['', 'sesame ', 'Sesame', undefined, 'x'.repeat(300)]) {
      expect(policy.allows(a, token)).toBe(false)
    }
  })

  it('keeps the old policy when a new one is bad', async () => {
    const a = (await SecretKey.generate()).publicKey
    const policy = new AccessPolicy({ mode: 'deny', ids: [a] })
    expect(() => policy.set({ mode: 'deny', ids: [a.toString()] } as never)).toThrow(TypeError)
    expect(() => policy.set({ mode: 'token', token: 'é'.repeat(129) })).toThrow(RangeError)
    expect(() => policy.set(null as never)).toThrow(TypeError)
    expect(policy.mode).toBe('deny')
    expect(policy.allows(a, undefined)).toBe(false)
  })
})
