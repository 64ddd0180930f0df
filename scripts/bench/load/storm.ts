// One run of a connect storm against one broker: `connects` short-lived WebSocket connections,
// `concurrency` at a time over `processes` client processes (storm-client.ts), each CONNECT →
// CONNECTED → DISCONNECT → closed. The figure is connections per second: connections that got
// CONNECTED over the wall time from the start signal to the last one closed. Each run first
// opens and closes `warmup` connections that are not counted, so a broker's first connections
// (JIT, a fresh pool of sessions) do not decide the figure.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BrokerTarget } from './brokers.js'
import { cpuBetween, machineTicks, processTicks, rssBytes, threadTicks, type CpuSample, type CpuUse } from './cpu.js'
import type { StormFromChild, StormToChild } from './storm-client.js'
import { nextChildMessage } from './child-message.js'

const CLIENT = fileURLToPath(new URL('./storm-client.ts', import.meta.url))
/** Longest a child may take to start and warm up, or to finish its share of the storm. */
const STEP_TIMEOUT_MS = 120_000

export interface StormShape {
  /** Connections counted. */
  connects: number
  /** Connections being opened or closed at once, over all client processes. */
  concurrency: number
  /** Client processes (each one event loop): enough that the load generator is not the limit. */
  processes: number
  /** Connections opened and closed before the counted ones, over all processes. */
  warmup: number
}

export interface StormRun {
  ok: true
  kind: 'storm'
  requested: number
  /** Connections that got CONNECTED. */
  opened: number
  failed: number
  firstError: string | null
  seconds: number
  /** opened / seconds. */
  connectRate: number
  /** CPU during the storm; `threads` holds each client process's. */
  cpu: CpuUse
  /** Broker RSS at the end of the storm, bytes. */
  rss: number | null
}

export interface StormFailure {
  ok: false
  error: string
}

function next<T extends StormFromChild['type']>(child: ChildProcess, type: T, ms: number): Promise<Extract<StormFromChild, { type: T }>> {
  return nextChildMessage<StormFromChild, T>(child, 'storm client', type, ms)
}

function sample(target: BrokerTarget, clients: readonly ChildProcess[]): CpuSample {
  const pid = target.pid
  const threads = clients.map((child) => (child.pid === undefined ? null : processTicks(child.pid)))
  let loadgen: number | null = processTicks(process.pid)
  for (const ticks of threads) loadgen = loadgen === null || ticks === null ? null : loadgen + ticks
  return {
    at: performance.now(),
    broker: pid === null ? null : processTicks(pid),
    brokerMain: pid === null ? null : threadTicks(pid, pid),
    loadgen,
    threads,
    machine: machineTicks(),
  }
}

/** The i-th of `parts` nearly equal shares of `n`. */
const share = (n: number, parts: number, i: number): number => Math.floor(((i + 1) * n) / parts) - Math.floor((i * n) / parts)

export async function runStorm(target: BrokerTarget, shape: StormShape): Promise<StormRun | StormFailure> {
  const endpoint = target.endpoint('ws')
  if (endpoint === null) return { ok: false, error: `${target.label} has no WebSocket listener` }
  const clients: ChildProcess[] = []
  const exits: Array<Promise<void>> = []
  try {
    let first = 0
    for (let i = 0; i < shape.processes; i++) {
      const child = fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      clients.push(child)
      exits.push(new Promise((resolve) => child.once('exit', () => resolve())))
      const count = share(shape.connects, shape.processes, i)
      const message: StormToChild = {
        type: 'prepare',
        endpoint,
        first,
        count,
        concurrency: Math.max(1, share(shape.concurrency, shape.processes, i)),
        warmup: share(shape.warmup, shape.processes, i),
      }
      child.send(message)
      first += count
    }
    await Promise.all(clients.map((child) => next(child, 'ready', STEP_TIMEOUT_MS)))
    const start = sample(target, clients)
    for (const child of clients) child.send({ type: 'go' } satisfies StormToChild)
    const results = await Promise.all(clients.map((child) => next(child, 'done', STEP_TIMEOUT_MS)))
    const end = sample(target, clients)
    const rss = target.pid === null ? null : rssBytes(target.pid)
    const problem = target.problem()
    if (problem !== null) return { ok: false, error: problem }
    const opened = results.reduce((n, r) => n + r.ok, 0)
    const seconds = (end.at - start.at) / 1000
    if (opened === 0) return { ok: false, error: `no connection got CONNECTED: ${results.find((r) => r.firstError !== null)?.firstError ?? '?'}` }
    return {
      ok: true,
      kind: 'storm',
      requested: shape.connects,
      opened,
      failed: results.reduce((n, r) => n + r.failed, 0),
      firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      seconds,
      connectRate: opened / seconds,
      cpu: cpuBetween(start, end),
      rss,
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message }
  } finally {
    for (const child of clients) if (child.connected) child.disconnect()
    const timer = setTimeout(() => {
      for (const child of clients) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }, 5000)
    await Promise.all(exits)
    clearTimeout(timer)
  }
}
