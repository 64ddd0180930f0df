// The broker suite's report: what --json prints, and the table a person reads — one row per
// figure with stompd, RabbitMQ and the ceiling side by side (and stompd without its WebSocket
// message cap, or stompd secured, when a figure measures it), the ratios, the targets and who
// saturated; then a few detail lines per figure (latency, CPU, memory, losses).
import type { BrokerKind } from './brokers.js'
import type { CpuUse } from './cpu.js'
import type { FlowMetric, Target } from './figure.js'
import type { FlowFailure, FlowRun } from './flow.js'
import type { IdleFailure, IdleRun } from './idle.js'
import type { StormFailure, StormRun } from './storm.js'

export interface ContenderResult {
  broker: BrokerKind
  label: string
  /** The figure's value for this broker: the median over its runs; null when every run failed. */
  value: number | null
  runs: Array<FlowRun | FlowFailure | IdleRun | IdleFailure | StormRun | StormFailure>
  /** Index of the median run in `runs` (its CPU, latency and verdict are the ones shown), or -1. */
  median: number
  /** Who saturated in the median run (see verdict.ts). */
  saturated: string
  /** Broker RSS (bytes): before the figure's first run, the highest seen at the end of a measuring window, after the last run. */
  rss: { before: number | null, peak: number | null, after: number | null }
  /** Why there is no value, when every run failed. */
  error: string | null
}

export interface RatioResult {
  /** Whose value is over the other's: stompd when absent; a figure's subject (stompd secured) otherwise. */
  of?: BrokerKind
  versus: BrokerKind
  /** stompd's (or the subject's) value over the other's: the median of per-run ratios (runs side by side in time). */
  value: number
  target?: Target
  met?: boolean
}

/** What a figure's number is: a flow metric, or one of the idle scenario's two. */
export type Metric = FlowMetric | 'kibPerConnection' | 'connectRate'

export const UNITS: Record<Metric, string> = {
  delivered: 'deliveries/s',
  published: 'receipted/s',
  mbPerSec: 'MB/s',
  p99: 'p99 ms',
  kibPerConnection: 'KiB/conn',
  connectRate: 'conn/s',
}

export interface FigureResult {
  id: string
  title: string
  metric: Metric
  unit: string
  better: 'higher' | 'lower'
  /** The brokers the figure is for (a broker not listed is `n/a` in the table, not `skipped`). */
  brokers: BrokerKind[]
  contenders: ContenderResult[]
  /** Brokers not measured, one line each saying why. */
  skipped: string[]
  ratios: RatioResult[]
  /** A target on stompd's own value (idle: bytes per connection). */
  absolute?: { target: Target, met: boolean }
  note?: string
}

export interface BrokerReport {
  bench: string
  quick: boolean
  kind: 'brokers'
  conditions: {
    cpus: number
    node: string
    runsPerFigure: number
    measureSeconds: number
    warmupSeconds: number
  }
  figures: FigureResult[]
  notes: string[]
}

export function isBrokerReport(report: object): report is BrokerReport {
  return (report as { kind?: unknown }).kind === 'brokers'
}

// ---------------------------------------------------------------------------------------------
// Formatting

const COLUMNS: BrokerKind[] = ['stompd', 'stompd-uncapped', 'stompd-secured', 'rabbitmq', 'ceiling']
/** Columns shown only when some figure of the report measures them (fan-out's and security's own comparisons). */
const OPTIONAL_COLUMNS: ReadonlySet<BrokerKind> = new Set(['stompd-uncapped', 'stompd-secured'])
/** Contenders whose ratio column is theirs over stompd's (S/s), not stompd's over theirs: the figure is about them. */
const SUBJECTS: ReadonlySet<BrokerKind> = new Set(['stompd-secured'])
const NAMES: Record<BrokerKind, string> = { 'stompd': 'stompd', 'stompd-uncapped': 'stompd uncapped', 'stompd-secured': 'stompd secured', 'rabbitmq': 'RabbitMQ', 'ceiling': 'raw ws' }
const SHORT: Record<BrokerKind, string> = { 'stompd': 's', 'stompd-uncapped': 'u', 'stompd-secured': 'S', 'rabbitmq': 'R', 'ceiling': 'c' }

export function formatValue(value: number | null, unit: string): string {
  if (value === null) return '—'
  if (unit.endsWith('ms')) return value < 10 ? value.toFixed(2) : value.toFixed(1)
  if (unit === 'MB/s' || unit === 'KiB/conn') return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')
  return Math.round(value).toLocaleString('en-US')
}

