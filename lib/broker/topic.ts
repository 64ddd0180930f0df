// Topics: publish/subscribe. Every subscription whose pattern matches gets the message;
// nothing is kept for subscribers that are not there. A subscriber that cannot take a
// message right now (congested connection, prefetch used up) gets a bounded backlog;
// one that outgrows it is given up on (`slow consumer`), so it never makes the broker
// hold unbounded memory.
import { UNTRACKED_DELIVERY, type Binding, type Consumer } from './consumer.js'
import { Fifo } from './fifo.js'
import { TopicMatcher } from './matcher.js'
import type { Message } from './message.js'

export interface TopicOptions {
  /** Messages a subscriber may fall behind by before it is dropped as a slow consumer. */
  maxBacklog: number
}

class TopicSubscription implements Binding {
  private readonly router: TopicRouter
  readonly pattern: string
  readonly consumer: Consumer
  private backlog: Fifo<Message> | null = null
  private cancelled = false

  constructor(router: TopicRouter, pattern: string, consumer: Consumer) {
    this.router = router
    this.pattern = pattern
    this.consumer = consumer
  }

  offer(message: Message): void {
    const consumer = this.consumer
    if (consumer.filter !== null && !consumer.filter(message)) return
    if (this.backlog === null) {
      if (consumer.ready) return consumer.deliver(message, false, consumer.ackMode === 'auto' ? null : UNTRACKED_DELIVERY)
      this.backlog = new Fifo<Message>()
    }
    this.backlog.push(message)
    if (this.backlog.length > this.router.options.maxBacklog) {
      this.cancel()
      consumer.overflow()
    }
  }

  resume(): void {
    const backlog = this.backlog
    if (backlog === null) return
    const consumer = this.consumer
    const now = Date.now()
    while (backlog.length > 0 && consumer.ready && !this.cancelled) {
      const message = backlog.shift()!
      if (message.isExpired(now)) continue
      consumer.deliver(message, false, consumer.ackMode === 'auto' ? null : UNTRACKED_DELIVERY)
    }
    if (backlog.length === 0) this.backlog = null
  }

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.backlog = null
    this.router.remove(this)
  }
}

export class TopicRouter {
  readonly options: TopicOptions
  private readonly matcher = new TopicMatcher<TopicSubscription>()

  constructor(options: TopicOptions) {
    this.options = options
  }

  get subscriptionCount(): number {
    return this.matcher.size
  }

  /** `pattern` is the name after `/topic/`, possibly with wildcards. */
  subscribe(pattern: string, consumer: Consumer): Binding {
    const subscription = new TopicSubscription(this, pattern, consumer)
    this.matcher.add(pattern, subscription)
    return subscription
  }

  /** Fans `message` out to every subscription matching `name` (the literal name after `/topic/`). */
  publish(name: string, message: Message): number {
    const subscriptions = this.matcher.match(name)
    for (let i = 0; i < subscriptions.length; i++) subscriptions[i]!.offer(message)
    return subscriptions.length
  }

  remove(subscription: TopicSubscription): void {
    this.matcher.remove(subscription.pattern, subscription)
  }
}
