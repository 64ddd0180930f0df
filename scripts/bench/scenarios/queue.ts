// Queue, 4 producers × 4 consumers on one queue, 256-byte bodies, transient messages; with
// `ack:auto` and with `ack:client-individual` (each consumer ACKs every message, one ACK frame
// per message). Deliveries per second. Target (issue 7): ≥ 5× RabbitMQ with real ack semantics.
// The ceiling hands each message to the next subscriber in turn and ignores ACKs.
//
//   npm run bench -- queue [--quick] [--json]
import type { BenchOptions } from '../harness.js'
import { runFigures } from '../load/bench.js'
import { ALL_BROKERS, flowShape, type FlowFigure, type ScenarioOptions } from '../load/figure.js'
import type { AckMode } from '../load/protocol.js'

export function queue(ack: AckMode, _options: ScenarioOptions): FlowFigure {
  const id = `queue-4x4-${ack}`
  return {
    kind: 'flow',
    id,
    title: `queue 4×4 ack:${ack}`,
    shape: flowShape(id, { mode: 'queue', ack, publishers: 4, subscribers: 4, subscriberThreads: 2 }),
    metric: 'delivered',
    store: 'memory',
    brokers: ALL_BROKERS,
    targets: [{ versus: 'rabbitmq', op: '>=', value: 5 }],
    note: 'queue: 4 producers (one thread) × 4 consumers (two threads), RECEIPT on every 10th SEND, window 1,000 per producer, cap 300 undelivered per consumer',
  }
}

export function figures(options: ScenarioOptions): FlowFigure[] {
  return [queue('auto', options), queue('client-individual', options)]
}

export function run(options: BenchOptions) {
  return runFigures('queue', figures(options), options)
}
