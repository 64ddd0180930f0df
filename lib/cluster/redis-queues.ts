// Queues shared by every node, on Redis Streams. A queue is a stream (`stompd:queue:<name>`) with
// one consumer group; each node reads from it, as a consumer named after itself, only as many
// messages as its own subscribers can take now, and keeps them in a local Queue that hands them
// out, round-robin, with acks and redeliveries as on one node. An ACK is XACK + XDEL; a message
// still held when its node's last subscriber leaves goes back to the stream. Each node keeps a
// key alive while it lives; the others claim what a dead node had taken (XCLAIM) and deliver it
// marked redelivered. SEND is XADD, and its RECEIPT waits for Redis.
import type { Logger } from 'pino'
import type { PublishResult } from '../broker/broker.js'
import type { Binding, Consumer } from '../broker/consumer.js'
import type { Message } from '../broker/message.js'
import { Queue, type DeadLetterSink, type QueueOptions, type QueueStore } from '../broker/queue.js'
import { StompError } from '../errors.js'
import type { DurableRecord } from '../store/store.js'
import type { SharedQueues } from '../broker/shared-queues.js'
import { decodeEnvelope, encodeEnvelope } from './envelope.js'
import { connectRedis, type RedisClient } from './redis-connection.js'
import { parseRedisUrl } from './redis-url.js'
import { ADD_ONCE, ENQUEUE, ScriptRunner } from './stream-scripts.js'

const GROUP = 'stompd'
const STREAM_PREFIX = 'stompd:queue:'
const DURABLE_PREFIX = 'stompd:durable:'
/** Durable subscriptions of the whole cluster: key → JSON of a DurableRecord. */
const DURABLES = 'stompd:durables'
/** How often a node looks for durable subscriptions made or deleted on other nodes. */
const DURABLES_POLL_MS = 1000
/** How long a durable subscription remembers a message id it already has a copy of. */
const SEEN_TTL_MS = 10 * 60_000
const NODE_PREFIX = 'stompd:node:'
/** A node's key lives this long without being renewed (every LIVENESS_RENEW_MS). */
const LIVENESS_TTL_MS = 3000
const LIVENESS_RENEW_MS = 1000
/** How often pending entries of dead nodes are looked for. */
const REAP_INTERVAL_MS = 1000
/** A dead node's pending entries read and claimed per step. */
const REAP_PAGE = 1000
/** How long one XREADGROUP waits for new messages before the set of queues is looked at again. */
const READ_BLOCK_MS = 100
/** On a Redis Cluster (no blocking read across slots): how long a node with nothing to read waits for a notice before reading anyway. */
const IDLE_READ_MS = 1000
/** On a Redis Cluster: most messages one read takes from one queue. */
const CLUSTER_READ_COUNT = 10
/** Messages fetched per ready local subscriber: enough to keep it busy, few enough to share the work out. */
const PER_CONSUMER = 50
const MAX_FETCH = 500
/** SENDs to one queue go to Redis together, up to this many in one script call. */
const MAX_SEND_BATCH = 256



// Every key of one queue shares its hash tag (the braces), so on a Redis Cluster they sit in one
// slot, where a script and MULTI may use them together, and different queues spread over shards.
const queueStream = (destination: string): string => `${STREAM_PREFIX}{${destination.slice('/queue/'.length)}}`
const durableStream = (key: string): string => `${DURABLE_PREFIX}{${Buffer.from(key).toString('base64url')}}`
/** The limits declared for a stream's queue (x-max-length, x-overflow): the first declaration holds. */
const limitsOf = (stream: string): string => `${stream}:limits`
/** Sharded channel (Redis Cluster only): a message was added to the stream, read it. */
const addedOf = (stream: string): string => `${stream}:added`

function unavailable(detail: string): StompError {
  return new StompError('cluster-unavailable', `the queue could not be reached (${detail}); the message was not accepted`)
}

/** A SEND waiting for its turn's script call. */
interface PendingSend {
  bytes: Buffer
  deliveries: number
  resolve(): void
  reject(err: unknown): void
}

