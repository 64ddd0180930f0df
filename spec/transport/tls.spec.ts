// TLS as clients see it: with tlsCert/tlsKey the HTTP port speaks HTTPS (wss://) and STOMP over
// TLS listens on a port of its own beside the plain TCP one; client certificates checked against
// tlsCa (`required` refuses a client without one in the handshake, `optional` lets it in, and a
// verified certificate's CN names the user); certificates re-read by reload() and SIGHUP while
// connected clients keep going; and the configurations that make no sense refused up front.
// Every certificate is made at test time with openssl (helpers/certificates.ts).
import { Client } from '@stomp/stompjs'
import { spawn } from 'node:child_process'
import { copyFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import stompit from 'stompit'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { hashPasscode } from '../../lib/auth/users.js'
import { ConfigError } from '../../lib/config.js'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Command, type Frame, type Header } from '../../lib/frame/frame.js'
import { createServer } from '../../lib/server.js'
import { makeCa, type CertificateAuthority, type Issued } from '../helpers/certificates.js'
import { runCliToExit } from '../helpers/cli.js'
import { sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { expectRoundTrip, within } from '../helpers/expect.js'
import { splitAddress } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'

const CONNECT_HEADERS: Header[] = [['accept-version', '1.2'], ['host', 'localhost']]

/** What a TLS client brings: the CA it trusts the server by, and its own certificate if any. */
interface ClientTls {
  ca: Buffer
  cert?: Buffer
  key?: Buffer
}

function clientTls(ca: CertificateAuthority, certificate?: Issued): ClientTls {
  return certificate === undefined ? { ca: ca.cert } : { ca: ca.cert, cert: certificate.cert, key: certificate.key }
}

// ---------------------------------------------------------------------------------------------
// A raw STOMP client on a socket (tls.connect, or net.connect for the plain port): the project's
// encoder and decoder, nothing else in between.

class SocketStomp<S extends net.Socket = tls.TLSSocket> {
  readonly frames: Frame[] = []
  readonly closed: Promise<void>
  error: Error | null = null
  private taken = 0
  private isClosed = false
  private waiters: Array<() => void> = []
  private receipts = 0

  private constructor(readonly socket: S) {
    const decoder = new FrameDecoder({
      onFrame: (frame) => {
        this.frames.push({ ...frame, body: Buffer.from(frame.body) })
        this.wake()
      },
      onHeartbeat: () => {},
      onError: (error) => {
        throw error
      },
    })
    socket.on('data', (chunk: Buffer) => decoder.push(chunk))
    socket.on('error', (err) => {
      this.error ??= err
    })
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true
      this.wake()
      resolve()
    }))
  }

  /** A TLS connection whose handshake completed (as far as the client can tell). */
  static async open(t: Teardown, address: string, options: ClientTls): Promise<SocketStomp> {
    const [host, port] = splitAddress(address)
    const socket = tls.connect({ host, port, ...options })
    t.teardown(() => socket.destroy())
    const client = new SocketStomp(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    return client
  }

  /** Opens a TLS connection and sends CONNECT; resolves once CONNECTED arrived (throws on anything else). */
  static async connected(t: Teardown, address: string, options: ClientTls, headers: Header[] = CONNECT_HEADERS): Promise<SocketStomp> {
    return SocketStomp.expectConnected(await SocketStomp.open(t, address, options), headers, 'TLS')
  }

  /** The same over the plain TCP port. */
  static async plain(t: Teardown, address: string, headers: Header[] = CONNECT_HEADERS): Promise<SocketStomp<net.Socket>> {
    const [host, port] = splitAddress(address)
    const socket = net.connect({ host, port })
    t.teardown(() => socket.destroy())
    const client = new SocketStomp(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return SocketStomp.expectConnected(client, headers, 'plain TCP')
  }

  private static async expectConnected<T extends net.Socket>(client: SocketStomp<T>, headers: Header[], over: string): Promise<SocketStomp<T>> {
    const reply = await client.connect(headers)
    if (reply.command !== 'CONNECTED') throw new Error(`expected CONNECTED over ${over}, got ${reply.command} ${getHeader(reply, 'message') ?? ''}`)
    return client
  }

  frame(command: Command, headers: Header[] = [], body = ''): void {
    this.socket.write(encodeFrame(command, headers, body === '' ? EMPTY_BODY : Buffer.from(body), '1.2'))
  }

  async connect(headers: Header[] = CONNECT_HEADERS): Promise<Frame> {
    this.frame('CONNECT', headers)
    return this.next()
  }

  /** The next frame not yet taken; rejects after `timeoutMs`, or once the connection closed. */
  async next(timeoutMs = 5000): Promise<Frame> {
    await this.until(() => this.taken < this.frames.length, timeoutMs)
    return this.frames[this.taken++]!
  }

  /**
   * Sends a frame with a fresh receipt and waits for its RECEIPT, which is taken out of the
   * queue (a MESSAGE a SUBSCRIBE delivers may come before it, and stays for next()).
   */
  async request(command: Command, headers: Header[], body = ''): Promise<void> {
    const id = `req-${++this.receipts}`
    this.frame(command, [...headers, ['receipt', id]], body)
    const isReply = (f: Frame): boolean => (f.command === 'RECEIPT' && getHeader(f, 'receipt-id') === id) || f.command === 'ERROR'
    await this.until(() => this.frames.slice(this.taken).some(isReply))
    const at = this.frames.findIndex((f, i) => i >= this.taken && isReply(f))
    const [reply] = this.frames.splice(at, 1)
    if (reply!.command !== 'RECEIPT') throw new Error(`ERROR instead of RECEIPT ${id}: ${getHeader(reply!, 'message') ?? ''} ${reply!.body.toString()}`)
  }

  private async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (this.isClosed) throw new Error(`connection closed${this.error === null ? '' : ` (${this.error.message})`}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`nothing within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}

let destinations = 0

/** `client` subscribes to a fresh queue, sends to it and gets its own message back. */
async function roundTrip(t: Test, client: SocketStomp<net.Socket>, what: string): Promise<void> {
  const destination = `/queue/tls-round-trip-${++destinations}`
  const id = `rt-${destinations}`
  await client.request('SUBSCRIBE', [['id', id], ['destination', destination]])
  const body = `over TLS ${destinations}`
  client.frame('SEND', [['destination', destination]], body)
  const message = await client.next()
  t.equal(message.command, 'MESSAGE', `${what}: a MESSAGE comes back`)
  t.equal(message.body.toString(), body, `${what}: with the body sent`)
  await client.request('UNSUBSCRIBE', [['id', id]])
}

interface RefusedHandshake {
  /** The client's side of the handshake completed (TLS 1.3 finishes it before the server checks the client's certificate). */
  secure: boolean
  error: Error | null
  /** Everything the server sent after the handshake. */
  received: string
}

/**
 * Connects with `options`, sends CONNECT as soon as the client's handshake is done, and resolves
 * once the server has closed the connection (rejects if it is still open after `timeoutMs`).
 */
function attemptTls(t: Teardown, address: string, options: ClientTls, timeoutMs = 5000): Promise<RefusedHandshake> {
  const [host, port] = splitAddress(address)
  const socket = tls.connect({ host, port, ...options })
  t.teardown(() => socket.destroy())
  const result: RefusedHandshake = { secure: false, error: null, received: '' }
  socket.on('secureConnect', () => {
    result.secure = true
    socket.write(encodeFrame('CONNECT', CONNECT_HEADERS, EMPTY_BODY, '1.2'))
  })
  socket.on('data', (chunk: Buffer) => { result.received += chunk.toString('latin1') })
  socket.on('error', (err) => { result.error ??= err })
  return within(new Promise((resolve) => socket.once('close', () => resolve(result))), timeoutMs, 'the server ends the TLS connection')
}

/** The certificate a fresh TLS client is shown on `host:port`. */
function peerCertificate(t: Teardown, address: string, ca: CertificateAuthority): Promise<tls.PeerCertificate> {
  const [host, port] = splitAddress(address)
  const socket = tls.connect({ host, port, ca: ca.cert })
  t.teardown(() => socket.destroy())
  return within(new Promise((resolve, reject) => {
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate())
      socket.end()
    })
    socket.once('error', reject)
  }), 5000, `the TLS handshake on ${address}`)
}

