// A durable topic subscription: a queue bound to a topic pattern that keeps matching
// messages while its subscriber is away, and hands them over (with acks and redelivery,
// like any queue) when it comes back.
import type { PublishResult } from './broker.js'
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

  constructor(key: string, destination: string, pattern: string, queue: Queue) {
    this.key = key
    this.destination = destination
    this.pattern = pattern
    this.queue = queue
  }

  offer(message: Message): PublishResult {
    return this.queue.enqueue(message)
  }
}
