// The broker facade: routes published messages to topics and queues, binds consumers to
// them, and owns per-connection temporary queues. It knows destinations and messages,
// never frames or sockets.
import { StompError } from '../errors.js'
import type { Binding, Consumer, SessionRef } from './consumer.js'
import type { Destination } from './destination.js'
import { Message, MessageIds, type Header } from './message.js'
import { Queue, type QueueOptions } from './queue.js'
import { TopicRouter, type TopicOptions } from './topic.js'

export interface BrokerOptions {
  queue: QueueOptions
  topic: TopicOptions
}

export const DEFAULT_BROKER_OPTIONS: BrokerOptions = {
  queue: { maxRedeliveries: 5, maxLength: 0, maxBytes: 0, overflow: 'drop-head' },
  topic: { maxBacklog: 10_000 },
}

/** What publishing returns: undefined when done, a promise when durability is still pending, or why it was refused. */
export type PublishResult = undefined | Promise<void> | StompError

export interface BrokerStats {
  published: number
  /** Messages that went nowhere: a topic without subscribers, a reply queue whose owner left, or expired. */
  dropped: number
  deadLettered: number
}

const DLQ_PREFIX = '/queue/DLQ.'

export class Broker {
  readonly ids = new MessageIds()
  readonly stats: BrokerStats = { published: 0, dropped: 0, deadLettered: 0 }
  private readonly options: BrokerOptions
  private readonly topics: TopicRouter
  private readonly queues = new Map<string, Queue>()
  /** Temporary queues by owner session id, then by name. */
  private readonly tempQueues = new Map<string, Map<string, Queue>>()

  constructor(options: Partial<BrokerOptions> = {}) {
    this.options = { ...DEFAULT_BROKER_OPTIONS, ...options }
    this.topics = new TopicRouter(this.options.topic)
  }

  publish(destination: Destination, message: Message, from: SessionRef): PublishResult {
    this.stats.published++
    if (message.isExpired(Date.now())) {
      this.stats.dropped++
      return undefined
    }
    switch (destination.kind) {
      case 'topic':
        if (this.topics.publish(destination.name, message) === 0) this.stats.dropped++
        return undefined
      case 'queue':
        return this.queue(destination.name).enqueue(message)
      case 'temp-queue':
        return this.tempQueue(from.id, destination.name).enqueue(message)
      case 'reply-queue': {
        const queue = this.replyQueue(destination.name)
        if (queue === undefined) {
          this.stats.dropped++
          return undefined
        }
        return queue.enqueue(message)
      }
    }
  }

  subscribe(destination: Destination, consumer: Consumer): Binding {
    switch (destination.kind) {
      case 'topic':
        return this.topics.subscribe(destination.name, consumer)
      case 'queue':
        return this.queue(destination.name).addConsumer(consumer)
      case 'temp-queue':
        return this.tempQueue(consumer.session.id, destination.name).addConsumer(consumer)
      case 'reply-queue':
        // parseDestination refuses SUBSCRIBE to another connection's reply queue.
        throw new Error('reply queues cannot be subscribed to')
    }
  }

  /** The name others use to reach `session`'s temporary queue `name`: `/reply-queue/<session>.<name>`. */
  replyDestination(session: SessionRef, name: string): string {
    this.tempQueue(session.id, name)
    return `/reply-queue/${session.id}.${name}`
  }

  /** A connection closed: its temporary queues and what they hold go with it. */
  sessionClosed(session: SessionRef): void {
    const owned = this.tempQueues.get(session.id)
    if (owned === undefined) return
    for (const queue of owned.values()) queue.purge()
    this.tempQueues.delete(session.id)
  }

  /** The queue for a `/queue/` name, created on first use. */
  queue(name: string): Queue {
    let queue = this.queues.get(name)
    if (queue === undefined) {
      const destination = '/queue/' + name
      const isDeadLetterQueue = destination.startsWith(DLQ_PREFIX)
      // A dead-letter queue keeps what it holds: it never dead-letters further.
      const options = isDeadLetterQueue ? { ...this.options.queue, maxRedeliveries: Infinity } : this.options.queue
      queue = new Queue(destination, options, isDeadLetterQueue ? null : (message, reason) => this.deadLetter(name, message, reason))
      this.queues.set(name, queue)
    }
    return queue
  }

  get queueCount(): number {
    return this.queues.size
  }

  get topicSubscriptionCount(): number {
    return this.topics.subscriptionCount
  }

  private deadLetter(queueName: string, message: Message, reason: string): void {
    this.stats.deadLettered++
    const destination = DLQ_PREFIX + queueName
    const headers: Header[] = [['destination', destination], ['original-destination', message.destination], ['dead-letter-reason', reason]]
    for (const header of message.headers) {
      if (header[0] !== 'destination' && header[0] !== 'original-destination' && header[0] !== 'dead-letter-reason') headers.push(header)
    }
    this.queue(destination.slice('/queue/'.length)).enqueue(message.with(destination, headers))
  }

  private tempQueue(sessionId: string, name: string): Queue {
    let owned = this.tempQueues.get(sessionId)
    if (owned === undefined) {
      owned = new Map()
      this.tempQueues.set(sessionId, owned)
    }
    let queue = owned.get(name)
    if (queue === undefined) {
      // Nobody else can consume a temporary queue, so what its owner refuses too often is dropped.
      queue = new Queue(`/temp-queue/${name}`, this.options.queue, null)
      owned.set(name, queue)
    }
    return queue
  }

  private replyQueue(name: string): Queue | undefined {
    const dot = name.indexOf('.')
    if (dot < 0) return undefined
    return this.tempQueues.get(name.slice(0, dot))?.get(name.slice(dot + 1))
  }
}
