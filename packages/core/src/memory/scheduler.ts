/**
 * The seeded scheduler of the in-memory network: every transfer is a task, and the next task
 * to run is picked with a seeded PRNG, so the same seed and program replay the same run.
 */
import type { Prng } from '../internal/prng.js'

/**
 * Microtask turns the scheduler gives the program between two deliveries, so that the reaction
 * to one delivery (a read, an echo) usually runs before the next. Any fixed number replays.
 */
const microtaskYields = 8
/** Deliveries between two macrotask yields, so timers and I/O are never starved. */
const tasksPerMacrotask = 256

/** One scheduled transfer. */
interface Task {
  readonly seq: number
  /** The session that sent it; a barrier waits for that session's earlier tasks. */
  readonly origin: object | undefined
  readonly barrier: boolean
  readonly run: () => void
}

// Taken at load, so a test that installs fake timers afterwards does not stall the network.
const realSetTimeout = globalThis.setTimeout
const realQueueMicrotask = globalThis.queueMicrotask

/** Resolves after one turn of the real event loop (fake timers do not hold it back). */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, 0))
}

/**
 * Runs tasks one at a time from a microtask loop. Tasks sit in FIFO lanes (one per stream
 * direction; datagrams and control messages get a lane each) and the next task is the head of
 * a lane picked with the seeded PRNG, so lanes interleave at random while each stays in order.
 */
export class Scheduler {
  /** Map iteration follows insertion, so the candidate order (and the run) is deterministic. */
  private readonly lanes = new Map<object, Task[]>()
  private seq = 0
  private running = false
  private idleWaiters: (() => void)[] = []

  constructor(private readonly prng: Prng) {}

  /** Whether tasks are queued or the loop is still running. */
  get busy(): boolean {
    return this.running || this.lanes.size > 0
  }

  /**
   * Queues `run` at the back of `lane`. A `barrier` task waits until every task `origin` queued
   * before it has run (a session close goes after what the session sent before it).
   */
  push(lane: object, origin: object | undefined, run: () => void, barrier = false): void {
    const task: Task = { seq: this.seq++, origin, barrier, run }
    const queue = this.lanes.get(lane)
    if (queue) queue.push(task)
    else this.lanes.set(lane, [task])
    if (!this.running) {
      this.running = true
      // Never run a delivery inside the caller's own call (a write, a close): start afterwards.
      realQueueMicrotask(() => void this.loop())
    }
  }

  /** Resolves once the loop has run out of tasks. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async loop(): Promise<void> {
    let ran = 0
    for (let task = this.next(); task; task = this.next()) {
      try {
        task.run()
      } catch (error) {
        // A delivery never throws by design; if one does, report it without stopping the rest.
        realQueueMicrotask(() => {
          throw error
        })
      }
      ran++
      if (ran % tasksPerMacrotask === 0) await macrotask()
      else for (let i = 0; i < microtaskYields; i++) await Promise.resolve()
    }
    this.running = false
    for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private next(): Task | undefined {
    const ready: object[] = []
    for (const [lane, queue] of this.lanes) {
      const head = queue[0]!
      if (!head.barrier || !this.hasEarlier(head)) ready.push(lane)
    }
    if (ready.length === 0) return undefined
    const lane = ready[ready.length === 1 ? 0 : this.prng.int(ready.length)]!
    const queue = this.lanes.get(lane)!
    const task = queue.shift()!
    if (queue.length === 0) this.lanes.delete(lane)
    return task
  }

  /** Whether `barrier`'s origin has a task queued before it (lane heads are each lane's oldest). */
  private hasEarlier(barrier: Task): boolean {
    for (const queue of this.lanes.values()) {
      const head = queue[0]!
      if (head !== barrier && head.origin === barrier.origin && head.seq < barrier.seq) return true
    }
    return false
  }
}
