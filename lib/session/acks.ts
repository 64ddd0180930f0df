// A connection's deliveries awaiting ACK or NACK: how they are named on the wire (the `ack`
// header in STOMP 1.2, subscription + message-id before), how an ACK finds them, and settling
// them, cumulatively in `client` mode.
//
// Per delivery in flight this keeps two map entries under one key string (which subscription
// holds it; the subscription's own map to the broker's Delivery) and no object of its own: a
// client-individual consumer has hundreds in flight, each living long enough to be promoted to
// V8's old generation, so every object here is garbage-collector work.
import type { Delivery, Settlement } from '../broker/consumer.js'
import { deferDispatch } from '../broker/queue.js'
import type { StompVersion } from '../frame/frame.js'
import type { ClientSubscription } from './subscription.js'

/** The ack key of a STOMP 1.0/1.1 delivery: subscription and message-id. */
function legacyAckKey(subscriptionId: string, messageId: string): string {
  return subscriptionId + '\u0000' + messageId
}

export class UnackedDeliveries {
  /** The subscription each unsettled delivery is on, by ack key. Made on the first delivery that needs an ACK: most connections never have one. */
  private subscriptionOf: Map<string, ClientSubscription> | null = null
  private counter = 0

  /**
   * Records a delivery the client must settle. Returns the MESSAGE's `ack` header value for a
   * 1.2 client; 1.0 and 1.1 clients ACK by message-id, which two subscriptions on one connection
   * may both receive, so their key names the subscription too.
   */
  track(subscription: ClientSubscription, messageId: string, delivery: Delivery, version: StompVersion): string | undefined {
    const isModern = version === '1.2'
    const key = isModern ? (++this.counter).toString(36) : legacyAckKey(subscription.id, messageId)
    this.subscriptionOf ??= new Map()
    this.subscriptionOf.set(key, subscription)
    subscription.pending.set(key, delivery)
    return isModern ? key : undefined
  }

  /** Deliveries awaiting their ACK or NACK, over every subscription of the connection. */
  get size(): number {
    return this.subscriptionOf?.size ?? 0
  }

  /** Whether `key` names a delivery still awaiting its ACK or NACK. */
  private has(key: string): boolean {
    return this.subscriptionOf?.has(key) === true
  }

  /**
   * The ack key of the delivery an ACK/NACK names: its `id` in 1.2; message-id on the named
   * subscription in 1.1, or on the first subscription holding it in 1.0 (which has no
   * subscription header).
   */
  find(id: string, version: StompVersion, subscriptionId: string | undefined, subscriptions: Iterable<ClientSubscription>): string | undefined {
    if (version === '1.2') return this.has(id) ? id : undefined
    if (subscriptionId !== undefined) {
      const key = legacyAckKey(subscriptionId, id)
      return this.has(key) ? key : undefined
    }
    for (const subscription of subscriptions) {
      const key = legacyAckKey(subscription.id, id)
      if (subscription.pending.has(key)) return key
    }
    return undefined
  }

  /**
   * ACK, or NACK (requeue or reject); in `client` mode it covers every earlier delivery of the
   * subscription too. Returns the subscription the delivery was on, or undefined when it is no
   * longer unsettled.
   */
  settle(key: string, how: Settlement): ClientSubscription | undefined {
    const subscription = this.subscriptionOf?.get(key)
    if (subscription === undefined) return undefined
    if (subscription.ackMode !== 'client') {
      this.settleOne(subscription, key, subscription.pending.get(key)!, how)
      return subscription
    }
    if (how === 'requeue') {
      const covered: Array<[string, Delivery]> = []
      for (const entry of subscription.pending) {
        covered.push(entry)
        if (entry[0] === key) break
      }
      this.requeueNewestFirst(subscription, covered)
      return subscription
    }
    // Deleting the entry just visited is safe while iterating a Map.
    for (const [earlier, delivery] of subscription.pending) {
      this.settleOne(subscription, earlier, delivery, how)
      if (earlier === key) break
    }
    return subscription
  }

  /** Returns every unacked delivery of `subscription` for redelivery. */
  returnAll(subscription: ClientSubscription): void {
    this.requeueNewestFirst(subscription, [...subscription.pending])
  }

  /**
   * Requeues deliveries given in delivery order, newest first: each goes back in front of the one
   * before it, next to the queue's head, where putting it costs nothing. Oldest first, each would
   * go behind the last and move everything in front of it (10,000 unacked messages: 0.15 s).
   */
  private requeueNewestFirst(subscription: ClientSubscription, deliveries: ReadonlyArray<[string, Delivery]>): void {
    // Delivered once all are back, oldest first.
    deferDispatch(() => {
      for (let i = deliveries.length - 1; i >= 0; i--) this.settleOne(subscription, deliveries[i]![0], deliveries[i]![1], 'requeue')
    })
  }

  private settleOne(subscription: ClientSubscription, key: string, delivery: Delivery, how: Settlement): void {
    this.subscriptionOf!.delete(key)
    subscription.pending.delete(key)
    if (how === 'ack') delivery.ack()
    else if (how === 'requeue') delivery.requeue()
    else delivery.reject()
  }
}
