// One handler per client frame: validate headers, then act through the session and broker.
// Every violation ends in session.fail(...), which sends ERROR and closes.
import { ACK_MODES, type AckMode, type Settlement } from '../broker/consumer.js'
import type { QueueLimits } from '../broker/broker.js'
import { formatDestination, parseDestination, type Destination, type DestinationUse } from '../broker/destination.js'
import { compileSelector, SelectorError, type Selector } from '../selector/compile.js'
import { streamLimits, streamStart } from './stream-headers.js'
import { Message, type Header } from '../broker/message.js'
import { StompError } from '../errors.js'
import { DELIVERY_HEADERS, MessageTail } from '../frame/encoder.js'
import { getHeader, type Frame } from '../frame/frame.js'
import type { Session } from './session.js'
import { ClientSubscription } from './subscription.js'
import { Transaction } from './transaction.js'

const TEMP_QUEUE_PREFIX = '/temp-queue/'

export class FrameHandlers {
  private readonly session: Session
  private lastSendDestination: string | null = null
  private lastSendParsed: Destination | null = null
  /** The last SEND's destination by its own name when it was written as a RabbitMQ alias (`/amq/queue/x` is `/queue/x`), else null. */
  private lastSendCanonical: string | null = null

  constructor(session: Session) {
    this.session = session
  }

  handle(frame: Frame): void {
    const session = this.session
    const receipt = getHeader(frame, 'receipt')
    if (!session.connected) {
      if (frame.command === 'CONNECT' || frame.command === 'STOMP') return session.connect(frame)
      return session.fail(new StompError('not-connected', `the first frame must be CONNECT, not ${frame.command}`), receipt)
    }
    switch (frame.command) {
      case 'SEND': return this.send(frame, receipt)
      case 'SUBSCRIBE': return this.subscribe(frame, receipt)
      case 'UNSUBSCRIBE': return this.unsubscribe(frame, receipt)
      case 'ACK': return this.ack(frame, receipt, true)
      case 'NACK': return this.ack(frame, receipt, false)
      case 'BEGIN': return this.begin(frame, receipt)
      case 'COMMIT': return this.commit(frame, receipt)
      case 'ABORT': return this.abort(frame, receipt)
      case 'DISCONNECT': return session.receipt(receipt, undefined, true)
      case 'CONNECT':
      case 'STOMP':
        return session.fail(new StompError('already-connected', 'this connection has already sent CONNECT'), receipt)
      default:
        return session.fail(new StompError('unknown-command', `${frame.command} is a frame a server sends, not a client`), receipt)
    }
  }

  private send(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    session.countPublish()
    const destination = this.destination(frame, 'send', receipt)
    if (destination === null) return
    if (!this.declareQueue(frame, destination, receipt)) return
    // A topic's message is routed and let go: its header pairs can come along for selectors.
    // A stream's is persistent unless the SEND says `persistent:false`.
    const message = this.toMessage(frame, receipt, destination.kind === 'topic' || destination.kind === 'fanout' || destination.kind === 'user', destination.kind === 'stream')
    if (message === null) return
    const txId = getHeader(frame, 'transaction')
    if (txId !== undefined) {
      const transaction = this.heldIn(txId, receipt)
      if (transaction === null) return
      transaction.actions.push({ kind: 'send', destination, message })
      return transaction.holdReceipt(receipt)
    }
    const result = session.publish(destination, message)
    if (receipt !== undefined) session.receipt(receipt, result)
    else session.watchDurability(result)
  }

