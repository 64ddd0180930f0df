// stompd's limits under every abuse at once: one stompd (memory store, its defaults plus
// --max-connections-per-ip 128, as the README advises for a broker the internet reaches) takes
// fourteen hostile clients over TCP and WebSocket for 60 s (--quick 8 s), each attack from an
// address of its own (127.0.1.x: loopback answers the whole of 127/8) in a loop, reconnecting when
// the broker ends it, while a well-behaved client on 127.0.0.2, in a worker thread, round-trips a
// receipted SEND through a queue it consumes every 5 ms. RSS is sampled every 200 ms; the ending of every hostile
// connection is tallied by the ERROR `message` it got (or how it closed without one), and
// /metrics' stompd_refused_total is read at the end for what the broker says it refused.
//
// Bounded in count and time, loopback only: one frame in flight per hostile connection, 100
// slowloris and 200 flood connections at most, the hoarding producer and the slow consumer's
// publisher wait for a RECEIPT per batch. When the load stops the hostile connections are
// dropped (a slowloris connection waits for the broker's verdict, at most 15 s), what the
// hoarder left in its queue and dead-letter queue is drained, and RSS is read 20 s later.
//
//   npm run bench -- abuse [--quick]
//   STOMPD_BENCH_ABUSE=flood,slowloris npm run bench -- abuse --quick    (only these attacks)
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { Worker } from 'node:worker_threads'
import WebSocket from 'ws'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Frame, type Header } from '../../lib/frame/frame.js'
import type { BenchOptions } from './harness.js'
import { Brokers } from './load/brokers.js'
import { LoadConnection, type Endpoint, type Transport } from './load/client.js'
import { cpuBetween, machineTicks, processTicks, rssBytes, threadTicks, type CpuSample } from './load/cpu.js'

const MiB = 1024 * 1024
const QUIET_MS = 2000 // the well-behaved client alone first, for comparison
const SAMPLE_MS = 200
// When RSS is read after the stop: outbox slabs nobody rents from are dropped at the second 5 s
// sweep, and the idle collector (every 5 s) frees them; 20 s covers both.
const AFTER_MS = 20_000
const ANSWER_TIMEOUT_MS = 15_000 // a hostile connection the broker has not ended by then is dropped and counted as such
const OPEN_TIMEOUT_MS = 10_000
const PING_EVERY_MS = 5
// stompd's defaults, which the attacks are sized against (the broker runs with all of them).
const CONNECT_TIMEOUT_MS = 10_000
const MAX_UNACKED = 10_000
const MAX_TRANSACTIONS = 100
const MAX_TRANSACTION_FRAMES = 1024
/** The two settings beyond the defaults the README advises for a broker the internet reaches. */
const MAX_CONNECTIONS_PER_IP = 128
const OFFENDER_DELAY_MS = 5000
const INTERNET_FACING = { STOMPD_MAX_CONNECTIONS_PER_IP: String(MAX_CONNECTIONS_PER_IP), STOMPD_OFFENDER_DELAY: String(OFFENDER_DELAY_MS) }
const GOOD_CLIENT_ADDRESS = '127.0.0.2'

const SLOWLORIS = 100
const SLOWLORIS_BYTE_MS = 3000
const FLOOD = 200
const HUGE_BODY = 20_000_000
const SLOW_MESSAGES = 50_000
const SLOW_BATCH = 500 // per RECEIPT
const SLOW_BODY = 1024 // 50 MB in all: well past what the kernel's socket buffers and --high-water-mark absorb
const HOARD_BATCH = 250 // per RECEIPT, every 50 ms: 5,000 messages/s, so the limit is reached in the first seconds even in --quick
const HOARD_EXTRA = 1000 // sent past the hoarder's limit, so deliveries could go on if nothing held them back

/** Runs `start` with `variables` in the environment a child started by it inherits, then puts the environment back. */
async function withEnvironment<T>(variables: Record<string, string>, start: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]))
  Object.assign(process.env, variables)
  try {
    return await start()
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number): string => (bytes / MiB).toFixed(0)

/** Whether `promise` settled within `ms` (the timer is cleared when it does, so none pile up). */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

// ---------------------------------------------------------------------------------------------
// A hostile connection. LoadConnection (load/client.ts) always sends CONNECT first, frames each
// write as one WebSocket message of text and cannot pause reading; the attacks need raw bytes
// before CONNECT, binary messages (random bytes are not UTF-8) and a socket that stops reading.

const WS_OPTIONS: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  skipUTF8Validation: true,
  maxPayload: 256 * MiB,
  generateMask: (mask: Buffer) => { mask.fill(0) }, // as in load/client.ts: no masking cost on 20 MB messages
}
const CONNECT = encodeFrame('CONNECT', [['accept-version', '1.2'], ['host', '127.0.0.1'], ['heart-beat', '0,0']], EMPTY_BODY, '1.2')

class Raw {
  /** The `message` header of the first ERROR the broker sent, or null. */
  error: string | null = null
  isClosed = false
  /** Settles when the transport has closed, whoever closed it. */
  readonly closed: Promise<void>
  private markClosed: () => void = () => {}
  private readonly decoder: FrameDecoder
  private socket: net.Socket | null = null
  private ws: WebSocket | null = null
  private waiter: { command: string, done: (frame: Frame | null) => void } | null = null
  /** Set while open() waits: a close before the transport is ready (a drop at the stop) fails it. */
  private openFailed: ((err: Error) => void) | null = null

