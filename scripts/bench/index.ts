// The bench runner: `npm run bench [-- <name>...] [--quick] [--json]`.
//
// With no name it runs every registered bench, in the order below. --quick makes short runs (CI:
// a smoke test of the benches, numbers indicative only); --json prints one JSON document on stdout
// with every bench's report, anything the benches print going to stderr instead (`npm run --silent
// bench -- --json` also drops npm's banner). Never fails on numbers: targets are printed, not
// enforced. A new bench is a module exporting run(options) plus one line in BENCHES.
import type { BenchOptions, BenchReport } from './harness.js'
import { formatReport } from './harness.js'
import { formatBrokerReport, isBrokerReport, type BrokerReport } from './load/report.js'

type Report = BenchReport | BrokerReport

interface BenchModule {
  /** Returns a report for the runner to print, or prints its own lines and returns nothing. */
  run(options: BenchOptions): Promise<Report | void> | Report | void
}

// One line per bench; modules load only when their bench runs.
const BENCHES: Record<string, () => Promise<BenchModule>> = {
  codec: () => import('./codec.js'),
  matcher: () => import('./matcher.js'),
  // Every broker scenario side by side with RabbitMQ and the raw-ws ceiling (issue 7) ...
  brokers: () => import('./brokers.js'),
  // ... and each scenario alone (parts of `brokers`, so not run again when no name is given).
  fanout: () => import('./scenarios/fanout.js'),
  queue: () => import('./scenarios/queue.js'),
  persistent: () => import('./persistent.js'),
  latency: () => import('./scenarios/latency.js'),
  large: () => import('./scenarios/large.js'),
  idle: () => import('./scenarios/idle.js'),
  security: () => import('./security.js'), // JWT auth + a 50-rule ACL against plain stompd; connect storm (part of `brokers`)
  // stompd's RSS after a burst, with the system's malloc and with jemalloc.
  memory: () => import('./memory.js'),
  'frame-limit': () => import('./frame-limit.js'), // --max-frame-size 8/16/32 MiB under 20 MB abuse
  abuse: () => import('./abuse.js'), // every attack at once against the limits, a well-behaved client alongside
  selectors: () => import('./selectors.js'), // 10,000 selective subscribers vs one plain; fan-out ×100 with selectors vs none
  streams: () => import('./streams.js'), // replay of 1,000,000 stream entries vs fan-out ×1
  dashboard: () => import('./dashboard.js'), // fan-out ×100 with the dashboard's live feed open vs none
  cluster: () => import('./cluster.js'), // one stompd vs three through a private Redis, kill -9 failover, Redis capacity model (issue 21)
}

/** What `npm run bench` runs with no name: everything once. */
const DEFAULT_BENCHES = ['codec', 'matcher', 'brokers', 'memory', 'selectors', 'streams', 'dashboard']

function usage(): string {
  return `usage: npm run bench [-- <bench>...] [--quick] [--json]\nbenches: ${Object.keys(BENCHES).join(', ')} (default: ${DEFAULT_BENCHES.join(', ')})`
}

async function main(argv: readonly string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith('-')))
  const names = argv.filter((a) => !a.startsWith('-'))
  for (const flag of flags) {
    if (flag === '--help' || flag === '-h') {
      console.log(usage())
      return 0
    }
    if (flag !== '--quick' && flag !== '--json') {
      console.error(`unknown option ${flag}\n${usage()}`)
      return 2
    }
  }
  const unknown = names.filter((n) => !Object.hasOwn(BENCHES, n))
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(', ')}\n${usage()}`)
    return 2
  }
  const options: BenchOptions = { quick: flags.has('--quick') }
  const json = flags.has('--json')
  const selected = names.length > 0 ? names : DEFAULT_BENCHES

  const reports: Array<Report | { bench: string, quick: boolean, output: 'text' }> = []
  const log = console.log
  // In --json mode stdout carries the JSON document only.
  if (json) console.log = (...args: unknown[]) => { console.error(...args) }
  try {
    for (const name of selected) {
      const started = performance.now()
      const bench = await BENCHES[name]!()
      const report = await bench.run(options)
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      if (report === undefined) {
        reports.push({ bench: name, quick: options.quick, output: 'text' })
        if (!json) log(`(${name}: ${seconds} s)\n`)
      } else {
        reports.push(report)
        if (!json) log(`${isBrokerReport(report) ? formatBrokerReport(report) : formatReport(report)}\n(${name}: ${seconds} s)\n`)
      }
    }
  } finally {
    console.log = log
  }
  if (json) process.stdout.write(JSON.stringify({ node: process.version, arch: process.arch, reports }, null, 2) + '\n')
  return 0
}

process.exitCode = await main(process.argv.slice(2))