function ratioText(ratio: RatioResult | undefined): string {
  return ratio === undefined ? '—' : `${ratio.value.toFixed(2)}×`
}

function targetText(figure: FigureResult): string {
  const parts: string[] = []
  for (const ratio of figure.ratios) {
    if (ratio.target === undefined) continue
    const of = ratio.of === undefined ? '' : `${NAMES[ratio.of]} ` // a subject other than stompd says so
    parts.push(`${of}${ratio.target.op === '>=' ? '≥' : '≤'}${ratio.target.value}× ${NAMES[ratio.versus]}: ${ratio.met === true ? 'met' : 'MISSED'}`)
  }
  if (figure.absolute !== undefined) {
    const { target, met } = figure.absolute
    parts.push(`${target.op === '>=' ? '≥' : '≤'}${target.value} ${figure.unit}: ${met ? 'met' : 'MISSED'}`)
  }
  return parts.join(', ')
}

function table(rows: string[][], numeric: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)))
  const lines = rows.map((r) => r.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return lines
}

const mb = (bytes: number | null): string => (bytes === null ? '?' : String(Math.round(bytes / 1048576)))
const cores = (x: number | null): string => (x === null ? '?' : x.toFixed(2))
const machine = (cpu: CpuUse): string => (cpu.machine === null ? '?' : `${Math.round(cpu.machine * 100)}%${cpu.irq !== null && cpu.irq >= 0.05 ? ` (softirq ${cpu.irq.toFixed(2)})` : ''}`)
const ms = (x: number | null): string => (x === null ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1))

/** The detail line for one contender: latency, CPU, memory, losses, errors. */
function detail(figure: FigureResult, c: ContenderResult): string {
  const head = `    ${c.label.padEnd(24)}`
  if (c.median < 0) return `${head}no value: ${c.error ?? 'failed'}`
  const run = c.runs[c.median]!
  if (!run.ok) return `${head}${run.error}`
  const values = c.runs.length > 1 ? `; runs [${c.runs.map((r) => (r.ok ? formatValue(valueOf(figure.metric, r), figure.unit) : 'failed')).join(', ')}]` : ''
  const memory = `RSS MB ${mb(c.rss.before)}→${mb(c.rss.peak)}→${mb(c.rss.after)}`
  if ('kind' in run) {
    // A connect storm (storm.ts): `threads` are the client processes.
    return `${head}${run.opened.toLocaleString('en-US')}/${run.requested.toLocaleString('en-US')} CONNECTED and closed in ${run.seconds.toFixed(2)} s`
      + `${run.failed > 0 ? ` (${run.failed} FAILED: ${run.firstError ?? '?'})` : ''}; `
      + `cores broker ${cores(run.cpu.broker)} (main ${cores(run.cpu.brokerMain)}) loadgen ${cores(run.cpu.loadgen)} [clients ${run.cpu.threads.map(cores).join('/')}] machine ${machine(run.cpu)}; `
      + `${memory}${values}`
  }
  if ('connectRate' in run) {
    if (figure.metric === 'connectRate') {
      return `${head}${run.opened.toLocaleString('en-US')} CONNECTED in ${run.connectSeconds.toFixed(1)} s, `
        + `cores while connecting: broker ${cores(run.connectCpu.broker)} (main ${cores(run.connectCpu.brokerMain)}) loadgen ${cores(run.connectCpu.loadgen)} machine ${machine(run.connectCpu)}`
    }
    return `${head}${run.opened.toLocaleString('en-US')}/${run.requested.toLocaleString('en-US')} connected (${run.failed} failed${run.firstError === null ? '' : `: ${run.firstError}`}), `
      + `${run.alive.toLocaleString('en-US')} alive after the hold, ${run.closedEarly} closed early${run.reasons.length > 0 ? ` (${run.reasons.join('; ')})` : ''}; `
      + `RSS MB ${mb(run.rssBefore)} before→${mb(run.rssConnected)} connected→${mb(run.rssHeld)} held→${mb(run.rssAfter)} closed; hold CPU broker ${cores(run.cpu.broker)}`
  }
  const threads = [run.publisherThread, ...run.subscriberThreads].map(cores).join('/')
  const problems = [
    run.lost > 0 ? `LOST ${run.lost.toLocaleString('en-US')}` : '',
    run.outOfOrder > 0 ? `OUT OF ORDER ${run.outOfOrder}` : '',
    run.errors.length > 0 ? `errors: ${run.errors.slice(0, 3).join('; ')}${run.errors.length > 3 ? ` (+${run.errors.length - 3})` : ''}` : '',
  ].filter((p) => p !== '').join('; ')
  return `${head}pub ${formatValue(run.published, 'msgs/s')}/s, deliv ${formatValue(run.delivered, 'msgs/s')}/s, ${run.mbPerSec.toFixed(1)} MB/s; `
    + `latency ms p50 ${ms(run.latency.p50)} p99 ${ms(run.latency.p99)} p999 ${ms(run.latency.p999)}; `
    + `cores broker ${cores(run.cpu.broker)} (main ${cores(run.cpu.brokerMain)}) loadgen ${cores(run.cpu.loadgen)} [pub/sub ${threads}] machine ${machine(run.cpu)}; `
    + `${memory}${values}${problems === '' ? '' : `; ${problems}`}`
}

