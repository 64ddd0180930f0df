// What a larger --max-frame-size costs under abuse: for each limit (8 MiB; 16 MiB, the default and
// what RabbitMQ accepts; 32 MiB) a fresh stompd takes 8 hostile clients that keep sending 20 MB
// SENDs (the fuzz abuse) while one well-behaved client does a receipted SEND every 10 ms. Below
// 20 MB the broker refuses each frame (ERROR `frame too large`, then closes); at 32 MiB it
// accepts them, so a topic subscriber and a queue consumer read what was accepted.
//
// Bounded in time (20 s of load, --quick 3 s, then 10 s idle) and in count: an abuser sends at
// most 3 accepted frames per connection, waits for each answer (RECEIPT or ERROR) before the
// next, and holds back while 4 accepted frames to its destination are still unread, so the
// broker never holds more than a few dozen 20 MB messages (without that, /queue/abuse would grow
// without limit and the figure would measure the queue, not the limit). All traffic is loopback.
//
//   npm run bench -- frame-limit [--quick]
import { Worker } from 'node:worker_threads'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY } from '../../lib/frame/frame.js'
import type { BenchOptions } from './harness.js'
import { Brokers } from './load/brokers.js'
import { LoadConnection, errorText, type Endpoint, type Transport } from './load/client.js'
import { rssBytes } from './load/cpu.js'

const MiB = 1024 * 1024
const LIMITS = [8 * MiB, 16 * MiB, 32 * MiB]
const BODY_BYTES = 20_000_000 // the fuzz suite's 20 MB bodies: over 16 MiB, under 32 MiB
const ABUSERS = 8
const PER_CONNECTION = 3 // accepted frames before an abuser reconnects
const MAX_UNREAD = 4 // accepted-but-unread frames per destination before abusers hold back
const ANSWER_TIMEOUT_MS = 15_000 // a frame with neither RECEIPT, ERROR nor close counts as lost
const SAMPLE_MS = 200
const AFTER_MS = 10_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number): string => (bytes / MiB).toFixed(0)

/** One 20 MB SEND, built once and written as is every time (one outstanding per connection, so a fixed receipt id is enough). */
function abuseFrame(destination: string, contentLength: boolean): Buffer {
  const headers = `destination:${destination}\nreceipt:abuse\n${contentLength ? `content-length:${BODY_BYTES}\n` : ''}`
  // No NUL in the body, so the frame without content-length ends at the final NUL.
  return Buffer.concat([Buffer.from(`SEND\n${headers}\n`), Buffer.alloc(BODY_BYTES, 'x'), Buffer.from([0])])
}

/** What the abusers' frames came to. `cut`: the connection closed with no answer (e.g. a reset while we still wrote). */
interface Tally { accepted: number, refused: number, cut: number, other: number, lost: number, connectFailed: number }
type Answer = 'accepted' | 'refused' | 'cut' | 'other' | 'lost'

/** The load's shared state: counts, read-side progress per destination, and a stop flag. */
class Load {
  readonly tally: Tally = { accepted: 0, refused: 0, cut: 0, other: 0, lost: 0, connectFailed: 0 }
  readonly accepted = new Map<string, number>()
  readonly read = new Map<string, number>()
  readonly open = new Set<LoadConnection>()
  stopped = false
  /** Settles when the load stops: a frame still awaiting its answer then stops waiting. */
  readonly done: Promise<void>
  private finish = (): void => {}
  constructor() {
    this.done = new Promise((resolve) => { this.finish = resolve })
  }

  unread(destination: string): number {
    return (this.accepted.get(destination) ?? 0) - (this.read.get(destination) ?? 0)
  }
  stop(): void {
    this.stopped = true
    this.finish()
    for (const connection of this.open) connection.destroy()
  }
}