/** host:port of a ws:// or wss:// URL. */
function hostPort(url: string): string {
  const { hostname, port } = new URL(url)
  return `${hostname}:${port}`
}

// ---------------------------------------------------------------------------------------------
// WebSocket clients over wss://

/** A connected @stomp/stompjs client on `url`, its WebSocket given `options` (the CA, a client certificate). */
async function connectStompjsTls(t: Teardown, url: string, options: ClientTls, connectHeaders: Record<string, string> = {}): Promise<Client> {
  const client = new Client({
    webSocketFactory: () => new WebSocket(url, ['v10.stomp', 'v11.stomp', 'v12.stomp'], options),
    connectHeaders,
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: () => {},
  })
  t.teardown(() => client.deactivate())
  await within(new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve()
    client.onStompError = (frame) => reject(new Error(`ERROR ${frame.headers.message}`))
    client.onWebSocketError = () => reject(new Error('websocket error'))
    client.onWebSocketClose = (event) => reject(new Error(`websocket closed (${event.code}) before CONNECTED`))
    client.activate()
  }), 5000, `@stomp/stompjs connecting to ${url}`)
  return client
}

/** A @stomp/stompjs round trip through a fresh queue. */
async function stompjsRoundTrip(t: Test, client: Client, what: string): Promise<void> {
  const destination = `/queue/wss-round-trip-${++destinations}`
  const inbox = subscribeStompjs(client, destination)
  const body = `over wss ${destinations}`
  // A queue keeps what arrives before the subscription is in place.
  client.publish({ destination, body })
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, body, `${what}: the message comes back`)
}