/** The number a run contributes to a figure. */
export function valueOf(metric: Metric, run: FlowRun | IdleRun | StormRun): number | null {
  if ('kind' in run) return run.connectRate // a connect storm has one number
  if ('connectRate' in run) {
    if (metric === 'connectRate') return run.connectRate
    return run.perConnection === null ? null : run.perConnection / 1024
  }
  switch (metric) {
    case 'p99': return run.latency.p99
    case 'mbPerSec': return run.mbPerSec
    case 'published': return run.published
    default: return run.delivered
  }
}

/** stompd's RSS before the figure → after it: does memory return to its baseline? */
function stompdRss(c: ContenderResult | undefined): string {
  return c === undefined ? '' : `${mb(c.rss.before)}→${mb(c.rss.after)}`
}

export function formatBrokerReport(report: BrokerReport): string {
  const c = report.conditions
  const title = `${report.bench}${report.quick ? ' (--quick: one short run per figure, indicative only)' : ''}: `
    + `${c.runsPerFigure === 1 ? '1 run' : `median of ${c.runsPerFigure} runs`} of ${c.measureSeconds} s after ${c.warmupSeconds} s warm-up (a figure's note may say longer)`
    + `${report.figures.some((f) => f.metric === 'kibPerConnection') ? ' (idle: one run)' : ''}; ${c.cpus} CPUs; node ${c.node}`
  const columns = COLUMNS.filter((k) => !OPTIONAL_COLUMNS.has(k) || report.figures.some((f) => f.brokers.includes(k)))
  // One ratio column per other contender: stompd over it (s/R), or for a subject it over stompd (S/s).
  const pairs: Array<[of: BrokerKind, versus: BrokerKind]> = [
    ...columns.filter((k) => k !== 'stompd' && !SUBJECTS.has(k)).map((k): [BrokerKind, BrokerKind] => ['stompd', k]),
    ...columns.filter((k) => SUBJECTS.has(k)).map((k): [BrokerKind, BrokerKind] => [k, 'stompd']),
  ]
  const rows: string[][] = [['figure', 'unit', ...columns.map((k) => NAMES[k]), ...pairs.map(([of, versus]) => `${SHORT[of]}/${SHORT[versus]}`), 'target', 'stompd RSS MB', `saturated (${columns.map((k) => SHORT[k]).join(' · ')})`]]
  for (const figure of report.figures) {
    const byKind = new Map(figure.contenders.map((x) => [x.broker, x]))
    const saturated = columns.filter((k) => byKind.has(k)).map((k) => `${SHORT[k]}: ${byKind.get(k)!.saturated || '—'}`).join(' · ')
    rows.push([
      figure.title,
      figure.unit,
      ...columns.map((k) => (byKind.has(k) ? formatValue(byKind.get(k)!.value, figure.unit) : figure.brokers.includes(k) ? 'skipped' : 'n/a')),
      ...pairs.map(([of, versus]) => ratioText(figure.ratios.find((r) => (r.of ?? 'stompd') === of && r.versus === versus))),
      targetText(figure),
      stompdRss(byKind.get('stompd')),
      saturated,
    ])
  }
  // The broker values and the ratios are right-aligned.
  const numeric = new Set(Array.from({ length: columns.length + pairs.length }, (_, i) => i + 2))
  const out = [title, ...table(rows, numeric)]
  out.push('', 'details (median run; broker RSS MB before the figure → at the end of its last measured window → after it):')
  for (const figure of report.figures) {
    out.push(`  ${figure.title}${figure.note === undefined ? '' : ` — ${figure.note}`}`)
    for (const contender of figure.contenders) out.push(detail(figure, contender))
    for (const line of figure.skipped) out.push(`    ${line}`)
  }
  for (const note of report.notes) out.push(`  ${note}`)
  return out.join('\n')
}
