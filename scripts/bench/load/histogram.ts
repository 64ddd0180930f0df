// A log-linear latency histogram: fixed memory, O(1) record, mergeable across worker threads.
//
// Values are microseconds. Below 2^SUB_BITS µs every value has its own bucket; above, each power
// of two is split into 2^SUB_BITS equal buckets, so a percentile is off by at most 1/32 (≈ 3 %)
// of its value — plenty for p50/p99/p999 of end-to-end latencies, and the counts travel between
// threads as one small Float64Array.

const SUB_BITS = 5
const SUB = 1 << SUB_BITS // buckets per power of two
const MAX_EXPONENT = 36 // 2^36 µs ≈ 19 hours: anything longer is clamped to the last bucket
export const HISTOGRAM_BUCKETS = (MAX_EXPONENT - SUB_BITS + 2) * SUB

/** The bucket a value (µs, ≥ 0) falls in. */
function bucketOf(us: number): number {
  const v = us < 0 ? 0 : Math.floor(us)
  if (v < SUB) return v
  let exponent = Math.floor(Math.log2(v))
  // Math.log2 may round across a power of two for large values: settle on 2^e <= v < 2^(e+1).
  if (2 ** exponent > v) exponent--
  else if (2 ** (exponent + 1) <= v) exponent++
  if (exponent > MAX_EXPONENT) return HISTOGRAM_BUCKETS - 1
  const sub = Math.floor(v / 2 ** (exponent - SUB_BITS)) - SUB // 0 .. SUB-1
  return (exponent - SUB_BITS + 1) * SUB + sub
}

/** The smallest value a bucket holds, and the first value past it. */
function bucketRange(index: number): [number, number] {
  if (index < SUB) return [index, index + 1]
  const exponent = Math.floor(index / SUB) + SUB_BITS - 1
  const width = 2 ** (exponent - SUB_BITS)
  const low = 2 ** exponent + (index % SUB) * width
  return [low, low + width]
}

export class Histogram {
  readonly counts: Float64Array
  total = 0
  max = 0

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(HISTOGRAM_BUCKETS)
    if (counts !== undefined) for (let i = 0; i < counts.length; i++) this.total += counts[i]!
  }

  /** Records one latency in milliseconds. */
  recordMs(ms: number): void {
    const us = ms * 1000
    this.counts[bucketOf(us)]!++
    this.total++
    if (us > this.max) this.max = us
  }

  reset(): void {
    this.counts.fill(0)
    this.total = 0
    this.max = 0
  }

  merge(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!
    this.total += other.total
    if (other.max > this.max) this.max = other.max
  }

  /** The value (ms) below which `q` (0..1) of the recorded values lie: the middle of its bucket. */
  percentileMs(q: number): number | null {
    if (this.total === 0) return null
    const rank = Math.max(1, Math.ceil(q * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= rank) {
        const [low, high] = bucketRange(i)
        return Math.min(this.max, (low + high) / 2) / 1000
      }
    }
    return this.max / 1000
  }

  summary(): LatencySummary {
    return { count: this.total, p50: this.percentileMs(0.5), p99: this.percentileMs(0.99), p999: this.percentileMs(0.999), max: this.total === 0 ? null : this.max / 1000 }
  }
}

/** Latency percentiles in ms (null with no samples). */
export interface LatencySummary {
  count: number
  p50: number | null
  p99: number | null
  p999: number | null
  max: number | null
}