/** What XREADGROUP returns: per stream, its entries (id, fields). */
type StreamReply = Array<[stream: Buffer, entries: Array<[id: Buffer, fields: Buffer[]]>]>

/** Stream fields as XREADGROUP and XCLAIM return them: [name, value, name, value, ...]. */
function field(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1]
  return undefined
}

/** The local Queue's store: what it forgets (acked, expired, dead-lettered) leaves the stream. */
class StreamLedger implements QueueStore {
  queue: StreamQueue | null = null
  private readonly ids = new Map<number, string>()
  private nextKey = 0

  keyFor(id: string): number {
    const key = ++this.nextKey
    this.ids.set(key, id)
    return key
  }

  idOf(key: number): string | undefined {
    return this.ids.get(key)
  }

  append(): never {
    throw new Error('a stream queue is appended to by XADD, not through its ledger')
  }

  delivered(): void {
    // Redis counts deliveries itself (XPENDING), for whoever claims the entry later.
  }

  remove(key: number): void {
    const id = this.ids.get(key)
    if (id === undefined) return
    this.ids.delete(key)
    this.queue?.removeEntry(id)
  }

  forget(key: number): void {
    this.ids.delete(key)
  }
}

export class StreamQueue extends Queue {
  readonly stream: string
  /** A durable subscription's: several nodes may offer the same message, one copy is kept. */
  readonly once: boolean
  private readonly cluster: RedisQueues
  private readonly ledger: StreamLedger

  constructor(cluster: RedisQueues, destination: string, options: QueueOptions, deadLetter: DeadLetterSink, stream: string, once: boolean) {
    const ledger = new StreamLedger()
    super(destination, options, deadLetter, ledger, destination)
    ledger.queue = this
    this.ledger = ledger
    this.cluster = cluster
    this.stream = stream
    this.once = once
  }

  override enqueue(message: Message): PublishResult {
    return this.once ? this.cluster.addOnce(this, message) : this.cluster.add(this, message, 0)
  }

  override addConsumer(consumer: Consumer): Binding {
    const binding = super.addConsumer(consumer)
    this.cluster.wanted()
    return {
      resume: () => {
        binding.resume()
        this.cluster.wanted()
      },
      cancel: () => {
        binding.cancel()
        // After the session has given back what it held (right after its cancels).
        queueMicrotask(() => this.releaseIfUnconsumed())
      },
    }
  }

  /** How many more messages this node should fetch for its subscribers now. */
  get demand(): number {
    if (this.consumerCount === 0) return 0
    return Math.max(0, Math.min(MAX_FETCH, PER_CONSUMER * this.readyConsumerCount - this.depth))
  }

  /** A stream entry fetched or claimed for this node: into the local queue, then out to a subscriber. */
  accept(id: string, fields: Buffer[], deliveries: number): void {
    const bytes = field(fields, 'm')
    const envelope = bytes === undefined ? null : decodeEnvelope(bytes)
    if (envelope === null) {
      this.removeEntry(id) // not ours to understand: it would block the queue forever
      return
    }
    const carried = Number(field(fields, 'd')?.toString() ?? '0')
    // A read that was under way when the last subscriber here left: straight back for the others.
    if (this.consumerCount === 0) return this.cluster.giveBack(this, id, envelope.message, Math.max(carried, deliveries))
    this.restore(envelope.message, this.ledger.keyFor(id), Math.max(carried, deliveries))
    this.dispatch()
  }

  removeEntry(id: string): void {
    this.cluster.remove(this, id)
  }

  /** No subscriber left here: what this node fetched goes back to the stream for the others. */
  private releaseIfUnconsumed(): void {
    if (this.consumerCount > 0) return
    for (const { message, key, deliveries } of this.takeWaiting()) {
      const id = this.ledger.idOf(key)
      this.ledger.forget(key)
      if (id !== undefined) this.cluster.giveBack(this, id, message, deliveries)
    }
  }
}

