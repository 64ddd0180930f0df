// A durable topic subscription: a queue bound to a topic pattern that keeps matching
// messages while its subscriber is away, and hands them over (with acks and redelivery,
// like any queue) when it comes back.
import type { PublishResult } from './broker.js'
import type { Selector } from '../selector/compile.js'
import type { Message } from './message.js'
import type { Queue } from './queue.js'
import type { TopicTarget } from './topic.js'

export class DurableSubscription implements TopicTarget {
  /** Owner and name: login + NUL + subscription name. */
  readonly key: string
  /** `/topic/<pattern>` */
  readonly destination: string
  readonly pattern: string
  readonly queue: Queue
  /** Only the messages it selects are kept (as JMS does): a change of selector makes a new subscription. */
  readonly selector: Selector | null

  constructor(key: string, destination: string, pattern: string, queue: Queue, selector: Selector | null) {
    this.key = key
    this.destination = destination
    this.pattern = pattern
    this.queue = queue
    this.selector = selector
  }

  offer(message: Message): PublishResult {
    if (this.selector !== null && !this.selector.matches(message)) return undefined
    return this.queue.enqueue(message)
  }

  /** Whether this is the subscription `destination` with `selector` describes. */
  isFor(destination: string, selector: string | null): boolean {
    return this.destination === destination && (this.selector?.text ?? null) === selector
  }
}
