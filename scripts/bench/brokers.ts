// The side-by-side broker suite (issue 7): every scenario against stompd, RabbitMQ (when it is
// running) and the raw-ws ceiling, in one go, so every ratio is measured within one run.
//
//   npm run bench -- brokers [--quick] [--json]          (the whole suite)
//   npm run bench -- fanout | queue | persistent | latency | idle | large | security
//
// Full: each figure is the median of 3 runs of 10 s per broker (about half an hour in all);
// --quick: one 2 s run per broker and 1,000 idle connections instead of 19,000 (CI: the suite
// must not rot; its numbers are indicative only). Never fails on numbers.
//
// WebSocket fan-out also runs a second stompd, "stompd uncapped", started with
// `--ws-max-message-bytes 1073741824` (a turn's frames in one message, as before the cap) beside
// the one with the default 8 KiB cap, for the target "capped ≥ 0.85× uncapped".
// STOMPD_BENCH_WS_MAX_MESSAGE_BYTES=<bytes> gives the `stompd` contender (in every figure) another
// cap, e.g. 0 (one frame per message) or 65536, to compare by hand; the uncapped one keeps 1 GiB.
//
// The security figures (security.ts) run one more stompd, "stompd secured" (--jwt-secret and a
// 50-rule --acl, every load client with its own JWT: load/secured.ts), against plain stompd:
// fan-out ×100 and queue 4×4 with the target secured ≥ 0.95× plain, and a connect storm, ≥ 0.8×.
import type { BenchOptions } from './harness.js'
import { runFigures } from './load/bench.js'
import type { Figure, ScenarioOptions } from './load/figure.js'
import * as persistent from './persistent.js'
import * as fanout from './scenarios/fanout.js'
import * as idle from './scenarios/idle.js'
import * as large from './scenarios/large.js'
import * as latency from './scenarios/latency.js'
import * as queue from './scenarios/queue.js'
import * as security from './security.js'

// Latency first: after minutes of throughput figures this machine stays slower for a while, for
// every contender and even in new processes (stompd's p99 at 1,000/s ×10 in a fresh load
// generator against a fresh broker: 1.6–1.8 ms before two 10 s runs of fan-out to 1,000, 2.7–3.6
// ms after; in full runs with latency after persistence, 6–7 ms for all three contenders against
// 1.3–2.5 ms for `-- latency` alone). Measured first, the tails are the brokers', not the aftermath.
export function figures(options: ScenarioOptions): Figure[] {
  return [
    ...latency.figures(options),
    ...fanout.figures(options),
    ...queue.figures(options),
    ...security.figures(options), // stompd secured against plain stompd, right after the figures it repeats
    ...persistent.figures(options),
    ...large.figures(options),
    ...idle.figures(options),
  ]
}

export function run(options: BenchOptions) {
  return runFigures('brokers', figures(options), options)
}