  /** `from`: the local address to connect from (each attack has its own). */
  constructor(readonly endpoint: Endpoint, readonly from: string) {
    this.closed = new Promise((resolve) => { this.markClosed = resolve })
    this.decoder = new FrameDecoder({
      onFrame: (frame) => this.frame(frame),
      onHeartbeat: () => {},
      onError: () => { this.error ??= '(undecodable bytes from the broker)' },
    }, { maxFrameSize: 256 * MiB })
  }

  /** Opens the transport, no STOMP; rejects when it cannot. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let opened = false
      const timer = setTimeout(() => fail(new Error('open timed out')), OPEN_TIMEOUT_MS)
      const ready = (): void => {
        opened = true
        this.openFailed = null
        clearTimeout(timer)
        resolve()
      }
      const fail = (err: Error): void => {
        if (opened) return
        opened = true
        this.openFailed = null
        clearTimeout(timer)
        this.destroy()
        reject(err)
      }
      this.openFailed = fail
      if (this.endpoint.transport === 'ws') {
        const ws = new WebSocket(this.endpoint.url, ['v12.stomp'], { ...WS_OPTIONS, localAddress: this.from })
        ws.binaryType = 'nodebuffer'
        this.ws = ws
        ws.on('open', ready)
        ws.on('message', (data: Buffer) => this.decoder.push(data))
        ws.on('error', fail)
        ws.on('close', () => this.gone())
      } else {
        const url = new URL(this.endpoint.url)
        const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true, localAddress: this.from })
        this.socket = socket
        socket.on('connect', ready)
        socket.on('data', (chunk: Buffer) => this.decoder.push(chunk))
        socket.on('error', fail)
        socket.on('close', () => this.gone())
      }
    })
  }

  /** CONNECT; true once CONNECTED came. */
  async connect(): Promise<boolean> {
    this.write(CONNECT)
    return (await this.waitFor('CONNECTED', OPEN_TIMEOUT_MS)) !== null
  }

  /** Writes bytes (one binary WebSocket message); resolves once they are handed to the kernel, or the connection is gone. */
  send(data: Buffer): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    const sent = new Promise<void>((resolve) => {
      if (this.ws !== null) {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true }, () => resolve())
        else resolve()
      } else {
        this.socket!.write(data, () => resolve())
      }
    })
    return Promise.race([sent, this.closed])
  }

  write(data: Buffer): void {
    void this.send(data)
  }

  /** The next `command` frame; null on an ERROR, a close or after `ms`. */
  waitFor(command: string, ms: number): Promise<Frame | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), ms)
      const done = (frame: Frame | null): void => {
        clearTimeout(timer)
        this.waiter = null
        resolve(frame)
      }
      this.waiter = { command, done }
      if (this.isClosed) done(null)
    })
  }

  /** TCP only: stop reading (the kernel's buffers fill, then the broker's outbox). */
  pause(): void {
    this.socket?.pause()
  }

  resume(): void {
    this.socket?.resume()
  }

  /** How the broker ended it: the ERROR's message, or a close without one. */
  outcome(): string {
    return this.error ?? CLOSED_WITHOUT_ERROR
  }

  destroy(): void {
    if (this.ws !== null) this.ws.terminate()
    else this.socket?.destroy()
  }

  private frame(frame: Frame): void {
    if (frame.command === 'ERROR') this.error ??= getHeader(frame, 'message') ?? '(ERROR without message)'
    const waiter = this.waiter
    if (waiter !== null && (frame.command === waiter.command || frame.command === 'ERROR')) waiter.done(frame.command === 'ERROR' ? null : frame)
  }

  private gone(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.openFailed?.(new Error('closed while opening'))
    this.waiter?.done(null)
    this.markClosed()
  }
}

/** A well-formed helper client (the hoarder, producers, the drain) on load/client.ts's LoadConnection, with RECEIPTs to await. */
class Client {
  messages = 0
  closed = false
  readonly connection: LoadConnection
  private readonly receipts = new Map<string, () => void>()
  private nextReceipt = 0

  constructor(endpoint: Endpoint) {
    this.connection = new LoadConnection(endpoint, {
      onFrame: (frame) => {
        if (frame.command === 'MESSAGE') this.messages++
        else if (frame.command === 'RECEIPT') this.settle(getHeader(frame, 'receipt-id') ?? '')
      },
      onClose: () => this.gone(),
    })
  }

  async open(): Promise<boolean> {
    try {
      await this.connection.open('0,0')
      return true
    } catch {
      this.closed = true
      return false
    }
  }

  /** Writes a frame carrying a receipt; resolves when the RECEIPT comes or the connection is gone. */
  receipted(command: 'SEND' | 'SUBSCRIBE', headers: Header[], body: Buffer = EMPTY_BODY): Promise<void> {
    return this.receiptedBytes((receipt) => encodeFrame(command, [...headers, ['receipt', receipt]], body, '1.2'))
  }

  /** `build(receipt)` returns bytes whose last frame asks for that receipt. */
  receiptedBytes(build: (receipt: string) => Buffer): Promise<void> {
    if (this.closed) return Promise.resolve()
    const receipt = String(++this.nextReceipt)
    const answered = new Promise<void>((resolve) => this.receipts.set(receipt, resolve))
    this.connection.write(build(receipt))
    return answered
  }

