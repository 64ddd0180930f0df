// One STOMP session per connection: decodes frames, owns the protocol state (CONNECT,
// version, heart-beats, subscriptions, unacked messages, transactions, receipts) and turns
// every protocol violation into an ERROR frame and a close. Nothing here knows whether the
// bytes came over WebSocket or TCP.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Broker, PublishResult } from '../broker/broker.js'
import type { Delivery, Settlement } from '../broker/consumer.js'
import type { Destination } from '../broker/destination.js'
import type { Message } from '../broker/message.js'
import { OFFENCES, StompError, type ErrorCode } from '../errors.js'
import { FrameDecoder, type DecoderLimits, type FrameSink } from '../frame/decoder.js'
import { deliveryHeaders, encodeFrame, MessageTail } from '../frame/encoder.js'
import { EMPTY_BODY, getHeader, type Command, type Frame, type Header, type StompVersion } from '../frame/frame.js'
import type { Admission } from '../transport/admission.js'
import { addressOf, type CloseReason, type Connection, type ConnectionListener } from '../transport/connection.js'
import type { Flusher } from './flusher.js'
import type { HeartbeatMonitor } from './heartbeat.js'
import { FrameHandlers } from './handlers.js'
import { chunkPool } from './chunk-pool.js'
import { Outbox } from './outbox.js'
import { ReceiptQueue, type ReceiptSink } from './receipts.js'
import { negotiateHeartBeat, negotiateVersion, SUPPORTED_VERSIONS_HEADER, type HeartBeat } from './negotiate.js'
import { UnackedDeliveries } from './acks.js'
import { PublishRate } from './publish-rate.js'
import { ANONYMOUS, type AuthGate } from '../auth/gate.js'
import type { FailureThrottle } from '../auth/throttle.js'
import { tokenFromAuthorization } from '../auth/jwt.js'
import type { Credentials, Principal } from '../auth/authenticator.js'
import { AclDecisions, type Acl, type AclAction } from '../auth/acl.js'
import type { ClientSubscription } from './subscription.js'
import type { Transaction } from './transaction.js'

export interface SessionOptions {
  /** `server` header of CONNECTED, e.g. `stompd/0.1.0`. */
  serverName: string
  /** What the server offers: [can send every ms, wants to receive every ms]. */
  heartBeat: readonly [number, number]
  /** A client silent for longer than this many agreed intervals is closed. */
  heartbeatGrace: number
  /** ms a connection may take to send CONNECT. */
  connectTimeout: number
  maxSubscriptions: number
  /** Open transactions per connection, and frames held in one. */
  maxTransactions: number
  maxTransactionFrames: number
  /** Deliveries awaiting ACK per connection, over all its subscriptions; 0 = no limit. */
  maxUnacked: number
  /** SENDs per second per connection; 0 = no limit. */
  maxPublishRate: number
  /** Outbound bytes buffered for a connection before the broker stops writing to it. */
  highWaterMark: number
  /** ms between transport keep-alives (WebSocket pings); 0 = none. */
  keepAliveInterval: number
  decoderLimits: DecoderLimits
}

/** What all sessions of one server share. */
export interface SessionContext {
  readonly broker: Broker
  /** Checks CONNECT's credentials; null = authentication off (anyone may connect). */
  auth: AuthGate | null
  /** Counts open connections for --max-connections and --max-connections-per-ip. */
  readonly admission: Admission
  /**
   * Addresses whose connections ended in OFFENCES: a new connection from one is not read from
   * for a while (doubling per offence, 5 s at most), so a client looping over an attack costs
   * the broker a connection every few seconds instead of all its time. Null: --offender-delay 0.
   */
  readonly offenders: FailureThrottle | null
  /** --acl's rules; null = every session may publish and subscribe anywhere. Replaced on SIGHUP. */
  acl: Acl | null
  readonly heartbeats: HeartbeatMonitor
  readonly flusher: Flusher
  readonly options: SessionOptions
  readonly logger: Logger
  readonly sessions: Set<Session>
  readonly stats: SessionStats
}

/** A connection as the management API lists it. */
export interface SessionSummary {
  id: string
  user: string | null
  remote: string
  transport: string
  version: string | null
  /** Agreed heart-beats, ms: [server sends, server expects]. */
  heartBeat: [number, number]
  subscriptions: number
  bufferedBytes: number
  connectedSince: string
  framesIn: number
  framesOut: number
}