  /** The SEND frame as a broker message: the sender's headers minus the per-hop ones, the body copied. */
  private toMessage(frame: Frame, receipt: string | undefined, keepHeaderPairs: boolean, persistentByDefault = false): Message | null {
    const session = this.session
    const headers: Header[] = []
    let destination = ''
    let persistent: boolean | undefined
    let dedupId: string | undefined
    let retain: boolean | undefined
    let expires = 0
    let sawExpires = false
    let sawTtl = false
    for (const header of frame.headers) {
      const [name, value] = header
      if (name === 'receipt' || name === 'transaction' || name === 'content-length') continue
      if (DELIVERY_HEADERS.has(name)) {
        // The broker names messages; RabbitMQ refuses a SEND that tries (the others are dropped).
        if (name === 'message-id') {
          session.fail(new StompError('invalid-header', `'message-id' is not allowed on 'SEND'.\n`), receipt)
          return null
        }
        continue
      }
      // The parsed copy kept from the last SEND, not this frame's: a slice of the frame's header
      // text would keep all of it alive with the message.
      if (name === 'destination' && destination === '') {
        destination = value === this.lastSendDestination ? this.lastSendDestination : value
        // A MESSAGE names the destination as RabbitMQ's would: `/topic/x` for `/exchange/amq.topic/x`.
        if (this.lastSendCanonical !== null) {
          destination = this.lastSendCanonical
          headers.push(['destination', destination])
          continue
        }
      } else if (name === 'persistent' && persistent === undefined) persistent = value === 'true'
      else if (name === 'dedup-id' && dedupId === undefined) dedupId = value
      else if (name === 'retain' && retain === undefined) retain = value === 'true'
      else if ((name === 'expires' && !sawExpires) || (name === 'ttl' && !sawTtl)) {
        const ms = parseMillis(value)
        if (ms === null) {
          session.fail(new StompError('invalid-header', `${name} must be a whole number of milliseconds, not ${JSON.stringify(value)}`), receipt)
          return null
        }
        // `expires:0` and `ttl:0` mean never (as in ActiveMQ and JMS); with both headers the earlier time wins.
        const at = ms === 0 ? 0 : name === 'ttl' ? Date.now() + ms : ms
        if (at > 0 && (expires === 0 || at < expires)) expires = at
        if (name === 'ttl') sawTtl = true
        else sawExpires = true
      } else if (name === 'reply-to' && value.startsWith(TEMP_QUEUE_PREFIX)) {
        headers.push(['reply-to', this.replyTo(value)])
        continue
      } else if (name === 'reply-to' && !this.replyToPermitted(value, receipt)) {
        return null
      }
      headers.push(header)
    }
    // Encoding the shared MESSAGE tail now copies the body out of the socket chunk, once: the
    // message keeps a view of the encoded bytes, and subscribers (1.2 ones, most often) reuse them.
    // The tail keeps the headers too, as bytes, and decodes them for whoever asks.
    const id = session.broker.ids.next()
    const tail = new MessageTail(id, headers, frame.body)
    tail.encode('1.2')
    const message = new Message({ id, destination, headers: tail, body: tail.body, persistent: persistent ?? persistentByDefault, expires, properties: keepHeaderPairs ? headers : undefined, dedupId, retain })
    message.encoded = tail
    return message
  }

  /**
   * With --acl, a `reply-to` naming a shared destination must be one the sender may publish to
   * itself: otherwise a service answering it would write, on the sender's behalf, where the
   * sender may not (a confused deputy).
   */
  private replyToPermitted(value: string, receipt: string | undefined): boolean {
    if (this.session.context.acl === null) return true
    const destination = parseDestination(value, 'send')
    // A reply-to stompd cannot route to is nobody's way in.
    if (destination instanceof StompError) return true
    return this.permitted(destination, 'send', receipt) !== null
  }

  /**
   * `reply-to:/temp-queue/x` becomes a destination others can send to, and replies reach this
   * connection on a subscription whose id is `/temp-queue/x` unless it subscribed to it itself
   * (as RabbitMQ does).
   */
  private replyTo(tempQueue: string): string {
    const session = this.session
    const name = tempQueue.slice(TEMP_QUEUE_PREFIX.length)
    let subscribed = false
    for (const subscription of session.subscriptions.values()) {
      if (subscription.destination === tempQueue) subscribed = true
    }
    if (!subscribed && !session.subscriptions.has(tempQueue)) {
      const destination: Destination = { kind: 'temp-queue', name }
      this.bind(new ClientSubscription(session, tempQueue, tempQueue, 'auto', 0, session.version, true, null), destination)
    }
    return session.broker.replyDestination(session, name)
  }

