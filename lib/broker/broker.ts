// The broker facade: routes published messages to topics and queues, binds consumers to
// them, keeps durable topic subscriptions, and owns per-connection temporary queues. It
// knows destinations and messages, never frames or sockets, and reaches persistence only
// through the Store interface.
import type { Backplane, TopicKind } from './backplane.js'
import type { SharedQueues } from './shared-queues.js'
import { StompError } from '../errors.js'
import { MemoryStore } from '../store/memory.js'
import type { DurableRecord, QueueRecord, Store } from '../store/store.js'
import type { Binding, Consumer, SessionRef } from './consumer.js'
import { compileSelector, type Selector } from '../selector/compile.js'
import { formatDestination, userRoute, type Destination } from './destination.js'
import { RETAINED_STORE_PREFIX, RetainedValues } from './retained.js'
import { DEDUP_STORE_PREFIX, DedupWindow, type DedupOptions } from './dedup.js'
import type { Tracing } from './tracing.js'
import { Streams } from './streams.js'
import type { StreamLimits, StreamStart } from './stream.js'
import { DurableSubscription } from './durable.js'
import { Message, MessageIds, type Header } from './message.js'
import { Queue, type QueueOptions } from './queue.js'
import { TopicRouter, type TopicOptions } from './topic.js'

export interface BrokerOptions {
  queue: QueueOptions
  topic: TopicOptions
  /** ms between sweeps that drop expired messages from queues nobody consumes. */
  expirySweepInterval: number
  /** Duplicate detection of SENDs with a `dedup-id`. */
  dedup: DedupOptions
  /** Limits of a stream that declares none (x-max-length, x-max-length-bytes, x-max-age). */
  stream: StreamLimits
}

export const DEFAULT_BROKER_OPTIONS: BrokerOptions = {
  queue: { maxRedeliveries: 5, maxLength: 0, maxBytes: 0, overflow: 'drop-head' },
  topic: { maxBacklog: 10_000 },
  expirySweepInterval: 5000,
  dedup: { windowMs: 10 * 60_000, maxIds: 100_000 },
  stream: { maxLength: 0, maxBytes: 256 * 1024 * 1024, maxAgeMs: 0 },
}

/** What publishing returns: undefined when done, a promise when durability is still pending, or why it was refused. */
export type PublishResult = undefined | Promise<void> | StompError

/** Limits a client may declare for a queue it creates (RabbitMQ's x-max-length and friends). */
export type QueueLimits = Partial<Pick<QueueOptions, 'maxLength' | 'maxBytes' | 'overflow'>>

export interface BrokerStats {
  published: number
  /** Messages that went nowhere: a topic without subscribers, a reply queue whose owner left, or expired. */
  dropped: number
  deadLettered: number
}

const DLQ_PREFIX = 'DLQ.'

export class Broker {
  readonly ids = new MessageIds()
  readonly stats: BrokerStats = { published: 0, dropped: 0, deadLettered: 0 }
  readonly store: Store
  private readonly options: BrokerOptions
  private readonly topics: TopicRouter
  /** RabbitMQ's amq.fanout exchange: its own namespace, out of reach of topic wildcards. */
  private readonly fanouts: TopicRouter
  private readonly queues = new Map<string, Queue>()
  private readonly retained: RetainedValues
  private readonly dedup: DedupWindow
  private readonly streams: Streams
  /** Spans for publishes and deliveries (--otel); null when off. Set before the first connection. */
  tracing: Tracing | null = null
  private readonly durables = new Map<string, DurableSubscription>()
  /** Temporary queues by owner session id, then by name. */
  private readonly tempQueues = new Map<string, Map<string, Queue>>()
  private sweeper: NodeJS.Timeout | null = null
  /** How topic messages reach the other nodes of a cluster; null on a node of its own. */
  private readonly backplane: Backplane | null
  /** Where a cluster's `/queue/`s live (Redis Streams); null: in this process and its store. */
  private readonly sharedQueues: SharedQueues | null

