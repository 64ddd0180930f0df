// A raw STOMP client over a plain TCP socket or a WebSocket: it writes exactly the bytes a
// test gives it (malformed ones included) and reads what the server sends back, frame by
// frame, with the project's decoder.
import net from 'node:net'
import WebSocket from 'ws'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Command, type Frame, type Header, type StompVersion } from '../../lib/frame/frame.js'
import type { StompError } from '../../lib/errors.js'
import type { Teardown } from './server.js'

export interface Closed {
  /** WebSocket close code; undefined for TCP. */
  code?: number
}

export interface RawOptions {
  /** Keep every frame received (default); false only counts MESSAGE frames, for floods. */
  keepFrames?: boolean
  /** WebSocket only: refuse (close with 1009) any message larger than this, as Tomcat's client does above 8 KiB. */
  maxPayload?: number
}

export class RawClient {
  readonly frames: Frame[] = []
  /** MESSAGE frames received, kept or not. */
  received = 0
  heartbeats = 0
  /** WebSocket messages received, and whether each came as text. */
  readonly messageKinds: Array<'text' | 'binary'> = []
  /** The size of each WebSocket message received. */
  readonly messageSizes: number[] = []
  /** WebSocket text messages that held nothing but one EOL: heart-beats sent on their own. */
  eolMessages = 0
  readonly closed: Promise<Closed>
  /** The subprotocol the server chose (WebSocket only). */
  protocol = ''
  private readonly decoder: FrameDecoder
  private waiters: Array<() => void> = []
  private readonly writeBytes: (data: Buffer) => void
  private readonly end: () => void
  private version: StompVersion = '1.2'
  private isClosed = false

  private constructor(write: (data: Buffer) => void, end: () => void, closed: Promise<Closed>, options: RawOptions) {
    const keepFrames = options.keepFrames ?? true
    this.writeBytes = write
    this.end = end
    this.closed = closed.then((c) => {
      this.isClosed = true
      this.wake()
      return c
    })
    this.decoder = new FrameDecoder({
      onFrame: (frame) => {
        const isMessage = frame.command === 'MESSAGE'
        if (isMessage) this.received++
        if (keepFrames || !isMessage) this.frames.push({ ...frame, body: Buffer.from(frame.body) })
        this.wake()
      },
      onHeartbeat: () => {
        this.heartbeats++
        this.wake()
      },
      onError: (error: StompError) => {
        throw error
      },
    })
  }

  static async tcp(t: Teardown, address: string, options: RawOptions = {}): Promise<RawClient> {
    const [host, port] = splitAddress(address)
    const socket = net.connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.on('error', () => {})
    const closed = new Promise<Closed>((resolve) => socket.once('close', () => resolve({})))
    const client = new RawClient((data) => socket.write(data), () => socket.destroy(), closed, options)
    socket.on('data', (chunk) => client.decoder.push(chunk))
    t.teardown(() => socket.destroy())
    return client
  }

  static async ws(t: Teardown, url: string, protocols: string[] = ['v12.stomp'], options: RawOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(url, protocols, options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    ws.on('error', () => {})
    const closed = new Promise<Closed>((resolve) => ws.once('close', (code) => resolve({ code })))
    const client = new RawClient((data) => ws.send(data), () => ws.terminate(), closed, options)
    client.protocol = ws.protocol
    ws.on('message', (data: Buffer, isBinary) => {
      client.messageKinds.push(isBinary ? 'binary' : 'text')
      client.messageSizes.push(data.length)
      if (!isBinary && data.length === 1 && data[0] === 0x0a) client.eolMessages++
      client.decoder.push(data)
    })
    t.teardown(() => ws.terminate())
    return client
  }

  /** Writes bytes as they are: one TCP write, or one WebSocket message. */
  send(data: string | Buffer): void {
    this.writeBytes(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
  }

  /** Encodes and sends one frame with the project's encoder. */
  frame(command: Command, headers: Header[] = [], body: Buffer | string = EMPTY_BODY): void {
    this.send(encodeFrame(command, headers, typeof body === 'string' ? Buffer.from(body) : body, this.version))
  }

  /** CONNECT with the given headers (default: STOMP 1.2, no heart-beats) and wait for CONNECTED. */
  async connect(headers: Header[] = [['accept-version', '1.2'], ['host', 'localhost']]): Promise<Frame> {
    this.frame('CONNECT', headers)
    const connected = await this.next()
    if (connected.command === 'CONNECTED') this.version = (getHeader(connected, 'version') ?? '1.0') as StompVersion
    return connected
  }

  /** The next frame not yet taken by next(); rejects after `timeoutMs`, or if the connection closes first. */
  async next(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    while (this.taken >= this.frames.length) {
      if (this.isClosed) throw new Error('connection closed before the next frame')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
      await this.wait(left)
    }
    return this.frames[this.taken++]!
  }

  /** Waits until `predicate` holds over what has arrived. */
  async until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`condition not met within ${timeoutMs} ms`)
      await this.wait(left)
    }
  }

  /** No frame arrives within `ms`. */
  async quiet(ms = 200): Promise<boolean> {
    const before = this.frames.length
    await new Promise((resolve) => setTimeout(resolve, ms))
    return this.frames.length === before
  }

  destroy(): void {
    this.end()
  }

  private taken = 0

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}

export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':')
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))]
}

export { getHeader }
