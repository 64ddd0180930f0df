// One load-generator connection: STOMP 1.2 over WebSocket (`ws`) or TCP (`net`) to any broker,
// or the raw ceiling protocol (no STOMP: bytes in, the same bytes out to every subscriber).
//
// Deliberately thin, for speed: frames are decoded by stompd's own FrameDecoder and encoded by
// the caller with encodeFrame (a STOMP client library such as stompjs would be the bottleneck);
// every frame written in one turn goes out in one syscall (cork/uncork), but each frame stays
// its own WebSocket message, as a browser client would send it.
import net from 'node:net'
import WebSocket from 'ws'
import { FrameDecoder } from '../../../lib/frame/decoder.js'
import { encodeFrame } from '../../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Frame, type Header } from '../../../lib/frame/frame.js'

export type Transport = 'ws' | 'tcp'

/** Where and how to reach a broker. */
export interface Endpoint {
  transport: Transport
  /** `ws://host:port/path` or `tcp://host:port`. */
  url: string
  /** false for the raw ceiling server, which speaks no STOMP. */
  stomp: boolean
  /** Extra CONNECT headers: RabbitMQ needs `host:/` (its vhost) and `login`/`passcode`. */
  connectHeaders: Header[]
  /**
   * Per-client CONNECT passcodes (stompd secured: a JWT per user, see secured.ts): the
   * connection of load client n sends passcodes[n % length]. Absent for every other broker.
   */
  passcodes?: readonly string[]
  /**
   * Where subscribers connect instead of `url` (cluster.ts: publishers on one node, subscriber n
   * on subscriberUrls[n % length], round-robin over the nodes). Absent: everyone uses `url`.
   */
  subscriberUrls?: readonly string[]
}

/** What a raw (ceiling) connection is: `pub` sends bytes to a channel, `sub` receives them. */
export type RawRole = 'pub' | 'sub'

export interface ConnectionEvents {
  /** Every frame after CONNECTED (for the raw ceiling: every frame). */
  onFrame(frame: Frame): void
  /** The transport closed; `expected` when close() asked for it. */
  onClose(expected: boolean, detail: string): void
}

/** WebSocket client options: no compression (no broker here negotiates it), no UTF-8 check of what the broker sends. */
const WS_OPTIONS: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  skipUTF8Validation: true,
  maxPayload: 256 * 1024 * 1024,
  // An all-zero masking key: RFC 6455 allows any key, and ws then skips masking every outgoing
  // byte, which would otherwise cost the load generator (not the broker) about 1 ms per MiB.
  generateMask: (mask: Buffer) => { mask.fill(0) },
}

const DISCONNECT = encodeFrame('DISCONNECT', [], EMPTY_BODY, '1.2')
const CONNECT_TIMEOUT_MS = 20_000

/** The socket under a `ws` client: corking it batches several WebSocket messages into one write. */
function socketOf(ws: WebSocket): net.Socket {
  // `_socket` is ws's (untyped) underlying net.Socket; there is no public accessor.
  return (ws as unknown as { _socket: net.Socket })._socket
}

export class LoadConnection {
  private readonly endpoint: Endpoint
  private readonly events: ConnectionEvents
  /** Which load client this is (publisher slot, or publishers + subscriber slot): picks its passcode. */
  private readonly client: number
  private ws: WebSocket | null = null
  private socket: net.Socket | null = null
  private readonly decoder: FrameDecoder
  private connected = false
  private closing = false
  private closed = false
  private onConnected: ((frame: Frame | null, error: string | null) => void) | null = null
  private rawHandshake = false // TCP ceiling: waiting for the server's `OK\n`
  private closeWaiters: Array<() => void> = []
  /** The socket corked in this turn, uncorked at its end. */
  private corked: net.Socket | null = null

  constructor(endpoint: Endpoint, events: ConnectionEvents, client = 0) {
    this.endpoint = endpoint
    this.events = events
    this.client = client
    this.decoder = new FrameDecoder({
      onFrame: (frame) => this.frame(frame),
      onHeartbeat: () => {},
      onError: (error) => this.fail(`undecodable bytes from the broker: ${error.message}`),
    }, { maxFrameSize: 512 * 1024 * 1024 })
  }