  constructor(options: Partial<BrokerOptions> = {}, store: Store = new MemoryStore(), backplane: Backplane | null = null, sharedQueues: SharedQueues | null = null) {
    this.options = { ...DEFAULT_BROKER_OPTIONS, ...options }
    this.store = store
    this.retained = new RetainedValues(store)
    this.dedup = new DedupWindow(store, this.options.dedup)
    this.streams = new Streams(store, this.options.stream)
    this.backplane = backplane
    this.sharedQueues = sharedQueues
    this.topics = new TopicRouter(this.options.topic, backplane === null ? null : interestIn(backplane, 'topic'))
    this.fanouts = new TopicRouter(this.options.topic, backplane === null ? null : interestIn(backplane, 'fanout'))
    if (backplane !== null) backplane.onMessage = (kind, name, message) => this.deliverRemote(kind, name, message)
    if (this.options.expirySweepInterval > 0) {
      this.sweeper = setInterval(() => this.sweepExpired(Date.now()), this.options.expirySweepInterval)
      this.sweeper.unref()
    }
  }

  /**
   * Rebuilds queues and durable subscriptions from the store, every message in its original
   * order; one delivered before the restart and not acked comes back marked redelivered.
   */
  async recover(): Promise<void> {
    // A cluster's durable subscriptions are the cluster's: made here or on any other node.
    const shared = this.sharedQueues
    if (shared !== null) {
      this.syncDurables(await shared.durables().catch(() => []))
      shared.watchDurables((records) => this.syncDurables(records))
    }
    for (const record of await this.store.queues()) this.createQueue(record.name, record)
    for (const record of await this.store.durables()) {
      const durable = this.createDurable(record.key, record.destination, storedSelector(record))
      if (durable === null) this.store.deleteDurable(record.key)
    }
    const now = Date.now()
    // After a crash the store may not have heard of deliveries the clients saw: every recovered
    // message is then marked redelivered, the conservative reading (as AMQP brokers do).
    const assumeDelivered = !this.store.closedCleanly
    const byStoreName = new Map<string, Queue>()
    for (const queue of this.queues.values()) byStoreName.set(queue.storeName!, queue)
    for (const durable of this.durables.values()) byStoreName.set(durable.queue.storeName!, durable.queue)
    for await (const stored of this.store.recover()) {
      if (this.streams.restore(stored)) continue
      if (stored.queue.startsWith(DEDUP_STORE_PREFIX)) {
        this.dedup.restore(stored.destination, stored.id, stored.expires, stored.key)
        continue
      }
      if (stored.queue.startsWith(RETAINED_STORE_PREFIX)) {
        const message = new Message({ id: stored.id, destination: stored.destination, headers: stored.headers, body: stored.body, persistent: true, expires: stored.expires })
        this.retained.restore(stored.queue.slice(RETAINED_STORE_PREFIX.length), message, stored.key)
        continue
      }
      let queue = byStoreName.get(stored.queue)
      if (queue === undefined && stored.queue.startsWith('/queue/')) {
        queue = this.queue(stored.queue.slice('/queue/'.length))
        byStoreName.set(stored.queue, queue)
      }
      if (queue === undefined || (stored.expires !== 0 && stored.expires <= now)) {
        // Its durable subscription is gone, or it expired while the broker was down.
        this.store.remove(stored.key)
        continue
      }
      const message = new Message({ id: stored.id, destination: stored.destination, headers: stored.headers, body: stored.body, persistent: true, expires: stored.expires })
      queue.restore(message, stored.key, assumeDelivered ? Math.max(1, stored.deliveries) : stored.deliveries)
    }
    await this.store.flush()
  }

  /** A SEND: routed, or with a `dedup-id` seen within the window, the first one's outcome. */
  publish(destination: Destination, message: Message, from: SessionRef): PublishResult {
    if (this.tracing !== null) return traced(this.tracing, formatDestination(destination), message, () => this.publishOnce(destination, message, from))
    return this.publishOnce(destination, message, from)
  }

