// A load worker thread: for one run at a time it holds either publisher or subscriber
// connections (never both, so the two sides never compete for one event loop) and counts
// into the run's SharedArrayBuffer. The main thread (pool.ts) sends setup / go / finish.
//
// Publishers are paced, not flooded: each keeps at most `window` messages beyond its last
// RECEIPT, and all of them together stop while any subscriber is `undeliveredCap` messages
// behind (a broker that answers receipts on enqueue would otherwise just buffer). In fixed-rate
// mode they send on a clock instead, still within the same limits.
import { parentPort } from 'node:worker_threads'
import { currentThreadId } from './cpu.js'
import { Histogram } from './histogram.js'
import {
  layout, now, PHASE, PHASE_GO, TOTAL_RECEIVED, WAITING, WAKE_AT, WAKE_SUB,
  type FlowSpec, type FromWorker, type Layout, type RunContext, type ToWorker, type WorkerResult,
} from './protocol.js'
import { Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'

const port = parentPort
if (port === null) throw new Error('worker.ts runs as a worker thread (see pool.ts)')

function post(message: FromWorker): void {
  port!.postMessage(message)
}

/** Frames one publisher sends per turn at most, so receipts and the cap are looked at in between. */
const BURST = 32
/** Subscriber connections opened at once during setup (RabbitMQ's accept backlog is 128). */
const OPEN_CONCURRENCY = 50
/** The longest a waiting publisher sleeps before looking at the counters again anyway. */
const WAIT_MS = 20

/** Atomics.waitAsync: in Node 20's V8, but ES2024, past the ES2022 lib this project compiles against. */
type WaitAsyncResult = { async: false, value: 'not-equal' | 'timed-out' } | { async: true, value: Promise<'ok' | 'timed-out'> }
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): WaitAsyncResult }).waitAsync

/** Runs `task` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!)
  })
  await Promise.all(lanes)
}

/** A 7-bit ASCII body of `bytes` bytes (the same for every message: content is not what is measured). */
function makeBody(bytes: number): Buffer {
  const unit = '{"pair":"EUR/USD","bid":1.08421,"ask":1.08433,"ts":1718000000000},'
  return Buffer.from(unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes), 'latin1')
}

// ---------------------------------------------------------------------------------------------
// One run in this thread

class Run implements RunContext {
  readonly spec: FlowSpec
  readonly shared: Layout
  readonly queueMode: boolean
  readonly histogram = new Histogram()
  readonly errors: string[] = []
  readonly body: Buffer
  outOfOrder = 0
  readonly subscribers: Subscriber[] = []
  readonly publishers: Publisher[] = []
  private pumpScheduled = false
  private waiting = false
  private startedAt = 0
  private rateTimer: NodeJS.Timeout | null = null
  /** Why publishing paused, for the report: the cap (and how often the wait ran out), the receipt window. */
  readonly stalls = { cap: 0, capTimeouts: 0, window: 0 }

  constructor(spec: FlowSpec) {
    this.spec = spec
    this.shared = layout(spec.sab, spec.subscribers, spec.publishers)
    this.queueMode = spec.mode === 'queue'
    this.body = makeBody(spec.bodyBytes)
  }

  async setupSubscribers(slots: number[]): Promise<void> {
    for (const slot of slots) this.subscribers.push(new Subscriber(this, slot))
    await eachLimited(this.subscribers, OPEN_CONCURRENCY, (s) => s.open())
  }

  async setupPublishers(slots: number[]): Promise<void> {
    for (const slot of slots) this.publishers.push(new Publisher(this, slot))
    await Promise.all(this.publishers.map((p) => p.open()))
  }

  go(): void {
    this.startedAt = now()
    if (this.spec.rate > 0) this.tick()
    else this.pump()
  }

  /** Room left under the end-to-end cap, for all publishers together. */
  private capRoom(): number {
    const { received, sent, control } = this.shared
    let totalSent = 0
    for (let i = 0; i < sent.length; i++) totalSent += Atomics.load(sent, i)
    const cap = this.spec.undeliveredCap
    if (this.queueMode) return cap * this.spec.subscribers - (totalSent - Atomics.load(control, TOTAL_RECEIVED))
    let min = Number.MAX_SAFE_INTEGER
    for (let i = 0; i < received.length; i++) {
      const r = Atomics.load(received, i)
      if (r < min) min = r
    }
    return cap - (totalSent - min)
  }

