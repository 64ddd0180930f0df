// Runs a list of figures against stompd, RabbitMQ and the ceiling and builds the report.
//
// Fairness on a shared, noisy machine: within a figure the brokers take turns, run by run, in a
// rotating order (s R c, then R c s, then c s R), so a burst of someone else's work falls on all
// of them alike; the figure's value is each broker's median, and a ratio is the median of the
// per-run ratios. stompd and the ceiling are started once and reused by every figure (a stompd
// per store setting), so the RSS lines also show whether memory returns to its baseline.
import { Brokers, type BrokerKind, type BrokerTarget } from './brokers.js'
import { cpuCount, rssBytes } from './cpu.js'
import type { Figure, FlowFigure, IdleFigure, StormFigure, Target } from './figure.js'
import { runFlow, type FlowFailure, type FlowRun, type RunTiming } from './flow.js'
import { runIdle, type IdleFailure, type IdleRun } from './idle.js'
import { runStorm, type StormFailure, type StormRun } from './storm.js'
import { WorkerPool } from './pool.js'
import {
  formatValue, UNITS, valueOf,
  type BrokerReport, type ContenderResult, type FigureResult, type Metric, type RatioResult,
} from './report.js'
import { flowVerdict, idleVerdict } from './verdict.js'

export interface SuiteOptions {
  quick: boolean
}

/** How long each run of a figure lasts, and how many runs make it; --quick for CI's smoke run. */
export const FULL: RunTiming & { runs: number } = { runs: 3, warmupMs: 1000, measureMs: 10_000, drainMs: 3000 }
export const QUICK: RunTiming & { runs: number } = { runs: 1, warmupMs: 300, measureMs: 2000, drainMs: 1500 }
/** After a figure, before its "after" RSS: the broker lets go of what the last run left. */
const SETTLE_MS = 1000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type AnyRun = FlowRun | FlowFailure | IdleRun | IdleFailure | StormRun | StormFailure

interface Measured {
  target: BrokerTarget
  runs: AnyRun[]
  verdicts: string[]
  rssBefore: number | null
  rssPeak: number | null
  rssAfter: number | null
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Index of the run whose value is the median (the lower middle for an even count), or -1. */
function medianIndex(metric: Metric, runs: readonly AnyRun[]): number {
  const ok = runs.map((run, i) => ({ i, v: run.ok ? valueOf(metric, run) : null })).filter((x): x is { i: number, v: number } => x.v !== null)
  if (ok.length === 0) return -1
  ok.sort((a, b) => a.v - b.v)
  return ok[(ok.length - 1) >> 1]!.i
}

function contender(metric: Metric, m: Measured): ContenderResult {
  const index = medianIndex(metric, m.runs)
  const values = m.runs.map((run) => (run.ok ? valueOf(metric, run) : null)).filter((v): v is number => v !== null)
  const failure = m.runs.find((run): run is FlowFailure | IdleFailure | StormFailure => !run.ok)
  return {
    broker: m.target.kind,
    label: m.target.label,
    value: values.length === 0 ? null : median(values),
    runs: m.runs,
    median: index,
    saturated: index < 0 ? 'failed' : m.verdicts[index]!,
    rss: { before: m.rssBefore, peak: m.rssPeak, after: m.rssAfter },
    error: index < 0 ? (failure?.error ?? 'no value') : null,
  }
}

function meets(value: number, target: Target): boolean {
  return target.op === '>=' ? value >= target.value : value <= target.value
}

/**
 * stompd's ratio to each other broker measured, with the figure's targets; with a `subject`
 * (security.ts: stompd secured), that contender's ratio to each other one (plain stompd) instead.
 */
function ratios(metric: Metric, contenders: readonly ContenderResult[], targets: readonly Target[], subject: BrokerKind = 'stompd'): RatioResult[] {
  const ours = contenders.find((c) => c.broker === subject)
  if (ours === undefined || ours.value === null) return []
  const out: RatioResult[] = []
  for (const other of contenders) {
    if (other.broker === subject || other.value === null || other.value === 0) continue
    // Runs with the same index ran in the same rotation round, close together in time.
    const perRun: number[] = []
    ours.runs.forEach((run, i) => {
      const theirs = other.runs[i]
      const a = run.ok ? valueOf(metric, run) : null
      const b = theirs?.ok === true ? valueOf(metric, theirs) : null
      if (a !== null && b !== null && b !== 0) perRun.push(a / b)
    })
    const value = perRun.length > 0 ? median(perRun) : ours.value / other.value
    const target = targets.find((t) => t.versus === other.broker)
    const ratio: RatioResult = target === undefined ? { versus: other.broker, value } : { versus: other.broker, value, target, met: meets(value, target) }
    if (subject !== 'stompd') ratio.of = subject
    out.push(ratio)
  }
  return out
}

function progress(figure: Figure, target: BrokerTarget, text: string): void {
  console.log(`  ${figure.id.padEnd(28)} ${target.label.padEnd(24)} ${text}`)
}

export class Suite {
  private readonly brokers = new Brokers()
  private readonly pool = new WorkerPool()
  private readonly timing: RunTiming & { runs: number }
  private readonly quick: boolean