/** How a WebSocket opening on `url` ends: 'open', the HTTP status it is refused with, or `error: …`. */
function wsHandshake(url: string, options: ClientTls): Promise<string> {
  return within(new Promise((resolve) => {
    const ws = new WebSocket(url, ['v12.stomp'], options)
    ws.on('open', () => {
      ws.terminate()
      resolve('open')
    })
    ws.on('unexpected-response', (_request, response) => {
      resolve(String(response.statusCode))
      ws.terminate()
    })
    ws.on('error', (err) => resolve(`error: ${err.message}`))
  }), 5000, `the WebSocket handshake on ${url}`)
}

/** A stompit client over TLS (stompit's `ssl: true`, which hands the options to tls.connect). */
async function connectStompitTls(t: Teardown, address: string, options: ClientTls, headers: Record<string, string> = {}): Promise<stompit.Client> {
  const [host, port] = splitAddress(address)
  const client = await within(new Promise<stompit.Client>((resolve, reject) => {
    stompit.connect({ host, port, ssl: true, ...options, connectHeaders: { host: 'localhost', ...headers } }, (err, client) => (err ? reject(err) : resolve(client)))
  }), 5000, `stompit connecting over TLS to ${address}`)
  client.on('error', () => {})
  t.teardown(() => client.destroy(new Error('test finished')))
  return client
}

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Pki {
  dir: string
  ca: CertificateAuthority
  server: Issued
}

/** A CA and a server certificate for localhost / 127.0.0.1, in the test's own directory. */
function pki(t: Test): Pki {
  const dir = t.testdir()
  const ca = makeCa(dir)
  return { dir, ca, server: ca.issueServer('server') }
}

/** A users file with scrypt hashes, as `stompd passwd` writes it. */
async function usersFile(dir: string, users: Record<string, string>): Promise<string> {
  const entries: Record<string, { passcode: string; roles: string[] }> = {}
  for (const [user, passcode] of Object.entries(users)) entries[user] = { passcode: await hashPasscode(passcode), roles: [] }
  const file = join(dir, 'users.json')
  writeFileSync(file, JSON.stringify({ users: entries }))
  return file
}

// ---------------------------------------------------------------------------------------------
// wss:// and STOMP over TLS

t.test('with a certificate the WebSocket port speaks wss://: a @stomp/stompjs client that trusts the CA round-trips', async (t) => {
  const { ca, server } = pki(t)
  const { addresses } = await startServer(t, { tlsCert: server.certFile, tlsKey: server.keyFile, tlsPort: 0 })
  t.match(addresses.ws, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/, 'addresses.ws is a wss:// URL')
  t.match(addresses.http, /^https:\/\/127\.0\.0\.1:\d+$/, 'addresses.http is an https:// URL')
  t.match(addresses.tls, /^127\.0\.0\.1:\d+$/, 'addresses.tls is host:port')
  t.not(addresses.tlsPort, 0, 'tlsPort 0 picked a free port')

  const client = await connectStompjsTls(t, addresses.ws, clientTls(ca))
  await stompjsRoundTrip(t, client, 'wss://')
  const shown = await peerCertificate(t, hostPort(addresses.ws), ca)
  t.equal(shown.serialNumber, server.serialNumber, 'the HTTPS port presents the configured certificate')
  t.not(await wsHandshake(addresses.ws.replace(/^wss:/, 'ws:'), clientTls(ca)), 'open', 'plain ws:// on that port does not open a WebSocket')
})