  destroy(): void {
    this.connection.destroy() // raises no onClose
    this.gone()
  }

  private settle(receipt: string): void {
    this.receipts.get(receipt)?.()
    this.receipts.delete(receipt)
  }

  private gone(): void {
    this.closed = true
    for (const resolve of this.receipts.values()) resolve()
    this.receipts.clear()
  }
}

// ---------------------------------------------------------------------------------------------
// The attacks and their tally.

const CLOSED_WITHOUT_ERROR = 'closed without ERROR'
const THROTTLED = 'throttled (no error)'
const CLIENT_DROPPED = 'dropped by the client'
/** A WebSocket upgrade refused over HTTP (--max-connections-per-ip): no STOMP to carry an ERROR. */
const HTTP_503 = 'connect failed (Unexpected server response: 503)'

/** What ended an attack, by outcome: the ERROR `message`s README's Errors table lists, and the rest. */
const LIMIT_OF: Record<string, string> = {
  'unknown command': 'the decoder',
  'malformed header': 'the decoder',
  'invalid header escape': 'the decoder',
  'frame too large': '--max-frame-size',
  'too many headers': '--max-headers',
  'header line too long': '--max-header-line-length',
  'too many subscriptions': '--max-subscriptions',
  'no CONNECT frame in time': '--connect-timeout',
  'slow consumer': '--slow-consumer-backlog',
  'too many transactions': '--max-transactions',
  'transaction too large': '--max-transaction-frames',
  [THROTTLED]: '--max-unacked',
  'too many connections from this address': '--max-connections-per-ip',
  [HTTP_503]: '--max-connections-per-ip',
  [CLIENT_DROPPED]: '- (opened under the limit)',
}

interface Attack {
  /** For STOMPD_BENCH_ABUSE: attacks of one kind share a group; the name picks one. */
  group: string
  name: string
  label: string
  via: string
  /** The outcomes that are this attack's limit at work: at least one must be seen. */
  expected: readonly string[]
  /** Other outcomes that are no failure (a flood's connections that were under the limit). */
  tolerated?: readonly string[]
  /** The local address its connections come from; set before the run. */
  from?: string
  start(run: Run, endpoint: (transport: Transport) => Endpoint): Promise<void>
}

/** The load's shared state: the tally, the connections to drop when it stops, and the stop flag. */
class Run {
  stopped = false
  readonly tally = new Map<Attack, Map<string, number>>()
  readonly open = new Set<{ destroy(): void }>()

  /** Counts one ending; endings caused by the stop itself are not the broker's doing and are left out unless `afterStop`. */
  record(attack: Attack, outcome: string, afterStop = false): void {
    if (this.stopped && !afterStop) return
    let outcomes = this.tally.get(attack)
    if (outcomes === undefined) this.tally.set(attack, outcomes = new Map())
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
  }

  stop(): void {
    this.stopped = true
    for (const connection of this.open) connection.destroy()
    this.open.clear()
  }
}

const errorCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message.slice(0, 60)

/**
 * One hostile connection, from open to the broker's ending: open (and CONNECT when `stomp`),
 * let `script` write, wait for the close, count how it ended.
 */
async function cycle(run: Run, attack: Attack, endpoint: Endpoint, stomp: boolean, script: (raw: Raw) => Promise<void>): Promise<void> {
  const raw = new Raw(endpoint, attack.from!)
  run.open.add(raw)
  try {
    try {
      await raw.open()
    } catch (err) {
      run.record(attack, `connect failed (${errorCode(err)})`)
      await sleep(100)
      return
    }
    if (stomp && !(await raw.connect())) {
      run.record(attack, `CONNECT failed: ${raw.outcome()}`)
      return
    }
    await script(raw)
    const ended = await within(raw.closed, ANSWER_TIMEOUT_MS)
    run.record(attack, ended ? raw.outcome() : `not ended within ${ANSWER_TIMEOUT_MS / 1000} s`)
  } finally {
    raw.destroy()
    run.open.delete(raw)
  }
}

async function loop(run: Run, body: () => Promise<void>): Promise<void> {
  while (!run.stopped) await body()
}

const DECODER_ERRORS = ['unknown command', 'malformed header', 'invalid header escape', 'header line too long', 'frame too large']

// The hostile bytes, built once.
const RANDOM = randomBytes(MiB)
const GARBAGE_BYTES = 64 * 1024
const hugeFrame = (contentLength: boolean): Buffer => Buffer.concat([
  // No NUL in the body, so the frame without content-length ends at the final NUL.
  Buffer.from(`SEND\ndestination:/queue/abuse.huge\n${contentLength ? `content-length:${HUGE_BODY}\n` : ''}\n`),
  Buffer.alloc(HUGE_BODY, 'x'), Buffer.from([0]),
])
let hugeFrames: Map<boolean, Buffer> | null = null
const huge = (contentLength: boolean): Buffer => {
  hugeFrames ??= new Map([[true, hugeFrame(true)], [false, hugeFrame(false)]])
  return hugeFrames.get(contentLength)!
}
const ENDLESS_HEAD = Buffer.from('SEND\ndestination:/queue/abuse.endless\nx-endless:')
const ENDLESS_CHUNK = Buffer.alloc(4096, 'a')
const MANY_HEADERS = encodeFrame('SEND', [['destination', '/queue/abuse.headers'], ...Array.from({ length: 10_000 }, (_, i): Header => [`h${i}`, 'v'])], EMPTY_BODY, '1.2')
const LONG_LINE = Buffer.concat([Buffer.from('SEND\ndestination:/queue/abuse.line\nx-long:'), Buffer.alloc(MiB, 'a'), Buffer.from('\n\n\0')])
const SUBSCRIBES = Buffer.concat(Array.from({ length: 5000 }, (_, i) =>
  encodeFrame('SUBSCRIBE', [['id', String(i)], ['destination', `/topic/abuse.subscriptions.${i}`]], EMPTY_BODY, '1.2')))
