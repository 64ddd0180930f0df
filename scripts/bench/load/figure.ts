// What a scenario asks the suite to measure: a figure is one number per broker (stompd,
// RabbitMQ, the raw ceiling; for WebSocket fan-out also stompd without its message cap),
// measured side by side in one go, with the targets for stompd's ratio to the others.
import type { BrokerKind, StompdStore } from './brokers.js'
import type { FlowShape, RunTiming } from './flow.js'
import type { IdleShape } from './idle.js'
import type { StormShape } from './storm.js'

/**
 * `stompd/<versus> <op> value`, e.g. fan-out ≥ 0.9× the ceiling; `absolute` compares stompd's own
 * value. In a figure with a `subject` (security.ts) it is `<subject>/<versus>` instead.
 */
export interface Target {
  versus: BrokerKind | 'absolute'
  op: '>=' | '<='
  value: number
}

/** What a flow figure reports: deliveries/s, publishes/s (receipted), MB/s, or a latency percentile. */
export type FlowMetric = 'delivered' | 'published' | 'mbPerSec' | 'p99'

export interface FlowFigure {
  kind: 'flow'
  /** Short, stable: `fanout-ws-10`; also names the destination. */
  id: string
  /** For the table: `topic fan-out ws ×10`. */
  title: string
  shape: FlowShape
  metric: FlowMetric
  /** stompd's store for this figure (memory unless the scenario is about persistence). */
  store: StompdStore
  /** Brokers to measure, in order; a broker not available is skipped with its reason. */
  brokers: BrokerKind[]
  /**
   * Whose ratios to the others the figure reports and its targets are about: stompd (the
   * default), or another contender measured against plain stompd (security.ts: stompd secured).
   */
  subject?: BrokerKind
  targets: Target[]
  /** Overrides of the suite's timing (e.g. a longer drain for 1 MiB bodies). */
  timing?: Partial<RunTiming>
  /** One line about the setup for the notes (pacing, body size ...). */
  note?: string
}

export interface IdleFigure {
  kind: 'idle'
  id: string
  title: string
  shape: IdleShape
  brokers: BrokerKind[]
  /** stompd's bytes per connection at most. */
  targetBytesPerConnection: number
  note?: string
}

/** A connect storm (storm.ts): short-lived connections, connections/s per broker (security.ts). */
export interface StormFigure {
  kind: 'storm'
  id: string
  title: string
  shape: StormShape
  brokers: BrokerKind[]
  /** As in a flow figure: whose ratios and targets these are (default stompd). */
  subject?: BrokerKind
  targets: Target[]
  note?: string
}

export type Figure = FlowFigure | IdleFigure | StormFigure

/** Suite-wide options every scenario function receives. */
export interface ScenarioOptions {
  quick: boolean
}

export const ALL_BROKERS: BrokerKind[] = ['stompd', 'rabbitmq', 'ceiling']

/** Defaults for a throughput flow (256-byte bodies, receipts on every 10th SEND, cap 300). */
export function flowShape(name: string, overrides: Partial<FlowShape>): FlowShape {
  return {
    name,
    transport: 'ws',
    mode: 'topic',
    ack: 'auto',
    publishers: 1,
    subscribers: 1,
    subscriberThreads: 1,
    bodyBytes: 256,
    persistent: false,
    receiptEvery: 10,
    window: 1000,
    undeliveredCap: 300,
    rate: 0,
    ...overrides,
  }
}