  constructor(options: SuiteOptions) {
    this.quick = options.quick
    this.timing = options.quick ? QUICK : FULL
  }

  /** Measures every figure and builds the report; every broker and worker started is stopped. */
  async run(bench: string, figures: readonly Figure[]): Promise<BrokerReport> {
    const results: FigureResult[] = []
    try {
      for (const figure of figures) {
        // Fresh load workers for every figure: workers that took fan-out to 1,000 carry grown
        // heaps whose collections put 20–41 ms into the next figure's p99 (6–8 ms with new ones).
        await this.pool.close()
        results.push(...(figure.kind === 'flow' ? await this.flow(figure) : figure.kind === 'idle' ? await this.idle(figure) : await this.storm(figure)))
      }
    } finally {
      await this.pool.close()
      await this.brokers.close()
    }
    return {
      bench,
      quick: this.quick,
      kind: 'brokers',
      conditions: { cpus: cpuCount(), node: process.version, runsPerFigure: this.timing.runs, measureSeconds: this.timing.measureMs / 1000, warmupSeconds: this.timing.warmupMs / 1000 },
      figures: results,
      notes: [
        'Load generator: this process, publishers and subscribers in separate worker threads, on the same machine as the brokers.',
        'Pacing: a RECEIPT window per publisher plus a cap on messages sent but not yet received per subscriber (the ceiling has no receipts: the cap only).',
        '"saturated": broker or loadgen (a thread of it) at ≥ 95% of what it can use (one core for stompd and the ceiling, every core for RabbitMQ), or the whole machine (cores: who used them); "pacing": nobody was, round trips set the pace.',
      ],
    }
  }

  /**
   * The available brokers of a figure, and one line for each that is not. `fresh`, when given,
   * starts stompd and the ceiling anew for this figure (RabbitMQ cannot be restarted).
   */
  private async targets(figure: Figure, fresh?: Brokers): Promise<{ targets: BrokerTarget[], skipped: string[] }> {
    const targets: BrokerTarget[] = []
    const skipped: string[] = []
    for (const kind of figure.brokers) {
      const from = fresh !== undefined && kind !== 'rabbitmq' ? fresh : this.brokers
      const availability = await from.get(kind, figure.kind === 'flow' ? figure.store : 'memory')
      if ('skipped' in availability) {
        skipped.push(availability.skipped)
        console.log(`  ${figure.id.padEnd(28)} ${availability.skipped}`)
        continue
      }
      const target = availability.target
      const needed = figure.kind === 'flow' ? figure.shape.publishers + figure.shape.subscribers : 0
      if (needed > target.maxConnections) {
        const line = `${target.label}: skipped: needs ${needed} connections, takes about ${target.maxConnections} (its open-file limit; raise it to measure)`
        skipped.push(line)
        console.log(`  ${figure.id.padEnd(28)} ${line}`)
        continue
      }
      if (figure.kind === 'flow' && target.endpoint(figure.shape.transport) === null) {
        skipped.push(`${target.label}: skipped: no ${figure.shape.transport} listener`)
        continue
      }
      targets.push(target)
    }
    return { targets, skipped }
  }

