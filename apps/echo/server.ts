import { startEchoDemo } from './echo.js'

const demo = await startEchoDemo({
  wtPort: Number(process.env.FERRY_WT_PORT ?? 4433),
  httpPort: Number(process.env.FERRY_HTTP_PORT ?? 8080),
})
// The handlers go in before the lines that say it is ready, so a signal sent on them stops it.
const stop = (): void => {
  demo.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
console.log(`WebTransport echo server on udp://127.0.0.1:${demo.webTransportPort}/echo`)
console.log(`certificate sha-256: ${demo.certificateHash}`)
console.log(`open http://127.0.0.1:${demo.httpPort}/ in Chromium or Firefox`)
