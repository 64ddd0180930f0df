// STOMP over TCP, plain or TLS: a server whose sockets become Connections.
import net from 'node:net'
import tls from 'node:tls'
import { LINGER_BYTES, type CloseReason, type Connection, type ConnectionListener } from './connection.js'
import { certificateNameOf } from './tls.js'

export interface TcpOptions {
  /** Outbound bytes buffered per socket before write() reports backpressure. */
  highWaterMark: number
  /** ms to wait for the peer after we end a connection before destroying it. */
  closeTimeout: number
}


export class TcpConnection implements Connection {
  readonly transport = 'tcp' as const
  readonly headroom = 0 // a byte stream: nothing to put in front
  readonly maxMessageBytes = 0 // nor any message to keep small
  readonly accessToken = '' // no URL to carry one
  readonly certificateName: string
  readonly remote: string
  private readonly socket: net.Socket
  private readonly options: TcpOptions
  private closeReason: CloseReason | null = null
  private listener: ConnectionListener | null = null
  /** Bytes read since close(): see LINGER_BYTES. */
  private lingered = 0

  constructor(socket: net.Socket, options: TcpOptions) {
    this.socket = socket
    this.options = options
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.certificateName = certificateNameOf(socket)
    // We coalesce frames per event-loop turn ourselves; Nagle would only add latency.
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 60_000)
    socket.on('error', () => {
      // ECONNRESET and friends: the 'close' event that follows reports it.
    })
    socket.on('close', () => {
      const listener = this.listener
      this.listener = null
      listener?.onClose(this.closeReason ?? 'client-left')
    })
  }

  get bufferedBytes(): number {
    return this.socket.writableLength
  }

  write(parts: readonly Buffer[], _text: boolean, _roomInFront: number): boolean {
    const socket = this.socket
    if (socket.destroyed || socket.writableEnded) return false
    if (parts.length === 1) {
      socket.write(parts[0]!)
    } else {
      // One writev for the whole batch, without copying the parts together.
      socket.cork()
      for (let i = 0; i < parts.length; i++) socket.write(parts[i]!)
      socket.uncork()
    }
    // Not write()'s return value: corked writes report backpressure before the kernel has had
    // a chance to take them. What counts is what is still buffered once it has.
    return socket.writableLength < this.options.highWaterMark
  }

  cork(): void {
    this.socket.cork()
  }

  uncork(): void {
    this.socket.uncork()
  }

  attach(listener: ConnectionListener): void {
    this.listener = listener
    // A byte stream has no message size, so no onOversized: the decoder's limits are the only ones.
    this.socket.on('data', (chunk: Buffer) => {
      if (this.closeReason === null) this.listener?.onData(chunk)
      else if ((this.lingered += chunk.length) > LINGER_BYTES) this.socket.pause()
    })
    this.socket.on('drain', () => this.listener?.onDrain())
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  keepAlive(): void {
    // TCP keep-alive is on at the socket level; STOMP heart-beats do the rest.
  }

  close(reason: CloseReason): void {
    if (this.closeReason !== null) return
    this.closeReason = reason
    const socket = this.socket
    socket.end()
    // A peer that never reads would keep the socket half-open forever.
    const timer = setTimeout(() => socket.destroy(), this.options.closeTimeout)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
}

export function createTcpServer(options: TcpOptions, onConnection: (connection: Connection) => void): net.Server {
  const server = net.createServer({ highWaterMark: options.highWaterMark, noDelay: true }, (socket) => {
    onConnection(new TcpConnection(socket, options))
  })
  return server
}

/** STOMP over TLS (--tls-port): the same connections, on a TLS socket. */
export function createTlsServer(options: tls.TlsOptions, tcp: TcpOptions, onConnection: (connection: Connection) => void): tls.Server {
  const server = tls.createServer({ ...options, highWaterMark: tcp.highWaterMark }, (socket) => {
    onConnection(new TcpConnection(socket, tcp))
  })
  // A handshake that fails (no certificate where one is required, a plain-text client) is the
  // client's problem; it must not surface as a server error.
  server.on('tlsClientError', () => {})
  return server
}
