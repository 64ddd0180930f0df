// What the bench's main thread and its load worker threads share: the description of one run,
// the messages they exchange, and the layout of the SharedArrayBuffer through which publishers
// see how far subscribers have got (pacing) and the main thread reads every counter (rates)
// without a round trip.
import type { Endpoint } from './client.js'
import type { Histogram } from './histogram.js'

export type AckMode = 'auto' | 'client-individual'

/** What a flow sends and how publishers are paced: shared by a figure's shape and each run's spec. */
export interface Traffic {
  mode: 'topic' | 'queue'
  ack: AckMode
  publishers: number
  subscribers: number
  bodyBytes: number
  /** `persistent:true` on every SEND. */
  persistent: boolean
  /** A `receipt` header on every n-th SEND; 0 = none (the ceiling has no receipts). */
  receiptEvery: number
  /** Messages a publisher may have sent beyond the last RECEIPT (ignored without receipts). */
  window: number
  /** Messages sent but not yet received that a subscriber may fall behind by before publishers wait. */
  undeliveredCap: number
  /** Total messages per second for fixed-rate (latency) runs; 0 = as fast as pacing allows. */
  rate: number
}

/** One run of one figure against one broker, as every worker of the run sees it. */
export interface FlowSpec extends Traffic {
  /** Put on every SEND (`bench-run`); subscribers ignore messages of earlier runs still queued. */
  runId: string
  endpoint: Endpoint
  /** STOMP destination, `/topic/...` or `/queue/...`. */
  destination: string
  /** The ceiling's channel for the same thing: `topic.x` (broadcast) or `queue.x` (round-robin). */
  rawChannel: string
  sab: SharedArrayBuffer
}

export type Role = 'pub' | 'sub'

export type ToWorker =
  /** Open these publisher or subscriber slots (indices into the shared counters); answer `ready`. */
  | { type: 'setup', role: Role, spec: FlowSpec, slots: number[] }
  /** Publishers: start sending. */
  | { type: 'go' }
  /** Close every connection of the run and answer `done`. */
  | { type: 'finish' }

export type FromWorker =
  | { type: 'boot', tid: number | null }
  | { type: 'ready' }
  | { type: 'failed', error: string }
  | { type: 'done', result: WorkerResult }

export interface WorkerResult {
  /** Latency histogram counts (subscribers; empty for publishers). */
  histogram: Float64Array
  maxLatencyUs: number
  /** Messages that came before one already seen from the same publisher (reordered or duplicated). */
  outOfOrder: number
  /** Connections the broker closed or that failed during the run, and what they said. */
  errors: string[]
  /** Publishers: how often they paused at the undelivered cap (and woke by timeout), or at the receipt window. */
  stalls: { cap: number, capTimeouts: number, window: number }
}

// ---------------------------------------------------------------------------------------------
// SharedArrayBuffer layout: one Int32Array.

/** 0 setup, 1 publishing, 2 stopped. */
export const PHASE = 0
export const PHASE_SETUP = 0
export const PHASE_GO = 1
export const PHASE_STOP = 2
/** 1 while latencies count (the measuring window), 0 during warm-up and drain. */
export const MEASURING = 1
/** 1 while a publisher waits for subscribers to catch up (Atomics.waitAsync on this slot). */
export const WAITING = 2
/** The subscriber whose count the waiting publisher needs to rise (topic), or -1 for the total (queue). */
export const WAKE_SUB = 3
/** ... and the count at which it should be woken. */
export const WAKE_AT = 4
/** Messages received by all subscribers together (kept in queue mode only). */
export const TOTAL_RECEIVED = 5
const CONTROL_SLOTS = 8

/** Where each counter lives: received[i] per subscriber, sent[p] per publisher. */
export interface Layout {
  control: Int32Array
  received: Int32Array
  sent: Int32Array
}

export function sharedSize(subscribers: number, publishers: number): number {
  return (CONTROL_SLOTS + subscribers + publishers) * Int32Array.BYTES_PER_ELEMENT
}

export function layout(sab: SharedArrayBuffer, subscribers: number, publishers: number): Layout {
  const all = new Int32Array(sab)
  return {
    control: all.subarray(0, CONTROL_SLOTS),
    received: all.subarray(CONTROL_SLOTS, CONTROL_SLOTS + subscribers),
    sent: all.subarray(CONTROL_SLOTS + subscribers, CONTROL_SLOTS + subscribers + publishers),
  }
}

/** What a publisher or subscriber connection sees of the run it belongs to (Run in worker.ts). */
export interface RunContext {
  readonly spec: FlowSpec
  readonly shared: Layout
  /** Queue mode: publishers pace on the total received, kept in TOTAL_RECEIVED. */
  readonly queueMode: boolean
  /** Latencies of this thread's subscribers, recorded while MEASURING is 1. */
  readonly histogram: Histogram
  readonly errors: string[]
  /** The body every SEND carries. */
  readonly body: Buffer
  outOfOrder: number
  /** Lets the publishers send what pacing now allows (a RECEIPT came). */
  pump(): void
}

/** Wall-clock ms with sub-ms precision, the same in every thread: what the `ts` header carries. */
export function now(): number {
  return performance.timeOrigin + performance.now()
}
