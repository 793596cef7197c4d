/**
 * What the whole machine did during a measurement, from `/proc` (Linux): CPU busy time across
 * all cores, and the kernel's UDP counters, whose receive-buffer errors are packets dropped on
 * loopback because a socket was not read fast enough (QUIC then backs off as for a lossy link).
 */
import { readFileSync } from 'node:fs'

/** A reading of the counters; subtract two with {@link since}. */
export interface MachineReading {
  /** Jiffies busy and in all, summed over the cores. */
  busy: number
  total: number
  /** UDP datagrams received, and dropped for a full receive buffer (`RcvbufErrors`). */
  udpIn: number
  udpDropped: number
}

/** What happened between two readings. */
export interface MachineDelta {
  /** Busy share of all cores, 0–100 per core (200% is both of two cores). */
  cpuPercent: number
  /** Busy CPU time of all cores together, in ms. */
  cpuMs: number
  udpIn: number
  udpDropped: number
}

/** The counters now. */
export function readMachine(): MachineReading {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1)
  const jiffies = cpu.map(Number)
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = jiffies.slice(0, 8).reduce((a, b) => a + b, 0)
  const busy = total - jiffies[3]! - jiffies[4]!
  const snmp = readFileSync('/proc/net/snmp', 'utf8').split('\n')
  const udp = snmp.filter((line) => line.startsWith('Udp:'))
  const names = udp[0]!.split(/\s+/)
  const values = udp[1]!.split(/\s+/).map(Number)
  const field = (name: string): number => values[names.indexOf(name)] ?? 0
  return {
    busy,
    total,
    udpIn: field('InDatagrams'),
    udpDropped: field('RcvbufErrors'),
  }
}

/** What happened since `before`. */
export function since(before: MachineReading): MachineDelta {
  const now = readMachine()
  const share = (now.busy - before.busy) / Math.max(1, now.total - before.total)
  return {
    cpuPercent: 100 * share * coreCount,
    cpuMs: ((now.busy - before.busy) * 1000) / userHz,
    udpIn: now.udpIn - before.udpIn,
    udpDropped: now.udpDropped - before.udpDropped,
  }
}

/** The unit of `/proc/stat`'s times: USER_HZ, 100 a second on every Linux architecture we run. */
const userHz = 100

const coreCount = (() => {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n')
  return Math.max(1, lines.filter((l) => /^cpu\d/.test(l)).length)
})()
