/**
 * `@ferry/echo`: the smallest ferry protocol. It echoes every bidirectional stream, answers
 * each unidirectional stream with one of its own, and returns datagrams; the same module
 * serves in browsers and Node.
 * @module @ferry/echo
 */
export { ECHO_ALPN, EchoProtocol, echo } from './echo.js'