t.test('STOMP over TLS on addresses.tls: stompit and a raw tls.connect client round-trip, and the plain TCP port still serves', async (t) => {
  const { ca, server } = pki(t)
  const { addresses } = await startServer(t, { tlsCert: server.certFile, tlsKey: server.keyFile, tlsPort: 0 })
  t.ok(addresses.tls !== null && addresses.tcp !== null && addresses.tls !== addresses.tcp, 'TLS and plain TCP listen on ports of their own')

  const raw = await SocketStomp.open(t, addresses.tls!, clientTls(ca))
  t.ok(raw.socket.authorized, 'the raw client verified the server certificate against the CA')
  t.equal(raw.socket.getPeerCertificate().serialNumber, server.serialNumber, 'and it is the configured one')
  const connected = await raw.connect()
  t.equal(connected.command, 'CONNECTED', 'CONNECT over TLS is answered with CONNECTED')
  t.equal(getHeader(connected, 'version'), '1.2', 'speaking STOMP 1.2')
  await roundTrip(t, raw, 'raw TLS client')

  const subscriber = await connectStompitTls(t, addresses.tls!, clientTls(ca))
  const inbox = subscribeStompit(subscriber, { destination: '/queue/tls-stompit', ack: 'auto' })
  const publisher = await connectStompitTls(t, addresses.tls!, clientTls(ca))
  await sendStompit(publisher, { destination: '/queue/tls-stompit', 'x-via': 'tls' }, 'hello over TLS')
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, 'hello over TLS', 'stompit over TLS: the message arrives')
  t.equal(message!.headers['x-via'], 'tls', 'with its headers')

  // Clients of both listeners share one broker.
  const plainInbox = await connectStompitPlainSubscriber(t, addresses.tcp!, '/queue/tls-to-plain')
  raw.frame('SEND', [['destination', '/queue/tls-to-plain']], 'from TLS to plain TCP')
  t.equal((await plainInbox.waitFor(1))[0]!.body, 'from TLS to plain TCP', 'a TLS publisher reaches a plain TCP subscriber')
  await expectRoundTrip(t, addresses, 'tcp')
})

/** A plain stompit subscriber on the plain TCP port. */
async function connectStompitPlainSubscriber(t: Teardown, address: string, destination: string): Promise<ReturnType<typeof subscribeStompit>> {
  const [host, port] = splitAddress(address)
  const client = await within(new Promise<stompit.Client>((resolve, reject) => {
    stompit.connect({ host, port, connectHeaders: { host: 'localhost' } }, (err, client) => (err ? reject(err) : resolve(client)))
  }), 5000, 'stompit connecting over plain TCP')
  client.on('error', () => {})
  t.teardown(() => client.destroy(new Error('test finished')))
  const inbox = subscribeStompit(client, { destination, ack: 'auto' })
  // A RECEIPT on a later frame proves the SUBSCRIBE before it is in place.
  await sendStompit(client, { destination: '/topic/tls-spec-sync' }, '')
  return inbox
}

t.test('a plain-text client on the TLS port gets no STOMP session, and the broker keeps serving', async (t) => {
  const { ca, server: certificate } = pki(t)
  const { server, addresses } = await startServer(t, { tlsCert: certificate.certFile, tlsKey: certificate.keyFile, tlsPort: 0 })
  const [host, port] = splitAddress(addresses.tls!)
  const socket = net.connect({ host, port })
  t.teardown(() => socket.destroy())
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.write(encodeFrame('CONNECT', CONNECT_HEADERS, EMPTY_BODY, '1.2'))
  await within(new Promise((resolve) => socket.once('close', resolve)), 5000, 'the TLS port closes a plain-text connection')
  t.notMatch(received, /CONNECTED|ERROR/, 'no STOMP frame came back in the clear')
  t.equal(server.sessions.size, 0, 'no session was opened for it')

  const client = await SocketStomp.connected(t, addresses.tls!, clientTls(ca))
  await roundTrip(t, client, 'a TLS client afterwards')
  await expectRoundTrip(t, addresses, 'tcp')
  await stompjsRoundTrip(t, await connectStompjsTls(t, addresses.ws, clientTls(ca)), 'a wss client afterwards')
})

