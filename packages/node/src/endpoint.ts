import { Endpoint as CoreEndpoint, type EndpointOptions, SecretKey } from '@ferry/core'
import { LocalIdentity } from '@ferry/core/internal'
import type { Certificate } from '@ferry/webtransport-node'
import { loadOrCreateKeyFile } from './keyfile.js'
import { type ListenOptions, NodeTransport } from './transport.js'

/** Options of {@link Endpoint.create}. */
export interface NodeEndpointOptions extends EndpointOptions {
  /** The identity. Default: from `keyFile`, else a fresh one for this process. */
  secretKey?: SecretKey
  /** A file holding the identity; created (mode 0600) with a fresh key if missing. */
  keyFile?: string
  /** Listen for WebTransport sessions (browsers and other endpoints). Default: dial only. */
  listen?: ListenOptions
}

/**
 * A ferry endpoint in Node: listens for WebTransport sessions from browsers and other
 * endpoints, dials other Node endpoints, keeps its identity in a key file, and makes and
 * rotates its own certificate (its hash is published in {@link Endpoint.addr}).
 *
 * ```ts
 * const ep = await Endpoint.create({ listen: { port: 4433 }, keyFile: './ferry.key' })
 * Router.builder(ep).accept('my-app/chat/1', chat).spawn()
 * console.log(ep.ticket().toString())
 * ```
 */
export class Endpoint extends CoreEndpoint {
  private readonly nodeTransport: NodeTransport

  private constructor(identity: LocalIdentity, transport: NodeTransport, options: EndpointOptions) {
    super(identity, transport, options)
    this.nodeTransport = transport
  }

  /**
   * Makes an endpoint and, with `listen`, starts serving.
   * @throws {TypeError} when both `secretKey` and `keyFile` are given.
   * @throws {KeyFileError} when `keyFile` is not a safe key file (see its codes) or is malformed.
   */
  static async create(options: NodeEndpointOptions = {}): Promise<Endpoint> {
    if (options.secretKey && options.keyFile) {
      throw new TypeError('pass secretKey or keyFile, not both')
    }
    const secretKey =
      options.secretKey ??
      (options.keyFile ? await loadOrCreateKeyFile(options.keyFile) : await SecretKey.generate())
    const identity = await LocalIdentity.create(secretKey)
    const transport = new NodeTransport(options.listen, options.onError ?? (() => {}))
    return new Endpoint(identity, transport, options).start()
  }

  /** The UDP port this endpoint listens on, when listening. */
  get port(): number | undefined {
    return this.nodeTransport.port
  }

  /** The certificate served right now (its `hash` is what tickets pin), when listening. */
  get certificate(): Certificate | undefined {
    return this.nodeTransport.currentCertificate
  }

  /**
   * Replaces the certificate now (it is also replaced automatically at half its life).
   * Connections already open are unaffected; new tickets carry the new hash.
   */
  rotateCertificate(): Promise<void> {
    return this.nodeTransport.rotateCertificate()
  }
}
