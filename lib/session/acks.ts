// A connection's deliveries awaiting ACK or NACK: how they are named on the wire (the `ack`
// header in STOMP 1.2, subscription + message-id before), how an ACK finds them, and settling
// them, cumulatively in `client` mode.
import type { Delivery } from '../broker/consumer.js'
import type { StompVersion } from '../frame/frame.js'
import type { ClientSubscription } from './subscription.js'

/** The ack key of a STOMP 1.0/1.1 delivery: subscription and message-id. */
function legacyAckKey(subscriptionId: string, messageId: string): string {
  return subscriptionId + '\u0000' + messageId
}

/** A delivery waiting for ACK or NACK. */
export class PendingAck {
  readonly key: string
  readonly subscription: ClientSubscription
  readonly delivery: Delivery

  constructor(key: string, subscription: ClientSubscription, delivery: Delivery) {
    this.key = key
    this.subscription = subscription
    this.delivery = delivery
  }
}

export class UnackedDeliveries {
  /** Made on the first delivery that needs an ACK: most connections never have one. */
  private byKey: Map<string, PendingAck> | null = null
  private counter = 0

  /**
   * Records a delivery the client must settle. Returns the MESSAGE's `ack` header value for a
   * 1.2 client; 1.0 and 1.1 clients ACK by message-id, which two subscriptions on one connection
   * may both receive, so their key names the subscription too.
   */
  track(subscription: ClientSubscription, messageId: string, delivery: Delivery, version: StompVersion): string | undefined {
    const isModern = version === '1.2'
    const key = isModern ? (++this.counter).toString(36) : legacyAckKey(subscription.id, messageId)
    const pending = new PendingAck(key, subscription, delivery)
    this.byKey ??= new Map()
    this.byKey.set(key, pending)
    subscription.pending.set(key, pending)
    return isModern ? key : undefined
  }

  /** By the key a transaction kept. */
  get(key: string): PendingAck | undefined {
    return this.byKey?.get(key)
  }

  /**
   * The delivery an ACK/NACK names: by its `id` in 1.2; by message-id on the named subscription
   * in 1.1, or on the first subscription holding it in 1.0 (which has no subscription header).
   */
  find(id: string, version: StompVersion, subscriptionId: string | undefined, subscriptions: Iterable<ClientSubscription>): PendingAck | undefined {
    if (version === '1.2') return this.byKey?.get(id)
    if (subscriptionId !== undefined) return this.byKey?.get(legacyAckKey(subscriptionId, id))
    for (const subscription of subscriptions) {
      const pending = subscription.pending.get(legacyAckKey(subscription.id, id))
      if (pending !== undefined) return pending
    }
    return undefined
  }

  /** ACK or NACK; in `client` mode it covers every earlier delivery of the subscription too. */
  settle(pending: PendingAck, ack: boolean): void {
    const subscription = pending.subscription
    if (subscription.ackMode !== 'client') return this.settleOne(pending, ack)
    for (const entry of subscription.pending.values()) {
      this.settleOne(entry, ack)
      if (entry === pending) break
    }
  }

  /** Returns every unacked delivery of `subscription` for redelivery. */
  returnAll(subscription: ClientSubscription): void {
    for (const pending of subscription.pending.values()) this.settleOne(pending, false)
  }

  private settleOne(pending: PendingAck, ack: boolean): void {
    this.byKey?.delete(pending.key)
    pending.subscription.pending.delete(pending.key)
    if (ack) pending.delivery.ack()
    else pending.delivery.requeue()
  }
}
