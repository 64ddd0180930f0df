// The limits an operator sets against abusive or runaway clients: which WebSocket origins may
// connect, how many connections (in all and per address), how many transactions and how
// large, how many unacked messages and how fast a connection may publish. Each refusal is
// what the client sees (an HTTP status before any WebSocket, or an ERROR frame and a close),
// is counted in `stompd_refused_total{reason}`, and leaves every other client unaffected.
import net from 'node:net'
import t, { type Test } from 'tap'
import { WebSocket, type ClientOptions } from 'ws'
import { errorMessage, type ErrorCode } from '../../lib/errors.js'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Command, type Frame, type Header } from '../../lib/frame/frame.js'
import type { ListenAddresses, StompdServer } from '../../lib/server.js'
import { expectErrorAndClose, rawClient, TRANSPORTS, within } from '../helpers/expect.js'
import { RawClient, splitAddress } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, firstError, messages, numbered, open, receiptFor, sendAll, subscribe, sync, waitMessages,
} from '../helpers/stomp.js'

// ---- what the broker counts ----

/** `stompd_refused_total` by reason, as scraped from GET /metrics now. */
async function refusedTotals(addresses: ListenAddresses): Promise<Record<string, number>> {
  const response = await fetch(`${addresses.http}/metrics`)
  const text = await response.text()
  const totals: Record<string, number> = {}
  for (const match of text.matchAll(/^stompd_refused_total\{reason="([^"]+)"\} (\S+)$/gm)) totals[match[1]!] = Number(match[2])
  return totals
}

async function refused(addresses: ListenAddresses, reason: string): Promise<number> {
  return (await refusedTotals(addresses))[reason] ?? 0
}

/** Waits until the server holds exactly `count` sessions (a closed socket is let go of asynchronously). */
async function sessionsSettleAt(server: StompdServer, count: number, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (server.sessions.size !== count) {
    if (Date.now() > deadline) throw new Error(`the server holds ${server.sessions.size} sessions, not ${count}, after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

// ---- clients the shared helpers cannot make: with an Origin header, or from another address ----

/** What a client needs for a round-trip: RawClient has it, and so has Peer below. */
interface StompLink {
  frame(command: Command, headers?: Header[], body?: Buffer | string): void
  next(timeoutMs?: number): Promise<Frame>
}

/** A minimal STOMP client over a socket or WebSocket made with options RawClient does not take. */
class Peer implements StompLink {
  readonly frames: Frame[] = []
  private taken = 0
  private waiters: Array<() => void> = []
  private isClosed = false
  private readonly decoder = new FrameDecoder({
    onFrame: (frame) => {
      this.frames.push({ ...frame, body: Buffer.from(frame.body) })
      this.wake()
    },
    onHeartbeat: () => {},
    onError: (error) => {
      throw error
    },
  })

  private constructor(private readonly write: (data: Buffer) => void, closed: Promise<void>) {
    void closed.then(() => {
      this.isClosed = true
      this.wake()
    })
  }

  /** A TCP connection from `localAddress`. */
  static async tcp(t: Teardown, address: string, localAddress: string): Promise<Peer> {
    const [host, port] = splitAddress(address)
    const socket = net.connect({ host, port, localAddress })
    t.teardown(() => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.on('error', () => {})
    const peer = new Peer((data) => socket.write(data), new Promise((resolve) => socket.once('close', () => resolve())))
    socket.on('data', (chunk: Buffer) => peer.decoder.push(chunk))
    return peer
  }

  /** A WebSocket whose upgrade was accepted. */
  static fromWebSocket(ws: WebSocket): Peer {
    const peer = new Peer((data) => ws.send(data), new Promise((resolve) => ws.once('close', () => resolve())))
    ws.on('message', (data: Buffer) => peer.decoder.push(data))
    return peer
  }

  frame(command: Command, headers: Header[] = [], body: Buffer | string = EMPTY_BODY): void {
    this.write(encodeFrame(command, headers, typeof body === 'string' ? Buffer.from(body) : body, '1.2'))
  }

  async next(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    while (this.taken >= this.frames.length) {
      if (this.isClosed) throw new Error('connection closed before the next frame')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.frames[this.taken++]!
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}

type Upgrade = { opened: true; ws: WebSocket } | { opened: false; status: number; headers: Record<string, string | string[] | undefined> }

/** Asks for a WebSocket upgrade (STOMP 1.2 subprotocol) with `options` (origin, localAddress); resolves with the verdict. */
function upgrade(t: Teardown, url: string, options: ClientOptions = {}): Promise<Upgrade> {
  const ws = new WebSocket(url, ['v12.stomp'], options)
  t.teardown(() => ws.terminate())
  return new Promise<Upgrade>((resolve, reject) => {
    ws.once('open', () => {
      ws.on('error', () => {})
      resolve({ opened: true, ws })
    })
    ws.once('unexpected-response', (_request, response) => {
      ws.on('error', () => {})
      resolve({ opened: false, status: response.statusCode ?? 0, headers: response.headers })
      ws.terminate()
    })
    ws.once('error', reject)
  })
}

/** An upgrade that must be accepted, then STOMP CONNECT → CONNECTED over it. */
async function connectedWebSocket(t: Test, url: string, options: ClientOptions = {}): Promise<Peer> {
  const verdict = await upgrade(t, url, options)
  if (!verdict.opened) throw new Error(`the upgrade was refused with HTTP ${verdict.status}`)
  const peer = Peer.fromWebSocket(verdict.ws)
  peer.frame('CONNECT', [['accept-version', '1.2'], ['host', 'localhost']])
  const connected = await peer.next()
  t.equal(connected.command, 'CONNECTED', 'the WebSocket opens and STOMP connects over it')
  return peer
}

/** A TCP client from `localAddress` that connects (CONNECT → CONNECTED). */
async function connectedTcpFrom(t: Test, address: string, localAddress: string): Promise<Peer> {
  const peer = await Peer.tcp(t, address, localAddress)
  peer.frame('CONNECT', [['accept-version', '1.2'], ['host', 'localhost']])
  const connected = await peer.next()
  t.equal(connected.command, 'CONNECTED', `a TCP client from ${localAddress} connects`)
  return peer
}

/** The upgrade is refused with `status` in plain HTTP: no WebSocket, no session. */
async function expectUpgradeRefused(t: Test, server: StompdServer, url: string, status: number, options: ClientOptions = {}): Promise<void> {
  const sessionsBefore = server.sessions.size
  const verdict = await upgrade(t, url, options)
  t.equal(verdict.opened, false, 'no WebSocket opens')
  if (verdict.opened) return
  t.equal(verdict.status, status, `the upgrade is answered HTTP ${status}`)
  t.equal(verdict.headers.upgrade, undefined, 'without switching protocols')
  t.equal(server.sessions.size, sessionsBefore, 'and no session was made for it')
}

let roundTrips = 0

/** An already connected client subscribes, sends and gets its own message back: it is unaffected. */
async function expectStillServed(t: Test, client: StompLink, who: string): Promise<void> {
  const n = ++roundTrips
  const destination = `/queue/limits-still-served-${n}`
  client.frame('SUBSCRIBE', [['id', `still-${n}`], ['destination', destination], ['receipt', `still-${n}`]])
  client.frame('SEND', [['destination', destination]], `still served ${n}`)
  let gotReceipt = false
  let message: Frame | undefined
  while (message === undefined) {
    const frame = await client.next(3000)
    if (frame.command === 'ERROR') throw new Error(`${who} got ERROR ${getHeader(frame, 'message')}: ${frame.body.toString()}`)
    if (frame.command === 'RECEIPT' && getHeader(frame, 'receipt-id') === `still-${n}`) gotReceipt = true
    if (frame.command === 'MESSAGE' && getHeader(frame, 'destination') === destination) message = frame
  }
  t.ok(gotReceipt && message.body.toString() === `still served ${n}`, `${who} still round-trips`)
}

/** Sends a frame with a receipt and takes that RECEIPT with next() (the client has nothing else coming). */
async function ask(client: RawClient, command: Command, headers: Header[], body?: string): Promise<void> {
  const id = `ask-${++roundTrips}`
  client.frame(command, [...headers, ['receipt', id]], body)
  const frame = await client.next()
  if (frame.command !== 'RECEIPT' || getHeader(frame, 'receipt-id') !== id) {
    throw new Error(`expected RECEIPT ${id}, got ${frame.command} ${getHeader(frame, 'message') ?? ''}`)
  }
}

/** A raw client over `transport`, connected (STOMP 1.2). */
async function connectedRaw(t: Test, addresses: ListenAddresses, transport: 'tcp' | 'ws'): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  const connected = await client.connect()
  if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command}`)
  return client
}

// ---- origins ----

const APP = 'https://app.example'
const ADMIN = 'https://admin.example'
const EVIL = 'https://evil.example'

t.test('with allowedOrigins set, only the listed origins may open a WebSocket', async (t) => {
  const { server, addresses } = await startServer(t, { allowedOrigins: `${APP},${ADMIN}` })
  const existing = await connectedRaw(t, addresses, 'ws')

  await t.test('a page from a listed origin connects', async (t) => {
    await connectedWebSocket(t, addresses.ws, { origin: APP })
    await connectedWebSocket(t, addresses.ws, { origin: ADMIN })
  })

  await t.test('a page from another origin is refused with HTTP 403 before any WebSocket exists', async (t) => {
    const before = await refused(addresses, 'origin')
    await expectUpgradeRefused(t, server, addresses.ws, 403, { origin: EVIL })
    t.equal(await refused(addresses, 'origin'), before + 1, 'stompd_refused_total{reason="origin"} goes up by one')
    await expectStillServed(t, existing, 'a client already connected')
  })

  await t.test('a client sending no Origin (a service, not a browser page) connects', async (t) => {
    const peer = await connectedWebSocket(t, addresses.ws)
    await expectStillServed(t, peer, 'the service')
  })

  await t.test('TCP clients are not subject to origins', async (t) => {
    const client = await connectedRaw(t, addresses, 'tcp')
    await expectStillServed(t, client, 'a TCP client')
  })
})

t.test('allowedOrigins "*" lets any origin connect', async (t) => {
  const { addresses } = await startServer(t, { allowedOrigins: '*' })
  const peer = await connectedWebSocket(t, addresses.ws, { origin: EVIL })
  await expectStillServed(t, peer, 'a page from any origin')
  t.equal(await refused(addresses, 'origin'), 0, 'nothing is counted as refused')
})

t.test('without allowedOrigins any origin may connect', async (t) => {
  const { addresses } = await startServer(t)
  const peer = await connectedWebSocket(t, addresses.ws, { origin: EVIL })
  await expectStillServed(t, peer, 'a page from any origin')
  await connectedWebSocket(t, addresses.ws)
  t.equal(await refused(addresses, 'origin'), 0, 'nothing is counted as refused')
})

// ---- connections in all ----

t.test('maxConnections 3 turns away a 4th connection, and admits a new one once another closes', async (t) => {
  const { server, addresses } = await startServer(t, { maxConnections: 3 })
  const first = await connectedRaw(t, addresses, 'tcp')
  const second = await connectedRaw(t, addresses, 'tcp')
  const third = await connectedRaw(t, addresses, 'ws')
  await sessionsSettleAt(server, 3)

  await t.test('a 4th WebSocket upgrade is answered HTTP 503', async (t) => {
    const before = await refused(addresses, 'too-many-connections')
    await expectUpgradeRefused(t, server, addresses.ws, 503)
    t.equal(await refused(addresses, 'too-many-connections'), before + 1, 'stompd_refused_total{reason="too-many-connections"} goes up by one')
  })

  await t.test('a 4th TCP connection gets ERROR "too many connections" and is closed', async (t) => {
    const before = await refused(addresses, 'too-many-connections')
    const fourth = await RawClient.tcp(t, addresses.tcp!)
    await expectErrorAndClose(t, fourth, 'too-many-connections', { receiptId: null })
    t.equal(await refused(addresses, 'too-many-connections'), before + 1, 'stompd_refused_total{reason="too-many-connections"} goes up by one')
    await sessionsSettleAt(server, 3)
  })

  await t.test('the connections already open are unaffected', async (t) => {
    await expectStillServed(t, first, 'the 1st (TCP)')
    await expectStillServed(t, second, 'the 2nd (TCP)')
    await expectStillServed(t, third, 'the 3rd (WebSocket)')
  })

  await t.test('once one closes, a new TCP connection is admitted', async (t) => {
    first.destroy()
    await sessionsSettleAt(server, 2)
    const next = await connectedRaw(t, addresses, 'tcp')
    await expectStillServed(t, next, 'the new TCP connection')
  })

  await t.test('once another closes, a new WebSocket is admitted', async (t) => {
    // The connection the last subtest opened went at its teardown: the 2nd and 3rd are left.
    await sessionsSettleAt(server, 2)
    second.destroy()
    await sessionsSettleAt(server, 1)
    await connectedRaw(t, addresses, 'tcp')
    const next = await connectedRaw(t, addresses, 'ws')
    await expectStillServed(t, next, 'the new WebSocket')
    await expectStillServed(t, third, 'the 3rd (WebSocket)')
    await sessionsSettleAt(server, 3)
    await expectUpgradeRefused(t, server, addresses.ws, 503)
  })
})

// ---- connections per address ----

t.test('maxConnectionsPerIp 2 turns away a 3rd connection from one address, not from another', async (t) => {
  // All traffic is loopback: the server listens on 127.0.0.1 and a client may bind 127.0.0.2 (Linux routes all of 127/8 to lo).
  const { server, addresses } = await startServer(t, { maxConnectionsPerIp: 2 })
  const first = await connectedRaw(t, addresses, 'tcp')
  const second = await connectedRaw(t, addresses, 'ws')
  await sessionsSettleAt(server, 2)

  await t.test('a 3rd WebSocket upgrade from 127.0.0.1 is answered HTTP 503', async (t) => {
    const before = await refused(addresses, 'too-many-connections-per-ip')
    await expectUpgradeRefused(t, server, addresses.ws, 503)
    t.equal(await refused(addresses, 'too-many-connections-per-ip'), before + 1, 'stompd_refused_total{reason="too-many-connections-per-ip"} goes up by one')
  })

  await t.test('a 3rd TCP connection from 127.0.0.1 gets ERROR "too many connections from this address" and is closed', async (t) => {
    const before = await refused(addresses, 'too-many-connections-per-ip')
    const third = await RawClient.tcp(t, addresses.tcp!)
    const { error } = await expectErrorAndClose(t, third, 'too-many-connections-per-ip', { receiptId: null })
    t.equal(getHeader(error, 'message'), 'too many connections from this address')
    t.equal(await refused(addresses, 'too-many-connections-per-ip'), before + 1, 'stompd_refused_total{reason="too-many-connections-per-ip"} goes up by one')
    t.equal(await refused(addresses, 'too-many-connections'), 0, 'not counted as the overall limit')
    await sessionsSettleAt(server, 2)
  })

  await t.test('clients from 127.0.0.2 are admitted, up to their own 2', async (t) => {
    const overTcp = await connectedTcpFrom(t, addresses.tcp!, '127.0.0.2')
    const overWs = await connectedWebSocket(t, addresses.ws, { localAddress: '127.0.0.2' })
    await expectStillServed(t, overTcp, 'the TCP client from 127.0.0.2')
    await expectStillServed(t, overWs, 'the WebSocket client from 127.0.0.2')
    await expectUpgradeRefused(t, server, addresses.ws, 503, { localAddress: '127.0.0.2' })
  })

  await t.test('the connections from 127.0.0.1 already open are unaffected', async (t) => {
    await expectStillServed(t, first, 'the 1st (TCP)')
    await expectStillServed(t, second, 'the 2nd (WebSocket)')
  })

  await t.test('once one from 127.0.0.1 closes, a new one from there is admitted', async (t) => {
    // Those from 127.0.0.2 went at their subtest's teardown: the two from 127.0.0.1 are left.
    await sessionsSettleAt(server, 2)
    await expectUpgradeRefused(t, server, addresses.ws, 503)
    first.destroy()
    await sessionsSettleAt(server, 1)
    const next = await connectedRaw(t, addresses, 'tcp')
    await expectStillServed(t, next, 'the new connection from 127.0.0.1')
  })
})

// ---- transactions ----

for (const transport of TRANSPORTS) {
  t.test(`maxTransactions 2: a 3rd BEGIN while two are open gets ERROR "too many transactions" (${transport})`, async (t) => {
    const { addresses } = await startServer(t, { maxTransactions: 2 })
    const bystander = await connectedRaw(t, addresses, transport)
    const client = await connectedRaw(t, addresses, transport)
    await ask(client, 'BEGIN', [['transaction', 'tx1']])
    await ask(client, 'BEGIN', [['transaction', 'tx2']])
    // The limit is on open transactions: one that ended makes room.
    await ask(client, 'COMMIT', [['transaction', 'tx1']])
    await ask(client, 'BEGIN', [['transaction', 'tx3']])
    client.frame('BEGIN', [['transaction', 'tx4'], ['receipt', 'begin-4']])
    await expectErrorAndClose(t, client, 'too-many-transactions', { receiptId: 'begin-4' })
    t.equal(await refused(addresses, 'too-many-transactions'), 1, 'stompd_refused_total{reason="too-many-transactions"} is 1')
    await expectStillServed(t, bystander, 'another client')
  })

  t.test(`maxTransactionFrames 3: a 4th SEND in one transaction gets ERROR "transaction too large" and none of it is delivered (${transport})`, async (t) => {
    const { addresses } = await startServer(t, { maxTransactionFrames: 3 })
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 'q', '/queue/tx-frames')

    // Three frames is within the limit.
    const fits = await connectedRaw(t, addresses, transport)
    await ask(fits, 'BEGIN', [['transaction', 'fits']])
    for (const body of numbered('fits', 3)) fits.frame('SEND', [['destination', '/queue/tx-frames'], ['transaction', 'fits']], body)
    await ask(fits, 'COMMIT', [['transaction', 'fits']])
    await waitMessages(consumer, 3, 'q')
    t.same(bodies(messages(consumer, 'q')), numbered('fits', 3), 'a transaction of 3 SENDs commits')

    const client = await connectedRaw(t, addresses, transport)
    await ask(client, 'BEGIN', [['transaction', 'big']])
    for (const body of numbered('big', 3)) client.frame('SEND', [['destination', '/queue/tx-frames'], ['transaction', 'big']], body)
    client.frame('SEND', [['destination', '/queue/tx-frames'], ['transaction', 'big'], ['receipt', 'send-4']], 'big-3')
    await expectErrorAndClose(t, client, 'transaction-too-large', { receiptId: 'send-4' })
    t.equal(await refused(addresses, 'transaction-too-large'), 1, 'stompd_refused_total{reason="transaction-too-large"} is 1')
    await new Promise((resolve) => setTimeout(resolve, 200))
    await sync(consumer)
    t.same(bodies(messages(consumer, 'q')), numbered('fits', 3), 'nothing of the refused transaction is delivered')
    t.equal(firstError(consumer), undefined, 'the consumer got no ERROR')
    await expectStillServed(t, fits, 'another client')
  })
}

// ---- unacked deliveries ----

t.test('maxUnacked 5 holds back client-ack deliveries at 5 until some are acked, without holding auto-ack ones', async (t) => {
  const { addresses } = await startServer(t, { maxUnacked: 5 })
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/held', numbered('held', 20))
  await sendAll(producer, '/queue/held-too', numbered('too', 3))
  const refusedBefore = await refusedTotals(addresses)

  const consumer = await open(t, addresses)
  await subscribe(consumer, 'held', '/queue/held', [['ack', 'client-individual']])
  await waitMessages(consumer, 5, 'held')
  await consumer.quiet(300)
  await sync(consumer)
  t.same(bodies(messages(consumer, 'held')), numbered('held', 5), 'exactly 5 of the 20 arrive, the first 5')

  await subscribe(consumer, 'too', '/queue/held-too', [['ack', 'client']])
  await consumer.quiet(200)
  await sync(consumer)
  t.equal(messages(consumer, 'too').length, 0, 'another client-ack subscription on the connection gets nothing: the limit is per connection')

  await subscribe(consumer, 'free', '/queue/free')
  await sendAll(producer, '/queue/free', numbered('free', 10))
  await waitMessages(consumer, 10, 'free')
  t.same(bodies(messages(consumer, 'free')), numbered('free', 10), 'an auto-ack subscription on the same connection gets all its messages')
  t.equal(messages(consumer, 'held').length, 5, 'while the client-ack one is still held at 5')

  // Ack one at a time: each ACK lets exactly one more through, until all 23 have come.
  const clientAcked = (): Frame[] => [...messages(consumer, 'held'), ...messages(consumer, 'too')]
  const ackedIds = new Set<string>()
  let acked = 0
  let mostInFlight = 0
  while (acked < 23) {
    const expected = Math.min(acked + 5, 23)
    await consumer.until(() => clientAcked().length >= expected || firstError(consumer) !== undefined, 5000)
    await sync(consumer)
    mostInFlight = Math.max(mostInFlight, clientAcked().length - acked)
    const next = clientAcked().find((m) => !ackedIds.has(getHeader(m, 'ack')!))!
    ackedIds.add(getHeader(next, 'ack')!)
    consumer.frame('ACK', ackHeaders(next))
    acked++
  }
  await sync(consumer)
  t.equal(mostInFlight, 5, 'never more than 5 unacked at once')
  t.same(bodies(messages(consumer, 'held')), numbered('held', 20), 'after ACKs all 20 arrive, in order')
  t.same(bodies(messages(consumer, 'too')), numbered('too', 3), 'and the other subscription gets its 3')
  t.equal(firstError(consumer), undefined, 'no ERROR: the limit only pauses deliveries')
  t.same(await refusedTotals(addresses), refusedBefore, 'nothing is counted as refused')
})

// ---- publish rate ----

for (const transport of TRANSPORTS) {
  t.test(`maxPublishRate 50 slows a publisher of 150 SENDs to about 2 s, dropping nothing, and no one else (${transport})`, async (t) => {
    const { addresses } = await startServer(t, { maxPublishRate: 50 })
    const consumer = await open(t, addresses)
    await subscribe(consumer, 'rate', '/queue/rate')
    await subscribe(consumer, 'other', '/queue/rate-other')
    const publisher = await open(t, addresses, transport)
    const other = await open(t, addresses, transport)

    const frames = numbered('n', 150).map((body, i) =>
      encodeFrame('SEND', i === 149 ? [['destination', '/queue/rate'], ['receipt', 'last']] : [['destination', '/queue/rate']], Buffer.from(body), '1.2'))
    const started = Date.now()
    publisher.send(Buffer.concat(frames))
    const lastReceipt = receiptFor(publisher, 'last', 10_000).then(() => Date.now() - started)

    // Meanwhile another connection publishes at its own pace.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const otherStarted = Date.now()
    other.frame('SEND', [['destination', '/queue/rate-other'], ['receipt', 'other']], 'not slowed')
    await receiptFor(other, 'other', 3000)
    const otherTook = Date.now() - otherStarted
    t.ok(otherTook < 500, `another publisher's receipt comes in < 500 ms (took ${otherTook} ms)`)

    const took = await lastReceipt
    // 50 at once (a full bucket), then 100 more at 50 a second: about 2 s.
    t.ok(took >= 1200, `the last RECEIPT comes no sooner than 1,200 ms after (took ${took} ms)`)

    await waitMessages(consumer, 150, 'rate', 5000)
    await sync(consumer)
    t.same(bodies(messages(consumer, 'rate')), numbered('n', 150), 'every message is delivered, in order')
    t.same(bodies(messages(consumer, 'other')), ['not slowed'])
    t.equal(firstError(publisher), undefined, 'the publisher gets no ERROR')
    t.equal(firstError(other), undefined)
    const totals = await refusedTotals(addresses)
    t.ok((totals['publish-rate'] ?? 0) > 0, `stompd_refused_total{reason="publish-rate"} > 0 (is ${totals['publish-rate'] ?? 0})`)
    t.same(Object.keys(totals).filter((reason) => reason !== 'publish-rate'), [], 'and nothing else is counted as refused')
  })
}

// ---- the older limits count too ----

interface ExistingLimit {
  name: string
  code: ErrorCode
  options: Parameters<typeof startServer>[1]
  act(client: RawClient): void
}

const existingLimits: ExistingLimit[] = [
  {
    name: 'a frame larger than maxFrameSize',
    code: 'frame-too-large',
    options: { maxFrameSize: 4096 },
    act: (c) => c.send('SEND\ndestination:/queue/a\n\n' + 'x'.repeat(5000) + '\0'),
  },
  {
    name: 'a frame with more headers than maxHeaders',
    code: 'too-many-headers',
    options: { maxHeaders: 10 },
    act: (c) => c.send('SEND\ndestination:/queue/a\n' + Array.from({ length: 20 }, (_, i) => `h${i}:${i}\n`).join('') + '\n\0'),
  },
  {
    name: 'a SUBSCRIBE past maxSubscriptions',
    code: 'too-many-subscriptions',
    options: { maxSubscriptions: 2 },
    act: (c) => {
      c.frame('SUBSCRIBE', [['id', '1'], ['destination', '/topic/a']])
      c.frame('SUBSCRIBE', [['id', '2'], ['destination', '/topic/b']])
      c.frame('SUBSCRIBE', [['id', '3'], ['destination', '/topic/c']])
    },
  },
]

for (const limit of existingLimits) {
  t.test(`${limit.name} is counted in stompd_refused_total{reason="${limit.code}"}`, async (t) => {
    const { addresses } = await startServer(t, limit.options)
    for (const transport of TRANSPORTS) {
      await t.test(`over ${transport === 'tcp' ? 'TCP' : 'WebSocket'}`, async (t) => {
        const bystander = await connectedRaw(t, addresses, transport)
        const before = await refused(addresses, limit.code)
        const client = await connectedRaw(t, addresses, transport)
        limit.act(client)
        const { error } = await expectErrorAndClose(t, client, limit.code, { receiptId: null })
        t.equal(getHeader(error, 'message'), errorMessage(limit.code))
        t.equal(await refused(addresses, limit.code), before + 1, `stompd_refused_total{reason="${limit.code}"} goes up by one`)
        await within(expectStillServed(t, bystander, 'another client'), 5000, 'the other client round-trips')
      })
    }
  })
}
