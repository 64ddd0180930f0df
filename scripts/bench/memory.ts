// Does stompd's memory come back after a burst? Topic fan-out to 1,000 WebSocket subscribers
// (the scenario that makes the broker hold the most: outbound data for subscribers that fall
// behind), then nothing, while stompd's RSS is read every second. Once with the system's malloc
// (glibc here: what `npx stompd` gets) and once with jemalloc preloaded, as the Docker image runs
// it (skipped with a line when the library is not installed: `apt-get install libjemalloc2`).
//
//   npm run bench -- memory [--quick]
import type { BenchOptions } from './harness.js'
import { Brokers, findJemalloc, type Allocator } from './load/brokers.js'
import { rssBytes } from './load/cpu.js'
import { runFlow } from './load/flow.js'
import { WorkerPool } from './load/pool.js'
import { FULL, QUICK } from './load/suite.js'
import { fanoutWs } from './scenarios/fanout.js'

/** RSS within this much of where it started counts as back to the baseline. */
const BASELINE_SLACK = 0.1

interface Timeline {
  label: string
  before: number
  peak: number
  /** RSS at each whole second after the load stopped, from 1 s on. */
  after: number[]
  delivered: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number): string => (bytes / 1048576).toFixed(0)

async function measure(allocator: Allocator, options: BenchOptions, pool: WorkerPool): Promise<Timeline | string> {
  const brokers = new Brokers()
  try {
    const found = await brokers.get('stompd', 'memory', allocator)
    if (!('target' in found)) return found.skipped
    const { target } = found
    const rss = (): number => rssBytes(target.pid!) ?? 0
    await sleep(1000)
    const before = rss()
    let peak = before
    const sampler = setInterval(() => { peak = Math.max(peak, rss()) }, 250)
    const shape = fanoutWs(1000, options).shape
    const timing = options.quick ? QUICK : FULL
    let delivered = 0
    try {
      // Two runs when not quick: the second shows whether memory left by the first is reused.
      for (let run = 0; run < (options.quick ? 1 : 2); run++) {
        const result = await runFlow(pool, target, shape, timing)
        if (!result.ok) return `${target.label}: ${result.error}`
        delivered = Math.max(delivered, result.delivered)
      }
    } finally {
      clearInterval(sampler)
    }
    const after: number[] = []
    for (let second = 1; second <= (options.quick ? 10 : 60); second++) {
      await sleep(1000)
      after.push(rss())
      peak = Math.max(peak, after.at(-1)!)
    }
    return { label: target.label, before, peak, after, delivered }
  } finally {
    await brokers.close()
  }
}

function describe(t: Timeline): string {
  const back = t.after.findIndex((bytes) => bytes <= t.before * (1 + BASELINE_SLACK))
  const at = (second: number): string => mb(t.after[Math.min(second, t.after.length) - 1]!)
  const verdict = back < 0
    ? `not back to the baseline within ${t.after.length} s`
    : `back to the baseline (within ${BASELINE_SLACK * 100} %) ${back + 1} s after the load`
  const marks = [1, 10, 30, 60].filter((s) => s <= t.after.length).map((s) => `${s} s ${at(s)}`).join(', ')
  return `  ${t.label.padEnd(16)} RSS MB before ${mb(t.before)}, peak ${mb(t.peak)}, after: ${marks}; ${verdict} (fan-out ×1,000 at ${Math.round(t.delivered).toLocaleString('en-US')} deliveries/s)`
}

export async function run(options: BenchOptions): Promise<void> {
  console.log(`memory: stompd's RSS around topic fan-out ×1,000 over WebSocket (${options.quick ? '1 run of 2 s, then 10 s' : '2 runs of 10 s, then 60 s'} without load)`)
  const pool = new WorkerPool()
  try {
    for (const allocator of ['system', 'jemalloc'] as const) {
      if (allocator === 'jemalloc' && findJemalloc() === null) {
        console.log('  stompd jemalloc  skipped: jemalloc not installed (apt-get install libjemalloc2)')
        continue
      }
      const timeline = await measure(allocator, options, pool)
      console.log(typeof timeline === 'string' ? `  ${timeline}` : describe(timeline))
    }
  } finally {
    await pool.close()
  }
}
