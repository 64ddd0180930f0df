// One measured run of a message flow (publishers → broker → subscribers) against one broker:
// open every connection, start publishing, let it settle (warm-up), then read every counter and
// CPU clock at the start and end of the measuring window, stop publishing, wait for what is in
// flight to arrive (so lost messages show), and close everything.
import { randomBytes } from 'node:crypto'
import type { BrokerTarget } from './brokers.js'
import type { Transport } from './client.js'
import { cpuBetween, machineTicks, processTicks, rssBytes, threadTicks, type CpuSample, type CpuUse } from './cpu.js'
import { Histogram, type LatencySummary } from './histogram.js'
import type { PoolWorker, WorkerPool } from './pool.js'
import {
  layout, sharedSize, MEASURING, PHASE, PHASE_GO, PHASE_STOP, TOTAL_RECEIVED,
  type FlowSpec, type Layout, type Traffic, type WorkerResult,
} from './protocol.js'

/** The shape of a flow: who sends what to whom, and how publishers are paced. */
export interface FlowShape extends Traffic {
  /** Names the destination (`/topic/bench.<name>`), so figures never share one. */
  name: string
  transport: Transport
  /** Worker threads the subscribers are spread over (publishers always get one of their own). */
  subscriberThreads: number
}

export interface RunTiming {
  warmupMs: number
  measureMs: number
  /** After publishing stops, how long to wait for messages still in flight once none arrive any more. */
  drainMs: number
}

export interface FlowRun {
  ok: true
  /** Messages published per second in the window (all publishers). */
  published: number
  /** Messages delivered per second in the window, summed over subscribers. */
  delivered: number
  /** Delivered body bytes per second, in MB (10^6). */
  mbPerSec: number
  latency: LatencySummary
  cpu: CpuUse
  /** Thread CPU (cores) of the publisher thread and of each subscriber thread. */
  publisherThread: number | null
  subscriberThreads: Array<number | null>
  /** Messages published that some subscriber never got, once the drain was over. */
  lost: number
  outOfOrder: number
  errors: string[]
  /** How often publishing paused at the undelivered cap / the receipt window (whole run). */
  stalls: { cap: number, capTimeouts: number, window: number }
  /** Broker RSS at the end of the window, bytes. */
  rss: number | null
  /** Wall time of the run's phases, ms (setup = connecting and subscribing; finish = closing). */
  phases: { setup: number, drain: number, finish: number }
}

export interface FlowFailure {
  ok: false
  error: string
}

const SETUP_TIMEOUT_MS = 90_000
const FINISH_TIMEOUT_MS = 15_000
/** A drain that still makes progress ends anyway after this long (a broker trickling messages). */
const MAX_DRAIN_MS = 60_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function sum(values: Int32Array): number {
  let total = 0
  for (let i = 0; i < values.length; i++) total += Atomics.load(values, i)
  return total
}

/** Slices 0..n-1 into `parts` nearly equal runs of consecutive slots. */
function split(n: number, parts: number): number[][] {
  const out: number[][] = []
  for (let p = 0; p < parts; p++) {
    const from = Math.floor((p * n) / parts)
    const to = Math.floor(((p + 1) * n) / parts)
    out.push(Array.from({ length: to - from }, (_, i) => from + i))
  }
  return out.filter((slots) => slots.length > 0)
}

function sample(target: BrokerTarget, workers: readonly PoolWorker[]): CpuSample {
  const pid = target.pid
  return {
    at: performance.now(),
    broker: pid === null ? null : processTicks(pid),
    brokerMain: pid === null ? null : threadTicks(pid, pid),
    loadgen: processTicks(process.pid),
    threads: workers.map((w) => (w.tid === null ? null : threadTicks(process.pid, w.tid))),
    machine: machineTicks(),
    ...(target.processes === undefined ? {} : { processes: target.processes.map((p) => processTicks(p.pid)) }),
  }
}

