// Tracing as the broker sees it, a port like backplane.ts: a span for each publish and each
// delivery. The broker holds a Tracing only with --otel (lib/tracing/otel.ts, loaded then and
// only then); without it there is nothing here but a null check per message.
import type { Message } from './message.js'

export interface Tracing {
  /** A SEND is being routed to `destination`: returns what ends its span, with the error if it was refused. */
  publish(destination: string, message: Message): (error?: Error) => void
  /** `message` was written to subscription `subscription` (on `destination`) of connection `session`. */
  deliver(destination: string, subscription: string, session: string, message: Message): void
  /** Sends what is not yet exported. */
  shutdown(): Promise<void>
}
