// STOMP over WebSocket: a Fastify plugin serving `/ws` (and `/stomp`) with STOMP
// subprotocol negotiation; each socket becomes a Connection.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { LINGER_BYTES, type CloseReason, type Connection, type ConnectionListener } from './connection.js'
import { certificateNameOf } from './tls.js'

export interface WebSocketOptions {
  paths: readonly string[]
  /**
   * Upgrades to other paths: refused with 404 when stompd owns the server; left alone when it is
   * a plugin in someone else's Fastify app (theirs to serve).
   */
  otherPaths: 'refuse' | 'ignore'
  /** Largest WebSocket message accepted; STOMP frame limits are enforced by the decoder well below it. */
  maxPayload: number
  /**
   * Most bytes of frames the server puts in one WebSocket message (a larger frame goes alone);
   * 0 = one frame per message.
   */
  maxMessageBytes: number
  highWaterMark: number
  /** ms to wait for the close handshake before dropping the socket. */
  closeTimeout: number
  onConnection(connection: Connection): void
  /**
   * Whether an upgrade may go ahead: null, or the HTTP status line it is refused with (a foreign
   * Origin, too many connections), before any WebSocket or STOMP exists.
   */
  admit(request: IncomingMessage): string | null
  /** Runs before the HTTP server stops: say goodbye to clients while they can still hear it. */
  onShutdown(): Promise<void>
}

/** Highest first: `@stomp/stompjs` offers `v10.stomp, v11.stomp, v12.stomp` and ws would pick the first. */
const SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp']

export function chooseSubprotocol(offered: ReadonlySet<string>): string | false {
  for (const protocol of SUBPROTOCOLS) if (offered.has(protocol)) return protocol
  // A client offering none (Spring's WebSocketStompClient) is still welcome.
  return false
}

const OPEN = 1
const ignoreError = (): void => {}
const EMPTY = Buffer.alloc(0)
const CLOSE_CODES: Record<CloseReason, number> = {
  'client-left': 1000,
  'client-disconnect': 1000,
  'protocol-error': 1000,
  'heartbeat-timeout': 1000,
  'connect-timeout': 1000,
  'slow-consumer': 1008,
  'shutdown': 1001,
  'token-expired': 1008,
}

/**
 * ws's WebSocket with a slot for its Connection, so that every socket shares one function per
 * event instead of holding closures of its own (ws calls listeners with the socket as `this`).
 */
class StompSocket extends WebSocket {
  connection: WsConnection | null = null
}

// ws's typings give listeners a plain WebSocket as `this`; ours are always StompSockets.
function onMessage(this: WebSocket, data: Buffer): void {
  (this as StompSocket).connection?.listener?.onData(data)
}

/** A pong proves the peer alive: reported as data without bytes. */
function onPong(this: WebSocket): void {
  (this as StompSocket).connection?.listener?.onData(EMPTY)
}

function onSocketClose(this: WebSocket): void {
  (this as StompSocket).connection?.closed()
}

const AS_TEXT = { binary: false }
const AS_BINARY = { binary: true }
/** The longest header of an unmasked (server-to-client) frame: 2 bytes, 2 of extended length, or 8. */
const MAX_SERVER_HEADER = 10
const OPCODE_TEXT = 0x1
const OPCODE_BINARY = 0x2
const FIN = 0x80

/** A STOMP heart-beat (one EOL) as a whole WebSocket message, text and binary: written as it is. */
const FRAMED_HEARTBEAT_TEXT = Buffer.from([FIN | OPCODE_TEXT, 1, 0x0a])
const FRAMED_HEARTBEAT_BINARY = Buffer.from([FIN | OPCODE_BINARY, 1, 0x0a])

/** The header of an unmasked, unfragmented frame carrying `length` payload bytes. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10
}

/** Writes that header (RFC 6455 §5.2) at the start of `target`. */
function writeHeader(target: Buffer, opcode: number, length: number): void {
  target[0] = FIN | opcode
  if (length < 126) {
    target[1] = length
  } else if (length < 65536) {
    target[1] = 126
    target.writeUInt16BE(length, 2)
  } else {
    target[1] = 127
    target.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    target.writeUInt32BE(length >>> 0, 6)
  }
}