// ---------------------------------------------------------------------------------------------
// Client certificates

t.test('tlsClientAuth required: a client with a certificate signed by tlsCa connects over TLS and over wss', async (t) => {
  const { ca, server } = pki(t)
  const carol = ca.issueClient('carol', 'carol')
  const { addresses } = await startServer(t, { tlsCert: server.certFile, tlsKey: server.keyFile, tlsPort: 0, tlsCa: ca.certFile, tlsClientAuth: 'required' })
  const raw = await SocketStomp.connected(t, addresses.tls!, clientTls(ca, carol))
  await roundTrip(t, raw, 'TLS with a client certificate')
  const stompitClient = await connectStompitTls(t, addresses.tls!, clientTls(ca, carol))
  const inbox = subscribeStompit(stompitClient, { destination: '/queue/required-stompit', ack: 'auto' })
  raw.frame('SEND', [['destination', '/queue/required-stompit']], 'to stompit')
  t.equal((await inbox.waitFor(1))[0]!.body, 'to stompit', 'stompit with a client certificate connects and receives')
  const browser = await connectStompjsTls(t, addresses.ws, clientTls(ca, carol))
  await stompjsRoundTrip(t, browser, 'wss with a client certificate')
})

t.test('tlsClientAuth required: a client without a certificate (or with one from another CA) fails the handshake, on TLS and on wss', async (t) => {
  const { dir, ca, server: certificate } = pki(t)
  const stranger = makeCa(dir, 'other-ca', 'some other CA').issueClient('mallory', 'alice')
  const { server, addresses } = await startServer(t, { tlsCert: certificate.certFile, tlsKey: certificate.keyFile, tlsPort: 0, tlsCa: ca.certFile, tlsClientAuth: 'required' })
  for (const [who, options] of [['no certificate', clientTls(ca)], ['a certificate from another CA', { ...clientTls(ca), cert: stranger.cert, key: stranger.key }]] as const) {
    const attempt = await attemptTls(t, addresses.tls!, options)
    t.notMatch(attempt.received, /CONNECTED/, `TLS, ${who}: no CONNECTED before the connection ends`)
    t.equal(attempt.received, '', `TLS, ${who}: nothing at all comes back`)
    t.pass(`TLS, ${who}: the server ends the connection (${attempt.error?.message ?? 'closed without an alert the client reports'})`)
    const upgrade = await wsHandshake(addresses.ws, options)
    t.match(upgrade, /^error: /, `wss, ${who}: the upgrade fails (${upgrade})`)
  }
  t.equal(server.sessions.size, 0, 'no session was opened for any of them')
  const carol = ca.issueClient('carol', 'carol')
  await roundTrip(t, await SocketStomp.connected(t, addresses.tls!, clientTls(ca, carol)), 'a client with a good certificate afterwards')
})

t.test('tlsClientAuth optional, no other authentication: a client without a certificate connects anonymously, over TLS and wss', async (t) => {
  const { ca, server } = pki(t)
  const dave = ca.issueClient('dave', 'dave')
  const { addresses } = await startServer(t, { tlsCert: server.certFile, tlsKey: server.keyFile, tlsPort: 0, tlsCa: ca.certFile, tlsClientAuth: 'optional' })
  const anonymous = await SocketStomp.open(t, addresses.tls!, clientTls(ca))
  const reply = await anonymous.connect()
  t.equal(reply.command, 'CONNECTED', `TLS without a certificate: CONNECTED (got ${reply.command} ${getHeader(reply, 'message') ?? ''})`)
  if (reply.command === 'CONNECTED') await roundTrip(t, anonymous, 'TLS without a certificate')
  const browser = await connectStompjsTls(t, addresses.ws, clientTls(ca)).catch((err: Error) => err)
  t.ok(browser instanceof Client, `wss without a certificate connects (${browser instanceof Error ? browser.message : 'connected'})`)
  if (browser instanceof Client) await stompjsRoundTrip(t, browser, 'wss without a certificate')
  // A client that has one is still welcome.
  await roundTrip(t, await SocketStomp.connected(t, addresses.tls!, clientTls(ca, dave)), 'TLS with a certificate')
})

