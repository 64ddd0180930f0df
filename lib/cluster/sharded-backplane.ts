// The Backplane on a Redis Cluster. Plain pub/sub there sends every message to every shard, so
// it cannot grow with the cluster; sharded pub/sub (SPUBLISH) stays on the shard that owns the
// channel but has no patterns, so it cannot serve a wildcard subscription on its own. Each node
// therefore has an inbox (the sharded channel `stompd:inbox:{<node id>}`, on the shard its id
// hashes to), and the publishing node sends a message to the inbox of every other node that
// listens to it, which it learns from the interest registry (interest.ts). A message crosses
// Redis once per node that wants it, on that node's shard; publishers and inboxes spread over
// the shards as nodes are added. Per-publisher order holds: one node's messages to one inbox take
// one connection to one shard.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Message } from '../broker/message.js'
import type { Backplane, RemoteDelivery, TopicKind } from '../broker/backplane.js'
import { channelOf, subscriptionOf } from './channels.js'
import { Arrivals, encodeEnvelope, unreachable as unavailable } from './envelope.js'
import { INTEREST_CHANGED, InterestRegistry } from './interest.js'
import { ListenCounts } from './listen-counts.js'
import { connectRedis, untilReachable, type RedisClient } from './redis-connection.js'

const inboxOf = (nodeId: string): string => `stompd:inbox:{${nodeId}}`

export class ShardedBackplane implements Backplane {
  readonly nodeId = randomBytes(6).toString('base64url')
  onMessage: RemoteDelivery = () => {}
  private readonly publisher: RedisClient
  private readonly subscriber: RedisClient
  private readonly listening = new ListenCounts()
  private readonly interest: InterestRegistry
  private readonly arrivals: Arrivals
  private readonly logger: Logger
  private seq = 0

  constructor(url: string, logger: Logger) {
    this.logger = logger
    this.arrivals = new Arrivals(this.nodeId)
    this.publisher = connectRedis(url, { pipelined: true })
    this.subscriber = connectRedis(url, { subscriber: true })
    this.interest = new InterestRegistry(this.publisher, this.nodeId, () => [...this.listening.subscriptions()], logger)
    for (const [role, connection] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      connection.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection problem'))
      connection.on('ready', () => logger.info({ role }, 'redis connected'))
    }
    this.publisher.on('ready', () => this.interest.connected())
    this.subscriber.on('ready', () => this.subscribe())
    this.subscriber.on('smessageBuffer', (_channel: Buffer, bytes: Buffer) => this.receive(bytes))
    this.subscriber.on('messageBuffer', (channel: Buffer, bytes: Buffer) => {
      if (channel.toString() === INTEREST_CHANGED) this.interest.heard(bytes.toString())
    })
    this.interest.start()
  }

  /** Resolves once both connections are up (or rejects after `ms`). */
  ready(ms: number): Promise<void> {
    return untilReachable(() => this.problem, ms)
  }

  get problem(): string | null {
    if (this.publisher.status !== 'ready') return `publisher ${this.publisher.status}`
    if (this.subscriber.status !== 'ready') return `subscriber ${this.subscriber.status}`
    if (!this.subscribed) return 'subscriber not yet subscribed'
    return null
  }

  publish(kind: TopicKind, name: string, message: Message): Promise<void> {
    if (this.publisher.status !== 'ready') return Promise.reject(unavailable(`redis is ${this.publisher.status}`))
    const nodes = this.interest.nodesFor(channelOf(kind, name))
    if (nodes.length === 0) return Promise.resolve()
    const bytes = encodeEnvelope(this.nodeId, ++this.seq, kind, name, message)
    return Promise.all(nodes.map((nodeId) => this.publisher.spublish(inboxOf(nodeId), bytes))).then(() => undefined, (err: Error) => {
      throw unavailable(err.message)
    })
  }

  listen(kind: TopicKind, pattern: string): void {
    if (this.listening.add(subscriptionOf(kind, pattern))) this.interest.changed()
  }

  unlisten(kind: TopicKind, pattern: string): void {
    if (this.listening.remove(subscriptionOf(kind, pattern))) this.interest.changed()
  }

  async close(): Promise<void> {
    await this.interest.close()
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()])
    this.publisher.disconnect()
    this.subscriber.disconnect()
  }

  private subscribed = false

  /** The inbox and the interest announcements, at every (re)connect. */
  private subscribe(): void {
    Promise.all([this.subscriber.ssubscribe(inboxOf(this.nodeId)), this.subscriber.subscribe(INTEREST_CHANGED)]).then(() => {
      this.subscribed = true
    }, (err: Error) => this.logger.warn({ err: err.message }, 'redis: subscribing to this node\'s inbox failed; retried on reconnect'))
  }

  private receive(bytes: Buffer): void {
    const envelope = this.arrivals.sort(bytes)
    if (envelope === null) return
    this.onMessage(envelope.kind, envelope.name, envelope.message)
  }
}
