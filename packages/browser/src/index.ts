export { Endpoint } from './endpoint.js'
export type { BrowserEndpointOptions } from './endpoint.js'
export { BrowserTransport } from './transport.js'
export * from '@ferry/core'