export interface SessionStats {
  connections: number
  delivered: number
  slowConsumers: number
  closed: Partial<Record<CloseReason, number>>
  /** ERRORs sent, by code, and refusals before any STOMP (`origin`, `too-many-connections`). */
  refused: Partial<Record<string, number>>
}

const enum State { Connecting, Authenticating, Connected, Closing, Closed }

/** Why a session stopped reading; several may hold at once. */
const enum Pause { Authentication = 1, PublishRate = 2, Turn = 4, Offender = 8 }

/**
 * How long one client's input may hold the event loop before the rest waits for the next turn
 * (a WebSocket message of 5,000 SUBSCRIBEs took 10 ms in one go, and every other client waited).
 */
const TURN_BUDGET_MS = 2
/** The clock is read once every this + 1 frames. */
const TURN_CHECK_FRAMES = 63

const HEARTBEAT_EOL = Buffer.from('\n')
/**
 * How often a connection gives its outbox chunk back to the pool between turns, busy or not: the
 * next write rents a small one again from the oldest slab with room, so a connection that grew a
 * large chunk in a burst does not keep it (and its slab) for as long as it stays open.
 */
const CHUNK_RELEASE_MS = 1000
const CLOSE_REASONS: Partial<Record<ErrorCode, CloseReason>> = {
  'heartbeat-timeout': 'heartbeat-timeout',
  'connect-timeout': 'connect-timeout',
  'slow-consumer': 'slow-consumer',
  'server-shutdown': 'shutdown',
  'token-expired': 'token-expired',
}

export class Session implements FrameSink, ReceiptSink, ConnectionListener {
  readonly id = randomBytes(9).toString('base64url')
  /** For the line logged at close: how long it lasted and how many frames went each way. */
  private readonly openedAt = Date.now()
  private framesIn = 0
  private framesOut = 0
  /** A CONNECT agreed a version (whether or not its credentials then passed). */
  private negotiated = false
  readonly connection: Connection
  readonly context: SessionContext
  readonly broker: Broker
  version: StompVersion = '1.2'
  /**
   * Who owns this session's durable subscriptions: the authenticated user, or, with
   * authentication off, CONNECT's `login` (or '').
   */
  login = ''
  /** The authenticated user; null with authentication off. */
  principal: Principal | null = null
  /** This session's --acl decisions, made again when the rules are replaced. */
  private aclDecisions: AclDecisions | null = null
  /**
   * Why reading is paused (Pause bits; 0 = reading). Pausing stops the socket's next read and the
   * decoder at the current frame's end: the input already taken in waits in the decoder.
   */
  private pausedFor = 0
  /** When this turn's input began, and frames handled since: see TURN_BUDGET_MS. */
  private turnStartedAt = 0
  private framesThisTurn = 0
  /** --max-publish-rate's bucket (null without a limit), and the timer that resumes reading. */
  private readonly publishRate: PublishRate | null
  private rateTimer: NodeJS.Timeout | null = null
  /** Ends the wait of a connection from an offending address. */
  private offenderTimer: NodeJS.Timeout | null = null
  readonly unacked = new UnackedDeliveries()
  // Made on first use: an idle connection (a browser tab waiting) should cost little.
  private subscriptionsById: Map<string, ClientSubscription> | null = null
  private transactionsById: Map<string, Transaction> | null = null

  private state = State.Connecting
  private readonly decoder: FrameDecoder
  private readonly handlers: FrameHandlers
  private heartBeat: HeartBeat = { send: 0, receive: 0 }
  private readonly connectDeadline: number

  // Outbound: frames of this turn, written together by the flusher.
  private readonly outbox: Outbox
  private flushScheduled = false
  /** The connection said its buffer is past the high-water mark; cleared on drain. */
  private blocked = false
  /** A consumer was turned away because of the outbound buffer: resume them when it empties. */
  private starved = false

  // Liveness, noted cheaply per chunk and turned into times on each heart-beat tick.
  private receivedSinceCheck = false
  private sentSinceCheck = false
  private lastReceived = Date.now()
  private lastSent = Date.now()
  private lastKeepAlive = Date.now()
  private chunkReleasedAt = Date.now()

  /** Made on the first receipt asked for. */
  private receipts: ReceiptQueue | null = null

