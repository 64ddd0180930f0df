// A point-to-point queue: each message goes to exactly one consumer, round-robin; with no
// consumer ready, messages wait here, in order. Unacked messages that come back (NACK, or
// the consumer left) return to their place, marked redelivered, until `maxRedeliveries`.
// Persistent messages are mirrored in the store from enqueue until ack (or drop).
import { StompError } from '../errors.js'
import type { Store } from '../store/store.js'
import type { PublishResult } from './broker.js'
import type { Binding, Consumer, Delivery } from './consumer.js'
import { Fifo } from './fifo.js'
import type { Message } from './message.js'

export type OverflowPolicy = 'drop-head' | 'reject-publish'

export interface QueueOptions {
  /** Deliveries after the first before a message is dead-lettered. */
  maxRedeliveries: number
  /** Messages waiting (not in flight); 0 = unlimited. */
  maxLength: number
  /** Body bytes waiting; 0 = unlimited. */
  maxBytes: number
  overflow: OverflowPolicy
}

/** What a queue needs of a store: the rest of Store is the broker's. */
export type QueueStore = Pick<Store, 'append' | 'delivered' | 'remove'>

/** Where a queue sends what it gives up on; null discards. */
export type DeadLetterSink = ((message: Message, reason: string) => void) | null

/** A message in a queue. While in flight it is also the consumer's Delivery handle. */
class QueueEntry implements Delivery {
  readonly queue: Queue
  readonly message: Message
  readonly seq: number
  /** The store's key for a persistent message; 0 when it lives in memory only. */
  readonly key: number
  deliveries: number
  consumer: Consumer | null = null

  constructor(queue: Queue, message: Message, seq: number, key: number, deliveries: number) {
    this.queue = queue
    this.message = message
    this.seq = seq
    this.key = key
    this.deliveries = deliveries
  }

  ack(): void {
    this.queue.settle(this)
  }

  requeue(): void {
    this.queue.giveBack(this)
  }

  reject(): void {
    this.queue.reject(this)
  }
}

const bySeq = (entry: QueueEntry): number => entry.seq

/** Messages looked at behind a head that no consumer's selector takes, per dispatch. */
const SELECTOR_SCAN_LIMIT = 1000

/**
 * How long one dispatch may deliver before the rest waits for the next turn: a consumer that
 * comes back to 10,000 waiting messages would otherwise hold every other client for ~100 ms.
 */
const DISPATCH_BUDGET_MS = 2
/** The clock is read once every this + 1 deliveries. */
const DISPATCH_CHECK_DELIVERIES = 63

/** Queues whose dispatch waits for the end of deferDispatch's work; null outside it. */
let deferred: Set<Queue> | null = null

/**
 * Runs `work` with every queue's dispatch held back until it is done, then dispatches each
 * queue it touched once: many messages given back together reach a consumer in queue order,
 * whatever order they were given back in.
 */
export function deferDispatch(work: () => void): void {
  if (deferred !== null) return work()
  const queues = deferred = new Set()
  try {
    work()
  } finally {
    deferred = null
    for (const queue of queues) queue.dispatch()
  }
}

export class Queue {
  /** The destination clients use, e.g. `/queue/orders`. */
  readonly destination: string
  /** The queue's name in the store; null keeps it out of the store (temporary queues). */
  readonly storeName: string | null
  readonly options: QueueOptions
  private readonly deadLetter: DeadLetterSink
  private readonly store: QueueStore | null
  private readonly waiting = new Fifo<QueueEntry>()
  private consumers: Consumer[] = []
  private nextConsumer = 0
  private seq = 0
  private waitingBytes = 0
  private inFlightCount = 0
  /** Waiting messages with an expiry time, so sweeps skip queues that have none. */
  private expiring = 0
  private dispatching = false
  private dispatchAgain = false
  /** Set while the rest of a dispatch that ran out of time waits for the next turn. */
  private continuation: NodeJS.Immediate | null = null

  constructor(destination: string, options: QueueOptions, deadLetter: DeadLetterSink, store: QueueStore | null, storeName: string | null) {
    this.destination = destination
    this.options = options
    this.deadLetter = deadLetter
    this.store = storeName === null ? null : store
    this.storeName = storeName
  }

  /** Messages waiting for a consumer. */
  get depth(): number {
    return this.waiting.length
  }

  /** Messages delivered and not yet acked. */
  get inFlight(): number {
    return this.inFlightCount
  }

  get consumerCount(): number {
    return this.consumers.length
  }

  /** Messages enqueued and delivered since the queue was made (the management API's rates). */
  enqueuedTotal = 0
  deliveredTotal = 0