type ConnectionOptions = Pick<WebSocketOptions, 'highWaterMark' | 'closeTimeout' | 'maxMessageBytes'>

export class WsConnection implements Connection {
  readonly transport = 'ws' as const
  readonly headroom = MAX_SERVER_HEADER
  listener: ConnectionListener | null = null
  readonly accessToken: string
  readonly certificateName: string
  private readonly ws: StompSocket
  /** The socket under `ws`: frames are written to it directly; also read for `remote`. */
  private readonly socket: Socket
  private readonly options: ConnectionOptions
  private blocked = false
  private closeReason: CloseReason | null = null
  private afterWrite: (() => void) | null = null

  constructor(ws: StompSocket, socket: Socket, options: ConnectionOptions, accessToken = '') {
    this.ws = ws
    this.socket = socket
    this.options = options
    this.accessToken = accessToken
    this.certificateName = certificateNameOf(socket)
    ws.connection = this
    ws.binaryType = 'nodebuffer'
    // ws closes the socket itself after a protocol error (with 1002, 1009, ...); the event
    // only needs a listener so that it is not thrown.
    ws.on('error', ignoreError)
    ws.on('close', onSocketClose)
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount
  }

  /** A cap of 1 byte puts every frame alone in its message. */
  get maxMessageBytes(): number {
    return this.options.maxMessageBytes === 0 ? 1 : this.options.maxMessageBytes
  }

  cork(): void {
    this.socket.cork()
  }

  uncork(): void {
    this.socket.uncork()
  }

  write(parts: readonly Buffer[], text: boolean, roomInFront: number): boolean {
    const ws = this.ws
    if (ws.readyState !== OPEN) return false
    let length = 0
    for (let i = 0; i < parts.length; i++) length += parts[i]!.length
    const header = headerLength(length)
    const highWaterMark = this.options.highWaterMark
    // The drain is the callback of the last write that reached the high-water mark: it fires once
    // everything before it has been handed to the kernel. Writes well under the mark need none.
    const nearMark = this.blocked || ws.bufferedAmount + header + length >= highWaterMark
    const callback = nearMark ? (this.afterWrite ??= () => this.written()) : undefined
    if (roomInFront >= header) this.writeFramed(parts, text, length, header, callback)
    else if (length === 1 && parts[0]![0] === 0x0a) this.socket.write(text ? FRAMED_HEARTBEAT_TEXT : FRAMED_HEARTBEAT_BINARY, callback)
    else ws.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length), text ? AS_TEXT : AS_BINARY, callback)
    if (ws.bufferedAmount >= highWaterMark) this.blocked = true
    return !this.blocked
  }

  /**
   * One WebSocket message straight to the socket, its header written into the free bytes in
   * front of the first part: one buffer and one write where ws.send would allocate a header and
   * writev the two. Safe beside ws's own writes (close, ping, pong): with no compression ws
   * never queues a frame, so every frame reaches the socket in the order it was sent.
   */
  private writeFramed(parts: readonly Buffer[], text: boolean, length: number, header: number, callback: (() => void) | undefined): void {
    const first = parts[0]!
    const framed = Buffer.from(first.buffer, first.byteOffset - header, first.length + header)
    writeHeader(framed, text ? OPCODE_TEXT : OPCODE_BINARY, length)
    const socket = this.socket
    if (parts.length === 1) {
      socket.write(framed, callback)
      return
    }
    socket.cork()
    socket.write(framed)
    for (let i = 1; i < parts.length; i++) socket.write(parts[i]!, i === parts.length - 1 ? callback : undefined)
    socket.uncork()
  }

  attach(listener: ConnectionListener): void {
    this.listener = listener
    const ws = this.ws
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    // ws rejects a message over maxPayload by sending close 1009 from its receiver's 'error'
    // handler. Running first lets the session send its ERROR frame ahead of that close frame.
    // `_receiver` is ws's own (undocumented) field; without it the client just sees the 1009.
    const receiver = (ws as unknown as { _receiver?: { prependListener?(event: 'error', fn: (err: { code?: string }) => void): void } })._receiver
    receiver?.prependListener?.('error', (err) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.listener?.onOversized()
    })
  }

  /** The socket is gone: tell the listener once, with why. */
  closed(): void {
    const listener = this.listener
    this.listener = null
    listener?.onClose(this.closeReason ?? 'client-left')
  }

  private written(): void {
    if (!this.blocked || this.ws.bufferedAmount >= this.options.highWaterMark) return
    this.blocked = false
    this.listener?.onDrain()
  }

  pause(): void {
    this.ws.pause()
  }

  resume(): void {
    this.ws.resume()
  }

  keepAlive(): void {
    if (this.ws.readyState === OPEN) this.ws.ping()
  }

  close(reason: CloseReason): void {
    if (this.closeReason !== null) return
    this.closeReason = reason
    const ws = this.ws
    ws.close(CLOSE_CODES[reason], reason)
    // ws reads on for the peer's close frame, and past a message it refused reads whatever follows.
    let lingered = 0
    const socket = this.socket
    socket.on('data', (chunk: Buffer) => {
      if ((lingered += chunk.length) > LINGER_BYTES) socket.pause()
    })
    // A peer that never reads would never complete the close handshake.
    const timer = setTimeout(() => ws.terminate(), this.options.closeTimeout)
    timer.unref()
    ws.once('close', () => clearTimeout(timer))
  }
}