export class RedisQueues implements SharedQueues {
  readonly nodeId: string
  private readonly commands: RedisClient
  private readonly scripts: ScriptRunner
  /** SENDs of this turn not yet sent to Redis, by queue. */
  private readonly sends = new Map<StreamQueue, PendingSend[]>()
  /** ACKs of this turn not yet sent to Redis, by queue: entry ids. */
  private readonly acks = new Map<StreamQueue, string[]>()
  private readonly reader: RedisClient
  private readonly logger: Logger
  private readonly queues = new Map<string, StreamQueue>()
  private readonly groups = new Map<string, Promise<void>>()
  /**
   * On a Redis Cluster only: sharded channels that say a queue's stream got a message, since one
   * XREADGROUP cannot wait on streams in different slots; null on a single Redis.
   */
  private readonly notices: RedisClient | null
  private wake: (() => void) | null = null
  /** Something may be readable that was not when the current read began. */
  private pending = false
  private closed = false
  private readonly timers: NodeJS.Timeout[] = []

  constructor(url: string, nodeId: string, logger: Logger) {
    this.nodeId = nodeId
    this.logger = logger
    this.commands = connectRedis(url, { pipelined: true })
    this.scripts = new ScriptRunner(this.commands, logger)
    this.reader = connectRedis(url)
    this.notices = parseRedisUrl(url)?.kind === 'cluster' ? connectRedis(url, { subscriber: true }) : null
    for (const [role, connection] of [['queues', this.commands], ['queue reader', this.reader], ['queue notices', this.notices]] as const) {
      connection?.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection problem'))
    }
    this.notices?.on('smessageBuffer', () => this.wanted())
    this.notices?.on('ready', () => {
      for (const stream of this.queues.keys()) this.listenForAdds(stream)
    })
    this.commands.on('ready', () => this.retryAcks())
  }

  get problem(): string | null {
    if (this.commands.status !== 'ready') return `queues ${this.commands.status}`
    if (this.scripts.problem !== null) return `queues ${this.scripts.problem}`
    if (this.reader.status !== 'ready') return `queue reader ${this.reader.status}`
    if (this.notices !== null && this.notices.status !== 'ready') return `queue notices ${this.notices.status}`
    return null
  }

  create(destination: string, options: QueueOptions, deadLetter: DeadLetterSink): StreamQueue {
    return this.track(new StreamQueue(this, destination, options, deadLetter, queueStream(destination), false))
  }

  /** The stream of the durable subscription `key` (owner NUL name), on `destination` (its topic). */
  createDurable(key: string, destination: string, options: QueueOptions, deadLetter: DeadLetterSink): StreamQueue {
    return this.track(new StreamQueue(this, destination, options, deadLetter, durableStream(key), true))
  }

  private track(queue: StreamQueue): StreamQueue {
    this.queues.set(queue.stream, queue)
    this.listenForAdds(queue.stream)
    return queue
  }

  private listenForAdds(stream: string): void {
    if (this.notices?.status !== 'ready') return // subscribed on (re)connecting
    this.notices.ssubscribe(addedOf(stream)).catch((err: Error) => this.logger.warn({ err: err.message, stream }, 'redis: queue notices not subscribed; retried on reconnect'))
  }

  private stopListeningForAdds(stream: string): void {
    if (this.notices?.status === 'ready') this.notices.sunsubscribe(addedOf(stream)).catch(() => {})
  }

  /** On a Redis Cluster: tells the nodes reading `stream` that it has something new. */
  private notify(stream: string): void {
    if (this.notices !== null) this.commands.spublish(addedOf(stream), '').catch(() => {})
  }

  /** Records limits declared for a queue, for every node; a queue declared before keeps its own. */
  declare(destination: string, options: QueueOptions): void {
    const { maxLength, overflow } = options
    this.commands.set(limitsOf(queueStream(destination)), JSON.stringify({ maxLength, overflow }), 'NX').catch((err: Error) => this.logger.warn({ err: err.message }, 'redis: queue limits were not recorded'))
  }

  /** The cluster's durable subscriptions. */
  async durables(): Promise<DurableRecord[]> {
    const all = await this.commands.hgetall(DURABLES)
    return Object.values(all).map((json) => JSON.parse(json) as DurableRecord)
  }