/** One hostile client: connect, SEND 20 MB frames until refused (or 3 accepted), reconnect; until the load stops. */
async function abuse(load: Load, endpoint: Endpoint, destination: string, frame: Buffer): Promise<void> {
  while (!load.stopped) {
    let answer: (a: Answer) => void = () => {}
    let closed = false
    const connection = new LoadConnection(endpoint, {
      onFrame: (f) => answer(f.command === 'RECEIPT' ? 'accepted' : f.command === 'ERROR' && /too large/i.test(errorText(f)) ? 'refused' : 'other'),
      onClose: () => { closed = true; answer('cut') },
    })
    load.open.add(connection) // so that stop() also ends a connection still opening
    try {
      await connection.open('0,0')
    } catch {
      load.open.delete(connection)
      if (!load.stopped) load.tally.connectFailed++
      await sleep(100)
      continue
    }
    for (let sent = 0; sent < PER_CONNECTION && !closed && !load.stopped; sent++) {
      while (load.unread(destination) >= MAX_UNREAD && !load.stopped) await sleep(20)
      if (load.stopped) break
      const result = await new Promise<Answer>((resolve) => {
        const timer = setTimeout(() => resolve('lost'), ANSWER_TIMEOUT_MS)
        answer = (a) => { clearTimeout(timer); resolve(a) }
        void load.done.then(() => answer('cut')) // stop()'s destroy() raises no onClose
        connection.write(frame)
      })
      if (load.stopped) break // answers to the stop itself are not the broker's doing
      load.tally[result]++
      if (result === 'accepted') load.accepted.set(destination, (load.accepted.get(destination) ?? 0) + 1)
      else break
    }
    connection.destroy()
    load.open.delete(connection)
  }
}

/** A reader of what was accepted (auto ack): the topic subscriber and the queue consumer. */
async function reader(load: Load, endpoint: Endpoint, destination: string): Promise<LoadConnection> {
  const connection = new LoadConnection(endpoint, {
    onFrame: (f) => { if (f.command === 'MESSAGE') load.read.set(destination, (load.read.get(destination) ?? 0) + 1) },
    onClose: (_, detail) => { if (!load.stopped) console.log(`    reader of ${destination} closed: ${detail}`) },
  })
  await connection.open('0,0')
  load.open.add(connection)
  const subscribed = new Promise<void>((resolve) => setTimeout(resolve, 200)) // no RECEIPT hook here; 200 ms is ample on loopback
  connection.write(encodeFrame('SUBSCRIBE', [['id', '0'], ['destination', destination], ['ack', 'auto']], EMPTY_BODY, '1.2'))
  await subscribed
  return connection
}

// The well-behaved client runs in its own thread, so the bench's own work on 20 MB frames does
// not add to its latencies: a receipted SEND to a topic nobody reads, one every 10 ms (a tick
// is skipped while the last is unanswered, so a stall shows as one long round trip).
const PINGER = `
const { parentPort, workerData } = require('node:worker_threads')
const net = require('node:net')
const latencies = []
let outstanding = null, seq = 0, text = '', timer = null, problem = null
const socket = net.connect({ host: workerData.host, port: workerData.port, noDelay: true }, () =>
  socket.write('CONNECT\\naccept-version:1.2\\nhost:127.0.0.1\\nheart-beat:0,0\\n\\n\\0'))
socket.setEncoding('latin1')
socket.on('data', (chunk) => {
  text += chunk
  for (let nul = text.indexOf('\\0'); nul >= 0; nul = text.indexOf('\\0')) {
    const command = text.slice(0, nul).replace(/^\\s+/, '').split('\\n', 1)[0]
    text = text.slice(nul + 1)
    if (command === 'CONNECTED') timer = setInterval(tick, 10)
    else if (command === 'RECEIPT' && outstanding !== null) { latencies.push(performance.now() - outstanding); outstanding = null }
    else if (command === 'ERROR') problem = 'ERROR from the broker'
  }
})
socket.on('error', (err) => { problem = String(err) })
socket.on('close', () => { if (problem === null) problem = 'connection closed' })
function tick() {
  if (outstanding !== null) return
  outstanding = performance.now()
  socket.write('SEND\\ndestination:/topic/ping\\nreceipt:' + (++seq) + '\\ncontent-length:4\\n\\nping\\0')
}
parentPort.once('message', () => {
  clearInterval(timer)
  const result = { latencies, problem, outstandingMs: outstanding === null ? 0 : performance.now() - outstanding }
  socket.destroy()
  parentPort.postMessage(result)
})
`
interface PingResult { latencies: number[], problem: string | null, outstandingMs: number }

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

interface Row { limit: number, baseline: number, peak: number, after: number, p50: number, p99: number, max: number, pings: number, tally: Tally, read: number, problem: string | null }

