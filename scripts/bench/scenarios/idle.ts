// Idle connections: 19,000 WebSocket connections (1,000 with --quick) CONNECT with
// `heart-beat:10000,10000` and are held (15 s; 2 s with --quick) while heart-beats flow; then
// every one must answer a receipt. Reports the broker's RSS per connection and the connect rate.
// Target (issue 7): ≤ 8 KiB of stompd RSS per connection, all alive after the hold.
// RabbitMQ takes only as many as its open-file limit allows (about 820 under the default 1024);
// its per-connection figure is measured on those.
//
//   npm run bench -- idle [--quick] [--json]
import type { BenchOptions } from '../harness.js'
import { runFigures } from '../load/bench.js'
import { ALL_BROKERS, type IdleFigure, type ScenarioOptions } from '../load/figure.js'

export function idle(options: ScenarioOptions): IdleFigure {
  const connections = options.quick ? 1000 : 19_000
  return {
    kind: 'idle',
    id: `idle-${connections}`,
    title: `idle ws ×${connections.toLocaleString('en-US')}`,
    // 9,500 per client process: two processes for 19,000, each well under the 20,000-file limit.
    shape: { connections, heartBeatMs: 10_000, holdMs: options.quick ? 2000 : 15_000, perProcess: 9500 },
    brokers: ALL_BROKERS,
    targetBytesPerConnection: 8 * 1024,
    note: `idle: one run per broker on a fresh stompd and ceiling; heart-beat:10000,10000 both ways (clients beat every 5 s), held ${options.quick ? 2 : 15} s, then a BEGIN with a receipt on each proves it alive; RSS per connection = (RSS after the hold − before) / connections${options.quick ? ' (1,000 connections: too few for a steady per-connection figure)' : ''}`,
  }
}

export function figures(options: ScenarioOptions): IdleFigure[] {
  return [idle(options)]
}

export function run(options: BenchOptions) {
  return runFigures('idle', figures(options), options)
}