  saveDurable(record: DurableRecord): void {
    this.commands.hset(DURABLES, record.key, JSON.stringify(record)).catch((err: Error) => this.logger.warn({ err: err.message }, 'redis: a durable subscription was not recorded'))
  }

  /** Deletes a durable subscription and what it kept, for the whole cluster. */
  deleteDurable(key: string): void {
    const stream = durableStream(key)
    this.queues.delete(stream)
    this.stopListeningForAdds(stream)
    // Two commands, not one MULTI: on a Redis Cluster the two keys live in different slots.
    Promise.all([this.commands.hdel(DURABLES, key), this.commands.del(stream)]).catch((err: Error) => this.logger.warn({ err: err.message }, 'redis: a durable subscription was not deleted'))
  }

  /** Calls `sync` with the cluster's durable subscriptions now and every second. */
  watchDurables(sync: (records: DurableRecord[]) => void): void {
    const poll = (): void => {
      if (this.commands.status === 'ready') this.durables().then(sync, () => {})
    }
    const timer = setInterval(poll, DURABLES_POLL_MS)
    timer.unref()
    this.timers.push(timer)
  }

  /** A durable subscription deleted on another node: this one stops reading its stream. */
  forgetDurable(key: string): void {
    this.queues.delete(durableStream(key))
    this.stopListeningForAdds(durableStream(key))
  }

  /** A topic message for a durable subscription: kept once however many nodes offer it. */
  addOnce(queue: StreamQueue, message: Message): PublishResult {
    const problem = this.problem
    if (problem !== null) return unavailable(problem)
    const bytes = encodeEnvelope(this.nodeId, 0, 'topic', queue.destination, message)
    const seen = `stompd:seen:${queue.stream}:${message.id}`
    return this.ensureGroup(queue.stream)
      .then(() => this.scripts.run(ADD_ONCE, [queue.stream, seen], [bytes, 0, SEEN_TTL_MS]))
      .then(() => this.notify(queue.stream), (err: Error) => {
        throw unavailable(err.message)
      })
  }

  start(): void {
    const renew = (): void => {
      if (this.commands.status === 'ready') this.commands.set(NODE_PREFIX + this.nodeId, String(Date.now()), 'PX', LIVENESS_TTL_MS).catch(() => {})
    }
    renew()
    this.timers.push(setInterval(renew, LIVENESS_RENEW_MS), setInterval(() => void this.reap().catch(() => {}), REAP_INTERVAL_MS))
    for (const timer of this.timers) timer.unref()
    void this.readLoop()
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    this.wake?.()
    await this.commands.del(NODE_PREFIX + this.nodeId).catch(() => {})
    await Promise.allSettled([this.commands.quit(), this.reader.quit(), this.notices?.quit()])
    this.commands.disconnect()
    this.reader.disconnect()
    this.notices?.disconnect()
  }

  /**
   * SEND: XADD (reject-publish checks the length in the same step); resolves once Redis has it.
   * The SENDs to one queue in one turn go in one script call, in the order they came.
   */
  add(queue: StreamQueue, message: Message, deliveries: number): PublishResult {
    const problem = this.problem
    if (problem !== null) return unavailable(problem)
    const bytes = encodeEnvelope(this.nodeId, 0, 'topic', queue.destination, message)
    return new Promise<void>((resolve, reject) => {
      let batch = this.sends.get(queue)
      if (batch === undefined) {
        if (this.sends.size === 0) setImmediate(() => this.flushSends())
        batch = []
        this.sends.set(queue, batch)
      }
      batch.push({ bytes, deliveries, resolve, reject })
      if (batch.length >= MAX_SEND_BATCH) {
        this.sends.delete(queue)
        this.sendBatch(queue, batch)
      }
    })
  }

  private flushSends(): void {
    for (const [queue, batch] of this.sends) this.sendBatch(queue, batch)
    this.sends.clear()
  }

