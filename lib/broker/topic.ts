// Topics: publish/subscribe. Every subscription whose pattern matches gets the message;
// nothing is kept for subscribers that are not there. A subscriber that cannot take a
// message right now (congested connection, prefetch used up) gets a bounded backlog;
// one that outgrows it is given up on (`slow consumer`), so it never makes the broker
// hold unbounded memory.
import type { PublishResult } from './broker.js'
import { UNTRACKED_DELIVERY, type Binding, type Consumer } from './consumer.js'
import { Fifo } from './fifo.js'
import { TopicMatcher } from './matcher.js'
import type { Message } from './message.js'
import { SelectorIndex } from './selector-index.js'

export interface TopicOptions {
  /** Messages a subscriber may fall behind by before it is dropped as a slow consumer. */
  maxBacklog: number
}

/** Anything a topic delivers to: a live subscriber, or a durable subscription's queue. */
export interface TopicTarget {
  readonly pattern: string
  offer(message: Message): PublishResult
}

class TopicSubscription implements Binding, TopicTarget {
  private readonly router: TopicRouter
  readonly pattern: string
  readonly consumer: Consumer
  private backlog: Fifo<Message> | null = null
  private cancelled = false
  /** Messages this subscription took (delivered or held in its backlog): the management API's rates. */
  offered = 0

  constructor(router: TopicRouter, pattern: string, consumer: Consumer) {
    this.router = router
    this.pattern = pattern
    this.consumer = consumer
  }

  offer(message: Message): undefined {
    const consumer = this.consumer
    if (consumer.filter !== null && !consumer.filter(message)) return undefined
    return this.offerSelected(message)
  }

  /** `message` is known to pass this subscription's selector. */
  offerSelected(message: Message): undefined {
    const consumer = this.consumer
    this.offered++
    if (this.backlog === null) {
      if (consumer.ready) {
        consumer.deliver(message, false, consumer.ackMode === 'auto' ? null : UNTRACKED_DELIVERY)
        return undefined
      }
      this.backlog = new Fifo<Message>()
    }
    this.backlog.push(message)
    if (this.backlog.length > this.router.options.maxBacklog) {
      this.cancel()
      consumer.overflow()
    }
    return undefined
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

/** Counts what a publish reached, and the durability it waits for. */
export interface TopicPublish {
  targets: number
  durable: Promise<void> | undefined
}

/** Told when a pattern gains or loses a target: a cluster node listens to other nodes for it meanwhile. */
export type InterestListener = (pattern: string, added: boolean) => void

/** The subscriptions on one pattern that a selector index finds: one target for the matcher. */
class IndexedSubscriptions implements TopicTarget {
  readonly pattern: string
  readonly index = new SelectorIndex<TopicSubscription>()

  constructor(pattern: string) {
    this.pattern = pattern
  }

  offer(message: Message): undefined {
    this.index.offer(message)
    return undefined
  }
}

export class TopicRouter {
  readonly options: TopicOptions
  private readonly matcher = new TopicMatcher<TopicTarget>()
  /** By pattern: the subscriptions there whose selector has an equality term to index. */
  private readonly indexed = new Map<string, IndexedSubscriptions>()
  private indexedCount = 0
  private readonly interest: InterestListener | null

  constructor(options: TopicOptions, interest: InterestListener | null = null) {
    this.options = options
    this.interest = interest
  }

  get subscriptionCount(): number {
    return this.matcher.size - this.indexed.size + this.indexedCount
  }

  /** `pattern` is the name after `/topic/`, possibly with wildcards; `first` goes to it before anything published later. */
  subscribe(pattern: string, consumer: Consumer, first: readonly Message[] = []): Binding {
    const subscription = new TopicSubscription(this, pattern, consumer)
    for (const message of first) subscription.offer(message)
    const term = consumer.selector?.index ?? null
    if (term === null) {
      this.matcher.add(pattern, subscription)
    } else {
      let group = this.indexed.get(pattern)
      if (group === undefined) {
        group = new IndexedSubscriptions(pattern)
        this.indexed.set(pattern, group)
        this.matcher.add(pattern, group)
      }
      group.index.add(subscription, term)
      this.indexedCount++
    }
    this.interest?.(pattern, true)
    return subscription
  }

  /** Adds a target that outlives connections (a durable subscription's queue). */
  bind(target: TopicTarget): void {
    this.matcher.add(target.pattern, target)
    this.interest?.(target.pattern, true)
  }

  /**
   * Fans `message` out to every target matching `name` (the literal name after `/topic/`).
   * Persistent copies kept for durable subscriptions are committed together; the promise
   * resolves when they are. A durable subscription whose queue is full just misses it.
   */
  publish(name: string, message: Message): TopicPublish {
    const targets = this.matcher.match(name)
    let durable: Promise<void> | undefined
    for (let i = 0; i < targets.length; i++) {
      const result = targets[i]!.offer(message)
      if (result instanceof Promise) durable = result
    }
    return { targets: targets.length, durable }
  }

  /** Patterns with live subscriptions (not durable ones) and how many each has. */
  patterns(): Map<string, { subscriptions: number, offered: number }> {
    const counts = new Map<string, { subscriptions: number, offered: number }>()
    const count = (subscription: TopicSubscription): void => {
      const entry = counts.get(subscription.pattern) ?? { subscriptions: 0, offered: 0 }
      entry.subscriptions++
      entry.offered += subscription.offered
      counts.set(subscription.pattern, entry)
    }
    for (const target of this.matcher.targets()) {
      if (target instanceof TopicSubscription) count(target)
      else if (target instanceof IndexedSubscriptions) for (const subscription of target.index.targets()) count(subscription)
    }
    return counts
  }

  remove(target: TopicTarget): void {
    const group = target instanceof TopicSubscription ? this.indexed.get(target.pattern) : undefined
    if (group !== undefined && group.index.remove(target as TopicSubscription)) {
      this.indexedCount--
      if (group.index.size === 0) {
        this.indexed.delete(group.pattern)
        this.matcher.remove(group.pattern, group)
      }
      this.interest?.(target.pattern, false)
      return
    }
    if (this.matcher.remove(target.pattern, target)) this.interest?.(target.pattern, false)
  }
}