/** `access_token` from an upgrade URL's query: browsers cannot set headers on a WebSocket. */
function accessTokenOf(url: string | undefined): string {
  if (url === undefined || !url.includes('access_token=')) return ''
  return new URL(url, 'http://localhost').searchParams.get('access_token') ?? ''
}

/** How a plain HTTP request to a WebSocket path is answered. */
const UPGRADE_REQUIRED = {
  error: 'Upgrade Required',
  message: 'this path speaks STOMP over WebSocket: connect with a WebSocket client (subprotocols v12.stomp, v11.stomp, v10.stomp)',
}

/** Refuses an upgrade the broker does not serve, in plain HTTP, before any WebSocket exists. */
function refuseUpgrade(socket: Duplex, status: string): void {
  // Node's HTTP server lets go of an upgrade's socket: a peer that resets it now would raise an
  // 'error' nobody listens to, and take the process down.
  socket.on('error', ignoreError)
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

// The upgrade is taken straight from Fastify's HTTP server rather than routed through Fastify
// per connection (as @fastify/websocket does): that route keeps a request, a reply, an
// http.ServerResponse and a child logger alive for as long as the socket lives, several KiB
// for each idle browser tab. Plain HTTP requests to the same paths still go through Fastify.
async function stompWebSocket(fastify: FastifyInstance, options: WebSocketOptions): Promise<void> {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    handleProtocols: (offered) => chooseSubprotocol(offered),
    WebSocket: StompSocket,
  })
  const paths = new Set(options.paths)
  const accept = (ws: WebSocket, request: IncomingMessage): void => {
    options.onConnection(new WsConnection(ws as StompSocket, request.socket, options, accessTokenOf(request.url)))
  }
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const query = request.url?.indexOf('?') ?? -1
    const path = query < 0 ? request.url : request.url!.slice(0, query)
    if (path === undefined || !paths.has(path)) {
      // Left to the app's own upgrade listener, if it has one; else nobody would end the socket.
      if (options.otherPaths === 'refuse' || fastify.server.listenerCount('upgrade') === 1) refuseUpgrade(socket, '404 Not Found')
      return
    }
    const refusal = options.admit(request)
    if (refusal !== null) return refuseUpgrade(socket, refusal)
    wss.handleUpgrade(request, socket, head, accept)
  }
  fastify.server.on('upgrade', onUpgrade)

  for (const path of options.paths) {
    fastify.get(path, async (_request, reply) => {
      reply.code(426).header('upgrade', 'websocket')
      return UPGRADE_REQUIRED
    })
  }
  fastify.addHook('preClose', async () => {
    fastify.server.off('upgrade', onUpgrade)
    await options.onShutdown()
  })
}

export const webSocketTransport = fp(stompWebSocket, { name: 'stompd-websocket', fastify: '5.x' })