  private sendBatch(queue: StreamQueue, batch: PendingSend[]): void {
    const { maxLength, overflow } = queue.options
    const args: Array<string | number | Buffer> = [maxLength, overflow]
    for (const send of batch) args.push(send.bytes, send.deliveries)
    this.ensureGroup(queue.stream).then(() => this.scripts.run(ENQUEUE, [queue.stream, limitsOf(queue.stream)], args)).then((added) => {
      batch.forEach((send, i) => {
        if (i < Number(added)) send.resolve()
        else send.reject(new StompError('queue-full', `${queue.destination} is full (its declared max-length)`))
      })
      this.notify(queue.stream)
    }, (err: Error) => {
      for (const send of batch) send.reject(unavailable(err.message))
    })
  }

  /** Acked, expired or dead-lettered: out of the group's pending list and out of the stream (the acks of a turn together). */
  remove(queue: StreamQueue, id: string): void {
    let ids = this.acks.get(queue)
    if (ids === undefined) {
      if (this.acks.size === 0) setImmediate(() => this.flushAcks())
      ids = []
      this.acks.set(queue, ids)
    }
    ids.push(id)
  }

  private flushAcks(): void {
    for (const [queue, ids] of this.acks) {
      if (this.commands.status !== 'ready') {
        for (const id of ids) this.acksToRetry.push([queue.stream, id])
        continue
      }
      this.commands.multi().xack(queue.stream, GROUP, ...ids).xdel(queue.stream, ...ids).exec().catch(() => {
        // Still pending under this (live) node: nobody else gets them; the acks are sent again on reconnect.
        for (const id of ids) this.acksToRetry.push([queue.stream, id])
      })
    }
    this.acks.clear()
  }

  /** Acks Redis did not take while it was away, sent again once it is back. */
  private acksToRetry: Array<[stream: string, id: string]> = []

  private retryAcks(): void {
    const acks = this.acksToRetry
    this.acksToRetry = []
    for (const [stream, id] of acks) {
      const queue = this.queues.get(stream)
      if (queue !== undefined) this.remove(queue, id)
    }
  }

  /** Back to the stream for any node: a copy at the end (with its delivery count), the original gone, in one step. */
  giveBack(queue: StreamQueue, id: string, message: Message, deliveries: number): void {
    const bytes = encodeEnvelope(this.nodeId, 0, 'topic', queue.destination, message)
    this.commands.multi().xadd(queue.stream, '*', 'm', bytes, 'd', String(deliveries)).xack(queue.stream, GROUP, id).xdel(queue.stream, id).exec().then(() => this.notify(queue.stream), (err: Error) => {
      this.logger.warn({ err: err.message, queue: queue.destination }, 'redis: a message could not be handed back; another node claims it when this one goes')
    })
  }

  /** Some local queue may want messages now. */
  wanted(): void {
    this.pending = true
    this.wake?.()
  }