  private subscribe(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    if (session.subscriptions.size >= session.context.options.maxSubscriptions) {
      return session.fail(new StompError('too-many-subscriptions', `a connection may hold at most ${session.context.options.maxSubscriptions} subscriptions`), receipt)
    }
    const destinationHeader = this.required(frame, 'destination', receipt)
    if (destinationHeader === undefined) return
    if (getHeader(frame, 'id') === undefined && wantsDurable(frame)) {
      return session.fail(new StompError('missing-header', `Header 'id' is required for durable subscriptions`, 'Missing Header'), receipt)
    }
    // STOMP 1.0 makes `id` optional; then the destination names the subscription.
    const id = getHeader(frame, 'id') ?? (session.version === '1.0' ? destinationHeader : this.required(frame, 'id', receipt))
    if (id === undefined) return
    if (session.subscriptions.has(id)) {
      return session.fail(new StompError('duplicate-subscription', `A subscription identified by '${id}' already exists.`), receipt)
    }
    const destination = this.destination(frame, 'subscribe', receipt)
    if (destination === null) return
    const ackMode = getHeader(frame, 'ack') ?? 'auto'
    if (!ACK_MODES.includes(ackMode as AckMode)) {
      return session.fail(new StompError('invalid-header', `ack must be auto, client or client-individual, not ${JSON.stringify(ackMode)}`), receipt)
    }
    const prefetchHeader = getHeader(frame, 'prefetch-count') ?? getHeader(frame, 'activemq.prefetchSize')
    const prefetch = prefetchHeader === undefined ? 0 : parseCount(prefetchHeader)
    if (prefetch === null) {
      return session.fail(new StompError('invalid-header', `prefetch-count must be a whole number, not ${JSON.stringify(prefetchHeader)}`), receipt)
    }
    const selector = this.selector(frame, receipt)
    if (selector === false) return
    if (!this.declareQueue(frame, destination, receipt)) return
    if (destination.kind === 'stream') return this.subscribeStream(frame, id, destinationHeader, destination, ackMode as AckMode, prefetch, selector, receipt)
    const durableName = destination.kind === 'topic' ? durableNameOf(frame, id) : undefined
    // Topics and user destinations hand out copies; everything else is a queue's one message.
    const fromQueue = (destination.kind !== 'topic' && destination.kind !== 'user') || durableName !== undefined
    // A durable subscription keeps only what its selector takes: what it hands over needs no filter.
    const subscription = new ClientSubscription(session, id, destinationHeader, ackMode as AckMode, prefetch,
      session.version, fromQueue, durableName === undefined ? selector : null)
    if (durableName !== undefined) {
      subscription.durableKey = durableKey(session.login, durableName)
      session.subscriptions.set(id, subscription)
      subscription.binding = session.broker.subscribeDurable(subscription.durableKey, destination, subscription, selector)
    } else {
      this.bind(subscription, destination)
    }
    session.receipt(receipt)
  }

  /**
   * A stream reader: from where `offset`/`since` say, or for a durable one (`durable:true`)
   * where it stopped; each MESSAGE carries its `stream-offset`, and none needs an ACK.
   */
  private subscribeStream(frame: Frame, id: string, destinationHeader: string, destination: Destination, ackMode: AckMode, prefetch: number,
    selector: Selector | null, receipt: string | undefined): void {
    const session = this.session
    const start = streamStart(frame)
    if (start instanceof StompError) return session.fail(start, receipt)
    const subscription = new ClientSubscription(session, id, destinationHeader, ackMode, prefetch, session.version, false, selector)
    const durableName = durableNameOf(frame, id)
    if (durableName !== undefined) subscription.durableKey = durableKey(session.login, durableName)
    session.subscriptions.set(id, subscription)
    subscription.binding = session.broker.subscribeStream(destination.name, subscription, start, subscription.durableKey)
    session.receipt(receipt)
  }

  /** SUBSCRIBE's `selector`, compiled; null without one; false after an ERROR for a bad one. */
  private selector(frame: Frame, receipt: string | undefined): Selector | null | false {
    const text = getHeader(frame, 'selector')
    if (text === undefined) return null
    try {
      return compileSelector(text)
    } catch (err) {
      if (!(err instanceof SelectorError)) throw err
      this.session.fail(new StompError('invalid-selector', `the selector ${JSON.stringify(text)} cannot be used: ${err.message}\n`), receipt)
      return false
    }
  }

  private bind(subscription: ClientSubscription, destination: Destination): void {
    this.session.subscriptions.set(subscription.id, subscription)
    subscription.binding = this.session.broker.subscribe(destination, subscription)
  }