  private publishOnce(destination: Destination, message: Message, from: SessionRef): PublishResult {
    const dedupId = message.dedupId
    if (dedupId === undefined || !this.dedup.enabled) return this.route(destination, message, from)
    return this.dedup.once(dedupKey(destination, from), dedupId, message.persistent, () => this.route(destination, message, from))
  }

  private route(destination: Destination, message: Message, from: SessionRef): PublishResult {
    this.stats.published++
    if (message.expires !== 0 && message.isExpired(Date.now())) {
      this.stats.dropped++
      return undefined
    }
    switch (destination.kind) {
      case 'topic':
      case 'fanout':
      case 'user': {
        const backplane = this.backplane
        // Refused whole rather than delivered here and lost for the other nodes.
        if (backplane !== null && backplane.problem !== null) return clusterUnavailable(backplane.problem)
        const router = destination.kind === 'topic' ? this.topics : this.fanouts
        const name = destination.kind === 'user' ? userRoute(destination) : destination.name
        const kept = destination.kind === 'topic' && message.retain ? this.retained.keep(name, message) : undefined
        const { targets, durable: fannedOut } = router.publish(name, message)
        const durable = kept === undefined ? fannedOut : fannedOut === undefined ? kept : Promise.all([kept, fannedOut]).then(() => undefined)
        if (backplane === null) {
          if (targets === 0) this.stats.dropped++
          return durable
        }
        const sent = backplane.publish(destination.kind === 'topic' ? 'topic' : 'fanout', name, message)
        return durable === undefined ? sent : Promise.all([durable, sent]).then(() => undefined)
      }
      case 'queue':
        return this.queue(destination.name).enqueue(message)
      case 'stream':
        return this.streams.append(destination.name, message, message.persistent)
      case 'temp-queue':
        return this.tempQueue(from.id, destination.name).enqueue(message)
      case 'reply-queue': {
        const queue = this.replyQueue(destination.name)
        if (queue !== undefined) return queue.enqueue(message)
        // Its connection may be on another node of the cluster.
        if (this.backplane !== null) {
          if (this.backplane.problem !== null) return clusterUnavailable(this.backplane.problem)
          return this.backplane.publish('reply', destination.name, message)
        }
        this.stats.dropped++
        return undefined
      }
    }
  }

  /** A topic message another node published: delivered here as if published here, and not sent on. */
  private deliverRemote(kind: TopicKind, name: string, message: Message): void {
    if (message.isExpired(Date.now())) return
    if (kind === 'reply') {
      const queue = this.replyQueue(name)
      if (queue === undefined) this.stats.dropped++ // its connection is gone
      else queue.enqueue(message)
      return
    }
    const router = kind === 'topic' ? this.topics : this.fanouts
    // A node that hears a retained message keeps it too (one with no subscriber for the topic does not hear it).
    const kept = kind === 'topic' && message.retain ? this.retained.keep(name, message) : undefined
    kept?.catch(() => {})
    const { durable } = router.publish(name, message)
    // Nobody waits for it here; a store failure is the store's to report (/readyz).
    durable?.catch(() => {})
  }

  subscribe(destination: Destination, consumer: Consumer): Binding {
    switch (destination.kind) {
      case 'topic':
        return this.topics.subscribe(destination.name, consumer, this.retained.matching(destination.name))
      case 'fanout':
        return this.fanouts.subscribe(destination.name, consumer)
      case 'user':
        return this.fanouts.subscribe(userRoute(destination), consumer)
      case 'stream':
        return this.streams.subscribe(destination.name, consumer, { from: 'next' }, null)
      case 'queue':
        return this.queue(destination.name).addConsumer(consumer)
      case 'temp-queue':
        return this.tempQueue(consumer.session.id, destination.name).addConsumer(consumer)
      case 'reply-queue':
        // parseDestination refuses SUBSCRIBE to another connection's reply queue.
        throw new Error('reply queues cannot be subscribed to')
    }
  }

