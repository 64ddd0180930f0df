// Selectors at the broker, end to end over TCP against a real stompd (issue 22):
//   1. a topic with 10,000 subscriptions, each selecting one of 10,000 `symbol` values (the
//      selector index finds the one candidate), publishes/s as a ratio to the same topic with one
//      plain subscriber — target ≥ 0.5×;
//   2. fan-out ×100 where every subscriber's selector takes the message, deliveries/s as a ratio
//      to no selectors — target ≥ 0.8× — with an indexed selector (`symbol = 'ACME'`) and one the
//      broker evaluates for each subscriber (`price > 0`).
// Each contender has its own stompd; they take turns, round by round, and the medians count.
//
//   npm run bench -- selectors [--quick]
import net from 'node:net'
import type { BenchOptions } from './harness.js'
import { startChild, stompdCommand, stopChild } from './load/brokers.js'

export interface Contender {
  name: string
  /** What each subscription's SUBSCRIBE carries: null for none. */
  selectorFor: (subscription: number) => string | null
  subscriptions: number
  /** The headers of each SEND: a function of its sequence number. */
  headersFor: (sequence: number) => string
}

const SYMBOLS = 10_000
const CONNECTIONS = 10
const BODY = 'x'.repeat(64)
const BATCH = 100
const WINDOW_BATCHES = 10

/** A raw STOMP 1.2 client over TCP that counts frames (every NUL ends one: no body here holds a NUL). */
export class CountingClient {
  readonly socket: net.Socket
  frames = 0
  private waiters: Array<{ count: number, resolve: () => void }> = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      let at = chunk.indexOf(0)
      while (at !== -1) {
        this.frames++
        at = chunk.indexOf(0, at + 1)
      }
      this.waiters = this.waiters.filter((w) => (this.frames >= w.count ? (w.resolve(), false) : true))
    })
  }

  static async open(port: number): Promise<CountingClient> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const client = new CountingClient(socket)
    socket.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0')
    await client.until(1)
    return client
  }

  until(count: number): Promise<void> {
    if (this.frames >= count) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ count, resolve }))
  }
}