const BEGINS = Buffer.concat(Array.from({ length: 2 * MAX_TRANSACTIONS }, (_, i) => encodeFrame('BEGIN', [['transaction', `t${i}`]], EMPTY_BODY, '1.2')))
const TX_BEGIN = encodeFrame('BEGIN', [['transaction', 'bomb']], EMPTY_BODY, '1.2')
/** Batches of 1,000 SENDs: one more than the limit needs. */
const TX_BATCHES = Math.ceil(MAX_TRANSACTION_FRAMES / 1000) + 1
const TX_SENDS = Buffer.concat(Array.from({ length: 1000 }, () =>
  encodeFrame('SEND', [['destination', '/queue/abuse.tx'], ['transaction', 'bomb']], Buffer.from('x'.repeat(64)), '1.2')))

/** A hostile client that loops over `cycle`. */
function looping(group: string, name: string, label: string, transport: Transport, expected: readonly string[], stomp: boolean, script: (raw: Raw) => Promise<void>): Attack {
  const attack: Attack = {
    group, name, label, via: transport, expected,
    start: (run, endpoint) => loop(run, () => cycle(run, attack, endpoint(transport), stomp, script)),
  }
  return attack
}

const ATTACKS: Attack[] = [
  looping('garbage', 'random', '64 KiB of random bytes', 'tcp', DECODER_ERRORS, false, async (raw) => {
    const at = Math.floor(Math.random() * (RANDOM.length - GARBAGE_BYTES))
    await raw.send(RANDOM.subarray(at, at + GARBAGE_BYTES))
  }),
  looping('garbage', 'endless-line', 'a header line that never ends', 'ws', ['header line too long'], true, async (raw) => {
    await raw.send(ENDLESS_HEAD)
    // 4 KiB at a time until the broker ends it (at most 16 MiB: then it is a failure to end it).
    for (let i = 0; i < 4096 && !raw.isClosed; i++) await raw.send(ENDLESS_CHUNK)
  }),
  looping('huge', 'huge-length-tcp', '20 MB body, content-length', 'tcp', ['frame too large'], true, (raw) => raw.send(huge(true))),
  looping('huge', 'huge-tcp', '20 MB body, no content-length', 'tcp', ['frame too large'], true, (raw) => raw.send(huge(false))),
  looping('huge', 'huge-ws', '20 MB body, no content-length', 'ws', ['frame too large'], true, (raw) => raw.send(huge(false))),
  looping('headers', 'many-headers', '10,000 headers', 'tcp', ['too many headers'], true, (raw) => raw.send(MANY_HEADERS)),
  looping('headers', 'long-line', 'a 1 MB header line', 'ws', ['header line too long'], true, (raw) => raw.send(LONG_LINE)),
  looping('subscriptions', 'subscriptions', '5,000 SUBSCRIBEs', 'ws', ['too many subscriptions'], true, (raw) => raw.send(SUBSCRIBES)),
  {
    group: 'slowloris', name: 'slowloris', label: `slowloris ×${SLOWLORIS}, a byte of CONNECT per ${SLOWLORIS_BYTE_MS / 1000} s`, via: 'tcp+ws', expected: ['no CONNECT frame in time'],
    start(run, endpoint) {
      return Promise.all(Array.from({ length: SLOWLORIS }, (_, i) => slowloris(run, this, endpoint(i % 2 === 0 ? 'tcp' : 'ws'), (i * SLOWLORIS_BYTE_MS) / SLOWLORIS))).then(() => {})
    },
  },
  {
    group: 'slow-consumer', name: 'slow-consumer', label: `never-reading subscriber, ${SLOW_MESSAGES.toLocaleString('en-US')} × 1 KiB`, via: 'tcp', expected: ['slow consumer'],
    start(run, endpoint) { return slowConsumer(run, this, endpoint) },
  },
  {
    group: 'flood', name: 'flood', label: `connection flood, ${FLOOD} at once`, via: 'tcp+ws',
    expected: ['too many connections from this address', HTTP_503], tolerated: [CLIENT_DROPPED],
    start(run, endpoint) {
      return Promise.all(Array.from({ length: FLOOD }, (_, i) => loop(run, () => flood(run, this, endpoint(i % 2 === 0 ? 'tcp' : 'ws'))))).then(() => {})
    },
  },
  {
    group: 'unacked', name: 'unacked', label: 'client-individual, never ACKs', via: 'ws', expected: [THROTTLED],
    start(run, endpoint) { return hoarding(run, this, endpoint) },
  },
  looping('transactions', 'begins', `${2 * MAX_TRANSACTIONS} BEGINs`, 'tcp', ['too many transactions'], true, (raw) => raw.send(BEGINS)),
  looping('transactions', 'tx-sends', `${(TX_BATCHES * 1000).toLocaleString('en-US')} SENDs in one transaction`, 'ws', ['transaction too large'], true, async (raw) => {
    await raw.send(TX_BEGIN)
    for (let i = 0; i < TX_BATCHES && !raw.isClosed; i++) await raw.send(TX_SENDS)
  }),
]