  /**
   * The first SEND or SUBSCRIBE to a queue may set its limits, as RabbitMQ's `x-max-length`,
   * `x-max-length-bytes` and `x-overflow` headers do; later ones leave an existing queue as it is.
   */
  private declareQueue(frame: Frame, destination: Destination, receipt: string | undefined): boolean {
    if (destination.kind === 'stream') return this.declareStream(frame, destination, receipt)
    if (destination.kind !== 'queue') return true
    const limits: QueueLimits = {}
    for (const [header, key] of [['x-max-length', 'maxLength'], ['x-max-length-bytes', 'maxBytes']] as const) {
      const value = getHeader(frame, header)
      if (value === undefined) continue
      const count = parseCount(value)
      if (count === null) {
        this.session.fail(new StompError('invalid-header', `${header} must be a whole number, not ${JSON.stringify(value)}`), receipt)
        return false
      }
      limits[key] = count
    }
    const overflow = getHeader(frame, 'x-overflow')
    if (overflow !== undefined) {
      if (overflow !== 'drop-head' && overflow !== 'reject-publish') {
        this.session.fail(new StompError('invalid-header', `x-overflow must be drop-head or reject-publish, not ${JSON.stringify(overflow)}`), receipt)
        return false
      }
      limits.overflow = overflow
    }
    if (limits.maxLength !== undefined || limits.maxBytes !== undefined || limits.overflow !== undefined) {
      this.session.broker.declareQueue(destination.name, limits)
    }
    return true
  }

  /** A stream's limits, taken from its first SEND or SUBSCRIBE. */
  private declareStream(frame: Frame, destination: Destination, receipt: string | undefined): boolean {
    const limits = streamLimits(frame)
    if (limits instanceof StompError) {
      this.session.fail(limits, receipt)
      return false
    }
    if (Object.keys(limits).length > 0) this.session.broker.declareStream(destination.name, limits)
    return true
  }

  private unsubscribe(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    const id = getHeader(frame, 'id') ?? (session.version === '1.0' ? getHeader(frame, 'destination') : undefined)
    if (id === undefined) return session.fail(new StompError('missing-header', 'UNSUBSCRIBE needs an id header'), receipt)
    const deleteDurable = isTrue(getHeader(frame, 'durable')) || isTrue(getHeader(frame, 'persistent'))
    const subscription = session.subscriptions.get(id)
    if (subscription === undefined) {
      // A durable subscription may be deleted while nobody is attached to it.
      const name = getHeader(frame, 'activemq.subscriptionName') ?? id
      if (deleteDurable && this.forgetDurable(durableKey(session.login, name))) return session.receipt(receipt)
      return session.fail(new StompError('unknown-subscription', `there is no subscription ${JSON.stringify(id)} on this connection`), receipt)
    }
    session.dropSubscription(subscription)
    if (deleteDurable && subscription.durableKey !== null) this.forgetDurable(subscription.durableKey)
    session.receipt(receipt)
  }

  /** A durable topic subscription, or a durable stream reader's place, deleted. */
  private forgetDurable(key: string): boolean {
    return this.session.broker.unsubscribeDurable(key) || this.session.broker.forgetStreamReader(key)
  }

  private ack(frame: Frame, receipt: string | undefined, isAck: boolean): void {
    const session = this.session
    // STOMP 1.2 acknowledges by the MESSAGE's `ack` header, sent back as `id`; 1.0 and 1.1 by message-id.
    const id = this.required(frame, session.version === '1.2' ? 'id' : 'message-id', receipt)
    if (id === undefined) return
    // RabbitMQ's `requeue:false` on a NACK discards the message (to its dead-letter queue)
    // instead of delivering it again.
    const requeue = isAck ? 'true' : (getHeader(frame, 'requeue') ?? 'true').toLowerCase()
    if (requeue !== 'true' && requeue !== 'false') {
      return session.fail(new StompError('invalid-header', `requeue must be true or false, not ${JSON.stringify(getHeader(frame, 'requeue'))}`), receipt)
    }
    const how: Settlement = isAck ? 'ack' : requeue === 'true' ? 'requeue' : 'reject'
    const key = session.unacked.find(id, session.version, getHeader(frame, 'subscription'), session.subscriptions.values())
    if (key === undefined) {
      return session.fail(new StompError('unknown-ack', `${frame.command} of ${JSON.stringify(id)}, which is not a message awaiting acknowledgement on this connection`), receipt)
    }
    const txId = getHeader(frame, 'transaction')
    if (txId !== undefined) {
      const transaction = this.heldIn(txId, receipt)
      if (transaction === null) return
      transaction.actions.push({ kind: 'settle', ackId: key, how })
      return transaction.holdReceipt(receipt)
    }
    session.settle(key, how)
    session.receipt(receipt)
  }