t.test('users file and tlsClientAuth optional: a certificate for CN=alice with no login is alice; no certificate and no passcode is refused', async (t) => {
  const { dir, ca, server: certificate } = pki(t)
  const alice = ca.issueClient('alice', 'alice')
  const forged = makeCa(dir, 'other-ca', 'some other CA').issueClient('forged-alice', 'alice')
  const users = await usersFile(dir, { alice: 'alice passcode', bob: 'bob passcode' })
  const { server, addresses } = await startServer(t, {
    tlsCert: certificate.certFile, tlsKey: certificate.keyFile, tlsPort: 0, tlsCa: ca.certFile, tlsClientAuth: 'optional', users,
  })

  // alice by certificate alone makes a durable subscription, then leaves.
  const byCertificate = await SocketStomp.open(t, addresses.tls!, clientTls(ca, alice))
  const connected = await byCertificate.connect()
  t.equal(connected.command, 'CONNECTED', `CN=alice without login or passcode: CONNECTED (${getHeader(connected, 'message') ?? ''})`)
  t.same([...server.sessions].map((s) => s.principal?.user), ['alice'], 'the session acts as alice')
  await byCertificate.request('SUBSCRIBE', [['id', 'prices'], ['destination', '/topic/prices'], ['durable', 'true'], ['auto-delete', 'false']])
  await byCertificate.request('DISCONNECT', [])
  await byCertificate.closed

  // Published while she is away: kept for her durable subscription.
  const bob = await SocketStomp.connected(t, addresses.tls!, clientTls(ca), [...CONNECT_HEADERS, ['login', 'bob'], ['passcode', 'bob passcode']])
  await bob.request('SEND', [['destination', '/topic/prices']], 'kept for alice')
  // bob's subscription of the same name is his own, not alice's.
  await bob.request('SUBSCRIBE', [['id', 'prices'], ['destination', '/topic/prices'], ['durable', 'true'], ['auto-delete', 'false']])
  t.ok(await quiet(bob), 'bob does not get what was kept for alice\'s subscription')

  // alice with her passcode over the plain TCP port: the same owner, so the same subscription.
  const byPasscode = await SocketStomp.plain(t, addresses.tcp!, [...CONNECT_HEADERS, ['login', 'alice'], ['passcode', 'alice passcode']])
  await byPasscode.request('SUBSCRIBE', [['id', 'prices'], ['destination', '/topic/prices'], ['durable', 'true'], ['auto-delete', 'false']])
  const kept = await byPasscode.next()
  t.equal(kept.command, 'MESSAGE', 'alice, back with her passcode, finds her durable subscription')
  t.equal(kept.body.toString(), 'kept for alice', 'holding what was published while she was away')

  // Without a certificate and without a passcode: refused.
  for (const [who, options] of [['no certificate', clientTls(ca)], ['CN=alice from another CA', { ...clientTls(ca), cert: forged.cert, key: forged.key }]] as const) {
    const stranger = await SocketStomp.open(t, addresses.tls!, options)
    const refused = await stranger.connect()
    t.equal(refused.command, 'ERROR', `${who}, no passcode: ERROR`)
    t.equal(getHeader(refused, 'message'), 'authentication failed', `${who}: "authentication failed"`)
    await within(stranger.closed, 5000, `${who}: the connection is closed after the ERROR`)
  }
  // Over wss too.
  const browser = await connectStompjsTls(t, addresses.ws, clientTls(ca, alice)).catch((err: Error) => err)
  t.ok(browser instanceof Client, `wss with CN=alice and no login connects (${browser instanceof Error ? browser.message : 'connected'})`)
  const anonymousBrowser = await connectStompjsTls(t, addresses.ws, clientTls(ca)).then(() => 'connected', (err: Error) => err.message)
  t.equal(anonymousBrowser, 'ERROR authentication failed', 'wss without certificate or passcode is refused')
})

/** No frame arrives on `client` for `ms`. */
async function quiet(client: SocketStomp<net.Socket>, ms = 300): Promise<boolean> {
  const before = client.frames.length
  await sleep(ms)
  return client.frames.length === before
}