/** One slowloris connection at a time: a byte of CONNECT every few seconds, until the broker ends it. */
async function slowloris(run: Run, attack: Attack, endpoint: Endpoint, delay: number): Promise<void> {
  await sleep(delay)
  while (!run.stopped) {
    // Not in run.open: when the load stops it waits for the broker's verdict (the connect timeout) instead of being dropped.
    const raw = new Raw(endpoint, attack.from!)
    try {
      await raw.open()
    } catch (err) {
      run.record(attack, `connect failed (${errorCode(err)})`)
      await sleep(100)
      continue
    }
    let sent = 0
    const drip = (): void => {
      // Never the whole frame: at one byte per 3 s it would take minutes anyway.
      if (!run.stopped && sent < CONNECT.length - 2) raw.write(CONNECT.subarray(sent, ++sent))
    }
    drip()
    const timer = setInterval(drip, SLOWLORIS_BYTE_MS)
    const ended = await within(raw.closed, CONNECT_TIMEOUT_MS + 5000)
    clearInterval(timer)
    raw.destroy()
    run.record(attack, ended ? raw.outcome() : `not ended within ${(CONNECT_TIMEOUT_MS + 5000) / 1000} s`, true)
  }
}

/**
 * One of the flood's connections: opens and CONNECTs, then holds the connection until the stop
 * (counted then as opened under the limit); a refusal is counted at once and tried again soon.
 */
async function flood(run: Run, attack: Attack, endpoint: Endpoint): Promise<void> {
  const raw = new Raw(endpoint, attack.from!)
  run.open.add(raw)
  try {
    await raw.open()
  } catch (err) {
    run.open.delete(raw)
    run.record(attack, `connect failed (${errorCode(err)})`)
    await sleep(100)
    return
  }
  if (!(await raw.connect())) {
    raw.destroy()
    run.open.delete(raw)
    run.record(attack, raw.outcome())
    await sleep(100)
    return
  }
  await raw.closed // the stop drops it
  run.record(attack, CLIENT_DROPPED, true)
}

/** stompd's /metrics, parsed into `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text()
  const values = new Map<string, number>()
  for (const match of text.matchAll(/^(stompd_\w+(?:\{[^}]*\})?) (\S+)$/gm)) values.set(match[1]!, Number(match[2]))
  return values
}

/**
 * A topic subscriber that stops reading while a publisher sends it 50,000 messages of 1 KiB, a
 * RECEIPT per 500. Once /metrics counts a slow consumer it reads again, only to see how it was
 * ended: the broker gives up its socket 3 s after closing it, and what was still queued there
 * (the ERROR last) would be lost.
 */
async function slowConsumer(run: Run, attack: Attack, endpoint: (transport: Transport) => Endpoint): Promise<void> {
  const topic = '/topic/abuse.slow'
  const metrics = metricsUrl(endpoint('ws'))
  const slowConsumers = async (): Promise<number> => (await scrape(metrics)).get('stompd_slow_consumers_total') ?? 0
  const publisher = new Client(endpoint('tcp'))
  run.open.add(publisher)
  if (!(await publisher.open())) return run.record(attack, 'publisher could not connect')
  const body = Buffer.alloc(SLOW_BODY, 's')
  const plain = encodeFrame('SEND', [['destination', topic]], body, '1.2')
  const batch = (receipt: string): Buffer => Buffer.concat([
    ...Array.from({ length: SLOW_BATCH - 1 }, () => plain),
    encodeFrame('SEND', [['destination', topic], ['receipt', receipt]], body, '1.2'),
  ])
  await loop(run, () => cycle(run, attack, endpoint('tcp'), true, async (raw) => {
    raw.write(encodeFrame('SUBSCRIBE', [['id', '0'], ['destination', topic], ['receipt', 'subscribed']], EMPTY_BODY, '1.2'))
    if ((await raw.waitFor('RECEIPT', OPEN_TIMEOUT_MS)) === null) return
    raw.pause()
    const before = await slowConsumers()
    let dropped = false
    for (let sent = 0; sent < SLOW_MESSAGES && !run.stopped && !publisher.closed; sent += SLOW_BATCH) {
      await publisher.receiptedBytes(batch)
      if (!dropped && sent % (5 * SLOW_BATCH) === 0 && (await slowConsumers()) > before) {
        dropped = true
        raw.resume()
      }
    }
    raw.resume()
  }))
  publisher.destroy()
}

/**
 * A client-individual subscriber on a queue that a producer feeds 5,000 messages/s; it never
 * ACKs. It should get exactly --max-unacked (10,000) and then nothing more though 1,000 more
 * wait in the queue: then it leaves (its deliveries go back to the queue, and after 5
 * redeliveries to the dead-letter queue) and comes back.
 */