  /**
   * Adds a published message: stores it if persistent, then dispatches. When full, refuses it
   * (reject-publish) or drops the oldest waiting message (drop-head).
   */
  enqueue(message: Message, deliveries = 0): PublishResult {
    this.enqueuedTotal++
    const { maxLength, maxBytes, overflow } = this.options
    while (this.isFull(message.body.length)) {
      if (overflow === 'reject-publish') {
        return new StompError('queue-full', `${this.destination} is full (max-length ${maxLength || '∞'}, max-bytes ${maxBytes || '∞'})`)
      }
      const oldest = this.waiting.shift()
      if (oldest === undefined) break
      this.drop(oldest)
    }
    let key = 0
    let durable: Promise<void> | undefined
    if (message.persistent && this.store !== null) {
      const write = this.store.append(this.storeName!, message, deliveries)
      key = write.key
      durable = write.durable
    }
    const entry = new QueueEntry(this, message, ++this.seq, key, deliveries)
    this.add(entry)
    // The producer hears the store failed and will send again: what is not delivered yet goes.
    if (durable !== undefined) durable.catch(() => this.withdraw(entry))
    this.dispatch()
    return durable
  }

  /** The refusal enqueueing `count` more messages (`bytes` in all) would meet, if any. */
  wouldRefuse(count: number, bytes: number): StompError | undefined {
    const { maxLength, maxBytes, overflow } = this.options
    if (overflow !== 'reject-publish') return undefined
    if ((maxLength > 0 && this.waiting.length + count > maxLength) || (maxBytes > 0 && this.waitingBytes + bytes > maxBytes)) {
      return new StompError('queue-full', `${this.destination} has no room for ${count} more messages (max-length ${maxLength || '∞'}, max-bytes ${maxBytes || '∞'})`)
    }
    return undefined
  }

  /** Takes a message back out if it is still waiting. */
  private withdraw(entry: QueueEntry): void {
    const index = this.indexOf(entry)
    if (index < 0) return
    this.waiting.removeAt(index)
    this.forgetWaiting(entry)
  }

  private indexOf(entry: QueueEntry): number {
    for (let i = 0; i < this.waiting.length; i++) if (this.waiting.at(i) === entry) return i
    return -1
  }

  /** Consumers that could take a message now. */
  get readyConsumerCount(): number {
    let ready = 0
    for (const consumer of this.consumers) if (consumer.ready) ready++
    return ready
  }

  /**
   * Takes every waiting message out, oldest first, without forgetting it in the store: for a
   * cluster node handing what it fetched back to the others when its last consumer left.
   */
  takeWaiting(): Array<{ message: Message, key: number, deliveries: number }> {
    const taken: Array<{ message: Message, key: number, deliveries: number }> = []
    for (let entry = this.waiting.shift(); entry !== undefined; entry = this.waiting.shift()) {
      this.forgetWaiting(entry)
      taken.push({ message: entry.message, key: entry.key, deliveries: entry.deliveries })
    }
    return taken
  }

  /** Puts back a message recovered from the store, in recovery order; dispatch happens later. */
  restore(message: Message, key: number, deliveries: number): void {
    this.add(new QueueEntry(this, message, ++this.seq, key, deliveries))
  }

  addConsumer(consumer: Consumer): Binding {
    this.consumers.push(consumer)
    this.dispatch()
    return {
      resume: () => this.dispatch(),
      cancel: () => this.removeConsumer(consumer),
    }
  }

  /** Delivers waiting messages to ready consumers, round-robin. Safe to call at any time. */
  dispatch(): void {
    if (deferred !== null) {
      deferred.add(this)
      return
    }
    if (this.dispatching) {
      this.dispatchAgain = true
      return
    }
    this.dispatching = true
    try {
      do {
        this.dispatchAgain = false
        this.dispatchWaiting()
      } while (this.dispatchAgain)
    } finally {
      this.dispatching = false
    }
  }

  /** An in-flight message was acked. */
  settle(entry: QueueEntry): void {
    if (entry.consumer === null) return
    entry.consumer = null
    this.inFlightCount--
    this.forget(entry)
  }

  /** An in-flight message was refused for good (NACK with `requeue:false`): dead-lettered, as RabbitMQ does. */
  reject(entry: QueueEntry): void {
    if (entry.consumer === null) return
    entry.consumer = null
    this.inFlightCount--
    this.forget(entry)
    this.deadLetter?.(entry.message, 'rejected')
  }

  /** An in-flight message came back: NACK, or its consumer left. */
  giveBack(entry: QueueEntry): void {
    if (entry.consumer === null) return
    entry.consumer = null
    this.inFlightCount--
    if (entry.deliveries > this.options.maxRedeliveries) {
      this.forget(entry)
      this.deadLetter?.(entry.message, `delivered ${entry.deliveries} times without an ack`)
      return
    }
    this.add(entry, true)
    this.dispatch()
  }

  /** Drops every waiting message; in-flight ones settle as usual. */
  purge(): number {
    const count = this.waiting.length
    for (const entry of this.waiting) this.forget(entry)
    this.waiting.clear()
    this.waitingBytes = 0
    this.expiring = 0
    return count
  }