  constructor(connection: Connection, context: SessionContext) {
    this.connection = connection
    this.context = context
    this.broker = context.broker
    this.decoder = new FrameDecoder(this, context.options.decoderLimits)
    this.outbox = new Outbox(connection.headroom, chunkPool, connection.maxMessageBytes)
    this.handlers = new FrameHandlers(this)
    this.publishRate = context.options.maxPublishRate > 0 ? new PublishRate(context.options.maxPublishRate) : null
    this.connectDeadline = Date.now() + context.options.connectTimeout
    context.sessions.add(this)
    context.admission.opened(connection.remote)
    context.stats.connections++
    context.heartbeats.watch(this, context.options.connectTimeout)
    connection.attach(this)
    this.log('info', { remote: connection.remote, transport: connection.transport }, 'connection opened')
    const wait = context.offenders?.delayFor(addressOf(connection.remote)) ?? 0
    if (wait > 0) this.holdOffender(wait)
  }

  private holdOffender(wait: number): void {
    const refused = this.context.stats.refused
    refused['offender-delayed'] = (refused['offender-delayed'] ?? 0) + 1
    this.log('debug', { wait }, 'reading held back: the address broke the protocol or a limit recently')
    this.pauseReading(Pause.Offender)
    this.offenderTimer = setTimeout(() => {
      this.offenderTimer = null
      this.startTurn()
      this.resumeReading(Pause.Offender)
    }, wait)
  }

  get subscriptions(): Map<string, ClientSubscription> {
    return this.subscriptionsById ??= new Map()
  }

  get transactions(): Map<string, Transaction> {
    return this.transactionsById ??= new Map()
  }

  get connected(): boolean {
    return this.state === State.Connected
  }

  /** Whether --acl lets this session publish or subscribe to `destination` (a cached answer: one Map lookup). */
  allows(action: AclAction, destination: string): boolean {
    const acl = this.context.acl
    if (acl === null) return true
    if (this.aclDecisions?.acl !== acl) this.aclDecisions = new AclDecisions(acl, this.principal)
    return this.aclDecisions.allows(action, destination)
  }

  get canHoldUnacked(): boolean {
    const max = this.context.options.maxUnacked
    return max === 0 || this.unacked.size < max
  }

  /** The connection can take more bytes now. */
  get writable(): boolean {
    if (this.state !== State.Connected || this.blocked) return false
    if (this.outbox.bytes >= this.context.options.highWaterMark) {
      this.starved = true
      return false
    }
    return true
  }

  // ---- inbound ----

  onData(chunk: Buffer): void {
    this.receivedSinceCheck = true
    if (chunk.length === 0 || this.state >= State.Closing) return
    this.startTurn()
    try {
      this.decoder.push(chunk)
    } catch (err) {
      this.internalError(err)
    }
  }

  onFrame(frame: Frame): void {
    if (this.state >= State.Closing) return
    this.framesIn++
    this.handlers.handle(frame)
    // The clock is read every few frames only: most turns end long before the budget.
    if ((++this.framesThisTurn & TURN_CHECK_FRAMES) === 0 && performance.now() - this.turnStartedAt > TURN_BUDGET_MS) this.yieldTurn()
  }

  private startTurn(): void {
    this.turnStartedAt = performance.now()
    this.framesThisTurn = 0
  }

  /**
   * One client's input has held the event loop for TURN_BUDGET_MS: the rest of it waits for the
   * next turn, so that others' frames (and timers) go first.
   */
  private yieldTurn(): void {
    this.pauseReading(Pause.Turn)
    setImmediate(() => {
      this.startTurn()
      this.resumeReading(Pause.Turn)
    })
  }

  onHeartbeat(): void {
    // Liveness was noted when the bytes arrived.
  }

  onError(error: StompError, receipt: string | undefined): void {
    this.fail(error, receipt)
  }

  // ---- CONNECT ----

