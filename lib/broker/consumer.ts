// The small interfaces between the broker and whoever consumes its messages (the session).
import type { Selector } from '../selector/compile.js'
import type { Message } from './message.js'

export type AckMode = 'auto' | 'client' | 'client-individual'
export const ACK_MODES: readonly AckMode[] = ['auto', 'client', 'client-individual']

/** The session a consumer belongs to, as far as the broker needs to know it. */
export interface SessionRef {
  readonly id: string
}

/** A message handed to a consumer that must settle it. */
export interface Delivery {
  /** Processed: the message is gone for good. */
  ack(): void
  /** Refused (NACK), or the consumer left without acking: deliver again, marked redelivered, or dead-letter it. */
  requeue(): void
  /** Refused for good (NACK with `requeue:false`): never delivered again; to the dead-letter queue, if there is one. */
  reject(): void
}

/** How a consumer settles a delivery. */
export type Settlement = 'ack' | 'requeue' | 'reject'

/** One subscription's receiving end. */
export interface Consumer {
  readonly session: SessionRef
  readonly ackMode: AckMode
  /** Room for one more message now: prefetch credit left and the connection not congested. */
  readonly ready: boolean
  /** Broker-side filter (a selector); null delivers everything. */
  readonly filter: ((message: Message) => boolean) | null
  /** The selector behind `filter`, when it is one: a topic indexes subscriptions by its equality term. */
  readonly selector?: Selector | null
  /**
   * `delivery` is null for auto-acked deliveries. `lines`: header lines this delivery adds to the
   * message's own (`name:value\n` each, ASCII), e.g. a stream entry's offset.
   */
  deliver(message: Message, redelivered: boolean, delivery: Delivery | null, lines?: string): void
  /** The broker gave up on this consumer: it stayed too far behind. */
  overflow(): void
}

/** What subscribing returns: how the consumer talks back about its subscription. */
export interface Binding {
  /** The consumer has room again: send what is waiting. */
  resume(): void
  /** Stop delivering. Deliveries not yet settled keep their handles. */
  cancel(): void
}

/** A delivery that needs no settling (a topic message without a queue behind it). */
export const UNTRACKED_DELIVERY: Delivery = Object.freeze({ ack() {}, requeue() {}, reject() {} })