  /**
   * Attaches `consumer` to the durable subscription `key` on a topic, creating it if needed.
   * A durable subscription re-made on another topic starts afresh, as in JMS.
   */
  subscribeDurable(key: string, destination: Destination, consumer: Consumer, selector: Selector | null = null): Binding {
    const full = `/topic/${destination.name}`
    let durable = this.durables.get(key)
    if (durable !== undefined && !durable.isFor(full, selector?.text ?? null)) {
      this.unsubscribeDurable(key)
      durable = undefined
    }
    if (durable === undefined) {
      durable = this.createDurable(key, full, selector)!
      const record = { key, destination: full, selector: selector?.text ?? null }
      if (this.sharedQueues === null) this.store.saveDurable(record)
      else this.sharedQueues.saveDurable(record)
    }
    return durable.queue.addConsumer(consumer)
  }

  /** Makes this node's durable subscriptions the cluster's: new ones bound, deleted ones dropped. */
  private syncDurables(records: readonly DurableRecord[]): void {
    const known = new Set<string>()
    for (const record of records) {
      known.add(record.key)
      const durable = this.durables.get(record.key)
      if (durable !== undefined && durable.isFor(record.destination, record.selector)) continue
      if (durable !== undefined) this.dropDurable(durable)
      this.createDurable(record.key, record.destination, storedSelector(record))
    }
    for (const durable of [...this.durables.values()]) if (!known.has(durable.key)) this.dropDurable(durable)
  }

  /** Forgets a durable subscription deleted elsewhere (its stream went with it there). */
  private dropDurable(durable: DurableSubscription): void {
    this.topics.remove(durable)
    this.durables.delete(durable.key)
    this.sharedQueues?.forgetDurable(durable.key)
  }

  /** Deletes a durable subscription and what it kept (UNSUBSCRIBE with `durable:true`). */
  unsubscribeDurable(key: string): boolean {
    const durable = this.durables.get(key)
    if (durable === undefined) return false
    this.topics.remove(durable)
    this.durables.delete(key)
    if (this.sharedQueues !== null) {
      this.sharedQueues.deleteDurable(key)
      return true
    }
    durable.queue.purge()
    this.store.deleteDurable(key)
    return true
  }

  /** Creates `/queue/<name>` with the given limits, unless it already exists (then the limits are ignored). */
  declareQueue(name: string, limits: QueueLimits): void {
    if (this.queues.has(name)) return
    const queue = this.createQueue(name, limits)
    if (this.sharedQueues !== null) return this.sharedQueues.declare(queue.destination, queue.options)
    const { maxLength, maxBytes, overflow } = queue.options
    this.store.saveQueue({ name, maxLength, maxBytes, overflow })
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
    this.backplane?.unlisten('reply', session.id)
  }

  /** The queue for a `/queue/` name, created on first use. */
  queue(name: string): Queue {
    return this.queues.get(name) ?? this.createQueue(name, {})
  }

  /** Whether `/queue/<name>` exists: created by a SEND or SUBSCRIBE, declared, or recovered from the store. */
  hasQueue(name: string): boolean {
    return this.queues.has(name)
  }

  durableQueue(key: string): Queue | undefined {
    return this.durables.get(key)?.queue
  }

  get queueCount(): number {
    return this.queues.size
  }

  get topicSubscriptionCount(): number {
    return this.topics.subscriptionCount + this.fanouts.subscriptionCount
  }

