// A child process holding a share of the idle-connection scenario's WebSocket connections
// (a process may open 20,000 files here, so 19,000 connections plus the bench's own need more
// than one). Driven over the IPC channel by idle.ts:
//   { type: 'open', ... }  → opens `count` connections (STOMP CONNECT with heart-beats, or a bare
//                            WebSocket for the ceiling), answers { type: 'opened', ... }, then
//                            keeps every connection alive with heart-beats
//   { type: 'check' }      → asks each connection for proof of life (STOMP: BEGIN with a receipt,
//                            answered only by a live session — not DISCONNECT, which RabbitMQ's
//                            Web-STOMP answers by closing without the RECEIPT), answers
//                            { type: 'checked' }, closes everything and exits
import { encodeFrame } from '../../../lib/frame/encoder.js'
import { EMPTY_BODY, type Frame } from '../../../lib/frame/frame.js'
import { LoadConnection, type Endpoint } from './client.js'

export interface IdleOpen {
  type: 'open'
  endpoint: Endpoint
  count: number
  /** Heart-beat interval both ways, ms (what CONNECT offers). */
  heartBeatMs: number
  /** Connections being opened at once. */
  concurrency: number
}

export type IdleToChild = IdleOpen | { type: 'check' }

export type IdleFromChild =
  | { type: 'opened', ok: number, failed: number, ms: number, firstError: string | null }
  | { type: 'checked', alive: number, closedEarly: number, reasons: Array<[reason: string, count: number]> }

const send = (message: IdleFromChild): void => {
  process.send!(message)
}

let heartbeatTimer: NodeJS.Timeout | null = null
/** Set once the check has begun: closes from then on are ours. */
let checking = false

/** One held connection: the check sets `onFrame` to hear its RECEIPT. */
class Held {
  onFrame: ((frame: Frame) => void) | null = null
  closed = false
  readonly connection: LoadConnection

  constructor(endpoint: Endpoint) {
    this.connection = new LoadConnection(endpoint, {
      onFrame: (frame) => this.onFrame?.(frame),
      onClose: (_expected, detail) => {
        this.closed = true
        if (!checking) closedEarly(detail)
      },
    })
  }
}

const held: Held[] = []
const reasons = new Map<string, number>()
let closedCount = 0

/** A connection the server closed before the check: counted, with why (numbers folded). */
function closedEarly(detail: string): void {
  closedCount++
  const reason = detail.replace(/\d+/g, 'N')
  reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
}

async function open(message: IdleOpen): Promise<void> {
  // Heart-beats from the first connection on (19,000 take longer to open than a server waits
  // for silence): each connection sends an EOL every half interval, well inside any server's
  // grace, a slice of them per 100 ms tick rather than a timer per connection.
  const period = Math.max(200, message.heartBeatMs / 2)
  const slices = Math.max(1, Math.round(period / 100))
  let slice = 0
  heartbeatTimer = setInterval(() => {
    for (let i = slice; i < held.length; i += slices) if (!held[i]!.closed) held[i]!.connection.heartbeat()
    slice = (slice + 1) % slices
  }, 100)
  const started = performance.now()
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const lane = async (): Promise<void> => {
    while (next < message.count) {
      next++
      const entry = new Held(message.endpoint)
      try {
        await entry.connection.open(`${message.heartBeatMs},${message.heartBeatMs}`)
        held.push(entry)
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: message.concurrency }, lane))
  send({ type: 'opened', ok: held.length, failed, ms: performance.now() - started, firstError })
}

async function check(stomp: boolean): Promise<void> {
  if (heartbeatTimer !== null) clearInterval(heartbeatTimer)
  checking = true
  const open = held.filter((h) => !h.closed && h.connection.isOpen)
  let alive = 0
  if (stomp) {
    const ping = encodeFrame('BEGIN', [['transaction', 'alive'], ['receipt', 'alive']], EMPTY_BODY, '1.2')
    await Promise.all(open.map((h) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000)
      h.onFrame = (frame) => {
        if (frame.command !== 'RECEIPT') return
        alive++
        clearTimeout(timer)
        resolve()
      }
      h.connection.write(ping)
    })))
  } else {
    alive = open.length
  }
  send({ type: 'checked', alive, closedEarly: closedCount, reasons: [...reasons] })
  await Promise.all(held.map((h) => h.connection.close(5000)))
  process.exit(0)
}

let endpoint: Endpoint | null = null
process.on('message', (message: IdleToChild) => {
  if (message.type === 'open') {
    endpoint = message.endpoint
    void open(message)
  } else {
    void check(endpoint?.stomp ?? true)
  }
})
// The parent going away (killed bench) must not leave 10,000 sockets open.
process.on('disconnect', () => process.exit(0))