  /** Answers CONNECT/STOMP: negotiates version and heart-beats, then CONNECTED. */
  connect(frame: Frame): void {
    const version = negotiateVersion(getHeader(frame, 'accept-version'))
    if (version === null) {
      // RabbitMQ's body, word for word: clients' tests compare it.
      return this.fail(new StompError('unsupported-version', `Supported versions are ${SUPPORTED_VERSIONS_HEADER}\n`),
        undefined, [['version', SUPPORTED_VERSIONS_HEADER]])
    }
    this.version = version
    this.negotiated = true
    this.decoder.version = version
    const auth = this.context.auth
    if (auth === null) return this.accept(frame, version, null)
    // Credentials are checked asynchronously: stop reading, and hold what already came.
    this.state = State.Authenticating
    this.pauseReading(Pause.Authentication)
    auth.check(credentialsOf(frame, this.connection)).then((principal) => {
      if (this.state !== State.Authenticating) return // the client left meanwhile
      if (principal === null) return this.fail(new StompError('authentication-failed', 'the credentials given were not accepted'))
      this.accept(frame, version, principal === ANONYMOUS ? null : principal)
      this.startTurn()
      this.resumeReading(Pause.Authentication)
    }).catch((err: unknown) => this.internalError(err))
  }

  /** CONNECT went through: negotiates heart-beats and answers CONNECTED. */
  private accept(frame: Frame, version: StompVersion, principal: Principal | null): void {
    this.principal = principal
    this.login = principal?.user ?? getHeader(frame, 'login') ?? ''
    const headers: Header[] = [['version', version], ['server', this.context.options.serverName], ['session', this.id]]
    if (version !== '1.0') {
      const heartBeat = negotiateHeartBeat(getHeader(frame, 'heart-beat'), this.context.options.heartBeat)
      if (heartBeat instanceof StompError) return this.fail(heartBeat)
      this.heartBeat = heartBeat
    }
    // Also for 1.0, which has no heart-beats (`0,0`): clients and test helpers written against
    // RabbitMQ read the header unconditionally.
    headers.push(['heart-beat', `${this.heartBeat.send},${this.heartBeat.receive}`])
    this.state = State.Connected
    const now = Date.now()
    this.lastReceived = now
    this.lastSent = now
    const intervals = [this.heartBeat.send, this.heartBeat.receive, this.context.options.keepAliveInterval].filter((ms) => ms > 0)
    if (intervals.length > 0) this.context.heartbeats.watch(this, Math.min(...intervals))
    this.sendFrame('CONNECTED', headers)
    this.log('info', { remote: this.connection.remote, transport: this.connection.transport, version, login: getHeader(frame, 'login'), user: principal?.user }, 'session connected')
  }

  // ---- outbound ----

  sendFrame(command: Command, headers: readonly Header[], body: Buffer = EMPTY_BODY, text = true): void {
    if (this.state === State.Closed) return
    const frame = encodeFrame(command, headers, body, this.version)
    this.framesOut++
    this.outbox.beginFrame(frame.length)
    this.outbox.writeBytes(frame, text)
    this.scheduleFlush()
  }