  /** Stops housekeeping and closes the store once everything pending is committed. */
  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.sweeper = null
    await this.store.close()
  }

  private createQueue(name: string, limits: QueueLimits | QueueRecord): Queue {
    const destination = '/queue/' + name
    const isDeadLetterQueue = name.startsWith(DLQ_PREFIX)
    // A dead-letter queue keeps what it holds: it never dead-letters further, and server-wide
    // limits do not apply to it (only limits declared for it do).
    const defaults: QueueOptions = isDeadLetterQueue
      ? { ...this.options.queue, maxRedeliveries: Infinity, maxLength: 0, maxBytes: 0 }
      : this.options.queue
    const options: QueueOptions = { ...defaults, ...definedLimits(limits) }
    const deadLetter = isDeadLetterQueue ? null : (message: Message, reason: string) => this.deadLetter(name, message, reason)
    const queue = this.sharedQueues?.create(destination, options, deadLetter) ?? new Queue(destination, options, deadLetter, this.store, destination)
    this.queues.set(name, queue)
    return queue
  }

  /** A durable subscription bound to its topic; null if `destination` is not a topic. */
  private createDurable(key: string, destination: string, selector: Selector | null): DurableSubscription | null {
    if (!destination.startsWith('/topic/')) return null
    const pattern = destination.slice('/topic/'.length)
    const deadLetter = (message: Message, reason: string): void => this.deadLetter(`durable.${pattern}`, message, reason)
    const queue = this.sharedQueues?.createDurable(key, destination, this.options.queue, deadLetter) ?? new Queue(destination, this.options.queue, deadLetter, this.store, `durable:${key}`)
    const durable = new DurableSubscription(key, destination, pattern, queue, selector)
    this.durables.set(key, durable)
    this.topics.bind(durable)
    return durable
  }

  private deadLetter(queueName: string, message: Message, reason: string): void {
    const name = DLQ_PREFIX + queueName
    const destination = '/queue/' + name
    const headers: Header[] = [['destination', destination], ['original-destination', message.destination], ['dead-letter-reason', reason]]
    for (const header of message.headers) {
      if (header[0] !== 'destination' && header[0] !== 'original-destination' && header[0] !== 'dead-letter-reason') headers.push(header)
    }
    const result = this.queue(name).enqueue(message.with(destination, headers))
    // Only a dead-letter queue declared with limits and reject-publish can refuse one.
    if (result instanceof StompError) this.stats.dropped++
    else this.stats.deadLettered++
  }

  /**
   * Whether `destination` would refuse `count` more messages of `bytes` body bytes in all, so a
   * COMMIT can refuse a transaction whole instead of applying part of it.
   */
  wouldRefuse(destination: Destination, count: number, bytes: number): StompError | undefined {
    if (destination.kind !== 'queue') return undefined
    return this.queues.get(destination.name)?.wouldRefuse(count, bytes)
  }

  private sweepExpired(now: number): void {
    let dropped = 0
    for (const queue of this.queues.values()) dropped += queue.sweepExpired(now)
    for (const durable of this.durables.values()) dropped += durable.queue.sweepExpired(now)
    for (const owned of this.tempQueues.values()) for (const queue of owned.values()) dropped += queue.sweepExpired(now)
    this.stats.dropped += dropped
    this.dedup.sweep(now)
    this.streams.sweep(now)
  }

  /** Every local queue (`/queue/<name>` by name, DLQs included), for the management API. */
  get queueMap(): ReadonlyMap<string, Queue> {
    return this.queues
  }

  /** Every durable topic subscription, by key. */
  get durableMap(): ReadonlyMap<string, DurableSubscription> {
    return this.durables
  }

  /** Every stream, by name. */
  get streamMap(): ReadonlyMap<string, { length: number, nextOffset: number, delivered: number }> {
    return this.streams.all
  }

  /** Topic subscription patterns: how many subscriptions each has, and the messages they took. */
  topicSubscriptions(): Map<string, { subscriptions: number, offered: number }> {
    return this.topics.patterns()
  }

  /** Empties `/queue/<name>`; how many messages went, or null when there is no such queue. */
  purgeQueue(name: string): number | null {
    return this.queues.get(name)?.purge() ?? null
  }

  /** Deletes `/queue/<name>` and what it holds: 'gone' when it did not exist, 'busy' while consumers are on it. */
  deleteQueue(name: string): 'deleted' | 'gone' | 'busy' {
    const queue = this.queues.get(name)
    if (queue === undefined) return 'gone'
    if (queue.consumerCount > 0) return 'busy'
    queue.purge()
    this.queues.delete(name)
    return 'deleted'
  }

  /**
   * Moves every message waiting in `/queue/DLQ.<name>` back to `/queue/<name>`, oldest first,
   * marked redelivered, without the dead-letter headers; how many, or null when neither exists.
   */
  redrive(name: string): number | null {
    const dlq = this.queues.get(DLQ_PREFIX + name)
    if (dlq === undefined) return this.queues.has(name) ? 0 : null
    const target = this.queue(name)
    const destination = `/queue/${name}`
    const taken = dlq.takeWaiting()
    for (const { message, key } of taken) {
      if (key !== 0) this.store.remove(key)
      const headers: Header[] = [['destination', destination]]
      for (const header of message.headers) {
        if (header[0] !== 'destination' && header[0] !== 'original-destination' && header[0] !== 'dead-letter-reason') headers.push(header)
      }
      target.enqueue(message.with(destination, headers), 1)
    }
    return taken.length
  }

  /** Creates `/stream/<name>` with the given limits unless it exists. */
  declareStream(name: string, limits: Partial<StreamLimits>): void {
    this.streams.get(name, limits)
  }

  /** A reader of `/stream/<name>` from `start`; a durable one (`durableKey`) resumes where it stopped. */
  subscribeStream(name: string, consumer: Consumer, start: StreamStart, durableKey: string | null): Binding {
    return this.streams.subscribe(name, consumer, start, durableKey)
  }

  /** Forgets a durable stream reader's place (UNSUBSCRIBE with durable:true). */
  forgetStreamReader(key: string): boolean {
    return this.streams.deleteCursor(key)
  }

  private tempQueue(sessionId: string, name: string): Queue {
    let owned = this.tempQueues.get(sessionId)
    if (owned === undefined) {
      owned = new Map()
      this.tempQueues.set(sessionId, owned)
      // Replies from clients on other nodes find this connection's temporary queues here.
      this.backplane?.listen('reply', sessionId)
    }
    let queue = owned.get(name)
    if (queue === undefined) {
      // Nobody else can consume a temporary queue, so what its owner refuses too often is
      // dropped; and it dies with the connection, so it is never stored.
      queue = new Queue(`/temp-queue/${name}`, this.options.queue, null, null, null)
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

/** Makes a router's interest in a pattern the backplane's: listen while it has targets. */
function interestIn(backplane: Backplane, kind: TopicKind): (pattern: string, added: boolean) => void {
  return (pattern, added) => {
    if (added) backplane.listen(kind, pattern)
    else backplane.unlisten(kind, pattern)
  }
}

/** `publish()` inside a publish span, ended when its outcome is known. */
function traced(tracing: Tracing, destination: string, message: Message, publish: () => PublishResult): PublishResult {
  const end = tracing.publish(destination, message)
  const result = publish()
  if (result instanceof Promise) result.then(() => end(), (err: Error) => end(err))
  else end(result instanceof StompError ? result : undefined)
  return result
}

/** What a dedup-id is unique within: a destination (a user's own, a connection's temporary queue). */
function dedupKey(destination: Destination, from: SessionRef): string {
  if (destination.kind === 'user') return `/user/${destination.user!}/${destination.name}`
  if (destination.kind === 'temp-queue') return `/temp-queue/${from.id}.${destination.name}`
  return formatDestination(destination)
}

/** A durable subscription's selector as recorded (it compiled when it was made; should it no longer, it selects everything). */
function storedSelector(record: DurableRecord): Selector | null {
  if (record.selector === null) return null
  try {
    return compileSelector(record.selector)
  } catch {
    return null
  }
}

function clusterUnavailable(problem: string): StompError {
  return new StompError('cluster-unavailable', `this node cannot reach the other nodes (${problem}); the message was not accepted`)
}

/** Only the limits actually given, so undefined ones do not override defaults. */
function definedLimits(limits: QueueLimits | QueueRecord): QueueLimits {
  const out: QueueLimits = {}
  if (limits.maxLength !== undefined) out.maxLength = limits.maxLength
  if (limits.maxBytes !== undefined) out.maxBytes = limits.maxBytes
  if (limits.overflow !== undefined) out.overflow = limits.overflow
  return out
}
