// One SUBSCRIBE: the broker's Consumer for it, its ack mode and prefetch, and the
// deliveries it has not acked yet (in delivery order, for cumulative `client` acks).
import type { AckMode, Binding, Consumer, Delivery } from '../broker/consumer.js'
import type { Message } from '../broker/message.js'
import { messageHeadPrefix } from '../frame/encoder.js'
import type { StompVersion } from '../frame/frame.js'
import type { Selector } from '../selector/compile.js'

/** What a subscription needs from its session. */
export interface SubscriptionOwner {
  readonly id: string
  /** The connection can take more bytes now. */
  readonly writable: boolean
  /** The connection may hold one more delivery awaiting its ACK (--max-unacked). */
  readonly canHoldUnacked: boolean
  deliverMessage(subscription: ClientSubscription, message: Message, redelivered: boolean, delivery: Delivery | null, lines?: string): void
  slowConsumer(subscription: ClientSubscription): void
}

export class ClientSubscription implements Consumer {
  readonly session: SubscriptionOwner
  readonly id: string
  /** The destination header as the client wrote it. */
  readonly destination: string
  readonly ackMode: AckMode
  /** Most unacked messages at once; 0 = no limit. */
  readonly prefetch: number
  /**
   * `MESSAGE` and `subscription`, encoded once for this subscriber's version; on a subscription
   * to a queue (or a durable subscription) with `redelivered:false`.
   */
  readonly headPrefix: Buffer
  /** The same with `redelivered:true`, for a message that comes back. */
  readonly redeliveredPrefix: Buffer
  readonly filter: ((message: Message) => boolean) | null
  readonly selector: Selector | null
  /** Unacked deliveries by ack key, in delivery order. */
  readonly pending = new Map<string, Delivery>()
  binding: Binding | null = null
  /** Set when this SUBSCRIBE attached to a durable subscription. */
  durableKey: string | null = null

  /** `fromQueue`: the messages come from a queue, so every MESSAGE says whether it is a redelivery. */
  constructor(session: SubscriptionOwner, id: string, destination: string, ackMode: AckMode, prefetch: number,
    version: StompVersion, fromQueue: boolean, selector: Selector | null) {
    this.session = session
    this.id = id
    this.destination = destination
    this.ackMode = ackMode
    this.prefetch = prefetch
    this.headPrefix = messageHeadPrefix(id, version, fromQueue ? false : undefined)
    this.redeliveredPrefix = messageHeadPrefix(id, version, true)
    this.selector = selector
    this.filter = selector === null ? null : (message) => selector.matches(message)
  }

  get ready(): boolean {
    return this.session.writable && (this.prefetch === 0 || this.pending.size < this.prefetch) &&
      (this.ackMode === 'auto' || this.session.canHoldUnacked)
  }

  deliver(message: Message, redelivered: boolean, delivery: Delivery | null, lines?: string): void {
    this.session.deliverMessage(this, message, redelivered, delivery, lines)
  }

  overflow(): void {
    this.session.slowConsumer(this)
  }
}
