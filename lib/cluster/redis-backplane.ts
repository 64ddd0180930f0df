// The Backplane over Redis pub/sub: a node PUBLISHes every topic message its clients send to the
// channel of the topic's name, and SUBSCRIBEs (PSUBSCRIBE for wildcards) only to the channels its
// own subscribers need, so a message crosses to the nodes that want it and no others. One
// connection publishes, in order, so messages from one publisher arrive in the order sent;
// another is in subscriber mode. ioredis reconnects with backoff and subscribes again by itself.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Message } from '../broker/message.js'
import type { Backplane, RemoteDelivery, TopicKind } from '../broker/backplane.js'
import { channelOf, subscriptionOf, type ChannelSubscription } from './channels.js'
import { Arrivals, encodeEnvelope, unreachable as unavailable } from './envelope.js'
import { ListenCounts } from './listen-counts.js'
import { connectRedis, untilReachable, type RedisClient } from './redis-connection.js'

export class RedisBackplane implements Backplane {
  readonly nodeId = randomBytes(6).toString('base64url')
  onMessage: RemoteDelivery = () => {}
  private readonly publisher: RedisClient
  private readonly subscriber: RedisClient
  private readonly listening = new ListenCounts()
  private readonly logger: Logger
  private seq = 0
  private readonly arrivals: Arrivals

  constructor(url: string, logger: Logger) {
    this.logger = logger
    this.arrivals = new Arrivals(this.nodeId)
    this.publisher = connectRedis(url, { pipelined: true })
    this.subscriber = connectRedis(url)
    for (const [role, connection] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      connection.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection problem'))
      connection.on('ready', () => logger.info({ role }, 'redis connected'))
    }
    this.subscriber.on('ready', () => this.resubscribe())
    this.subscriber.on('messageBuffer', (_channel: Buffer, bytes: Buffer) => this.receive(bytes))
    this.subscriber.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, bytes: Buffer) => this.receive(bytes))
  }

  /** Resolves once both connections are up (or rejects after `ms`). */
  ready(ms: number): Promise<void> {
    return untilReachable(() => this.problem, ms)
  }

  get problem(): string | null {
    if (this.publisher.status !== 'ready') return `publisher ${this.publisher.status}`
    if (this.subscriber.status !== 'ready') return `subscriber ${this.subscriber.status}`
    return null
  }

  publish(kind: TopicKind, name: string, message: Message): Promise<void> {
    if (this.publisher.status !== 'ready') return Promise.reject(unavailable(`redis is ${this.publisher.status}`))
    const bytes = encodeEnvelope(this.nodeId, ++this.seq, kind, name, message)
    return this.publisher.publish(channelOf(kind, name), bytes).then(() => undefined, (err: Error) => {
      throw unavailable(err.message)
    })
  }

  listen(kind: TopicKind, pattern: string): void {
    const subscription = subscriptionOf(kind, pattern)
    if (this.listening.add(subscription)) this.command(subscription, true)
  }

  unlisten(kind: TopicKind, pattern: string): void {
    const subscription = subscriptionOf(kind, pattern)
    if (this.listening.remove(subscription)) this.command(subscription, false)
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()])
    this.publisher.disconnect()
    this.subscriber.disconnect()
  }

  /**
   * (P)SUBSCRIBE or (P)UNSUBSCRIBE. While disconnected ioredis refuses the command, but
   * re-subscribes to what it had on reconnecting; a channel first needed while Redis was away is
   * subscribed to once it is back (see resubscribe).
   */
  private command(subscription: ChannelSubscription, on: boolean): void {
    const connection = this.subscriber
    const run = subscription.isPattern
      ? (on ? connection.psubscribe(subscription.channel) : connection.punsubscribe(subscription.channel))
      : (on ? connection.subscribe(subscription.channel) : connection.unsubscribe(subscription.channel))
    run.catch((err: Error) => {
      this.logger.warn({ err: err.message, channel: subscription.channel }, 'redis (un)subscribe failed; retried on reconnect')
      if (on) this.connectionLost = true
    })
  }

  private connectionLost = false

  /** After a reconnect: subscribe again to everything needed now (ioredis only knows what it had). */
  private resubscribe(): void {
    if (!this.connectionLost) return
    this.connectionLost = false
    for (const subscription of this.listening.subscriptions()) this.command(subscription, true)
  }

  private receive(bytes: Buffer): void {
    const envelope = this.arrivals.sort(bytes)
    if (envelope === null) return
    this.onMessage(envelope.kind, envelope.name, envelope.message)
  }
}