  private begin(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    const txId = this.required(frame, 'transaction', receipt)
    if (txId === undefined) return
    if (session.transactions.has(txId)) {
      return session.fail(new StompError('duplicate-transaction', `transaction ${JSON.stringify(txId)} has already begun`), receipt)
    }
    const max = session.context.options.maxTransactions
    if (session.transactions.size >= max) {
      return session.fail(new StompError('too-many-transactions', `a connection may hold at most ${max} open transactions`), receipt)
    }
    session.transactions.set(txId, new Transaction(txId))
    session.receipt(receipt)
  }

  private commit(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    const txId = this.required(frame, 'transaction', receipt)
    if (txId === undefined) return
    const transaction = this.transaction(txId, receipt)
    if (transaction === null) return
    session.transactions.delete(txId)
    // All or nothing: a queue that would refuse one of the SENDs refuses the whole COMMIT.
    const refusal = this.refusal(transaction)
    if (refusal !== undefined) return session.fail(refusal, receipt)
    const durable: Promise<void>[] = []
    for (const action of transaction.actions) {
      if (action.kind === 'send') {
        const result = session.publish(action.destination, action.message)
        if (result instanceof Promise) durable.push(result)
      } else {
        // A message acked in the transaction may have been settled since; then there is nothing left to do.
        session.settle(action.ackId, action.how)
      }
    }
    const effect = durable.length === 0 ? undefined : Promise.all(durable).then(() => undefined)
    // The receipts the transaction's frames asked for go out now that their effect is done (once
    // durable), in frame order, ahead of the COMMIT's own.
    for (const held of transaction.receipts) session.receipt(held, effect)
    if (receipt !== undefined) session.receipt(receipt, effect)
    else session.watchDurability(effect)
  }

  /** Why a queue would refuse this transaction's SENDs, counted together per queue. */
  private refusal(transaction: Transaction): StompError | undefined {
    const perQueue = new Map<string, { destination: Destination; count: number; bytes: number }>()
    for (const action of transaction.actions) {
      if (action.kind !== 'send' || action.destination.kind !== 'queue') continue
      const totals = perQueue.get(action.destination.name) ?? { destination: action.destination, count: 0, bytes: 0 }
      totals.count++
      totals.bytes += action.message.body.length
      perQueue.set(action.destination.name, totals)
    }
    for (const { destination, count, bytes } of perQueue.values()) {
      const refusal = this.session.broker.wouldRefuse(destination, count, bytes)
      if (refusal !== undefined) return refusal
    }
    return undefined
  }

  private abort(frame: Frame, receipt: string | undefined): void {
    const session = this.session
    const txId = this.required(frame, 'transaction', receipt)
    if (txId === undefined) return
    const transaction = this.transaction(txId, receipt)
    if (transaction === null) return
    session.transactions.delete(txId)
    // The frames were received and dropped: their receipts still come, so no client waits forever.
    for (const held of transaction.receipts) session.receipt(held)
    session.receipt(receipt)
  }

  // ---- helpers: each reports the error itself and returns undefined/null ----

  private required(frame: Frame, name: string, receipt: string | undefined): string | undefined {
    const value = getHeader(frame, name)
    if (value === undefined) {
      // RabbitMQ's words: `Missing destination` for a destination, `Missing header` otherwise.
      this.session.fail(name === 'destination'
        ? new StompError('missing-header', `'${frame.command}' must include a 'destination' header\n`, 'Missing destination')
        : new StompError('missing-header', `'${frame.command}' must include the '${name}' header\n`), receipt)
    }
    return value
  }

