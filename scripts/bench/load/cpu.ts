// CPU and memory of processes and threads, read from Linux's /proc, so every figure can say who
// was the bottleneck: the broker, the load generator, or the whole (2-core) machine.
//
// Times are in clock ticks (utime + stime, USER_HZ = 100 on Linux); readers return null where
// /proc is missing (not Linux) so the bench still runs, without its verdicts.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { cpus } from 'node:os'

let ticksPerSecond: number | null = null

/** USER_HZ: what /proc counts CPU time in. */
export function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100 // the Linux default on every common architecture
    }
  }
  return ticksPerSecond
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** utime + stime from a /proc/.../stat line (fields 14 and 15; the command name may contain spaces). */
function ticksOf(stat: string | null): number | null {
  if (stat === null) return null
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  return Number(fields[11]) + Number(fields[12])
}

/** CPU ticks used so far by every thread of a process. */
export function processTicks(pid: number): number | null {
  return ticksOf(readText(`/proc/${pid}/stat`))
}

/** CPU ticks used so far by one thread (the main thread's tid is the pid). */
export function threadTicks(pid: number, tid: number): number | null {
  return ticksOf(readText(`/proc/${pid}/task/${tid}/stat`))
}

/** The calling thread's id (what /proc/<pid>/task/ lists); null where /proc is missing. */
export function currentThreadId(): number | null {
  const stat = readText('/proc/thread-self/stat')
  return stat === null ? null : Number(stat.slice(0, stat.indexOf(' ')))
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number | null {
  const status = readText(`/proc/${pid}/status`)
  const match = status === null ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return match === null ? null : Number(match[1]) * 1024
}

/** Ticks of all CPUs together, from the first line of /proc/stat. */
export interface MachineTicks {
  busy: number
  /** Interrupt and softirq time: on loopback much of the TCP work, charged to no process. */
  irq: number
  total: number
}

export function machineTicks(): MachineTicks | null {
  const stat = readText('/proc/stat')
  if (stat === null) return null
  const values = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number)
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0) // user nice system idle iowait irq softirq steal
  return { busy: total - values[3]! - values[4]!, irq: values[5]! + values[6]!, total }
}

export function cpuCount(): number {
  return cpus().length
}

/** The pid of the first process whose command name (/proc/<pid>/comm) is `name`. */
export function findProcess(name: string): number | null {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return null
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    if (readText(`/proc/${entry}/comm`)?.trim() === name) return Number(entry)
  }
  return null
}

/** A process's soft limit on open files. */
export function openFileLimit(pid: number): number | null {
  const limits = readText(`/proc/${pid}/limits`)
  const match = limits === null ? null : /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (match === null) return null
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1])
}

/** A point-in-time reading of the CPU counters one run compares at the start and end of its window. */
export interface CpuSample {
  at: number // ms, performance.now()
  broker: number | null // ticks, whole process
  brokerMain: number | null // ticks, its main thread
  loadgen: number | null // ticks, this process (every worker thread) plus load child processes
  threads: Array<number | null> // ticks per load worker thread
  machine: MachineTicks | null
  /** Ticks of a target's other processes (BrokerTarget.processes: cluster.ts's nodes and Redis), in order. */
  processes?: Array<number | null>
}

export interface CpuUse {
  /** Cores used (1.0 = one core busy the whole window). */
  broker: number | null
  brokerMain: number | null
  loadgen: number | null
  threads: Array<number | null>
  /** Fraction of all the machine's CPUs busy, whoever used them. */
  machine: number | null
  /** Cores spent in interrupts and softirqs (not in any process's own time). */
  irq: number | null
  /** Cores used by each of the target's other processes, when it names any (BrokerTarget.processes). */
  processes?: Array<number | null>
}

function perSecond(a: number | null, b: number | null, seconds: number): number | null {
  return a === null || b === null ? null : (b - a) / clockTicks() / seconds
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuUse {
  const seconds = (b.at - a.at) / 1000
  return {
    broker: perSecond(a.broker, b.broker, seconds),
    brokerMain: perSecond(a.brokerMain, b.brokerMain, seconds),
    loadgen: perSecond(a.loadgen, b.loadgen, seconds),
    threads: a.threads.map((t, i) => perSecond(t, b.threads[i] ?? null, seconds)),
    machine: a.machine === null || b.machine === null ? null : (b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total),
    irq: a.machine === null || b.machine === null ? null : ((b.machine.irq - a.machine.irq) * cpuCount()) / Math.max(1, b.machine.total - a.machine.total),
    ...(a.processes === undefined ? {} : { processes: a.processes.map((t, i) => perSecond(t, b.processes?.[i] ?? null, seconds)) }),
  }
}
