// Which channels a node listens on, counted: several local subscriptions may need the same
// channel, and it is given up only when the last one goes. Says when a channel is first needed
// and when it is no longer, so a backplane subscribes and unsubscribes once each.
import type { ChannelSubscription } from './channels.js'

const keyOf = (subscription: ChannelSubscription): string => (subscription.isPattern ? 'p' : 'c') + subscription.channel

export class ListenCounts {
  private readonly counts = new Map<string, { subscription: ChannelSubscription, count: number }>()

  /** True when this is the first need for the channel. */
  add(subscription: ChannelSubscription): boolean {
    const key = keyOf(subscription)
    const entry = this.counts.get(key)
    if (entry !== undefined) {
      entry.count++
      return false
    }
    this.counts.set(key, { subscription, count: 1 })
    return true
  }

  /** True when that was the last need for the channel. */
  remove(subscription: ChannelSubscription): boolean {
    const key = keyOf(subscription)
    const entry = this.counts.get(key)
    if (entry === undefined) return false
    if (--entry.count > 0) return false
    this.counts.delete(key)
    return true
  }

  *subscriptions(): IterableIterator<ChannelSubscription> {
    for (const entry of this.counts.values()) yield entry.subscription
  }
}
