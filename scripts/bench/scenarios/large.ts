// Large messages: 1 MiB bodies fanned out to 4 subscribers over WebSocket; delivered MB/s.
// Pacing is scaled down to the size: a RECEIPT on every SEND, at most 4 unreceipted, and at
// most 8 undelivered per subscriber (300 MiB in flight per subscriber would measure swapping).
//
//   npm run bench -- large [--quick] [--json]
import type { BenchOptions } from '../harness.js'
import { runFigures } from '../load/bench.js'
import { ALL_BROKERS, flowShape, type FlowFigure, type ScenarioOptions } from '../load/figure.js'

export function large(_options: ScenarioOptions): FlowFigure {
  const id = 'large-1mib-x4'
  return {
    kind: 'flow',
    id,
    title: 'topic 1 MiB bodies ws ×4',
    shape: flowShape(id, { subscribers: 4, subscriberThreads: 2, bodyBytes: 1024 * 1024, receiptEvery: 1, window: 4, undeliveredCap: 8 }),
    metric: 'mbPerSec',
    store: 'memory',
    brokers: ALL_BROKERS,
    targets: [],
    timing: { drainMs: 5000 },
    note: 'large: 1 MiB bodies, RECEIPT on every SEND, window 4, cap 8 undelivered per subscriber',
  }
}

export function figures(options: ScenarioOptions): FlowFigure[] {
  return [large(options)]
}

export function run(options: BenchOptions) {
  return runFigures('large', figures(options), options)
}