  deliverMessage(subscription: ClientSubscription, message: Message, redelivered: boolean, delivery: Delivery | null, lines = ''): void {
    let tail = message.encoded as MessageTail | undefined
    if (tail === undefined) {
      tail = new MessageTail(message.id, message.headers, message.body)
      message.encoded = tail
    }
    const ack = delivery === null ? undefined : this.unacked.track(subscription, message.id, delivery, this.version)
    this.context.stats.delivered++
    const tracing = this.context.broker.tracing
    if (tracing !== null) tracing.deliver(subscription.destination, subscription.id, this.id, message)
    // Copies of the subscription's prefix (with its `redelivered` line) and of the tail every
    // delivery shares (a large tail is queued as it is), with the delivery's `ack` line in between.
    const prefix = redelivered ? subscription.redeliveredPrefix : subscription.headPrefix
    const own = ack !== undefined ? deliveryHeaders(ack, false) + lines : lines
    const encoded = tail.encode(this.version)
    const outbox = this.outbox
    this.framesOut++
    outbox.beginFrame(prefix.length + own.length + encoded.length)
    outbox.writeBytes(prefix, true)
    if (own !== '') outbox.writeAscii(own)
    outbox.writeBytes(encoded, tail.isText)
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.context.flusher.schedule(this)
    }
  }

  /**
   * Writes what this turn queued. While the connection keeps accepting and consumers were
   * turned away only because the outbox was full, let them refill it and write again: the
   * socket, not the outbox size, decides how much goes out per turn.
   */
  flush(): void {
    try {
      this.writeOut()
    } catch (err) {
      this.flushScheduled = false
      this.internalError(err)
    }
  }

  private writeOut(): void {
    // Deliveries made while refilling below must not schedule another flush.
    this.flushScheduled = true
    const outbox = this.outbox
    const connection = this.connection
    while (!outbox.isEmpty && this.state !== State.Closed) {
      this.sentSinceCheck = true
      // Several messages (the transport caps their size) reach the kernel in one go.
      const several = outbox.hasSealed
      if (several) connection.cork()
      let accepted = true
      do {
        accepted = connection.write(outbox.take(), outbox.takenText, outbox.roomInFront) && accepted
      } while (!outbox.isEmpty)
      if (several) connection.uncork()
      if (!accepted) {
        this.blocked = true
        break
      }
      // Written straight through to the kernel (the usual case): the chunk can be reused.
      if (connection.bufferedBytes === 0) outbox.recycle()
      if (!this.starved || this.state !== State.Connected) break
      this.resumeConsumers()
    }
    this.flushScheduled = false
  }

  onDrain(): void {
    this.blocked = false
    try {
      this.resumeConsumers()
    } catch (err) {
      this.internalError(err)
    }
  }

  private resumeConsumers(): void {
    this.starved = false
    if (this.subscriptionsById === null) return
    for (const subscription of this.subscriptionsById.values()) {
      if (!this.writable) return
      subscription.binding?.resume()
    }
  }

  // ---- receipts ----

  /** Sends RECEIPT `id` once `effect` (if any) is durable, keeping receipts in frame order. */
  receipt(id: string | undefined, effect: PublishResult = undefined, closeAfter = false): void {
    if (effect instanceof StompError) return this.fail(effect, id)
    if (id === undefined && effect === undefined && !closeAfter) return
    // Whatever the frame changed in the store (an ACK's delete, a delivery count) is durable
    // before its RECEIPT, so a client never sees an acked message again.
    this.receipts ??= new ReceiptQueue(this)
    this.receipts.add(id, effect ?? this.broker.store.settled(), closeAfter)
  }

  /** Durability that nobody waits for a receipt on still has to be reported if it fails. */
  watchDurability(effect: PublishResult): boolean {
    if (effect instanceof StompError) {
      this.fail(effect)
      return false
    }
    if (effect !== undefined) effect.catch((err: unknown) => this.storeFailed(err, undefined))
    return true
  }

  sendReceipt(id: string): void {
    this.sendFrame('RECEIPT', [['receipt-id', id]])
  }

  closeAfterReceipts(): void {
    this.close('client-disconnect')
  }

  durabilityFailed(err: unknown, receiptId: string | undefined): void {
    this.storeFailed(err, receiptId)
  }

  // ---- acks ----

  /**
   * ACK or NACK (requeue or reject) of a pending delivery by its ack key (cumulative in `client` mode); the
   * subscription may take more then. Nothing happens if it was settled already.
   */
  settle(key: string, how: Settlement): void {
    const wasFull = !this.canHoldUnacked
    const subscription = this.unacked.settle(key, how)
    if (subscription === undefined || !this.writable) return
    // At --max-unacked every client-ack subscription was held back, not only this one.
    if (wasFull) this.resumeConsumers()
    else subscription.binding?.resume()
  }

  /** Counts a SEND against --max-publish-rate: past it, reading stops until the bucket refills. */
  countPublish(): void {
    if (this.publishRate === null) return
    const wait = this.publishRate.take(Date.now())
    if (wait === 0 || this.rateTimer !== null) return
    const refused = this.context.stats.refused
    refused['publish-rate'] = (refused['publish-rate'] ?? 0) + 1
    this.pauseReading(Pause.PublishRate)
    this.rateTimer = setTimeout(() => {
      this.rateTimer = null
      this.startTurn()
      this.resumeReading(Pause.PublishRate)
    }, wait)
  }

  /** Stops reading for `reason`: the socket is paused, and the decoder after the current frame. */
  private pauseReading(reason: Pause): void {
    if (this.pausedFor === 0) {
      this.decoder.pause()
      this.connection.pause()
    }
    this.pausedFor |= reason
  }

  /**
   * `reason` no longer holds reading back: once no reason does, decodes what waited, in order,
   * then reads again — unless one of those frames paused reading anew.
   */
  private resumeReading(reason: Pause): void {
    this.pausedFor &= ~reason
    if (this.pausedFor !== 0 || this.state >= State.Closing) return
    // The socket first: a frame decoded now may pause both again, or close the session.
    this.connection.resume()
    try {
      this.decoder.resume()
    } catch (err) {
      this.internalError(err)
    }
  }

  /** Unsubscribes: stops deliveries, then returns unacked messages for redelivery. */
  dropSubscription(subscription: ClientSubscription): void {
    this.subscriptions.delete(subscription.id)
    subscription.binding?.cancel()
    this.unacked.returnAll(subscription)
  }

  // ---- errors and closing ----

  /** Sends ERROR (with `receipt-id` when the bad frame asked for a receipt) and closes. */
  fail(error: StompError, receiptId?: string, extraHeaders: readonly Header[] = []): void {
    if (this.state >= State.Closing) return
    const headers: Header[] = [['message', error.message]]
    if (receiptId !== undefined) headers.push(['receipt-id', receiptId])
    // Not the bare `text/plain` RabbitMQ writes: stompit 1.0 reads a body typed exactly so and then
    // raises the error on the frame stream, where nobody listens, crashing the app's process; with
    // a charset it reports the `message` on the client as it should.
    headers.push(...extraHeaders, ['content-type', 'text/plain;charset=utf-8'])
    this.sendFrame('ERROR', headers, Buffer.from(error.detail, 'utf8'))
    const refused = this.context.stats.refused
    refused[error.code] = (refused[error.code] ?? 0) + 1
    const reason = CLOSE_REASONS[error.code] ?? 'protocol-error'
    if (OFFENCES.has(error.code)) this.context.offenders?.failed(addressOf(this.connection.remote))
    this.log('info', { code: error.code, reason }, 'session error')
    this.close(reason)
  }

  slowConsumer(subscription: ClientSubscription): void {
    this.context.stats.slowConsumers++
    this.fail(new StompError('slow-consumer', `subscription ${JSON.stringify(subscription.id)} fell more than the allowed backlog behind`))
  }

  private storeFailed(err: unknown, receiptId: string | undefined): void {
    // The cluster's own refusal (Redis went away while the message was on its way) says so itself.
    if (err instanceof StompError) return this.fail(err, receiptId)
    this.log('error', { err }, 'store failed to make a message durable')
    this.fail(new StompError('store-unavailable', 'the message could not be stored; it was not accepted'), receiptId)
  }

  private internalError(err: unknown): void {
    this.log('error', { err }, 'internal error while handling input')
    this.fail(new StompError('internal-error', 'the server failed to process a frame'))
  }

  /** Flushes what is queued and closes; the broker lets go of this session at once. */
  close(reason: CloseReason): void {
    if (this.state >= State.Closing) return
    this.state = State.Closing
    this.decoder.stop()
    // A paused socket would never read the peer's side of the close handshake.
    if (this.pausedFor !== 0) {
      this.pausedFor = 0
      this.connection.resume()
    }
    this.release()
    this.flush()
    this.connection.close(reason)
  }

  onOversized(): void {
    const limit = this.context.options.decoderLimits.maxFrameSize
    this.fail(new StompError('frame-too-large', `a WebSocket message larger than the server accepts; frames are limited to ${limit} bytes`))
  }

  onClose(reason: CloseReason): void {
    if (this.state === State.Closed) return
    this.state = State.Closed
    this.decoder.stop()
    this.release()
    this.context.heartbeats.unwatch(this)
    this.context.sessions.delete(this)
    this.context.admission.closed(this.connection.remote)
    this.context.stats.closed[reason] = (this.context.stats.closed[reason] ?? 0) + 1
    this.outbox.clear()
    // One line per connection: who, how, why it ended; never a body, a passcode or a token.
    this.log('info', {
      remote: this.connection.remote, transport: this.connection.transport, user: this.principal?.user ?? (this.login === '' ? undefined : this.login),
      version: this.negotiated ? this.version : undefined,
      reason, durationMs: Date.now() - this.openedAt, framesIn: this.framesIn, framesOut: this.framesOut,
    }, 'connection closed')
  }

  /** Cancels subscriptions, returns unacked messages, aborts transactions, drops temp queues. */
  private release(): void {
    const subscriptions = this.subscriptionsById === null ? [] : [...this.subscriptionsById.values()]
    this.subscriptionsById = null
    // Cancel every binding first, so returned messages cannot come back to this session.
    for (const subscription of subscriptions) subscription.binding?.cancel()
    for (const subscription of subscriptions) this.unacked.returnAll(subscription)
    this.transactionsById = null
    this.receipts?.stop()
    if (this.rateTimer !== null) clearTimeout(this.rateTimer)
    if (this.offenderTimer !== null) clearTimeout(this.offenderTimer)
    this.broker.sessionClosed(this)
  }

  /** What the management API shows of this connection. */
  describe(): SessionSummary {
    return {
      id: this.id,
      user: this.principal?.user ?? (this.login === '' ? null : this.login),
      remote: this.connection.remote,
      transport: this.connection.transport,
      version: this.negotiated ? this.version : null,
      heartBeat: [this.heartBeat.send, this.heartBeat.receive],
      subscriptions: this.subscriptions.size,
      bufferedBytes: this.connection.bufferedBytes,
      connectedSince: new Date(this.openedAt).toISOString(),
      framesIn: this.framesIn,
      framesOut: this.framesOut,
    }
  }

  /** An administrator ends this connection (ERROR `closed by an administrator`, then close). */
  closeByAdministrator(): void {
    this.fail(new StompError('closed-by-administrator', 'an administrator closed this connection'))
  }

  /** Logs with the session id; no child logger per session: an idle connection should cost little. */
  private log(level: 'debug' | 'info' | 'error', fields: Record<string, unknown>, message: string): void {
    const logger = this.context.logger
    if (logger.isLevelEnabled(level)) logger[level]({ session: this.id, ...fields }, message)
  }

  // ---- timers ----

  checkTimers(now: number): void {
    try {
      this.checkDeadlines(now)
    } catch (err) {
      this.internalError(err)
    }
  }

  private checkDeadlines(now: number): void {
    if (this.state === State.Connecting || this.state === State.Authenticating) {
      if (now >= this.connectDeadline) this.fail(new StompError('connect-timeout', `no CONNECT frame within ${this.context.options.connectTimeout} ms`))
      return
    }
    if (this.state !== State.Connected) return
    // A token holds for the session only as long as it is valid.
    const expiresAt = this.principal?.expiresAt ?? 0
    if (expiresAt > 0 && now >= expiresAt) return this.fail(new StompError('token-expired', 'the credentials this session connected with have expired; connect again with new ones'))
    if (this.receivedSinceCheck) {
      this.lastReceived = now
      this.receivedSinceCheck = false
    }
    if (this.sentSinceCheck) {
      this.lastSent = now
      this.sentSinceCheck = false
    }
    // Only between turns, once every byte written has left.
    if (now - this.chunkReleasedAt >= CHUNK_RELEASE_MS && this.outbox.isEmpty && this.connection.bufferedBytes === 0) {
      this.outbox.release()
      this.chunkReleasedAt = now
    }
    const { receive, send } = this.heartBeat
    const { heartbeatGrace, keepAliveInterval } = this.context.options
    if (receive > 0 && now - this.lastReceived > receive * heartbeatGrace) {
      return this.fail(new StompError('heartbeat-timeout', `nothing received for ${now - this.lastReceived} ms; the agreed heart-beat is ${receive} ms`))
    }
    if (send > 0 && now - this.lastSent >= send - this.context.heartbeats.granularity) {
      this.outbox.beginFrame(HEARTBEAT_EOL.length)
      this.outbox.writeConstant(HEARTBEAT_EOL, true)
      this.scheduleFlush()
      this.lastSent = now
    }
    if (keepAliveInterval > 0 && now - this.lastKeepAlive >= keepAliveInterval) {
      this.connection.keepAlive()
      this.lastKeepAlive = now
    }
  }

  publish(destination: Destination, message: Message): PublishResult {
    return this.broker.publish(destination, message, this)
  }
}

/** What a CONNECT presents to the authenticators. */
function credentialsOf(frame: Frame, connection: Connection): Credentials {
  return {
    login: getHeader(frame, 'login') ?? '',
    passcode: getHeader(frame, 'passcode') ?? '',
    // Header names are case-sensitive in STOMP; clients write this one as HTTP does.
    bearer: tokenFromAuthorization(getHeader(frame, 'Authorization') ?? getHeader(frame, 'authorization')) || connection.accessToken,
    certificateName: connection.certificateName,
    remote: connection.remote,
    transport: connection.transport,
  }
}