async function measure(limit: number, frames: ReadonlyMap<string, Buffer>, options: BenchOptions): Promise<Row | string> {
  // The harness starts stompd from dist/cli.js (with its #! node flags) on free loopback ports,
  // memory store, log level warn; the limit reaches it as STOMPD_MAX_FRAME_SIZE, which the child inherits.
  const previous = process.env.STOMPD_MAX_FRAME_SIZE
  process.env.STOMPD_MAX_FRAME_SIZE = String(limit)
  const brokers = new Brokers()
  try {
    const found = await brokers.get('stompd', 'memory')
    if (!('target' in found)) return found.skipped
    const { target } = found
    const endpoint = (transport: Transport): Endpoint => target.endpoint(transport)!
    const rss = (): number => rssBytes(target.pid!) ?? 0
    await sleep(1000)
    const baseline = rss()
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, rss()) }, SAMPLE_MS)
    const load = new Load()
    try {
      await reader(load, endpoint('ws'), '/topic/abuse')
      await reader(load, endpoint('tcp'), '/queue/abuse')
      const tcp = new URL(endpoint('tcp').url)
      const pinger = new Worker(PINGER, { eval: true, workerData: { host: tcp.hostname, port: Number(tcp.port) } })
      const pinged = new Promise<PingResult>((resolve, reject) => { pinger.once('message', resolve); pinger.once('error', reject) })
      // Every combination once: TCP or WebSocket, queue or topic, with content-length or without.
      const abusers = Array.from({ length: ABUSERS }, (_, i) => {
        const destination = (i >> 1) % 2 === 0 ? '/queue/abuse' : '/topic/abuse'
        return abuse(load, endpoint(i % 2 === 0 ? 'tcp' : 'ws'), destination, frames.get(`${destination} ${i >= 4}`)!)
      })
      await sleep(options.quick ? 3000 : 20_000)
      pinger.postMessage('stop')
      const ping = await pinged
      await pinger.terminate()
      load.stop()
      await Promise.all(abusers)
      // The load has stopped: RSS keeps being sampled for the peak, and read once 10 s later.
      await sleep(AFTER_MS)
      const after = rss()
      const sorted = [...ping.latencies, ...(ping.outstandingMs > 0 ? [ping.outstandingMs] : [])].sort((a, b) => a - b)
      const read = (load.read.get('/topic/abuse') ?? 0) + (load.read.get('/queue/abuse') ?? 0)
      return {
        limit, baseline, peak, after, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN,
        pings: ping.latencies.length, tally: load.tally, read, problem: target.problem() ?? ping.problem,
      }
    } finally {
      load.stop()
      clearInterval(sampler)
    }
  } finally {
    await brokers.close() // SIGTERM, then SIGKILL after 5 s
    if (previous === undefined) delete process.env.STOMPD_MAX_FRAME_SIZE
    else process.env.STOMPD_MAX_FRAME_SIZE = previous
  }
}

export async function run(options: BenchOptions): Promise<void> {
  const seconds = options.quick ? 3 : 20
  console.log(`frame-limit: ${ABUSERS} clients sending ${BODY_BYTES / 1e6} MB frames for ${seconds} s (TCP and WebSocket, queue and topic, with and without content-length), one receipted SEND every 10 ms alongside; RSS every ${SAMPLE_MS} ms; each limit on a fresh broker`)
  const frames = new Map<string, Buffer>()
  for (const destination of ['/queue/abuse', '/topic/abuse']) {
    for (const contentLength of [true, false]) frames.set(`${destination} ${contentLength}`, abuseFrame(destination, contentLength))
  }
  const header = ['limit', 'RSS MB base', 'peak', '+10 s', 'p50 ms', 'p99 ms', 'max ms', 'round trips', 'accepted', 'refused', 'cut', 'read']
  const lines: string[][] = [header]
  for (const limit of LIMITS) {
    const row = await measure(limit, frames, options)
    if (typeof row === 'string') {
      console.log(`  ${mb(limit)} MiB: ${row}`)
      continue
    }
    const t = row.tally
    lines.push([`${mb(limit)} MiB`, mb(row.baseline), mb(row.peak), mb(row.after), row.p50.toFixed(1), row.p99.toFixed(1), row.max.toFixed(0),
      String(row.pings), String(t.accepted), String(t.refused), String(t.cut), String(row.read)])
    const odd = Object.entries({ other: t.other, lost: t.lost, 'connect failed': t.connectFailed }).filter(([, n]) => n > 0)
    if (odd.length > 0 || row.problem !== null) {
      console.log(`  ${mb(limit)} MiB: ${odd.map(([k, n]) => `${k} ${n}`).join(', ')}${row.problem === null ? '' : ` problem: ${row.problem}`}`)
    }
  }
  const widths = header.map((_, col) => Math.max(...lines.map((l) => l[col]!.length)))
  for (const line of lines) console.log('  ' + line.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '))
  console.log('  accepted: RECEIPT for a 20 MB SEND; refused: ERROR `frame too large`; cut: closed with no answer;')
  console.log('  read: 20 MB MESSAGEs the topic subscriber and queue consumer got; latencies of the well-behaved client')
}
