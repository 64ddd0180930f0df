// Runs scenario figures as one bench of the runner (scripts/bench/index.ts): the shared
// `run(options)` of brokers.ts, persistent.ts and scenarios/*.ts.
import type { BenchOptions } from '../harness.js'
import type { Figure } from './figure.js'
import type { BrokerReport } from './report.js'
import { Suite } from './suite.js'

export async function runFigures(bench: string, figures: readonly Figure[], options: BenchOptions): Promise<BrokerReport> {
  console.log(`${bench}: ${figures.length} figure${figures.length === 1 ? '' : 's'}${options.quick ? ' (--quick)' : ''}; stompd, RabbitMQ and the raw ceiling side by side`)
  return new Suite({ quick: options.quick }).run(bench, figures)
}
