// What the dashboard costs (issue 23): fan-out ×100 over TCP with one dashboard open (a client of
// its live feed, /api/events, as the page is) against none, on the same broker build, each on a
// fresh broker, taking turns — target ≥ 0.97×.
//
//   npm run bench -- dashboard [--quick]
import http from 'node:http'
import type { BenchOptions } from './harness.js'
import { startChild, stompdCommand, stopChild } from './load/brokers.js'
import { runContender, type Contender } from './selectors.js'

const FANOUT: Contender = { name: 'fan-out ×100', subscriptions: 100, selectorFor: () => null, headersFor: () => '' }

/** Reads the dashboard's event stream until stopped; how many updates came. */
function watch(port: number): { stop: () => number } {
  let updates = 0
  const request = http.get({ host: '127.0.0.1', port, path: '/api/events' }, (response) => {
    response.on('data', (chunk: Buffer) => { updates += chunk.toString().split('\n\n').length - 1 })
  })
  request.on('error', () => {})
  return { stop: () => { request.destroy(); return updates } }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

export async function run(options: BenchOptions): Promise<void> {
  const rounds = options.quick ? 1 : 5
  const ms = options.quick ? 1500 : 4000
  const without: number[] = []
  const withDashboard: number[] = []
  let updates = 0
  for (let round = 0; round < rounds; round++) {
    for (const open of [false, true]) {
      const broker = await startChild('stompd', [...stompdCommand(), '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--store', 'memory', '--log-level', 'warn'],
        /ws=ws:\/\/127\.0\.0\.1:(\d+)\/ws tcp=127\.0\.0\.1:(\d+)/)
      try {
        const watcher = open ? watch(Number(broker.match[1])) : null
        const { deliveries } = await runContender(Number(broker.match[2]), FANOUT, ms)
        if (watcher !== null) updates += watcher.stop()
        ;(open ? withDashboard : without).push(deliveries)
      } finally {
        await stopChild(broker.child)
      }
    }
  }
  const n = (value: number): string => Math.round(value).toLocaleString('en-US')
  const ratio = median(withDashboard) / median(without)
  console.log(`dashboard: fan-out ×100 over TCP, one stompd each, medians of ${rounds} run(s) of ${ms / 1000} s`)
  console.log(`  no dashboard open                ${n(median(without)).padStart(10)} deliveries/s`)
  console.log(`  one dashboard open (its feed)    ${n(median(withDashboard)).padStart(10)} deliveries/s  (${updates} updates received)`)
  console.log(`  with / without: ${ratio.toFixed(2)}× (target ≥ 0.97×: ${ratio >= 0.97 ? 'met' : 'MISSED'})`)
}
