// Collects the garbage a burst leaves behind once the broker goes quiet. When a thousand
// subscribers that fell behind disconnect, their outbound buffers (hundreds of MB of array
// buffers outside V8's heap) become garbage, but the small objects pointing at them were
// promoted long ago, and only a full collection frees them. An idle process allocates nothing,
// so V8 starts one only when its memory reducer decides to: measured on the broker, 20 to more
// than 60 s after the load stopped, with RSS at 345 MB against 72 before until then. A broker
// knows better when it is idle: when the event loop has been almost idle for a whole interval
// and the memory held has grown well above its low point since the last collection, it
// collects once. Busy brokers are never paused by it; garbage that is live is kept, and the
// next collection waits for new growth.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Logger } from 'pino'
import { UnrefInterval } from './unref-interval.js'

/** What the collector reads and does: the process's own numbers, or a spec's. */
export interface CollectorProbe {
  /** Bytes held in V8's heap and in array buffers outside it, garbage included. */
  heldBytes(): number
  /** Fraction of the time since the last call the event loop spent running callbacks (0–1). */
  busyFraction(): number
  /** A full, blocking garbage collection. */
  collect(): void
}

export interface IdleCollectOptions {
  /** Collect once held memory has grown this far above its low point since the last collection. */
  growthBytes: number
  /** ...and the event loop was busy less than this fraction of the last interval. */
  idleBelow: number
  /** How often it looks. */
  intervalMs: number
}

/** 16 MiB, as for malloc trimming; 5 %: heart-beats of 19,000 idle connections keep a loop ~15 % busy. */
export const DEFAULT_IDLE_COLLECT: IdleCollectOptions = { growthBytes: 16 * 1024 * 1024, idleBelow: 0.05, intervalMs: 5000 }

export class IdleCollector {
  private lowWater: number
  private readonly interval: UnrefInterval

  /** `afterCollect` runs after each collection (the CLI trims malloc there). */
  constructor(
    private readonly probe: CollectorProbe,
    private readonly options: IdleCollectOptions,
    private readonly logger: Logger,
    private readonly afterCollect: () => void = () => {},
  ) {
    this.lowWater = probe.heldBytes()
    this.interval = new UnrefInterval(() => this.check(), options.intervalMs)
    probe.busyFraction()
  }

  start(): void {
    this.interval.start()
  }

  stop(): void {
    this.interval.stop()
  }

  /** Looks once; collects when the loop was idle and held memory has grown enough. True when it collected. */
  check(): boolean {
    const busy = this.probe.busyFraction()
    const held = this.probe.heldBytes()
    // V8's own collections lower the floor too: growth is counted from the last low point.
    if (held < this.lowWater) this.lowWater = held
    if (held - this.lowWater < this.options.growthBytes || busy >= this.options.idleBelow) return false
    const started = performance.now()
    this.probe.collect()
    this.lowWater = this.probe.heldBytes()
    this.logger.debug({
      heldBefore: held,
      heldAfter: this.lowWater,
      tookMs: Math.round((performance.now() - started) * 100) / 100,
    }, 'collected garbage left by a burst')
    this.afterCollect()
    return true
  }
}

/** This process: V8's heap and array buffers, its event loop, and V8's collector. */
export function processProbe(): CollectorProbe {
  // Node exposes gc() only under --expose-gc; setting the flag now and reading gc from a new
  // context gives the same function without asking every way of starting stompd for a flag.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let last = performance.eventLoopUtilization()
  return {
    heldBytes: () => {
      // arrayBuffers, not external: V8 updates its external count only at the next collection,
      // while Node counts array buffers as they are allocated and freed.
      const usage = process.memoryUsage()
      return usage.heapUsed + usage.arrayBuffers
    },
    busyFraction: () => {
      const now = performance.eventLoopUtilization()
      const busy = performance.eventLoopUtilization(now, last).utilization
      last = now
      return busy
    },
    collect: gc,
  }
}