export async function runFlow(pool: WorkerPool, target: BrokerTarget, shape: FlowShape, timing: RunTiming): Promise<FlowRun | FlowFailure> {
  const endpoint = target.endpoint(shape.transport)
  if (endpoint === null) return { ok: false, error: `${target.label} does not listen on ${shape.transport}` }
  const needed = shape.publishers + shape.subscribers
  if (needed > target.maxConnections) {
    return { ok: false, error: `needs ${needed} connections; ${target.label} takes about ${target.maxConnections} (its open-file limit)` }
  }
  const sab = new SharedArrayBuffer(sharedSize(shape.subscribers, shape.publishers))
  const shared: Layout = layout(sab, shape.subscribers, shape.publishers)
  const spec: FlowSpec = {
    runId: randomBytes(4).toString('hex'),
    endpoint,
    destination: `/${shape.mode}/bench.${shape.name}`,
    rawChannel: `${shape.mode}.${shape.name}`,
    mode: shape.mode,
    ack: shape.ack,
    publishers: shape.publishers,
    subscribers: shape.subscribers,
    bodyBytes: shape.bodyBytes,
    persistent: shape.persistent,
    receiptEvery: shape.receiptEvery,
    window: shape.window,
    undeliveredCap: shape.undeliveredCap,
    rate: shape.rate,
    sab,
  }
  const setupStarted = performance.now()
  const subscriberSlots = split(shape.subscribers, shape.subscriberThreads)
  const workers = await pool.take(1 + subscriberSlots.length)
  const [publisherWorker, ...subscriberWorkers] = workers as [PoolWorker, ...PoolWorker[]]

  let results: Array<WorkerResult | null> = []
  const finish = async (): Promise<void> => {
    results = await Promise.all(workers.map((w) => w.finish(FINISH_TIMEOUT_MS)))
    // A worker that did not answer may still hold sockets: replace it.
    await Promise.all(workers.map((w, i) => (results[i] === null ? pool.discard(w) : Promise.resolve())))
  }

  // Subscribers first, all subscribed before the first message leaves.
  const setup = async (worker: PoolWorker, role: 'pub' | 'sub', slots: number[]): Promise<string | null> => {
    try {
      const reply = await worker.request({ type: 'setup', role, spec, slots }, SETUP_TIMEOUT_MS)
      return reply.type === 'failed' ? reply.error : null
    } catch (err) {
      return (err as Error).message
    }
  }
  const subscribed = await Promise.all(subscriberWorkers.map((w, i) => setup(w, 'sub', subscriberSlots[i]!)))
  const failure = subscribed.find((e) => e !== null) ?? (await setup(publisherWorker, 'pub', Array.from({ length: shape.publishers }, (_, i) => i)))
  if (failure !== null && failure !== undefined) {
    await finish()
    return { ok: false, error: `setup: ${failure}` }
  }

  const setupMs = performance.now() - setupStarted
  Atomics.store(shared.control, PHASE, PHASE_GO)
  publisherWorker.send({ type: 'go' })
  await sleep(timing.warmupMs)

  const receivedAt = (): number => sum(shared.received)
  const startSample = sample(target, workers)
  const startDelivered = receivedAt()
  const startPublished = sum(shared.sent)
  Atomics.store(shared.control, MEASURING, 1)
  await sleep(timing.measureMs)
  Atomics.store(shared.control, MEASURING, 0)
  const endSample = sample(target, workers)
  const endDelivered = receivedAt()
  const endPublished = sum(shared.sent)
  const rss = target.pid === null ? null : rssBytes(target.pid)

  // Stop, then give what is in flight time to arrive.
  Atomics.store(shared.control, PHASE, PHASE_STOP)
  const published = (): number => sum(shared.sent)
  const missing = (): number => {
    const total = published()
    if (shape.mode === 'queue') return total - Atomics.load(shared.control, TOTAL_RECEIVED)
    let gap = 0
    for (let i = 0; i < shared.received.length; i++) gap += total - Atomics.load(shared.received, i)
    return gap
  }
  // Drain: wait while messages keep arriving; give up once nothing has moved for drainMs (what
  // is still missing then is lost), or after MAX_DRAIN_MS whatever happens.
  const drainStarted = performance.now()
  let lastMissing = missing()
  let lastProgress = drainStarted
  while (lastMissing > 0 && target.problem() === null) {
    await sleep(10)
    const current = missing()
    const t = performance.now()
    if (current < lastMissing) lastProgress = t
    lastMissing = current
    if (t - lastProgress > timing.drainMs || t - drainStarted > MAX_DRAIN_MS) break
  }
  const lost = missing()
  const brokerProblem = target.problem()
  const finishStarted = performance.now()
  await finish()
  const phases = { setup: setupMs, drain: finishStarted - drainStarted, finish: performance.now() - finishStarted }
  if (brokerProblem !== null) return { ok: false, error: brokerProblem }

  const seconds = (endSample.at - startSample.at) / 1000
  const histogram = new Histogram()
  const errors: string[] = []
  let outOfOrder = 0
  results.forEach((result, i) => {
    if (result === null) {
      errors.push(`load worker ${i} did not finish`)
      return
    }
    if (result.histogram.length > 0) {
      const part = new Histogram(result.histogram)
      part.max = result.maxLatencyUs
      histogram.merge(part)
    }
    outOfOrder += result.outOfOrder
    errors.push(...result.errors)
  })
  const cpu = cpuBetween(startSample, endSample)
  const delivered = (endDelivered - startDelivered) / seconds
  return {
    ok: true,
    published: (endPublished - startPublished) / seconds,
    delivered,
    mbPerSec: (delivered * shape.bodyBytes) / 1e6,
    latency: histogram.summary(),
    cpu,
    publisherThread: cpu.threads[0] ?? null,
    subscriberThreads: cpu.threads.slice(1),
    lost,
    outOfOrder,
    errors,
    stalls: results[0]?.stalls ?? { cap: 0, capTimeouts: 0, window: 0 },
    rss,
    phases,
  }
}