  /** Drops waiting messages that have expired; returns how many. */
  sweepExpired(now: number): number {
    if (this.expiring === 0) return 0
    return this.waiting.removeWhere((entry) => {
      if (!entry.message.isExpired(now)) return false
      this.forgetWaiting(entry)
      return true
    })
  }

  private add(entry: QueueEntry, sorted = false): void {
    if (sorted) this.waiting.insertSorted(entry, bySeq)
    else this.waiting.push(entry)
    this.waitingBytes += entry.message.body.length
    if (entry.message.expires !== 0) this.expiring++
  }

  private isFull(incoming: number): boolean {
    const { maxLength, maxBytes } = this.options
    return (maxLength > 0 && this.waiting.length >= maxLength) ||
      (maxBytes > 0 && this.waiting.length > 0 && this.waitingBytes + incoming > maxBytes)
  }

  private dispatchWaiting(): void {
    if (this.continuation !== null) return // the next turn's dispatch takes them, in order
    const waiting = this.waiting
    // The clock is first read at the 64th delivery: most dispatches deliver one message and never read it.
    let started = 0
    let delivered = 0
    let now = 0
    while (waiting.length > 0) {
      const entry = waiting.peek()!
      const message = entry.message
      if (message.expires !== 0) {
        if (now === 0) now = Date.now()
        if (message.isExpired(now)) {
          this.drop(waiting.shift()!)
          continue
        }
      }
      const consumer = this.pickConsumer(message)
      if (consumer === null) {
        // The head waits for a consumer whose selector takes it; those behind it need not.
        if (this.hasReadyConsumer()) this.dispatchBehindHead()
        return
      }
      this.deliver(waiting.shift()!, consumer)
      if ((++delivered & DISPATCH_CHECK_DELIVERIES) !== 0) continue
      const clock = performance.now()
      if (started === 0) {
        started = clock
      } else if (clock - started > DISPATCH_BUDGET_MS) {
        this.continuation = setImmediate(() => {
          this.continuation = null
          this.dispatch()
        })
        return
      }
    }
  }

  /**
   * Looks behind a head message that no ready consumer's filter takes, for messages one does
   * (as ActiveMQ does for selectors). Bounded, so a queue full of unwanted messages costs a
   * fixed amount of work per dispatch.
   */
  private dispatchBehindHead(): void {
    const waiting = this.waiting
    const now = Date.now()
    let index = 1
    let scanned = 0
    while (index < waiting.length && scanned < SELECTOR_SCAN_LIMIT && this.hasReadyConsumer()) {
      scanned++
      const entry = waiting.at(index)!
      if (entry.message.isExpired(now)) {
        this.drop(waiting.removeAt(index)!)
        continue
      }
      const consumer = this.pickConsumer(entry.message)
      if (consumer === null) {
        index++
        continue
      }
      this.deliver(waiting.removeAt(index)!, consumer)
    }
  }

  /** Hands a message just taken off `waiting` to a consumer. */
  private deliver(entry: QueueEntry, consumer: Consumer): void {
    const message = entry.message
    this.forgetWaiting(entry)
    entry.deliveries++
    this.deliveredTotal++
    const redelivered = entry.deliveries > 1
    if (consumer.ackMode === 'auto') {
      // Acked on delivery: it leaves the store now.
      this.forget(entry)
      consumer.deliver(message, redelivered, null)
    } else {
      entry.consumer = consumer
      this.inFlightCount++
      if (entry.key !== 0) this.store!.delivered(entry.key, entry.deliveries)
      consumer.deliver(message, redelivered, entry)
    }
  }

  /** A waiting message leaves without being delivered (expired, or dropped for room). */
  private drop(entry: QueueEntry): void {
    this.forgetWaiting(entry)
    this.forget(entry)
  }

  /** Bookkeeping for an entry leaving `waiting`. */
  private forgetWaiting(entry: QueueEntry): void {
    this.waitingBytes -= entry.message.body.length
    if (entry.message.expires !== 0) this.expiring--
  }

  /** The message is gone for good: out of the store. */
  private forget(entry: QueueEntry): void {
    if (entry.key !== 0) this.store!.remove(entry.key)
  }

  private hasReadyConsumer(): boolean {
    for (const consumer of this.consumers) if (consumer.ready) return true
    return false
  }

  /** The next ready consumer after the last one served whose filter takes the message. */
  private pickConsumer(message: Message): Consumer | null {
    const consumers = this.consumers
    const n = consumers.length
    for (let i = 0; i < n; i++) {
      const index = (this.nextConsumer + i) % n
      const consumer = consumers[index]!
      if (!consumer.ready) continue
      if (consumer.filter !== null && !consumer.filter(message)) continue
      this.nextConsumer = (index + 1) % n
      return consumer
    }
    return null
  }

  private removeConsumer(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer)
    if (index < 0) return
    this.consumers = this.consumers.filter((c) => c !== consumer)
    if (this.nextConsumer > index) this.nextConsumer--
    if (this.nextConsumer >= this.consumers.length) this.nextConsumer = 0
  }
}
