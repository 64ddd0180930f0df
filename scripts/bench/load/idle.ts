// The idle-connections measurement: many WebSocket connections that CONNECT with heart-beats and
// then do nothing. Reports the broker's RSS per connection (after the hold, minus before), the
// connect rate, the CPU the broker spends keeping them (heart-beats, pings) and whether every
// one is still alive after the hold. The connections live in child processes (idle-client.ts),
// at most `perProcess` each, because one process may open only 20,000 files here.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BrokerTarget } from './brokers.js'
import { cpuBetween, machineTicks, processTicks, rssBytes, threadTicks, type CpuSample, type CpuUse } from './cpu.js'
import type { IdleFromChild, IdleToChild } from './idle-client.js'
import { nextChildMessage } from './child-message.js'

const CLIENT = fileURLToPath(new URL('./idle-client.ts', import.meta.url))

export interface IdleShape {
  connections: number
  heartBeatMs: number
  holdMs: number
  /** Connections per client process. */
  perProcess: number
}

export interface IdleRun {
  ok: true
  requested: number
  opened: number
  failed: number
  firstError: string | null
  /** Connections opened (CONNECTED) per second, all client processes together. */
  connectRate: number
  connectSeconds: number
  /** CPU while connecting: who limited the connect rate. */
  connectCpu: CpuUse
  /** Broker RSS, bytes: before, once all were connected, after the hold, after they all closed. */
  rssBefore: number | null
  rssConnected: number | null
  rssHeld: number | null
  rssAfter: number | null
  /** (RSS after the hold − RSS before) / connections opened, bytes. */
  perConnection: number | null
  alive: number
  closedEarly: number
  reasons: string[]
  /** CPU during the hold: what keeping the connections costs. */
  cpu: CpuUse
}

export interface IdleFailure {
  ok: false
  error: string
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function next<T extends IdleFromChild['type']>(child: ChildProcess, type: T, ms: number): Promise<Extract<IdleFromChild, { type: T }>> {
  return nextChildMessage<IdleFromChild, T>(child, 'idle client', type, ms)
}

function sample(target: BrokerTarget, clients: readonly ChildProcess[]): CpuSample {
  const pid = target.pid
  let loadgen: number | null = processTicks(process.pid)
  for (const child of clients) {
    const ticks = child.pid === undefined ? null : processTicks(child.pid)
    loadgen = loadgen === null || ticks === null ? null : loadgen + ticks
  }
  return {
    at: performance.now(),
    broker: pid === null ? null : processTicks(pid),
    brokerMain: pid === null ? null : threadTicks(pid, pid),
    loadgen,
    threads: [],
    machine: machineTicks(),
  }
}

/** `[reason, count]` pairs from every client process → `N× reason`, most frequent first. */
function mergeReasons(pairs: ReadonlyArray<[string, number]>): string[] {
  const counts = new Map<string, number>()
  for (const [reason, n] of pairs) counts.set(reason, (counts.get(reason) ?? 0) + n)
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([reason, n]) => `${n}× ${reason}`)
}

export async function runIdle(target: BrokerTarget, shape: IdleShape): Promise<IdleRun | IdleFailure> {
  const endpoint = target.endpoint('ws')
  if (endpoint === null) return { ok: false, error: `${target.label} has no WebSocket listener` }
  const requested = Math.min(shape.connections, target.maxConnections)
  const rss = (): number | null => (target.pid === null ? null : rssBytes(target.pid))
  const processes = Math.max(1, Math.ceil(requested / shape.perProcess))
  const clients: ChildProcess[] = []
  const exits: Array<Promise<void>> = []
  try {
    const rssBefore = rss()
    for (let i = 0; i < processes; i++) {
      const child = fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      clients.push(child)
      exits.push(new Promise((resolve) => child.once('exit', () => resolve())))
    }
    const connectStart = sample(target, clients)
    clients.forEach((child, i) => {
      const count = Math.floor(((i + 1) * requested) / processes) - Math.floor((i * requested) / processes)
      const message: IdleToChild = { type: 'open', endpoint, count, heartBeatMs: shape.heartBeatMs, concurrency: 100 }
      child.send(message)
    })
    const opened = await Promise.all(clients.map((child) => next(child, 'opened', 180_000)))
    const ok = opened.reduce((n, o) => n + o.ok, 0)
    const failed = opened.reduce((n, o) => n + o.failed, 0)
    const slowest = Math.max(...opened.map((o) => o.ms))
    const connectEnd = sample(target, clients)
    await sleep(1000) // let the broker finish what the handshakes started
    const rssConnected = rss()
    const start = sample(target, clients)
    await sleep(shape.holdMs)
    const end = sample(target, clients)
    const rssHeld = rss()
    for (const child of clients) child.send({ type: 'check' } satisfies IdleToChild)
    const checked = await Promise.all(clients.map((child) => next(child, 'checked', 60_000)))
    await Promise.all(exits)
    await sleep(1500) // the broker lets go of closed sessions
    const rssAfter = rss()
    const problem = target.problem()
    if (problem !== null) return { ok: false, error: problem }
    return {
      ok: true,
      requested,
      opened: ok,
      failed,
      firstError: opened.find((o) => o.firstError !== null)?.firstError ?? null,
      connectRate: ok / (slowest / 1000),
      connectSeconds: slowest / 1000,
      connectCpu: cpuBetween(connectStart, connectEnd),
      rssBefore,
      rssConnected,
      rssHeld,
      rssAfter,
      perConnection: rssBefore === null || rssHeld === null || ok === 0 ? null : (rssHeld - rssBefore) / ok,
      alive: checked.reduce((n, c) => n + c.alive, 0),
      closedEarly: checked.reduce((n, c) => n + c.closedEarly, 0),
      reasons: mergeReasons(checked.flatMap((c) => c.reasons)),
      cpu: cpuBetween(start, end),
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message }
  } finally {
    for (const child of clients) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await Promise.all(exits)
  }
}
