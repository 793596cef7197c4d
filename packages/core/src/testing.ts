/**
 * Helpers for testing code built on ferry (`@ferry/core/testing`): the seeded PRNG the fuzz
 * tests use, and an in-process bidirectional stream pair whose chunks a test can rewrite.
 * The in-memory network itself (`MemoryNetwork`, `MemoryTransport`) is in the main entry.
 */
export { Prng } from './internal/prng.js'
export { bidiPair, END, type Tap } from './internal/pipe.js'
