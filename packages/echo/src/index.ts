export { ECHO_ALPN, EchoProtocol, echo } from './echo.js'