  private async flow(figure: FlowFigure): Promise<FigureResult[]> {
    const { targets, skipped } = await this.targets(figure)
    const timing: RunTiming = { ...this.timing, ...figure.timing }
    const measured: Measured[] = targets.map((target) => ({ target, runs: [], verdicts: [], rssBefore: target.pid === null ? null : rssBytes(target.pid), rssPeak: null, rssAfter: null }))
    for (let round = 0; round < this.timing.runs; round++) {
      for (let k = 0; k < measured.length; k++) {
        const m = measured[(round + k) % measured.length]!
        const run = await runFlow(this.pool, m.target, figure.shape, timing)
        m.runs.push(run)
        m.verdicts.push(run.ok ? flowVerdict(run, m.target, figure.shape.rate) : 'failed')
        if (run.ok && run.rss !== null) m.rssPeak = Math.max(m.rssPeak ?? 0, run.rss)
        const value = run.ok ? valueOf(figure.metric, run) : null
        const flags = run.ok ? [run.lost > 0 ? `LOST ${run.lost}` : '', run.outOfOrder > 0 ? `OUT OF ORDER ${run.outOfOrder}` : '', run.errors[0] ?? ''].filter((x) => x !== '').join(', ') : run.error
        progress(figure, m.target, `${formatValue(value, UNITS[figure.metric])} ${UNITS[figure.metric]}  (run ${round + 1}/${this.timing.runs}; ${m.verdicts.at(-1)})${flags === '' ? '' : `  ${flags}`}`)
      }
    }
    await sleep(SETTLE_MS)
    for (const m of measured) m.rssAfter = m.target.pid === null ? null : rssBytes(m.target.pid)
    const contenders = measured.map((m) => contender(figure.metric, m))
    const result: FigureResult = {
      id: figure.id,
      title: figure.title,
      metric: figure.metric,
      unit: UNITS[figure.metric],
      better: figure.metric === 'p99' ? 'lower' : 'higher',
      brokers: figure.brokers,
      contenders,
      skipped,
      ratios: ratios(figure.metric, contenders, figure.targets, figure.subject),
    }
    if (figure.note !== undefined) result.note = figure.note
    return [result]
  }

  /**
   * A connect storm (security.ts): like a flow figure, brokers take turns run by run on the
   * suite's brokers, and the value is connections per second.
   */
  private async storm(figure: StormFigure): Promise<FigureResult[]> {
    const { targets, skipped } = await this.targets(figure)
    const measured: Measured[] = targets.map((target) => ({ target, runs: [], verdicts: [], rssBefore: target.pid === null ? null : rssBytes(target.pid), rssPeak: null, rssAfter: null }))
    for (let round = 0; round < this.timing.runs; round++) {
      for (let k = 0; k < measured.length; k++) {
        const m = measured[(round + k) % measured.length]!
        const run = await runStorm(m.target, figure.shape)
        m.runs.push(run)
        m.verdicts.push(run.ok ? idleVerdict(run.cpu, m.target) || `none (machine ${Math.round((run.cpu.machine ?? 0) * 100)}%)` : 'failed')
        if (run.ok && run.rss !== null) m.rssPeak = Math.max(m.rssPeak ?? 0, run.rss)
        progress(figure, m.target, run.ok
          ? `${formatValue(run.connectRate, UNITS.connectRate)} ${UNITS.connectRate}  (run ${round + 1}/${this.timing.runs}; ${m.verdicts.at(-1)})${run.failed > 0 ? `  ${run.failed} FAILED: ${run.firstError}` : ''}`
          : run.error)
      }
    }
    await sleep(SETTLE_MS)
    for (const m of measured) m.rssAfter = m.target.pid === null ? null : rssBytes(m.target.pid)
    const contenders = measured.map((m) => contender('connectRate', m))
    const result: FigureResult = {
      id: figure.id,
      title: figure.title,
      metric: 'connectRate',
      unit: UNITS.connectRate,
      better: 'higher',
      brokers: figure.brokers,
      contenders,
      skipped,
      ratios: ratios('connectRate', contenders, figure.targets, figure.subject),
    }
    if (figure.note !== undefined) result.note = figure.note
    return [result]
  }

