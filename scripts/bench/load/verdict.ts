// Who saturated: every figure says what limited it, so a number limited by the load generator
// (or by someone else's work on a shared 2-core machine) is never read as the broker's.
//
//   broker   stompd and the ceiling are single-threaded: their main thread at ≥ 95 % of a core;
//            RabbitMQ: the whole process at ≥ 95 % of the machine's cores
//   loadgen  one of its worker threads at ≥ 95 % of a core, or the process at ≥ 95 % of the cores
//   machine  all cores ≥ 95 % busy without either side being saturated; `others` says how many
//            cores went to processes outside this run, `softirq` how many to interrupt work
//            (loopback TCP, charged to no process)
//   pacing   nobody saturated: round trips (the receipt window, the undelivered cap) set the pace;
//            the machine's busy share is shown, as CPU contention below 95 % still stretches them
//   rate     a fixed-rate run that kept its rate
import { brokerCores, type BrokerTarget } from './brokers.js'
import { cpuCount, type CpuUse } from './cpu.js'
import type { FlowRun } from './flow.js'

export const SATURATED = 0.95

const pct = (x: number): string => `${Math.round(x * 100)}%`

/** The parts of a verdict both kinds of runs share: broker, load generator, machine. */
function cpuVerdict(cpu: CpuUse, target: BrokerTarget, threadNames: readonly string[]): string[] {
  const out: string[] = []
  const cores = brokerCores(target)
  const brokerLoad = target.singleThreaded ? cpu.brokerMain : cpu.broker === null ? null : cpu.broker / cores
  if (brokerLoad !== null && brokerLoad >= SATURATED) out.push(`broker ${pct(brokerLoad)}`)
  let loadgen: string | null = null
  cpu.threads.forEach((busy, i) => {
    if (busy !== null && busy >= SATURATED && loadgen === null) loadgen = `loadgen ${threadNames[i] ?? 'thread'} ${pct(busy)}`
  })
  if (loadgen === null && cpu.loadgen !== null && cpu.loadgen / cpuCount() >= SATURATED) loadgen = `loadgen ${pct(cpu.loadgen / cpuCount())}`
  if (loadgen !== null) out.push(loadgen)
  if (out.length === 0 && cpu.machine !== null && cpu.machine >= SATURATED) {
    // Say where the cores went: to the two sides, to interrupts, or to someone else.
    const irq = cpu.irq ?? 0
    const others = cpu.machine * cpuCount() - irq - (cpu.broker ?? 0) - (cpu.loadgen ?? 0)
    const parts = [`broker ${(cpu.broker ?? 0).toFixed(1)}`, `loadgen ${(cpu.loadgen ?? 0).toFixed(1)}`]
    if (irq >= 0.1) parts.push(`softirq ${irq.toFixed(1)}`)
    if (others >= 0.1) parts.push(`others ${others.toFixed(1)}`)
    out.push(`machine (${parts.join(' + ')})`)
  }
  return out
}

export function flowVerdict(run: FlowRun, target: BrokerTarget, rate: number): string {
  const names = ['pub', ...run.subscriberThreads.map((_, i) => `sub${run.subscriberThreads.length > 1 ? i + 1 : ''}`)]
  const out = cpuVerdict(run.cpu, target, names)
  if (out.length > 0) return out.join(' + ')
  const machine = run.cpu.machine === null ? '' : ` (machine ${pct(run.cpu.machine)})`
  if (rate > 0) return run.published >= rate * 0.97 ? 'rate' : `pacing: ${Math.round(run.published)}/${rate} msgs/s${machine}`
  const { cap, window } = run.stalls
  return cap === 0 && window === 0 ? `none${machine}` : `pacing: ${cap >= window ? 'cap' : 'receipts'}${machine}`
}

export function idleVerdict(cpu: CpuUse, target: BrokerTarget): string {
  return cpuVerdict(cpu, target, []).join(' + ')
}