// ---------------------------------------------------------------------------------------------
// Certificates re-read while clients stay connected

t.test('reload() swaps the certificate: connected clients keep going, new ones see certificate B', async (t) => {
  const { dir, ca } = pki(t)
  const a = ca.issueServer('a', 'localhost')
  const b = ca.issueServer('b', 'renewed.localhost')
  const certFile = join(dir, 'live.crt')
  const keyFile = join(dir, 'live.key')
  copyFileSync(a.certFile, certFile)
  copyFileSync(a.keyFile, keyFile)
  const { server, addresses } = await startServer(t, { tlsCert: certFile, tlsKey: keyFile, tlsPort: 0 })

  const old = await SocketStomp.connected(t, addresses.tls!, clientTls(ca))
  t.equal(old.socket.getPeerCertificate().serialNumber, a.serialNumber, 'the first client was shown certificate A')
  const oldBrowser = await connectStompjsTls(t, addresses.ws, clientTls(ca))
  t.equal((await peerCertificate(t, hostPort(addresses.ws), ca)).serialNumber, a.serialNumber, 'the HTTPS port shows A too')

  copyFileSync(b.certFile, certFile)
  copyFileSync(b.keyFile, keyFile)
  t.equal((await peerCertificate(t, addresses.tls!, ca)).serialNumber, a.serialNumber, 'until reload() the broker keeps A')
  server.reload()

  await roundTrip(t, old, 'the TLS client connected before the reload')
  await stompjsRoundTrip(t, oldBrowser, 'the wss client connected before the reload')
  t.equal(server.sessions.size, 2, 'both are still connected')

  for (const [listener, address] of [['TLS', addresses.tls!], ['HTTPS', hostPort(addresses.ws)]] as const) {
    const shown = await peerCertificate(t, address, ca)
    t.equal(shown.serialNumber, b.serialNumber, `a new ${listener} client sees certificate B's serial`)
    t.equal(shown.subject.CN, 'renewed.localhost', `and its CN`)
    t.equal(shown.fingerprint256, b.fingerprint256, 'and its fingerprint')
  }
  await roundTrip(t, await SocketStomp.connected(t, addresses.tls!, clientTls(ca)), 'a TLS client after the reload')
  await stompjsRoundTrip(t, await connectStompjsTls(t, addresses.ws, clientTls(ca)), 'a wss client after the reload')
})

t.test('reload() with a key that does not match the certificate throws and keeps the old certificate in service', async (t) => {
  const { dir, ca } = pki(t)
  const a = ca.issueServer('a')
  const b = ca.issueServer('b')
  const certFile = join(dir, 'live.crt')
  const keyFile = join(dir, 'live.key')
  copyFileSync(a.certFile, certFile)
  copyFileSync(a.keyFile, keyFile)
  const { server, addresses } = await startServer(t, { tlsCert: certFile, tlsKey: keyFile, tlsPort: 0 })
  const old = await SocketStomp.connected(t, addresses.tls!, clientTls(ca))
  copyFileSync(b.certFile, certFile) // the new certificate, but still A's key
  t.throws(() => server.reload(), 'reload() refuses the mismatched pair')
  for (const address of [addresses.tls!, hostPort(addresses.ws)]) {
    t.equal((await peerCertificate(t, address, ca)).serialNumber, a.serialNumber, `${address} still presents A`)
  }
  await roundTrip(t, old, 'the client connected before')
  await roundTrip(t, await SocketStomp.connected(t, addresses.tls!, clientTls(ca)), 'a new client')
})

const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

