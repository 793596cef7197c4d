import { describe, expect, it } from 'vitest'
import { Simulation, type SimPeer } from './sim.js'

const enc = new TextEncoder()

/** A swarm of `n` peers, each joined through up to 3 random earlier ones, settled. */
function swarm(
  n: number,
  seed: number,
  options: Partial<ConstructorParameters<typeof Simulation>[0]> = {},
) {
  const sim = new Simulation({ seed, ...options })
  const peers = sim.addPeers(n)
  sim.joinRandomly(peers, 3, 20)
  sim.run(5_000)
  return { sim, peers }
}

function broadcastAll(sim: Simulation, senders: SimPeer[], tag: string): string[] {
  const keys = senders.map((p, i) => sim.broadcast(p, enc.encode(`${tag} ${i} from ${p.id}`)))
  sim.run(5_000)
  return keys
}

describe('a simulated swarm', () => {
  it('of 100 peers with random bootstrap delivers every broadcast to every peer, once', () => {
    const { sim, peers } = swarm(100, 1)
    for (const p of peers) {
      expect(p.state.neighbors.length).toBeGreaterThan(0)
      expect(p.state.neighbors.length).toBeLessThanOrEqual(5)
    }
    const keys = broadcastAll(sim, [peers[0]!, peers[37]!, peers[99]!], 'hello')
    for (const key of keys) {
      const r = sim.report(key)
      expect(r.deliveryRatio).toBe(1)
      expect(r.duplicates).toBe(0)
    }
    // Each peer saw each message exactly once.
    for (const p of peers) {
      const mine = p.received.filter((k) => keys.includes(k))
      expect(new Set(mine).size).toBe(mine.length)
    }
  })

  it('delivers the same way with reordering, and replays exactly from its seed', () => {
    const run = () => {
      const { sim, peers } = swarm(60, 7, { reorder: true })
      const keys = broadcastAll(sim, peers.slice(0, 5), 'reordered')
      return keys.map((k) => sim.report(k))
    }
    const first = run()
    for (const r of first) expect(r.deliveryRatio).toBe(1)
    expect(run()).toEqual(first)
  })

  it('recovers lost messages through IHave and Graft when 5% of messages are dropped', () => {
    const { sim, peers } = swarm(100, 3)
    // Dropping starts after the swarm has formed; the membership is not under test here.
    sim.dropRate = 0.05
    const keys = broadcastAll(sim, peers.slice(0, 10), 'lossy')
    for (const k of keys) expect(sim.report(k).deliveryRatio).toBe(1)
  })

  it('heals after 20% of peers die at once, and delivery resumes to every live peer', () => {
    const { sim, peers } = swarm(100, 11)
    const doomed = peers.filter((_, i) => i % 5 === 2)
    sim.kill(doomed)
    // Failures are noticed after 1 s; passive peers replace the dead neighbors.
    sim.run(10_000)
    for (const p of sim.live()) {
      expect(p.state.neighbors.length).toBeGreaterThan(0)
      for (const n of p.state.neighbors) expect(sim.peers.get(n)!.alive).toBe(true)
    }
    const keys = broadcastAll(sim, sim.live().slice(0, 5), 'after churn')
    for (const k of keys) expect(sim.report(k).deliveryRatio).toBe(1)
  })

  it('heals a partition: each side keeps delivering, and a join across merges them again', () => {
    const { sim, peers } = swarm(80, 5)
    const left = peers.slice(0, 40)
    const right = peers.slice(40)
    sim.partition([left, right])
    sim.run(10_000)
    const [l] = broadcastAll(sim, [left[3]!], 'left side')
    const report = sim.report(l!)
    // Only the left half can be reached: 39 of 79 other live peers.
    expect(report.deliveryRatio).toBeCloseTo(39 / 79, 5)
    const [r] = broadcastAll(sim, [right[3]!], 'right side')
    expect(sim.report(r!).deliveryRatio).toBeCloseTo(39 / 79, 5)

    sim.heal()
    sim.join(left[0]!, [right[0]!])
    sim.run(5_000)
    const keys = broadcastAll(sim, [left[10]!, right[10]!], 'healed')
    for (const k of keys) expect(sim.report(k).deliveryRatio).toBe(1)
  })
})