async function hoarding(run: Run, attack: Attack, endpoint: (transport: Transport) => Endpoint): Promise<void> {
  const producer = new Client(endpoint('tcp'))
  run.open.add(producer)
  if (!(await producer.open())) return run.record(attack, 'producer could not connect')
  const body = Buffer.alloc(64, 'h')
  const plain = encodeFrame('SEND', [['destination', HOARD_QUEUE]], body, '1.2')
  const batch = (receipt: string): Buffer => Buffer.concat([
    ...Array.from({ length: HOARD_BATCH - 1 }, () => plain),
    encodeFrame('SEND', [['destination', HOARD_QUEUE], ['receipt', receipt]], body, '1.2'),
  ])
  while (!run.stopped && !producer.closed) {
    const hoarder = new Client(endpoint('ws'))
    run.open.add(hoarder)
    if (!(await hoarder.open())) {
      run.record(attack, 'hoarder could not connect')
      await sleep(100)
      continue
    }
    await hoarder.receipted('SUBSCRIBE', [['id', '0'], ['destination', HOARD_QUEUE], ['ack', 'client-individual']])
    let extra = 0
    while (!run.stopped && !hoarder.closed && (hoarder.messages < MAX_UNACKED || extra < HOARD_EXTRA)) {
      const started = Date.now()
      await producer.receiptedBytes(batch)
      if (hoarder.messages >= MAX_UNACKED) extra += HOARD_BATCH
      await sleep(Math.max(0, 50 - (Date.now() - started)))
    }
    await sleep(1000) // deliveries in flight arrive; none should follow
    if (!run.stopped) {
      const held = hoarder.messages
      run.record(attack, hoarder.closed ? 'hoarder closed' : held === MAX_UNACKED ? THROTTLED : `${held} delivered unacked, not ${MAX_UNACKED}`)
    }
    hoarder.destroy()
    run.open.delete(hoarder)
  }
  producer.destroy()
}

const HOARD_QUEUE = '/queue/abuse.hoard'
const HOARD_DLQ = '/queue/DLQ.abuse.hoard'

/** Reads what the hoarding left behind (auto ack) until nothing has come for 500 ms; returns how many. */
async function drain(endpoint: Endpoint, destinations: readonly string[]): Promise<number> {
  const reader = new Client(endpoint)
  if (!(await reader.open())) return 0
  for (const [i, destination] of destinations.entries()) await reader.receipted('SUBSCRIBE', [['id', String(i)], ['destination', destination], ['ack', 'auto']])
  const deadline = Date.now() + 20_000
  for (let seen = -1; reader.messages !== seen && Date.now() < deadline;) {
    seen = reader.messages
    await sleep(500)
  }
  await reader.connection.close()
  return reader.messages
}

const metricsUrl = (ws: Endpoint): string => `http://${new URL(ws.url).host}/metrics`

// ---------------------------------------------------------------------------------------------
// The well-behaved client, in its own thread so that the attackers' work in this one does not add
// to its latencies: a SEND with a receipt to a queue it consumes (auto ack) every 5 ms; a round
// trip ends when both the RECEIPT and the MESSAGE are in. A tick is skipped while the last is
// unanswered, so a stall shows as one long round trip. 'mark' starts the under-attack figures.
const GOOD_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads')
const net = require('node:net')
const quiet = [], attacked = []
let latencies = quiet, sentAt = -1, receipt = false, message = false, seq = 0, text = '', timer = null, problem = null
const socket = net.connect({ host: workerData.host, port: workerData.port, localAddress: workerData.from, noDelay: true }, () =>
  socket.write('CONNECT\\naccept-version:1.2\\nhost:127.0.0.1\\nheart-beat:0,0\\n\\n\\0'))