  private destination(frame: Frame, use: 'send' | 'subscribe', receipt: string | undefined): Destination | null {
    const value = this.required(frame, 'destination', receipt)
    if (value === undefined) return null
    // A producer usually sends to the same destination frame after frame.
    if (use === 'send' && value === this.lastSendDestination) return this.permitted(this.lastSendParsed!, use, receipt)
    const parsed = parseDestination(value, use)
    if (parsed instanceof StompError) {
      this.session.fail(parsed, receipt)
      return null
    }
    const destination = parsed.kind === 'user' && use === 'subscribe' ? this.ownUserDestination(parsed, receipt) : parsed
    if (destination === null) return null
    // Access first: whether a queue exists is nothing to tell a client that may not use it.
    if (this.permitted(destination, use, receipt) === null) return null
    if (destination.mustExist === true && !this.session.broker.hasQueue(destination.name)) {
      this.session.fail(new StompError('not-found', `NOT_FOUND - no queue '${destination.name}'\n`), receipt)
      return null
    }
    if (use === 'send') {
      this.lastSendDestination = value
      this.lastSendParsed = destination
      const canonical = formatDestination(destination)
      this.lastSendCanonical = destination.kind === 'fanout' || canonical === value ? null : canonical
    }
    return destination
  }

  /**
   * The destination, if --acl lets this session use it that way (by its own name: a RabbitMQ
   * alias is checked as the /topic/ or /queue/ it names); else ERROR `access denied` and null.
   */
  /**
   * SUBSCRIBE `/user/queue/x`: this session's user's own destination. The user is the
   * authenticated principal, or without authentication CONNECT's `login`.
   */
  private ownUserDestination(destination: Destination, receipt: string | undefined): Destination | null {
    const user = this.session.login
    if (user === '') {
      this.session.fail(new StompError('invalid-destination', `user destinations need a user: connect with credentials (or, without authentication, a login)\n`), receipt)
      return null
    }
    return { ...destination, user }
  }

  private permitted(destination: Destination, use: DestinationUse, receipt: string | undefined): Destination | null {
    const session = this.session
    // A reply queue's name is an invitation: whoever holds it was sent it in a reply-to. One's
    // own user destination is private to one's sessions.
    if (session.context.acl === null || destination.kind === 'reply-queue' || (destination.kind === 'user' && use === 'subscribe')) return destination
    const name = destination.kind === 'user' ? `/user/${destination.user!.replaceAll('/', '%2F')}/${destination.name}` : formatDestination(destination)
    const action = use === 'send' ? 'publish' : 'subscribe'
    if (session.allows(action, name)) return destination
    session.fail(new StompError('access-denied', `${session.principal?.user ?? 'an anonymous client'} may not ${action} to ${name}\n`), receipt)
    return null
  }

  /** The transaction a frame is to be held in, if it has room for one more (--max-transaction-frames). */
  private heldIn(txId: string, receipt: string | undefined): Transaction | null {
    const transaction = this.transaction(txId, receipt)
    const max = this.session.context.options.maxTransactionFrames
    if (transaction !== null && transaction.actions.length >= max) {
      this.session.fail(new StompError('transaction-too-large', `a transaction may hold at most ${max} frames`), receipt)
      return null
    }
    return transaction
  }

  private transaction(txId: string, receipt: string | undefined): Transaction | null {
    const transaction = this.session.transactions.get(txId)
    if (transaction === undefined) {
      this.session.fail(new StompError('unknown-transaction', `transaction ${JSON.stringify(txId)} was not begun on this connection`), receipt)
      return null
    }
    return transaction
  }
}

function isTrue(value: string | undefined): boolean {
  return value === 'true'
}

/** SUBSCRIBE asks for a durable subscription the RabbitMQ way: `durable:true` (or the older `persistent:true`). */
function wantsDurable(frame: Frame): boolean {
  return isTrue(getHeader(frame, 'durable')) || isTrue(getHeader(frame, 'persistent'))
}

/**
 * The name of the durable subscription a SUBSCRIBE asks for, if any: `durable:true` or
 * `persistent:true` with its `id` (RabbitMQ), or `activemq.subscriptionName` (ActiveMQ).
 */
function durableNameOf(frame: Frame, id: string): string | undefined {
  const activemqName = getHeader(frame, 'activemq.subscriptionName')
  if (activemqName !== undefined) return activemqName
  return wantsDurable(frame) ? id : undefined
}

/** Durable subscriptions belong to a login: two users may both call theirs `prices`. */
function durableKey(login: string, name: string): string {
  return login + '\u0000' + name
}

/** A non-negative whole number (a count), or null. */
function parseCount(value: string): number | null {
  return /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : null
}

/** Milliseconds: a non-negative whole number up to 2^53, or null. */
function parseMillis(value: string): number | null {
  if (!/^\d{1,16}$/.test(value.trim())) return null
  const ms = Number(value.trim())
  return Number.isSafeInteger(ms) ? ms : null
}