export async function runContender(port: number, contender: Contender, ms: number): Promise<{ publishes: number, deliveries: number }> {
  const subscribers = await Promise.all(Array.from({ length: CONNECTIONS }, () => CountingClient.open(port)))
  for (let i = 0; i < contender.subscriptions; i++) {
    const selector = contender.selectorFor(i)
    subscribers[i % CONNECTIONS]!.socket.write(`SUBSCRIBE\nid:${i}\ndestination:/topic/prices\n${selector === null ? '' : `selector:${selector}\n`}\n\0`)
  }
  // A receipt on each connection once all its SUBSCRIBEs are in.
  await Promise.all(subscribers.map((s) => {
    const before = s.frames
    s.socket.write('SUBSCRIBE\nid:sync\ndestination:/topic/sync\nreceipt:subscribed\n\n\0')
    return s.until(before + 1)
  }))
  const publisher = await CountingClient.open(port)
  const base = subscribers.map((s) => s.frames)
  let sequence = 0
  let sent = 0
  const batch = (): string => {
    let frames = ''
    for (let i = 0; i < BATCH; i++) {
      frames += `SEND\ndestination:/topic/prices\n${contender.headersFor(sequence++)}${i === BATCH - 1 ? 'receipt:r\n' : ''}\n${BODY}\0`
    }
    return frames
  }
  const deadline = Date.now() + ms
  const started = Date.now()
  while (Date.now() < deadline) {
    while (sent - BATCH * (publisher.frames - 1) < BATCH * WINDOW_BATCHES) {
      publisher.socket.write(batch())
      sent += BATCH
    }
    await publisher.until(publisher.frames + 1)
  }
  const receipted = BATCH * (publisher.frames - 1)
  const elapsed = (Date.now() - started) / 1000
  const deliveries = subscribers.reduce((sum, s, i) => sum + s.frames - base[i]!, 0)
  for (const client of [publisher, ...subscribers]) client.socket.destroy()
  return { publishes: receipted / elapsed, deliveries: deliveries / elapsed }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

export async function run(options: BenchOptions): Promise<void> {
  const rounds = options.quick ? 1 : 3
  const ms = options.quick ? 1500 : 4000
  const symbol = (n: number): string => `symbol:S${n % SYMBOLS}\nprice:5\n`
  const contenders: Contender[] = [
    { name: 'one plain subscriber', subscriptions: 1, selectorFor: () => null, headersFor: symbol },
    { name: '10,000 selecting a symbol each', subscriptions: SYMBOLS, selectorFor: (i) => `symbol = 'S${i}'`, headersFor: symbol },
    { name: 'fan-out ×100, no selector', subscriptions: 100, selectorFor: () => null, headersFor: () => 'symbol:ACME\nprice:5\n' },
    { name: "fan-out ×100, symbol = 'ACME' (indexed)", subscriptions: 100, selectorFor: () => "symbol = 'ACME'", headersFor: () => 'symbol:ACME\nprice:5\n' },
    { name: 'fan-out ×100, price > 0 (evaluated)', subscriptions: 100, selectorFor: () => 'price > 0', headersFor: () => 'symbol:ACME\nprice:5\n' },
  ]
  const results = new Map<string, { publishes: number[], deliveries: number[] }>(contenders.map((c) => [c.name, { publishes: [], deliveries: [] }]))
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      const broker = await startChild('stompd', [...stompdCommand(), '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--store', 'memory',
        '--log-level', 'warn', '--max-subscriptions', String(SYMBOLS)], /tcp=127\.0\.0\.1:(\d+)/)
      try {
        const measured = await runContender(Number(broker.match[1]), contender, ms)
        results.get(contender.name)!.publishes.push(measured.publishes)
        results.get(contender.name)!.deliveries.push(measured.deliveries)
      } finally {
        await stopChild(broker.child)
      }
    }
  }
  const figure = (name: string): { publishes: number, deliveries: number } => {
    const r = results.get(name)!
    return { publishes: median(r.publishes), deliveries: median(r.deliveries) }
  }
  const n = (value: number): string => Math.round(value).toLocaleString('en-US')
  console.log(`selectors: one stompd over TCP, one publisher (windows of ${BATCH * WINDOW_BATCHES}, a RECEIPT per ${BATCH}), subscriptions over ${CONNECTIONS} connections, 64-byte bodies; median of ${rounds} run(s) of ${ms / 1000} s each`)
  for (const contender of contenders) {
    const f = figure(contender.name)
    console.log(`  ${contender.name.padEnd(42)} ${n(f.publishes).padStart(9)} publishes/s ${n(f.deliveries).padStart(10)} deliveries/s`)
  }
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`
  const plain = figure('one plain subscriber')
  const selective = figure('10,000 selecting a symbol each')
  const fanout = figure('fan-out ×100, no selector')
  const indexed = figure("fan-out ×100, symbol = 'ACME' (indexed)")
  const evaluated = figure('fan-out ×100, price > 0 (evaluated)')
  const verdict = (value: number, target: number): string => (value >= target ? 'met' : 'MISSED')
  console.log(`  10,000 selective subscribers / one plain: ${ratio(selective.publishes, plain.publishes)} publishes/s (target ≥ 0.5×: ${verdict(selective.publishes / plain.publishes, 0.5)})`)
  console.log(`  fan-out ×100 indexed selector / none: ${ratio(indexed.deliveries, fanout.deliveries)} deliveries/s (target ≥ 0.8×: ${verdict(indexed.deliveries / fanout.deliveries, 0.8)})`)
  console.log(`  fan-out ×100 evaluated selector / none: ${ratio(evaluated.deliveries, fanout.deliveries)} deliveries/s (target ≥ 0.8×: ${verdict(evaluated.deliveries / fanout.deliveries, 0.8)})`)
}
