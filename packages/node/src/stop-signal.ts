/**
 * Resolves on the first SIGINT or SIGTERM. Call it before a command prints that it is ready:
 * until a listener is added, Node leaves these signals to their default action, so a signal
 * sent on that line would kill the process instead of stopping it cleanly.
 */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