socket.setEncoding('latin1')
socket.on('data', (chunk) => {
  text += chunk
  for (let nul = text.indexOf('\\0'); nul >= 0; nul = text.indexOf('\\0')) {
    const frame = text.slice(0, nul).replace(/^[\\r\\n]+/, '')
    text = text.slice(nul + 1)
    const command = frame.slice(0, frame.indexOf('\\n'))
    if (command === 'CONNECTED') {
      socket.write('SUBSCRIBE\\nid:0\\ndestination:' + workerData.queue + '\\nack:auto\\nreceipt:subscribed\\n\\n\\0')
    } else if (command === 'RECEIPT') {
      if (frame.includes('\\nreceipt-id:subscribed\\n')) { timer = setInterval(tick, workerData.everyMs); parentPort.postMessage('ready') }
      else if (sentAt >= 0 && frame.includes('\\nreceipt-id:' + seq + '\\n')) { receipt = true; settle() }
    } else if (command === 'MESSAGE') {
      if (sentAt >= 0 && frame.endsWith('\\n\\nping ' + seq)) { message = true; settle() }
    } else if (command === 'ERROR') {
      problem = 'ERROR from the broker: ' + frame.slice(0, 200).replace(/\\n/g, ' ')
    }
  }
})
socket.on('error', (err) => { problem = problem ?? String(err) })
socket.on('close', () => { problem = problem ?? 'connection closed' })
function settle() {
  if (!receipt || !message) return
  latencies.push(performance.now() - sentAt)
  sentAt = -1
}
function tick() {
  if (sentAt >= 0) return
  const body = 'ping ' + (++seq)
  receipt = message = false
  sentAt = performance.now()
  socket.write('SEND\\ndestination:' + workerData.queue + '\\nreceipt:' + seq + '\\ncontent-length:' + body.length + '\\n\\n' + body + '\\0')
}
parentPort.on('message', (what) => {
  if (what === 'mark') { latencies = attacked; return }
  clearInterval(timer)
  parentPort.postMessage({ quiet, attacked, problem, outstandingMs: sentAt < 0 ? 0 : performance.now() - sentAt })
  socket.destroy()
})
`
interface GoodResult { quiet: number[], attacked: number[], problem: string | null, outstandingMs: number }

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** p50/p99/max of round trips (ms), the one unanswered at the stop counted as it stood. */
function latencySummary(latencies: readonly number[], outstandingMs = 0): { p50: number, p99: number, max: number, count: number } {
  const sorted = [...latencies, ...(outstandingMs > 0 ? [outstandingMs] : [])].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN, count: latencies.length }
}

/** The attacks STOMPD_BENCH_ABUSE names (groups or single attacks, comma-separated), or all. */
function selectedAttacks(): Attack[] | string {
  const wanted = (process.env.STOMPD_BENCH_ABUSE ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (wanted.length === 0) return ATTACKS
  const names = new Set(ATTACKS.flatMap((a) => [a.group, a.name]))
  const unknown = wanted.filter((w) => !names.has(w))
  if (unknown.length > 0) return `STOMPD_BENCH_ABUSE: no attack ${unknown.join(', ')} (groups and attacks: ${[...names].join(', ')})`
  return ATTACKS.filter((a) => wanted.includes(a.group) || wanted.includes(a.name))
}

function printTable(header: readonly string[], rows: readonly string[][], numeric: ReadonlySet<number>): void {
  const lines = [header, ...rows]
  const widths = header.map((_, col) => Math.max(...lines.map((l) => l[col]!.length)))
  for (const line of lines) console.log('  ' + line.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd())
}

export async function run(options: BenchOptions): Promise<void> {
  const attacks = selectedAttacks()
  if (typeof attacks === 'string') {
    console.log(`abuse: ${attacks}`)
    return
  }
  const attackMs = options.quick ? 8000 : 60_000
  console.log(`abuse: ${attacks.length} hostile clients for ${attackMs / 1000} s against one stompd with its default limits, --max-connections-per-ip ${MAX_CONNECTIONS_PER_IP} and --offender-delay ${OFFENDER_DELAY_MS}, each attack from its own 127.0.1.x; one well-behaved client on ${GOOD_CLIENT_ADDRESS} (a receipted SEND through a queue it consumes every ${PING_EVERY_MS} ms, its own thread); RSS every ${SAMPLE_MS} ms`)
  const brokers = new Brokers()
  const runState = new Run()
  let sampler: NodeJS.Timeout | undefined
  try {
    // The harness starts dist/cli.js (with its #! node flags) on free loopback ports, memory store, log level warn.
    const found = await withEnvironment(INTERNET_FACING, () => brokers.get('stompd', 'memory'))
    attacks.forEach((attack, i) => { attack.from = `127.0.1.${i + 1}` })
    if (!('target' in found)) {
      console.log(`  ${found.skipped}`)
      return
    }
    const { target } = found
    const endpoint = (transport: Transport): Endpoint => target.endpoint(transport)!
    const rss = (): number => rssBytes(target.pid!) ?? 0
    await sleep(1000)
    const tcp = new URL(endpoint('tcp').url)
    const good = new Worker(GOOD_CLIENT, { eval: true, workerData: { host: tcp.hostname, port: Number(tcp.port), from: GOOD_CLIENT_ADDRESS, queue: '/queue/abuse.good', everyMs: PING_EVERY_MS } })
    const ready = new Promise<void>((resolve, reject) => { good.once('message', () => resolve()); good.once('error', reject) })
    if (!(await within(ready, 10_000))) throw new Error('the well-behaved client did not get going within 10 s')
    const goodResult = new Promise<GoodResult>((resolve, reject) => { good.once('message', resolve); good.once('error', reject) })
    await sleep(QUIET_MS)

    const baseline = rss()
    let peak = baseline
    let latest = baseline
    sampler = setInterval(() => {
      latest = rss()
      peak = Math.max(peak, latest)
    }, SAMPLE_MS)
    const cpuSample = (): CpuSample => ({
      at: performance.now(), broker: processTicks(target.pid!), brokerMain: threadTicks(target.pid!, target.pid!),
      loadgen: processTicks(process.pid), threads: [], machine: machineTicks(),
    })
    const cpuBefore = cpuSample()
    good.postMessage('mark')
    const running = attacks.map((attack) => attack.start(runState, endpoint).catch((err: unknown) => {
      runState.record(attack, `bench error: ${(err as Error).message}`, true)
    }))
    await sleep(attackMs)
    good.postMessage('stop')
    const cpu = cpuBetween(cpuBefore, cpuSample())
    const ping = await goodResult
    await good.terminate()
    runState.stop()
    await Promise.all(running)
    const drained = attacks.some((a) => a.group === 'unacked') ? await drain(endpoint('tcp'), [HOARD_QUEUE, HOARD_DLQ]) : 0
    // The attacks have stopped: RSS is still sampled for the peak, and read once 20 s later
    // (along the way too, to show how it came down).
    const settling: string[] = [`0 s ${mb(rss())}`]
    for (let waited = 0, i = 0, marks = [2000, 5000, 10_000, AFTER_MS]; i < marks.length; waited = marks[i++]!) {
      await sleep(marks[i]! - waited)
      settling.push(`${marks[i]! / 1000} s ${mb(latest)}`)
    }
    const after = rss()
    clearInterval(sampler)
    const metrics = await scrape(metricsUrl(endpoint('ws')))
    const problem = target.problem()

    // attack → limit that ended it → ERROR seen → count
    const rows: string[][] = []
    const missed: string[] = []
    for (const attack of attacks) {
      const outcomes = [...(runState.tally.get(attack) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1])
      if (outcomes.length === 0) outcomes.push(['(never ended)', 0])
      for (const [i, [outcome, count]] of outcomes.entries()) {
        const isError = outcome in LIMIT_OF && outcome !== THROTTLED && outcome !== CLIENT_DROPPED && outcome !== HTTP_503
        rows.push([i === 0 ? attack.label : '', i === 0 ? attack.via : '', LIMIT_OF[outcome] ?? '-', isError ? outcome : `- (${outcome})`, count.toLocaleString('en-US')])
      }
      const unexpected = outcomes.filter(([outcome]) => !attack.expected.includes(outcome) && !(attack.tolerated ?? []).includes(outcome))
      if (unexpected.length > 0) missed.push(`${attack.label}: ${unexpected.map(([o, n]) => `${n} × ${o}`).join(', ')}`)
      else if (!outcomes.some(([outcome]) => attack.expected.includes(outcome))) missed.push(`${attack.label}: its limit was never met`)
    }
    printTable(['attack', 'via', 'limit that ended it', 'ERROR seen', 'count'], rows, new Set([4]))
    const refused = [...metrics].filter(([name]) => name.startsWith('stompd_refused_total{')).map(([name, n]) => `${/reason="([^"]*)"/.exec(name)?.[1] ?? name} ${n.toLocaleString('en-US')}`)
    console.log(`  /metrics stompd_refused_total: ${refused.length === 0 ? 'none' : refused.join(', ')}; stompd_slow_consumers_total ${metrics.get('stompd_slow_consumers_total') ?? 0}; stompd_connections_total ${(metrics.get('stompd_connections_total') ?? 0).toLocaleString('en-US')}`)
    if (drained > 0) console.log(`  drained ${drained.toLocaleString('en-US')} hoarded messages from ${HOARD_QUEUE} and ${HOARD_DLQ} before the 20 s wait`)

    const quiet = latencySummary(ping.quiet)
    const attacked = latencySummary(ping.attacked, ping.outstandingMs)
    console.log(`  well-behaved client under attack: ${attacked.count.toLocaleString('en-US')} round trips, p50 ${attacked.p50.toFixed(1)} ms, p99 ${attacked.p99.toFixed(1)} ms, max ${attacked.max.toFixed(0)} ms (alone before: p50 ${quiet.p50.toFixed(1)}, p99 ${quiet.p99.toFixed(1)}, max ${quiet.max.toFixed(0)} ms)${ping.problem === null ? '' : `; problem: ${ping.problem}`}`)
    console.log(`  stompd RSS: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, ${AFTER_MS / 1000} s after the attacks stopped ${mb(after)} MB${problem === null ? '' : `; broker problem: ${problem}`}`)
    const metric = (name: string): string => mb(metrics.get(`stompd_process_${name}`) ?? Number.NaN)
    console.log(`    after the stop, MB: ${settling.join(', ')}; at the end V8 heap used ${metric('nodejs_heap_size_used_bytes')} of ${metric('nodejs_heap_size_total_bytes')}, external ${metric('nodejs_external_memory_bytes')}, outbox slabs ${mb(metrics.get('stompd_outbox_slab_bytes') ?? Number.NaN)}`)
    const cores = (n: number | null): string => (n === null ? '?' : n.toFixed(2))
    console.log(`  CPU under attack (cores): stompd main thread ${cores(cpu.brokerMain)}, stompd in all ${cores(cpu.broker)}, this bench (attackers and the good client) ${cores(cpu.loadgen)}, machine ${cpu.machine === null ? '?' : (100 * cpu.machine).toFixed(0)} % busy (whoever used it; ${cores(cpu.irq)} cores in interrupts, loopback TCP)`)
    const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED')
    console.log('  targets:')
    console.log(`    good client p99 <= 25 ms: ${attacked.p99.toFixed(1)} ms, ${verdict(attacked.p99 <= 25 && ping.problem === null)}`)
    console.log(`    RSS back within 50 MB of the baseline: ${mb(after)} - ${mb(baseline)} = ${mb(after - baseline)} MB, ${verdict(after - baseline <= 50 * MiB)}`)
    console.log(`    every attack ended by a named limit: ${verdict(missed.length === 0)}${missed.map((m) => `\n      ${m}`).join('')}`)
  } finally {
    clearInterval(sampler)
    runState.stop()
    await brokers.close() // SIGTERM, then SIGKILL after 5 s
  }
}
