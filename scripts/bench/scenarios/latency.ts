// Fixed-rate latency: the publisher sends on a clock (1,000 msgs/s to 10 subscribers, 200 msgs/s
// to 100) and every subscriber records now − the message's `ts` header; p99 over all deliveries
// of the window. Targets (issue 7): p99 ≤ 0.5× RabbitMQ's and ≤ 1.5× the raw-ws ceiling's.
//
// Each run warms up for 5 s, not the suite's 1 s: at 1,000 msgs/s a second is only 1,000
// messages, and the first seconds on new connections are slower for every contender alike (the
// ceiling measured 0.70–0.81 ms after 1 s and 0.55–0.63 ms after 5 s), so a 1 s warm-up measured
// start-up, not the steady state a long-lived broker runs in.
//
//   npm run bench -- latency [--quick] [--json]
import type { BenchOptions } from '../harness.js'
import { runFigures } from '../load/bench.js'
import { ALL_BROKERS, flowShape, type FlowFigure, type ScenarioOptions } from '../load/figure.js'

const WARMUP_MS = 5000

export function latency(rate: number, subscribers: number, options: ScenarioOptions): FlowFigure {
  const id = `latency-${rate}x${subscribers}`
  return {
    kind: 'flow',
    id,
    title: `latency ${rate.toLocaleString('en-US')}/s ×${subscribers}`,
    shape: flowShape(id, { rate, subscribers, subscriberThreads: subscribers >= 100 ? 2 : 1 }),
    metric: 'p99',
    store: 'memory',
    brokers: ALL_BROKERS,
    targets: [{ versus: 'rabbitmq', op: '<=', value: 0.5 }, { versus: 'ceiling', op: '<=', value: 1.5 }],
    ...(options.quick ? {} : { timing: { warmupMs: WARMUP_MS } }),
    note: `latency: end to end, publisher clock to subscriber clock (one machine, one time base), 256 B bodies, ${options.quick ? 'the suite\'s' : `${WARMUP_MS / 1000} s`} warm-up per run; p50/p999 in the details`,
  }
}

export function figures(options: ScenarioOptions): FlowFigure[] {
  return [latency(1000, 10, options), latency(200, 100, options)]
}

export function run(options: BenchOptions) {
  return runFigures('latency', figures(options), options)
}
