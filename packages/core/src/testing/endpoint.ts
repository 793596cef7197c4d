import { Endpoint, type EndpointOptions, type Transport } from '../endpoint.js'
import { SecretKey } from '../identity.js'
import { LocalIdentity } from '../secure/handshake.js'

/** Options of {@link TestEndpoint.create}. */
export interface TestEndpointOptions extends EndpointOptions {
  /** What the endpoint runs on, e.g. a `MemoryTransport`. */
  transport: Transport
  /** The identity. Default: a fresh one. */
  secretKey?: SecretKey
}

/**
 * An endpoint on any `Transport` (`@ferry/core/internal`), for tests: on the in-memory network
 * (`new MemoryTransport(network)`), or on a transport a test builds to misbehave.
 * Applications use `@ferry/browser`'s or `@ferry/node`'s `Endpoint` instead.
 */
export class TestEndpoint extends Endpoint {
  /** Makes an endpoint on `options.transport` and starts listening if the transport can. */
  static async create(options: TestEndpointOptions): Promise<TestEndpoint> {
    const secretKey = options.secretKey ?? (await SecretKey.generate())
    const identity = await LocalIdentity.create(secretKey)
    return new TestEndpoint(identity, options.transport, options).start()
  }
}
