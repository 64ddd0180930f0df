// Does stompd's memory come back after a burst? Two loads, each on a fresh broker, then nothing
// for a while, reading stompd's RSS every second: topic fan-out to 1,000 WebSocket subscribers
// (the scenario that makes the broker hold the most: outbound data for subscribers that fall
// behind), and 19,000 idle WebSocket connections opened, held and closed. Once with the system's
// malloc (glibc here: what `npx stompd` gets) and once with jemalloc preloaded, as the Docker
// image runs it (skipped with a line when the library is not installed: `apt-get install
// libjemalloc2`).
//
//   npm run bench -- memory [--quick]
import type { BenchOptions } from './harness.js'
import { Brokers, findJemalloc, type Allocator, type BrokerTarget } from './load/brokers.js'
import { rssBytes } from './load/cpu.js'
import { runFlow } from './load/flow.js'
import { runIdle, type IdleShape } from './load/idle.js'
import { WorkerPool } from './load/pool.js'
import { FULL, QUICK } from './load/suite.js'
import { fanoutWs } from './scenarios/fanout.js'
import { idle } from './scenarios/idle.js'

/** One burst of load on the broker; says what it achieved, or why it failed (a string). */
interface Load {
  title(options: BenchOptions): string
  run(target: BrokerTarget, options: BenchOptions, pool: WorkerPool): Promise<{ achieved: string } | string>
}

const fanout: Load = {
  title: (options) => `topic fan-out ×1,000 over WebSocket (${options.quick ? '1 run of 2 s' : '2 runs of 10 s'})`,
  async run(target, options, pool) {
    const shape = fanoutWs(1000, options).shape
    const timing = options.quick ? QUICK : FULL
    let delivered = 0
    // Two runs when not quick: the second shows whether memory left by the first is reused.
    for (let run = 0; run < (options.quick ? 1 : 2); run++) {
      const result = await runFlow(pool, target, shape, timing)
      if (!result.ok) return `${target.label}: ${result.error}`
      delivered = Math.max(delivered, result.delivered)
    }
    return { achieved: `${Math.round(delivered).toLocaleString('en-US')} deliveries/s` }
  },
}

const connections: Load = {
  title: (options) => `${idleShape(options).connections.toLocaleString('en-US')} idle WebSocket connections with heart-beats, opened, held ${idleShape(options).holdMs / 1000} s and closed`,
  async run(target, options) {
    const shape = idleShape(options)
    const result = await runIdle(target, shape)
    if (!result.ok) return `${target.label}: ${result.error}`
    return { achieved: `${result.alive.toLocaleString('en-US')} of ${shape.connections.toLocaleString('en-US')} connected, held and closed` }
  },
}

/** The idle scenario's connections, held for less time: what is measured here is after they close. */
function idleShape(options: BenchOptions): IdleShape {
  return { ...idle(options).shape, holdMs: options.quick ? 1000 : 5000 }
}

/** RSS within this much of where it started counts as back to the baseline. */
const BASELINE_SLACK = 0.1

interface Timeline {
  label: string
  before: number
  peak: number
  /** RSS at each whole second after the load stopped, from 1 s on. */
  after: number[]
  achieved: string
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number): string => (bytes / 1048576).toFixed(0)

async function measure(load: Load, allocator: Allocator, options: BenchOptions, pool: WorkerPool): Promise<Timeline | string> {
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
    let outcome: Awaited<ReturnType<Load['run']>>
    try {
      outcome = await load.run(target, options, pool)
    } finally {
      clearInterval(sampler)
    }
    if (typeof outcome === 'string') return outcome
    const after: number[] = []
    for (let second = 1; second <= (options.quick ? 10 : 60); second++) {
      await sleep(1000)
      after.push(rss())
      peak = Math.max(peak, after.at(-1)!)
    }
    return { label: target.label, before, peak, after, achieved: outcome.achieved }
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
  return `    ${t.label.padEnd(16)} RSS MB before ${mb(t.before)}, peak ${mb(t.peak)}, after: ${marks}; ${verdict} (${t.achieved})`
}

export async function run(options: BenchOptions): Promise<void> {
  const rest = options.quick ? '10 s' : '60 s'
  console.log(`memory: stompd's RSS around a burst, then ${rest} without load, each load on a fresh broker`)
  const pool = new WorkerPool()
  try {
    for (const load of [fanout, connections]) {
      console.log(`  ${load.title(options)}`)
      for (const allocator of ['system', 'jemalloc'] as const) {
        if (allocator === 'jemalloc' && findJemalloc() === null) {
          console.log('    stompd jemalloc  skipped: jemalloc not installed (apt-get install libjemalloc2)')
          continue
        }
        const timeline = await measure(load, allocator, options, pool)
        console.log(typeof timeline === 'string' ? `    ${timeline}` : describe(timeline))
      }
    }
  } finally {
    await pool.close()
  }
}
