// STOMP over WebSocket: a Fastify plugin serving `/ws` (and `/stomp`) with STOMP
// subprotocol negotiation; each socket becomes a Connection.
import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import type { CloseReason, Connection } from './connection.js'

export interface WebSocketOptions {
  paths: readonly string[]
  /** Largest WebSocket message accepted; STOMP frame limits are enforced by the decoder well below it. */
  maxPayload: number
  highWaterMark: number
  /** ms to wait for the close handshake before dropping the socket. */
  closeTimeout: number
  onConnection(connection: Connection): void
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
const EMPTY = Buffer.alloc(0)
const CLOSE_CODES: Record<CloseReason, number> = {
  'client-left': 1000,
  'client-disconnect': 1000,
  'protocol-error': 1000,
  'heartbeat-timeout': 1000,
  'connect-timeout': 1000,
  'slow-consumer': 1008,
  'shutdown': 1001,
}

export class WsConnection implements Connection {
  readonly transport = 'ws' as const
  readonly remote: string
  private readonly ws: WebSocket
  private readonly options: Pick<WebSocketOptions, 'highWaterMark' | 'closeTimeout'>
  private blocked = false
  private closeReason: CloseReason | null = null
  private drainListener: (() => void) | null = null
  private closeListener: ((reason: CloseReason) => void) | null = null

  constructor(ws: WebSocket, remote: string, options: Pick<WebSocketOptions, 'highWaterMark' | 'closeTimeout'>) {
    this.ws = ws
    this.remote = remote
    this.options = options
    ws.binaryType = 'nodebuffer'
    ws.on('close', () => {
      const listener = this.closeListener
      this.closeListener = null
      listener?.(this.closeReason ?? 'client-left')
    })
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount
  }

  write(parts: readonly Buffer[], text: boolean): boolean {
    const ws = this.ws
    if (ws.readyState !== OPEN) return false
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    // Every write carries the callback: the one of the last write made while blocked fires
    // once everything before it has been handed to the kernel, which is the drain.
    ws.send(data, { binary: !text }, this.afterWrite)
    if (ws.bufferedAmount >= this.options.highWaterMark) this.blocked = true
    return !this.blocked
  }

  private readonly afterWrite = (): void => {
    if (!this.blocked || this.ws.bufferedAmount >= this.options.highWaterMark) return
    this.blocked = false
    this.drainListener?.()
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.ws.on('message', (data: Buffer) => listener(data))
    // A pong proves the peer alive: report it as data without bytes.
    this.ws.on('pong', () => listener(EMPTY))
  }

  onDrain(listener: () => void): void {
    this.drainListener = listener
  }

  onClose(listener: (reason: CloseReason) => void): void {
    this.closeListener = listener
  }

  onOversized(listener: () => void): void {
    // ws rejects a message over maxPayload by sending close 1009 from its receiver's 'error'
    // handler. Running first lets the session send its ERROR frame ahead of that close frame.
    // `_receiver` is ws's own (undocumented) field; without it the client just sees the 1009.
    const receiver = (this.ws as unknown as { _receiver?: { prependListener?(event: 'error', fn: (err: { code?: string }) => void): void } })._receiver
    receiver?.prependListener?.('error', (err) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') listener()
    })
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
    // A peer that never reads would never complete the close handshake.
    const timer = setTimeout(() => ws.terminate(), this.options.closeTimeout)
    timer.unref()
    ws.once('close', () => clearTimeout(timer))
  }
}

async function stompWebSocket(fastify: FastifyInstance, options: WebSocketOptions): Promise<void> {
  await fastify.register(fastifyWebsocket, {
    options: {
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      handleProtocols: (offered) => chooseSubprotocol(offered),
    },
    errorHandler(error, socket, request) {
      request.log.debug({ err: error }, 'websocket error')
      socket.terminate()
    },
    preClose: async function () {
      await options.onShutdown()
    },
  })
  for (const path of options.paths) {
    fastify.get(path, { websocket: true }, (socket, request) => {
      const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`
      options.onConnection(new WsConnection(socket, remote, options))
    })
  }
}

export const webSocketTransport = fp(stompWebSocket, { name: 'stompd-websocket', fastify: '5.x' })