  /**
   * Opens the transport and, for STOMP, exchanges CONNECT/CONNECTED (`heartBeat` is what we
   * offer, `0,0` for none). For the ceiling, `raw` names the role and channel instead.
   */
  open(heartBeat: string, raw?: { role: RawRole, channel: string }): Promise<Frame | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(null, `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`), CONNECT_TIMEOUT_MS)
      const settle = (frame: Frame | null, error: string | null): void => {
        if (this.onConnected === null) return
        this.onConnected = null
        clearTimeout(timer)
        if (error === null) resolve(frame)
        else {
          this.destroy()
          reject(new Error(error))
        }
      }
      this.onConnected = settle
      const ready = (): void => {
        if (!this.endpoint.stomp) {
          if (this.endpoint.transport === 'tcp') {
            this.rawHandshake = true
            this.socket!.write(`${raw!.role.toUpperCase()} ${raw!.channel}\n`)
          } else {
            settle(null, null)
          }
          return
        }
        const headers: Header[] = [['accept-version', '1.2'], ['heart-beat', heartBeat], ...this.endpoint.connectHeaders]
        // stompd secured: each client CONNECTs as its own user, with its own token.
        const passcodes = this.endpoint.passcodes
        if (passcodes !== undefined && passcodes.length > 0) headers.push(['passcode', passcodes[this.client % passcodes.length]!])
        this.write(encodeFrame('CONNECT', headers, EMPTY_BODY, '1.2'))
      }
      if (this.endpoint.transport === 'ws') this.openWs(raw, ready)
      else this.openTcp(ready)
    })
  }

  private openWs(raw: { role: RawRole, channel: string } | undefined, ready: () => void): void {
    const url = raw === undefined ? this.endpoint.url : `${this.endpoint.url.replace(/\/$/, '')}/${raw.role}/${raw.channel}`
    const ws = new WebSocket(url, this.endpoint.stomp ? ['v12.stomp'] : [], WS_OPTIONS)
    ws.binaryType = 'nodebuffer'
    this.ws = ws
    ws.on('open', () => {
      socketOf(ws).setNoDelay(true)
      ready()
    })
    ws.on('message', (data: Buffer) => this.decoder.push(data))
    ws.on('error', (err) => this.fail(`websocket error: ${err.message}`))
    ws.on('close', (code, reason) => this.transportClosed(`websocket closed ${code} ${reason.toString()}`.trim()))
  }

  private openTcp(ready: () => void): void {
    const url = new URL(this.endpoint.url)
    const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true })
    this.socket = socket
    socket.on('connect', ready)
    socket.on('data', (chunk: Buffer) => this.data(chunk))
    socket.on('error', (err) => this.fail(`tcp error: ${err.message}`))
    socket.on('close', () => this.transportClosed('tcp connection closed'))
  }

  private data(chunk: Buffer): void {
    if (this.rawHandshake) {
      // The TCP ceiling answers `OK\n` once the connection is registered; raw bytes follow.
      const eol = chunk.indexOf(0x0a)
      if (eol < 0) return
      this.rawHandshake = false
      this.onConnected?.(null, null)
      if (eol + 1 < chunk.length) this.decoder.push(chunk.subarray(eol + 1))
      return
    }
    this.decoder.push(chunk)
  }

  private frame(frame: Frame): void {
    if (!this.connected && this.endpoint.stomp) {
      if (frame.command === 'CONNECTED') {
        this.connected = true
        this.onConnected?.(frame, null)
      } else {
        const message = getHeader(frame, 'message') ?? frame.command
        this.onConnected?.(null, `CONNECT refused: ${message} ${frame.body.toString('utf8', 0, 200)}`.trim())
      }
      return
    }
    this.events.onFrame(frame)
  }

  /**
   * Writes one encoded frame (one WebSocket message). The first write of a turn corks the socket
   * and the rest of the turn's writes join it: they leave in one syscall when the turn ends.
   */
  write(frame: Buffer): void {
    if (this.closed) return
    const socket = this.ws !== null ? (this.ws.readyState === WebSocket.OPEN ? socketOf(this.ws) : null) : this.socket
    if (socket === null) return
    if (this.corked === null) {
      this.corked = socket
      socket.cork()
      process.nextTick(this.uncork)
    }
    if (this.ws !== null) this.ws.send(frame, { binary: false })
    else socket.write(frame)
  }

  private readonly uncork = (): void => {
    // The socket corked, whatever state the WebSocket is in by now (a close() in the same turn
    // must still flush what was written before it, and its own close frame).
    const socket = this.corked
    this.corked = null
    if (socket !== null && socket.writableCorked > 0) socket.uncork()
  }

  /** Writes a bare EOL: a STOMP heart-beat (ignored by the ceiling). */
  heartbeat(): void {
    this.write(EOL)
  }

  /** Outbound bytes not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.ws !== null ? this.ws.bufferedAmount : (this.socket?.writableLength ?? 0)
  }

  get isOpen(): boolean {
    return !this.closed && !this.closing
  }

  /** DISCONNECT (STOMP) and a clean close; resolves when the transport has closed (at most `ms`). */
  close(ms = 3000): Promise<void> {
    if (this.closed) return Promise.resolve()
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve))
    if (!this.closing) {
      this.closing = true
      if (this.endpoint.stomp && this.connected) this.write(DISCONNECT)
      if (this.ws !== null) this.ws.close(1000)
      else this.socket?.end()
    }
    const timer = setTimeout(() => this.destroy(), ms)
    return done.finally(() => clearTimeout(timer))
  }

  destroy(): void {
    this.closing = true
    if (this.ws !== null) this.ws.terminate()
    else this.socket?.destroy()
  }

  private fail(detail: string): void {
    if (this.onConnected !== null) return this.onConnected(null, detail)
    if (!this.closing) this.events.onClose(false, detail)
    this.destroy()
  }

  private transportClosed(detail: string): void {
    if (this.closed) return
    this.closed = true
    const expected = this.closing
    this.closing = true
    this.onConnected?.(null, `${detail} before the connection was ready`)
    if (!expected) this.events.onClose(false, detail)
    for (const resolve of this.closeWaiters) resolve()
    this.closeWaiters = []
  }
}

const EOL = Buffer.from('\n')

/** An ERROR frame in one line: its `message` header and the start of its body. */
export function errorText(frame: Frame): string {
  const message = getHeader(frame, 'message') ?? ''
  return `${message} ${frame.body.toString('utf8', 0, 200)}`.trim()
}