t.test('the real CLI: the listening line names wss=, tcp= and tls=, and SIGHUP swaps the certificate without dropping anyone', async (t) => {
  const { dir, ca } = pki(t)
  const a = ca.issueServer('a', 'localhost')
  const b = ca.issueServer('b', 'renewed.localhost')
  const certFile = join(dir, 'live.crt')
  const keyFile = join(dir, 'live.key')
  copyFileSync(a.certFile, certFile)
  copyFileSync(a.keyFile, keyFile)
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--tls-port', '0',
    '--tls-cert', certFile, '--tls-key', keyFile, '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })
  const waitOutput = (pattern: RegExp, what: string): Promise<RegExpExecArray> => within((async () => {
    for (;;) {
      const match = pattern.exec(output)
      if (match !== null) return match
      if (child.exitCode !== null) throw new Error(`stompd exited with ${child.exitCode}:\n${output}`)
      await sleep(20)
    }
  })(), 15_000, what).catch((err: Error) => { throw new Error(`${err.message}\n${output}`) })

  const line = await waitOutput(/stompd listening (\S+)=(\S+) tcp=(\S+) tls=(\S+)\n/, 'the listening line')
  const [, wsName, ws, tcp, tlsAddress] = line as unknown as [string, string, string, string, string]
  t.equal(wsName, 'wss', 'the WebSocket listener is named wss=')
  t.match(ws, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/, 'its address is a wss:// URL')
  t.match(tlsAddress, /^127\.0\.0\.1:\d+$/, 'tls= is host:port')
  t.not(tlsAddress, tcp, 'on a port of its own')

  const old = await SocketStomp.connected(t, tlsAddress, clientTls(ca))
  t.equal(old.socket.getPeerCertificate().serialNumber, a.serialNumber, 'a client is shown certificate A')
  const oldBrowser = await connectStompjsTls(t, ws, clientTls(ca))

  copyFileSync(b.certFile, certFile)
  copyFileSync(b.keyFile, keyFile)
  child.kill('SIGHUP')
  await waitOutput(/reloaded on SIGHUP/, 'the broker logs "reloaded on SIGHUP"')

  await roundTrip(t, old, 'the TLS client connected before SIGHUP')
  await stompjsRoundTrip(t, oldBrowser, 'the wss client connected before SIGHUP')
  for (const [listener, address] of [['TLS', tlsAddress], ['HTTPS', hostPort(ws)]] as const) {
    const shown = await peerCertificate(t, address, ca)
    t.equal(shown.serialNumber, b.serialNumber, `a new ${listener} client sees certificate B`)
    t.equal(shown.subject.CN, 'renewed.localhost', 'with its CN')
  }
  await roundTrip(t, await SocketStomp.connected(t, tlsAddress, clientTls(ca)), 'a TLS client after SIGHUP')
  t.notMatch(output, /reload on SIGHUP failed/, 'nothing went wrong')
})

// ---------------------------------------------------------------------------------------------
// Configurations that make no sense

t.test('half a certificate pair, or client certificates without a CA, is refused by createServer with a clear error', async (t) => {
  const { ca, server } = pki(t)
  const refusals: Array<[string, Parameters<typeof createServer>[0], RegExp]> = [
    ['tlsCert without tlsKey', { tlsCert: server.certFile }, /--tls-cert and --tls-key go together/],
    ['tlsKey without tlsCert', { tlsKey: server.keyFile }, /--tls-cert and --tls-key go together/],
    ['tlsClientAuth required without tlsCa', { tlsCert: server.certFile, tlsKey: server.keyFile, tlsClientAuth: 'required' }, /--tls-client-auth required needs --tls-ca/],
    ['tlsClientAuth optional without tlsCa', { tlsCert: server.certFile, tlsKey: server.keyFile, tlsClientAuth: 'optional' }, /--tls-client-auth optional needs --tls-ca/],
  ]
  for (const [what, options, message] of refusals) {
    let thrown: unknown = null
    try {
      createServer({ host: '127.0.0.1', port: 0, tcpPort: 0, tlsPort: 0, logLevel: 'silent', ...options })
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof ConfigError, `${what}: createServer throws a ConfigError`)
    t.match((thrown as Error | null)?.message, message, `${what}: saying what is missing`)
  }
  // The complete configuration is accepted.
  const { addresses } = await startServer(t, { tlsCert: server.certFile, tlsKey: server.keyFile, tlsPort: 0, tlsCa: ca.certFile, tlsClientAuth: 'required' })
  t.ok(addresses.tls, 'with a CA, tlsClientAuth required starts')
})

t.test('the CLI refuses --tls-cert without --tls-key in one line on stderr, without starting', async (t) => {
  const { server } = pki(t)
  const run = await runCliToExit(t, ['--tls-cert', server.certFile, '--tls-port', '0'])
  t.not(run.code, 0, `it exits non-zero (${run.code})`)
  t.match(run.stderr, /--tls-cert and --tls-key go together/, 'stderr says why')
  t.equal(run.stderr.trim().split('\n').length, 1, 'in one line, no stack trace')
  t.notMatch(run.stdout, /listening/, 'it never listened')
})