  /**
   * One run per broker (19,000 connections take a while); two rows: memory per connection and
   * connect rate. stompd and the ceiling are fresh processes here: a heap that earlier figures
   * grew has room that new connections fill without the RSS moving, which would flatter them.
   */
  private async idle(figure: IdleFigure): Promise<FigureResult[]> {
    const fresh = new Brokers()
    try {
      return await this.idleOn(figure, fresh)
    } finally {
      await fresh.close()
    }
  }

  private async idleOn(figure: IdleFigure, fresh: Brokers): Promise<FigureResult[]> {
    const { targets, skipped } = await this.targets(figure, fresh)
    const held: Measured[] = []
    const connected: Measured[] = []
    for (const target of targets) {
      const rssBefore = target.pid === null ? null : rssBytes(target.pid)
      const run = await runIdle(target, figure.shape)
      const rssAfter = target.pid === null ? null : rssBytes(target.pid)
      const rssHeld = run.ok ? run.rssHeld : null
      const holdVerdict = run.ok ? idleVerdict(run.cpu, target) : ''
      const alive = run.ok
        ? `${run.alive.toLocaleString('en-US')}/${run.requested.toLocaleString('en-US')} alive${run.closedEarly > 0 ? `, ${run.closedEarly} closed` : ''}${holdVerdict === '' ? '' : `, ${holdVerdict}`}`
        : 'failed'
      const connectVerdict = run.ok ? idleVerdict(run.connectCpu, target) || `none (machine ${Math.round((run.connectCpu.machine ?? 0) * 100)}%)` : 'failed'
      held.push({ target, runs: [run], verdicts: [alive], rssBefore, rssPeak: rssHeld, rssAfter })
      connected.push({ target, runs: [run], verdicts: [connectVerdict], rssBefore, rssPeak: rssHeld, rssAfter })
      progress(figure, target, run.ok
        ? `${run.opened.toLocaleString('en-US')} connected at ${Math.round(run.connectRate)}/s (${connectVerdict}), ${formatValue(run.perConnection === null ? null : run.perConnection / 1024, 'KiB/conn')} KiB each, ${alive}`
        : run.error)
    }
    const perConnection = held.map((m) => contender('kibPerConnection', m))
    const rate = connected.map((m) => contender('connectRate', m))
    const ours = perConnection.find((c) => c.broker === 'stompd')
    const target: Target = { versus: 'absolute', op: '<=', value: figure.targetBytesPerConnection / 1024 }
    const memoryRow: FigureResult = {
      id: `${figure.id}-rss`,
      title: `${figure.title}: RSS per connection`,
      metric: 'kibPerConnection',
      unit: UNITS.kibPerConnection,
      better: 'lower',
      brokers: figure.brokers,
      contenders: perConnection,
      skipped,
      ratios: ratios('kibPerConnection', perConnection, []),
    }
    if (ours?.value !== null && ours?.value !== undefined) memoryRow.absolute = { target, met: meets(ours.value, target) }
    if (figure.note !== undefined) memoryRow.note = figure.note
    const rateRow: FigureResult = {
      id: `${figure.id}-connect`,
      title: `${figure.title}: connect rate`,
      metric: 'connectRate',
      unit: UNITS.connectRate,
      better: 'higher',
      brokers: figure.brokers,
      contenders: rate,
      skipped: [],
      ratios: ratios('connectRate', rate, []),
    }
    return [memoryRow, rateRow]
  }
}