  /** Sends what pacing allows, a burst per publisher, then yields to the event loop and comes back. */
  pump(): void {
    if (this.pumpScheduled || this.waiting || this.spec.rate > 0) return
    if (Atomics.load(this.shared.control, PHASE) !== PHASE_GO) return
    let room = this.capRoom()
    let sentAny = false
    for (const publisher of this.publishers) {
      const n = Math.min(BURST, room, publisher.windowRoom())
      for (let i = 0; i < n; i++) publisher.send()
      if (n > 0) {
        room -= n
        sentAny = true
      }
    }
    if (sentAny) {
      this.pumpScheduled = true
      setImmediate(this.resume)
    } else if (room <= 0) {
      this.stalls.cap++
      this.waitForSubscribers()
    } else {
      // Every publisher is at its receipt window: the next RECEIPT calls pump().
      this.stalls.window++
    }
  }

  private readonly resume = (): void => {
    this.pumpScheduled = false
    this.pump()
  }

  /** Sleeps until the subscribers that hold publishing back have caught up by a burst (or WAIT_MS). */
  private waitForSubscribers(): void {
    const { control, received, sent } = this.shared
    let totalSent = 0
    for (let i = 0; i < sent.length; i++) totalSent += Atomics.load(sent, i)
    const resumeAt = Math.min(BURST, Math.max(1, this.spec.undeliveredCap >> 2))
    if (this.queueMode) {
      Atomics.store(control, WAKE_SUB, -1)
      Atomics.store(control, WAKE_AT, totalSent - this.spec.undeliveredCap * this.spec.subscribers + resumeAt)
    } else {
      let laggard = 0
      for (let i = 1; i < received.length; i++) if (Atomics.load(received, i) < Atomics.load(received, laggard)) laggard = i
      Atomics.store(control, WAKE_SUB, laggard)
      Atomics.store(control, WAKE_AT, totalSent - this.spec.undeliveredCap + resumeAt)
    }
    Atomics.store(control, WAITING, 1)
    // A subscriber may have passed the mark before WAITING was set: look again before sleeping.
    if (this.capRoom() >= resumeAt) {
      Atomics.store(control, WAITING, 0)
      this.pumpScheduled = true
      setImmediate(this.resume)
      return
    }
    this.waiting = true
    const result = waitAsync(control, WAITING, 1, WAIT_MS)
    const done = (outcome: string): void => {
      if (outcome === 'timed-out') this.stalls.capTimeouts++
      Atomics.store(control, WAITING, 0)
      this.waiting = false
      this.pump()
    }
    if (result.async) void result.value.then(done)
    else done(result.value)
  }

  /** Fixed-rate mode: sends whatever is due by now (each publisher its share), then sleeps until the next is due. */
  private readonly tick = (): void => {
    this.rateTimer = null
    if (Atomics.load(this.shared.control, PHASE) !== PHASE_GO) return
    const perPublisher = this.spec.rate / this.publishers.length
    const elapsed = now() - this.startedAt
    let room = this.capRoom()
    for (const publisher of this.publishers) {
      const due = Math.floor((elapsed * perPublisher) / 1000) + 1 - publisher.sent
      const n = Math.min(due, room, publisher.windowRoom())
      for (let i = 0; i < n; i++) publisher.send()
      if (n > 0) room -= n
    }
    // The next message is due when the slowest publisher's next one is; timers have 1 ms granularity.
    const nextSent = Math.min(...this.publishers.map((p) => p.sent))
    const nextAt = this.startedAt + (nextSent * 1000) / perPublisher
    this.rateTimer = setTimeout(this.tick, Math.max(0, nextAt - now()))
  }

  async finish(): Promise<WorkerResult> {
    if (this.rateTimer !== null) clearTimeout(this.rateTimer)
    const connections = [...this.publishers.map((p) => p.connection), ...this.subscribers.map((s) => s.connection)]
    await Promise.all(connections.map((c) => c.close()))
    return { histogram: this.histogram.counts, maxLatencyUs: this.histogram.max, outOfOrder: this.outOfOrder, errors: this.errors.slice(0, 20), stalls: this.stalls }
  }
}

// ---------------------------------------------------------------------------------------------

let run: Run | null = null

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'setup': {
      const current = new Run(message.spec)
      run = current
      const opening = message.role === 'sub' ? current.setupSubscribers(message.slots) : current.setupPublishers(message.slots)
      opening.then(
        () => post({ type: 'ready' }),
        (err: unknown) => {
          void current.finish()
          run = null
          post({ type: 'failed', error: (err as Error).message })
        },
      )
      return
    }
    case 'go':
      run?.go()
      return
    case 'finish': {
      const current = run
      run = null
      if (current === null) return post({ type: 'done', result: { histogram: new Float64Array(0), maxLatencyUs: 0, outOfOrder: 0, errors: [], stalls: { cap: 0, capTimeouts: 0, window: 0 } } })
      void current.finish().then((result) => post({ type: 'done', result }))
    }
  }
})

post({ type: 'boot', tid: currentThreadId() })
