// Shared bench machinery: interleaved timing rounds with medians of rates per CPU-second (this
// runs on shared, noisy machines, so contenders take turns instead of running back to back), and
// the report type the runner prints as a table or as JSON.

export interface BenchOptions {
  /** Short runs for CI: numbers are indicative only. */
  quick: boolean
}

/** One contender in a comparison: `run` does `frames` frames' (or deliveries') work over `bytes` bytes. */
export interface Contender {
  name: string
  run: () => void
  frames: number
  bytes: number
}

export interface Measured {
  name: string
  /** Medians over the timed rounds, per CPU-second. */
  framesPerSec: number
  mbPerSec: number
  /** Frames per CPU-second in each timed round, in order. */
  samples: number[]
}

export interface RoundOptions {
  rounds: number
  roundMs: number
  /** Untimed rounds first, so the JIT has settled before anything counts. */
  warmupRounds: number
}

export function roundOptions(options: BenchOptions): RoundOptions {
  return options.quick
    ? { rounds: 3, roundMs: 40, warmupRounds: 1 }
    : { rounds: 9, roundMs: 200, warmupRounds: 2 }
}

/**
 * Calls `run` for about `ms` milliseconds of wall time; returns calls per CPU-second of this
 * process (process.cpuUsage, microsecond resolution), so time the VM gives to other processes
 * does not count against whoever was running.
 */
function timeBatch(run: () => void, ms: number): number {
  const budget = ms * 1e6
  let calls = 0
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  do {
    run()
    calls++
  } while (Number(process.hrtime.bigint() - start) < budget)
  const used = process.cpuUsage(cpu)
  return (calls * 1e6) / Math.max(1, used.user + used.system)
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Times the contenders in interleaved rounds (A B C, then B C A, ...: each takes every slot in
 * turn, so a burst of noise or a GC falls on all of them alike) and reports each one's median.
 */
export function compare(contenders: readonly Contender[], options: RoundOptions): Measured[] {
  const samples = contenders.map((): number[] => [])
  const n = contenders.length
  for (let round = 0; round < options.warmupRounds + options.rounds; round++) {
    for (let k = 0; k < n; k++) {
      const i = (round + k) % n
      const callsPerSec = timeBatch(contenders[i]!.run, options.roundMs)
      if (round >= options.warmupRounds) samples[i]!.push(callsPerSec * contenders[i]!.frames)
    }
  }
  return contenders.map((c, i) => {
    const framesPerSec = median(samples[i]!)
    return { name: c.name, framesPerSec, mbPerSec: (framesPerSec * c.bytes) / c.frames / 1e6, samples: samples[i]! }
  })
}

// ---------------------------------------------------------------------------------------------
// Reports

export interface Ratio {
  /** This row's frames/s over `versus`'s, in the same case: the median of per-round ratios. */
  value: number
  versus: string
  /** What the value should reach (printed, never enforced). */
  target?: number
}

export interface BenchRow {
  /** What is measured, e.g. `decode 256 B MESSAGE, 100 per chunk`. */
  case: string
  contender: string
  framesPerSec: number
  mbPerSec: number
  ratios: Ratio[]
  /** Frames per second in each timed round, for judging the spread. */
  samples: number[]
}

export interface BenchReport {
  bench: string
  quick: boolean
  rows: BenchRow[]
  notes: string[]
}

/** Rows for one case, with the ratio of an `ours` contender to each named baseline (measured in the same compare() call). */
export function caseRows(caseName: string, measured: readonly Measured[], ratios: ReadonlyArray<{ ours: string, versus: string, target?: number }>): BenchRow[] {
  const byName = new Map(measured.map((m) => [m.name, m]))
  return measured.map((m) => ({
    case: caseName,
    contender: m.name,
    framesPerSec: m.framesPerSec,
    mbPerSec: m.mbPerSec,
    ratios: ratios.filter((r) => r.ours === m.name).map((r): Ratio => {
      const base = byName.get(r.versus)
      if (base === undefined) throw new Error(`no contender ${r.versus} in ${caseName}`)
      // The median of per-round ratios: contenders in one round ran side by side under the same
      // noise, so their ratio is steadier than the ratio of two medians.
      const value = median(m.samples.map((sample, round) => sample / base.samples[round]!))
      return r.target === undefined ? { value, versus: r.versus } : { value, versus: r.versus, target: r.target }
    }),
    samples: m.samples.map(Math.round),
  }))
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US')
const mb = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1))

export function formatReport(report: BenchReport): string {
  const header = ['case', 'contender', 'frames/s', 'MB/s', 'ours/theirs', 'target']
  const lines: string[][] = [header]
  let lastCase = ''
  for (const row of report.rows) {
    const ratio = row.ratios.map((r) => `${r.value.toFixed(2)}× ${r.versus}`).join(', ')
    const target = row.ratios.filter((r) => r.target !== undefined)
      .map((r) => `≥ ${r.target}× ${r.versus}: ${r.value >= r.target! ? 'met' : 'MISSED'}`).join(', ')
    lines.push([row.case === lastCase ? '' : row.case, row.contender, count(row.framesPerSec), mb(row.mbPerSec), ratio, target])
    lastCase = row.case
  }
  const widths = header.map((_, col) => Math.max(...lines.map((l) => l[col]!.length)))
  const numeric = new Set([2, 3])
  const out = lines.map((l) => l.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd())
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return [`${report.bench}${report.quick ? ' (--quick: short runs, indicative only)' : ''}`, ...out, ...report.notes.map((n) => `  ${n}`)].join('\n')
}
