import { CloseCode, type Connection } from './connection.js'
import type { Endpoint } from './endpoint.js'

/**
 * An application protocol: the router hands it every connection whose ALPN it registered for.
 * Protocol packages (`@ferry/gossip`, `@ferry/echo`) export one; it runs unchanged in browsers and
 * Node.
 */
export interface ProtocolHandler {
  /**
   * Serves one accepted connection. A rejection (or throw) closes that connection with
   * {@link CloseCode.PROTOCOL_ERROR} and goes to the router's `onError`.
   */
  accept(conn: Connection): void | Promise<void>
  /** Stops the protocol; called once, before the router closes connections and the endpoint. */
  shutdown?(): void | Promise<void>
}

/** Options of {@link RouterBuilder.spawn}. */
export interface RouterOptions {
  /** Hears handler failures and shutdown steps that failed. Default: ignore. */
  onError?: (error: unknown) => void
}

/**
 * Routes an endpoint's incoming connections to protocol handlers by ALPN.
 *
 * ```ts
 * const router = Router.builder(endpoint).accept('chat/1', chat).spawn()
 * // …
 * await router.shutdown()
 * ```
 *
 * The endpoint accepts exactly the registered ALPNs; a dialer offering none of them is
 * refused with {@link CloseCode.ALPN_REFUSED}. A dialer that offers several gets the first one in
 * its own preference order that is registered here.
 */
export class Router {
  private readonly running: Promise<void>
  private readonly active = new Set<Promise<void>>()
  private stopping: Promise<void> | undefined

  private constructor(
    /** The endpoint whose connections this router serves. */
    readonly endpoint: Endpoint,
    private readonly handlers: ReadonlyMap<string, ProtocolHandler>,
    private readonly onError: (error: unknown) => void,
  ) {
    endpoint.setAlpns(handlers.keys())
    this.running = this.run()
  }

  /** Starts a router for `endpoint`. */
  static builder(endpoint: Endpoint): RouterBuilder {
    return new RouterBuilder(endpoint, (e, h, o) => new Router(e, h, o))
  }

  /** The ALPNs this router serves, in registration order. */
  get alpns(): string[] {
    return [...this.handlers.keys()]
  }

  /**
   * Shuts down in order: stops accepting, calls every handler's `shutdown()`, closes the
   * remaining connections, then closes the endpoint. Idempotent; every step runs even if an
   * earlier one failed (failures go to `onError`).
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop()
    return this.stopping
  }

  /** {@link Router.shutdown}, for `await using router = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  private async run(): Promise<void> {
    for await (const conn of this.endpoint.incoming()) {
      if (this.stopping) {
        conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'router shutting down')
        continue
      }
      const handler = this.handlers.get(conn.alpn)
      if (!handler) {
        // Only possible if someone changed the endpoint's ALPNs behind the router's back.
        conn.closeWith(CloseCode.ALPN_REFUSED, `no handler for ${conn.alpn}`)
        continue
      }
      const task = this.serve(handler, conn)
      this.active.add(task)
      void task.finally(() => this.active.delete(task))
    }
  }

  private async serve(handler: ProtocolHandler, conn: Connection): Promise<void> {
    try {
      await handler.accept(conn)
    } catch (e) {
      conn.closeWith(CloseCode.PROTOCOL_ERROR, e instanceof Error ? e.message : 'handler failed')
      this.onError(e)
    }
  }

  private async stop(): Promise<void> {
    this.endpoint.setAlpns([])
    for (const handler of this.handlers.values()) {
      try {
        await handler.shutdown?.()
      } catch (e) {
        this.onError(e)
      }
    }
    const closing = [...this.endpoint.connections].map((conn) => {
      conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'router shutting down')
      return conn.closed
    })
    await Promise.all(closing)
    try {
      await this.endpoint.close()
    } catch (e) {
      this.onError(e)
    }
    await this.running
    await Promise.allSettled(this.active)
  }
}

/** Registers handlers, then {@link RouterBuilder.spawn}s the router. */
export class RouterBuilder {
  private readonly handlers = new Map<string, ProtocolHandler>()

  /** @internal */
  constructor(
    private readonly endpoint: Endpoint,
    private readonly make: (
      endpoint: Endpoint,
      handlers: ReadonlyMap<string, ProtocolHandler>,
      onError: (error: unknown) => void,
    ) => Router,
  ) {}

  /**
   * Serves `alpn` with `handler`.
   * @throws {TypeError} if `alpn` is already registered or empty.
   */
  accept(alpn: string, handler: ProtocolHandler): this {
    if (alpn.length === 0) throw new TypeError('alpn must not be empty')
    if (this.handlers.has(alpn)) throw new TypeError(`alpn ${alpn} is registered twice`)
    this.handlers.set(alpn, handler)
    return this
  }

  /** Starts routing; the endpoint from now on accepts exactly the registered ALPNs. */
  spawn(options: RouterOptions = {}): Router {
    return this.make(this.endpoint, new Map(this.handlers), options.onError ?? (() => {}))
  }
}