  /** Waits `ms`, or less when wanted() is called. */
  private async rest(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve
      setTimeout(resolve, ms).unref()
    })
    this.wake = null
  }

  /**
   * The stream's consumer group, made once. Every caller chains on the same promise, so what
   * they do next runs in the order they called: SENDs reach Redis in the order they came.
   */
  private ensureGroup(stream: string): Promise<void> {
    let grouped = this.groups.get(stream)
    if (grouped === undefined) {
      grouped = this.commands.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM').then(() => undefined, (err: Error) => {
        if (!err.message.includes('BUSYGROUP')) throw err
      })
      grouped.catch(() => this.groups.delete(stream)) // tried again next time
      this.groups.set(stream, grouped)
    }
    return grouped
  }

  /** Fetches for the queues whose subscribers here can take more, as long as this node runs. */
  private async readLoop(): Promise<void> {
    while (!this.closed) {
      const wanting = [...this.queues.values()].filter((queue) => queue.demand > 0)
      if (wanting.length === 0 || this.reader.status !== 'ready') {
        await this.rest(250)
        continue
      }
      try {
        for (const queue of wanting) await this.ensureGroup(queue.stream)
        this.pending = false
        if (this.notices === null) {
          await this.readWaiting(wanting)
        } else {
          const read = await this.readEach(wanting)
          if (read === 0 && !this.pending) await this.rest(IDLE_READ_MS)
        }
      } catch (err) {
        const message = (err as Error).message
        if (message.includes('NOGROUP')) this.groups.clear()
        else this.logger.debug({ err: message }, 'redis: reading queues failed; trying again')
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  }

  /** One Redis: one XREADGROUP for all the queues, waiting up to READ_BLOCK_MS for something new. */
  private async readWaiting(wanting: StreamQueue[]): Promise<void> {
    const count = Math.max(...wanting.map((queue) => queue.demand))
    const reply = await this.reader.callBuffer('XREADGROUP', 'GROUP', GROUP, this.nodeId, 'COUNT', String(count), 'BLOCK', String(READ_BLOCK_MS),
      'STREAMS', ...wanting.map((queue) => queue.stream), ...wanting.map(() => '>')) as StreamReply | null
    this.accept(reply)
  }

  /** A Redis Cluster: one XREADGROUP per queue (their streams are in different slots), none waiting. */
  private async readEach(wanting: StreamQueue[]): Promise<number> {
    // A few at a time: without a blocking read every node races for each notice, and the fastest
    // would otherwise take a whole burst while a busier node (the producers') gets none.
    const replies = await Promise.all(wanting.map((queue) => this.reader.callBuffer('XREADGROUP', 'GROUP', GROUP, this.nodeId,
      'COUNT', String(Math.min(queue.demand, CLUSTER_READ_COUNT)), 'STREAMS', queue.stream, '>') as Promise<StreamReply | null>))
    let read = 0
    for (const reply of replies) read += this.accept(reply)
    return read
  }

  /** Hands fetched entries to their queues; how many there were. */
  private accept(reply: StreamReply | null): number {
    let read = 0
    for (const [stream, entries] of reply ?? []) {
      const queue = this.queues.get(stream.toString())
      read += entries.length
      if (queue === undefined) continue
      for (const [id, fields] of entries) queue.accept(id.toString(), fields, 0)
    }
    return read
  }

  /** Claims, for queues with subscribers here, what nodes that are gone had fetched and not acked. */
  private async reap(): Promise<void> {
    if (this.commands.status !== 'ready') return
    const alive = new Map<string, boolean>([[this.nodeId, true]])
    const isAlive = async (consumer: string): Promise<boolean> => {
      let known = alive.get(consumer)
      if (known === undefined) {
        known = (await this.commands.exists(NODE_PREFIX + consumer)) === 1
        alive.set(consumer, known)
      }
      return known
    }
    for (const queue of this.queues.values()) {
      if (queue.consumerCount === 0) continue
      // The summary names each consumer with entries pending; only a dead one's are read.
      const [, , , consumers] = await this.commands.xpending(queue.stream, GROUP) as [number, string | null, string | null, Array<[string, string]> | null]
      for (const [consumer] of consumers ?? []) {
        if (await isAlive(consumer)) continue
        await this.claimFrom(queue, consumer)
      }
    }
  }

  /** Takes over, page by page, everything the dead node `consumer` had pending on `queue`. */
  private async claimFrom(queue: StreamQueue, consumer: string): Promise<void> {
    let claimedCount = 0
    for (;;) {
      const pending = await this.commands.xpending(queue.stream, GROUP, '-', '+', REAP_PAGE, consumer) as Array<[string, string, number, number]>
      if (pending.length === 0) break
      const deliveries = new Map(pending.map(([id, , , count]) => [id, count]))
      // On the reader: the command connection is auto-pipelined, which callBuffer() does not survive.
      const claimed = await this.reader.callBuffer('XCLAIM', queue.stream, GROUP, this.nodeId, '0', ...deliveries.keys()) as Array<[Buffer, Buffer[]] | null>
      for (const entry of claimed) {
        if (entry === null) continue // trimmed or deleted meanwhile
        const id = entry[0].toString()
        queue.accept(id, entry[1], deliveries.get(id) ?? 1)
      }
      claimedCount += claimed.length
      if (pending.length < REAP_PAGE) break
    }
    this.logger.info({ queue: queue.destination, claimed: claimedCount, from: consumer }, 'claimed messages a node that is gone had not acked')
  }
}
