// Scale-out on Redis (issue 21): what a cluster of stompd nodes joined through Redis delivers
// against one stompd alone, how fast it recovers what a killed node held, and how far it scales
// before Redis itself is the limit. Everything runs on this machine, in one run:
//
//   1. one vs three: topic fan-out ×100 (1 publisher, 100 subscribers) and queue 4×4 (4
//      producers, 4 consumers, ack:client-individual), 256-byte bodies over TCP, on ONE stompd
//      (`--store memory`, no Redis) and on THREE (`--store memory --redis`) sharing a private
//      redis-server. Publishers connect to node 1, subscribers round-robin to nodes 1, 2, 3. The
//      two take turns run by run (load/flow.ts's runFlow, as every broker figure; a ratio is the
//      median of the per-round ratios). Delivered msgs/s, three/one (target ≥ 0.5×), and the CPU
//      of every process: each node, redis-server, the load generator (this process).
//   2. failover: a fresh Redis and three nodes; a queue with an ack:client-individual consumer on
//      node 2 that never acks and one on node 3 that acks each message; a producer on node 1
//      sends continuously (FAILOVER_RATE msgs/s, a RECEIPT for every SEND, at most
//      FAILOVER_WINDOW unreceipted). After FAILOVER_HOLD_MS node 2 is killed with SIGKILL; the
//      figure is the time from the kill until every message node 2's consumer held has reached
//      the consumer on node 3 marked redelivered:true (target < 5 s). Then the producer stops
//      and every receipted message must be at node 3: losses and duplicates are counted. Once
//      more with node 2's consumer at prefetch-count FAILOVER_PREFETCH, so it holds little: how
//      much of the time is the liveness TTL and how much the claiming of what was held.
//   3. capacity model: a fresh Redis and one node, the node pinned to CPU 0 and redis-server to
//      CPU 1 (taskset -a: every thread), the load generator (this process and its worker
//      threads) on CPU 1 beside Redis, so the node has its core to itself; both shapes again, the
//      node's delivered msgs/s and Redis's CPU per message. With every node on its own core,
//      delivered/s ≈ N × that rate until Redis's one core is used up, at
//      N ≈ 1 / (Redis CPU s per message × per-node rate) = 1 / (Redis cores one node uses).
//
// Redis runs with AOF at `appendfsync everysec`, as docker-compose.cluster.yml and the cluster
// specs run it, in a temp dir on a free port: never the machine's Redis on 6379.
//
//   npm run bench -- cluster [--quick]      (--quick: 1 run of 4 s per figure; else 3 of 5 s)
//
// STOMPD_BENCH_NODE_ARGS, STOMPD_BENCH_CLI and STOMPD_BENCH_LOG_LEVEL apply to every node, as to
// the other benches' stompd (load/brokers.ts). Never fails on numbers: targets are printed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, getHeader, type Command, type Frame, type Header } from '../../lib/frame/frame.js'
import type { BenchOptions } from './harness.js'
import { startChild, stompdCommand, stopChild, type BrokerTarget } from './load/brokers.js'
import { LoadConnection, type Endpoint } from './load/client.js'
import { cpuCount, type CpuUse } from './load/cpu.js'
import { flowShape } from './load/figure.js'
import { runFlow, type FlowFailure, type FlowRun, type FlowShape, type RunTiming } from './load/flow.js'
import { WorkerPool } from './load/pool.js'
import { flowVerdict, SATURATED } from './load/verdict.js'

const FULL: RunTiming & { runs: number } = { runs: 3, warmupMs: 1000, measureMs: 5000, drainMs: 2000 }
const QUICK: RunTiming & { runs: number } = { runs: 1, warmupMs: 500, measureMs: 4000, drainMs: 1500 }

/** Three nodes must deliver at least half of what one does (issue 21). */
const RATIO_TARGET = 0.5
/** What a killed node held must be delivered elsewhere within this (issue 21). */
const FAILOVER_TARGET_MS = 5000
const FAILOVER_RATE = 1000
const FAILOVER_WINDOW = 100
const FAILOVER_BODY = 256
/** A second failover with node 2's consumer at this prefetch-count: what recovery costs when a node holds little. */
const FAILOVER_PREFETCH = 100
/** How long the producer runs (node 2's consumer holding what it gets) before node 2 is killed. */
const FAILOVER_HOLD_MS = { quick: 2000, full: 3000 }
/** How long after the kill we wait for the held messages, and then for every receipted one. */
const FAILOVER_WAIT_MS = 60_000
const SETTLE_WAIT_MS = 20_000
const READY_TIMEOUT_MS = 20_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const count = (n: number): string => Math.round(n).toLocaleString('en-US')
const pct = (cores: number | null | undefined): string => (cores === null || cores === undefined ? '?' : `${Math.round(cores * 100)}%`)
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// ---------------------------------------------------------------------------------------------
// Processes: a private redis-server and stompd nodes, on free loopback ports.

/** Ports handed out in this run, so two picks never collide before their owners bind them. */
const picked = new Set<number>()

/** A free loopback port: bind port 0, read what the kernel gave, let it go. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    await new Promise((resolve) => server.close(resolve))
    if (!picked.has(port)) {
      picked.add(port)
      return port
    }
  }
}

/** redis-servers alive now, killed when this process exits however it ends (brokers.ts does the same for node children). */
const redisChildren = new Set<ChildProcess>()
let redisExitHook = false

interface RedisProcess {
  url: string
  pid: number
  problem(): string | null
  stop(): Promise<void>
}

async function startRedis(): Promise<RedisProcess> {
  if (!redisExitHook) {
    redisExitHook = true
    process.on('exit', () => { for (const child of redisChildren) child.kill('SIGKILL') })
  }
  const dir = mkdtempSync(join(tmpdir(), 'stompd-bench-redis-'))
  const port = await freePort()
  // AOF every second, as docker-compose.cluster.yml; no RDB snapshots.
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
    '--protected-mode', 'no',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  redisChildren.add(child)
  child.once('exit', () => redisChildren.delete(child))
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${output}`)), 10_000)
      child.once('error', (err) => { clearTimeout(timer); reject(new Error(`redis-server could not be started (apt-get install redis-server): ${err.message}`)) })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}: ${output}`)) })
      const check = (): void => {
        if (!output.includes('Ready to accept connections')) return
        clearTimeout(timer)
        child.stdout!.off('data', check)
        resolve()
      }
      child.stdout!.on('data', check)
    })
  } catch (err) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    problem: () => (child.exitCode === null && child.signalCode === null ? null : `redis-server exited (${child.signalCode ?? child.exitCode})`),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGKILL') // its data is throwaway
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

interface StompdNode {
  label: string
  pid: number
  child: ChildProcess
  /** `tcp://127.0.0.1:<port>`, for load/client.ts. */
  tcp: string
  http: string
  /** Warning and error lines it printed (it runs at --log-level warn): the first few, and how many. */
  complaints: { first: string[], count: number }
  problem(): string | null
  stop(): Promise<void>
}

/** GET /readyz until it answers 200: a node with --redis is ready once both its Redis connections are. */
async function waitReady(node: StompdNode): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let last = 'no answer'
  for (;;) {
    const problem = node.problem()
    if (problem !== null) throw new Error(problem)
    try {
      const response = await fetch(`${node.http}/readyz`)
      if (response.status === 200) return
      last = `${response.status} ${await response.text()}`
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`${node.label}: /readyz not 200 within ${READY_TIMEOUT_MS / 1000} s (${last})`)
    await sleep(100)
  }
}

async function startNode(label: string, redis: string | null): Promise<StompdNode> {
  const port = await freePort()
  const tcpPort = await freePort()
  const flags = [
    '--host', '127.0.0.1', '--port', String(port), '--tcp-port', String(tcpPort), '--store', 'memory',
    '--log-level', process.env.STOMPD_BENCH_LOG_LEVEL ?? 'warn', ...(redis === null ? [] : ['--redis', redis]),
  ]
  const started = await startChild(label, [...stompdCommand(), ...flags], /stompd listening \S+ tcp=(\S+)/)
  const { child } = started
  const complaints = { first: [] as string[], count: 0 }
  let partial = ''
  const listen = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      if (line.trim() === '' || line.startsWith('stompd listening')) continue
      // pino's JSON lines below warn (STOMPD_BENCH_LOG_LEVEL=info or debug) are no complaint.
      const level = /^\{"level":(\d+)/.exec(line)
      if (level !== null && Number(level[1]) < 40) continue
      complaints.count++
      if (complaints.first.length < 5) complaints.first.push(line.slice(0, 300))
    }
  }
  child.stdout!.on('data', listen)
  child.stderr!.on('data', listen)
  const node: StompdNode = {
    label,
    pid: child.pid!,
    child,
    tcp: `tcp://127.0.0.1:${tcpPort}`,
    http: `http://127.0.0.1:${port}`,
    complaints,
    problem: () => (child.exitCode === null && child.signalCode === null ? null : `${label} exited (${child.signalCode ?? `code ${child.exitCode}`})`),
    stop: () => stopChild(child),
  }
  try {
    await waitReady(node)
  } catch (err) {
    await node.stop()
    throw err
  }
  return node
}

/** A set of processes that stop together (in reverse order of start), whatever happens. */
class Processes {
  private readonly stops: Array<() => Promise<void>> = []
  readonly nodes: StompdNode[] = []

  async redis(): Promise<RedisProcess> {
    const redis = await startRedis()
    this.stops.unshift(() => redis.stop())
    return redis
  }

  async node(label: string, redis: string | null): Promise<StompdNode> {
    const node = await startNode(label, redis)
    this.stops.unshift(() => node.stop())
    this.nodes.push(node)
    return node
  }

  async close(): Promise<void> {
    for (const stop of this.stops.splice(0)) await stop().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// Flow figures: load/flow.ts's runFlow against one node or a cluster.

const FANOUT: FlowShape = flowShape('cluster-fanout-100', { transport: 'tcp', subscribers: 100, subscriberThreads: 2 })
const QUEUE: FlowShape = flowShape('cluster-queue-4x4', { transport: 'tcp', mode: 'queue', ack: 'client-individual', publishers: 4, subscribers: 4, subscriberThreads: 2 })
const SHAPES: ReadonlyArray<{ shape: FlowShape, title: string }> = [
  { shape: FANOUT, title: 'topic fan-out tcp ×100' },
  { shape: QUEUE, title: 'queue 4×4 ack:client-individual' },
]

/** One node, or nodes through Redis: publishers on the first, subscribers round-robin over all. */
function target(label: string, nodes: readonly StompdNode[], redis: RedisProcess | null): BrokerTarget {
  const first = nodes[0]!
  const endpoint: Endpoint = {
    transport: 'tcp',
    url: first.tcp,
    stomp: true,
    connectHeaders: [['host', '127.0.0.1']],
    ...(nodes.length > 1 ? { subscriberUrls: nodes.map((n) => n.tcp) } : {}),
  }
  return {
    kind: 'stompd',
    label,
    pid: first.pid,
    singleThreaded: true,
    maxConnections: Number.POSITIVE_INFINITY,
    endpoint: (transport) => (transport === 'tcp' ? endpoint : null),
    problem: () => nodes.map((n) => n.problem()).find((p) => p !== null) ?? redis?.problem() ?? null,
    processes: [...nodes.map((n) => ({ label: n.label, pid: n.pid })), ...(redis === null ? [] : [{ label: 'redis', pid: redis.pid }])],
  }
}

interface Runs {
  target: BrokerTarget
  runs: Array<FlowRun | FlowFailure>
}

const okRuns = (r: Runs): FlowRun[] => r.runs.filter((run): run is FlowRun => run.ok)

/** The run whose delivered rate is the median (the lower middle for an even count), or null. */
function medianRun(r: Runs): FlowRun | null {
  const ok = okRuns(r).sort((a, b) => a.delivered - b.delivered)
  return ok.length === 0 ? null : ok[(ok.length - 1) >> 1]!
}

const labelsOf = (t: BrokerTarget): string[] => (t.processes ?? []).map((p) => p.label)

/** `node 1 97%, node 2 40%, redis 30%, loadgen 180%` (of one core each) for a run's window. */
function cpuLine(labels: readonly string[], cpu: CpuUse): string {
  const parts = labels.map((label, i) => `${label} ${pct(cpu.processes?.[i])}`)
  parts.push(`loadgen ${pct(cpu.loadgen)}`)
  const machine = cpu.machine === null ? '' : `; machine ${Math.round(cpu.machine * 100)}% of ${cpuCount()} cores${cpu.irq !== null && cpu.irq >= 0.05 ? ` (softirq ${pct(cpu.irq)})` : ''}`
  return `CPU (of one core) ${parts.join(', ')}${machine}`
}

/** Losses, reordering or duplicates, and errors a run saw: empty when clean. */
function problems(run: FlowRun): string {
  return [
    run.lost > 0 ? `LOST ${count(run.lost)}` : '',
    run.outOfOrder > 0 ? `OUT OF ORDER/DUPLICATE ${count(run.outOfOrder)}` : '',
    run.errors.length > 0 ? `errors: ${run.errors.slice(0, 3).join('; ')}${run.errors.length > 3 ? ` (+${run.errors.length - 3})` : ''}` : '',
  ].filter((p) => p !== '').join('; ')
}

function progress(id: string, label: string, run: FlowRun | FlowFailure, round: number, runs: number, t: BrokerTarget): void {
  if (!run.ok) {
    console.log(`  ${id.padEnd(20)} ${label.padEnd(22)} FAILED: ${run.error}  (run ${round}/${runs})`)
    return
  }
  const flags = problems(run)
  console.log(`  ${id.padEnd(20)} ${label.padEnd(22)} ${count(run.delivered).padStart(9)} delivered/s, ${count(run.published)} published/s  (run ${round}/${runs}; saturated: ${flowVerdict(run, t, 0)})`
    + `\n  ${''.padEnd(20)} ${''.padEnd(22)} ${cpuLine(labelsOf(t), run.cpu)}${flags === '' ? '' : `\n  ${''.padEnd(43)} ${flags}`}`)
}

/** Runs `shape` on each target `runs` times, taking turns in a rotating order; fresh load workers per figure. */
async function compare(pool: WorkerPool, shape: FlowShape, targets: readonly BrokerTarget[], timing: RunTiming & { runs: number }): Promise<Runs[]> {
  await pool.close()
  const all: Runs[] = targets.map((t) => ({ target: t, runs: [] }))
  for (let round = 0; round < timing.runs; round++) {
    for (let k = 0; k < all.length; k++) {
      const r = all[(round + k) % all.length]!
      const run = await runFlow(pool, r.target, shape, timing)
      r.runs.push(run)
      progress(shape.name, r.target.label, run, round + 1, timing.runs, r.target)
    }
  }
  return all
}

interface Comparison {
  title: string
  one: FlowRun | null
  three: FlowRun | null
  ratio: number | null
  ratios: number[]
  /** Every problem any run saw, by contender. */
  problems: string[]
}

async function oneVersusThree(pool: WorkerPool, timing: RunTiming & { runs: number }): Promise<Comparison[]> {
  const processes = new Processes()
  try {
    const single = await processes.node('stompd', null)
    const redis = await processes.redis()
    const nodes = [await processes.node('node 1', redis.url), await processes.node('node 2', redis.url), await processes.node('node 3', redis.url)]
    const one = target('one stompd', [single], null)
    const three = target('three stompd + Redis', nodes, redis)
    const out: Comparison[] = []
    for (const { shape, title } of SHAPES) {
      const [a, b] = await compare(pool, shape, [one, three], timing) as [Runs, Runs]
      // Runs with the same index ran in the same round, side by side in time.
      const ratios: number[] = []
      a.runs.forEach((run, i) => {
        const other = b.runs[i]
        if (run.ok && other?.ok === true && run.delivered > 0) ratios.push(other.delivered / run.delivered)
      })
      const issues: string[] = []
      for (const r of [a, b]) {
        for (const run of r.runs) {
          const text = run.ok ? problems(run) : `FAILED: ${run.error}`
          if (text !== '') issues.push(`${r.target.label}: ${text}`)
        }
      }
      out.push({ title, one: medianRun(a), three: medianRun(b), ratio: ratios.length === 0 ? null : median(ratios), ratios, problems: issues })
    }
    reportComplaints('one vs three', processes.nodes)
    return out
  } finally {
    await processes.close()
  }
}

/** Every node's warnings and errors of this run, for the summary. */
const complaintLines: string[] = []

/** What the nodes printed at warn level or above (and anything not pino's): nothing is expected. */
function reportComplaints(part: string, nodes: readonly StompdNode[]): void {
  for (const node of nodes) {
    if (node.complaints.count === 0) continue
    const line = `${part}: ${node.label} printed ${node.complaints.count} warning/error line${node.complaints.count === 1 ? '' : 's'}, first: ${node.complaints.first.join(' | ')}`
    console.log(`  ${line}`)
    complaintLines.push(line)
  }
}

// ---------------------------------------------------------------------------------------------
// Failover: a small STOMP client on load/client.ts's LoadConnection, in this thread.

interface Delivery {
  seq: number
  redelivered: boolean
  /** performance.now() when it arrived. */
  at: number
}

/** One STOMP connection that records the MESSAGEs it gets (by the `seq` header) and waits for RECEIPTs. */
class Peer {
  readonly deliveries: Delivery[] = []
  closedAt: number | null = null
  readonly errors: string[] = []
  private readonly connection: LoadConnection
  private readonly receipts = new Map<string, () => void>()
  /** Called on every RECEIPT with its id (the producer's window). */
  onReceipt: (id: string) => void = () => {}

  constructor(url: string, private readonly name: string, private readonly ack: boolean) {
    this.connection = new LoadConnection({ transport: 'tcp', url, stomp: true, connectHeaders: [['host', '127.0.0.1']] }, {
      onFrame: (frame) => this.frame(frame),
      onClose: (_expected, detail) => {
        this.closedAt = performance.now()
        if (!this.closing) this.errors.push(`${this.name}: ${detail}`)
      },
    })
  }

  private closing = false

  open(): Promise<Frame | null> {
    return this.connection.open('0,0')
  }

  write(command: Command, headers: Header[], body: Buffer = EMPTY_BODY): void {
    this.connection.write(encodeFrame(command, headers, body, '1.2'))
  }

  /** SUBSCRIBE with a receipt; resolves once the broker confirms it. */
  subscribe(destination: string, extra: Header[] = []): Promise<void> {
    const done = new Promise<void>((resolve) => this.receipts.set('sub', resolve))
    this.write('SUBSCRIBE', [['id', '0'], ['destination', destination], ['ack', 'client-individual'], ['receipt', 'sub'], ...extra])
    return done
  }

  close(): Promise<void> {
    this.closing = true
    return this.connection.close(1000)
  }

  private frame(frame: Frame): void {
    if (frame.command === 'MESSAGE') {
      const seq = Number(getHeader(frame, 'seq'))
      this.deliveries.push({ seq, redelivered: getHeader(frame, 'redelivered') === 'true', at: performance.now() })
      const ack = getHeader(frame, 'ack')
      if (this.ack && ack !== undefined) this.write('ACK', [['id', ack]])
      return
    }
    if (frame.command === 'RECEIPT') {
      const id = getHeader(frame, 'receipt-id') ?? ''
      const waiter = this.receipts.get(id)
      if (waiter !== undefined) {
        this.receipts.delete(id)
        waiter()
      } else {
        this.onReceipt(id)
      }
      return
    }
    this.errors.push(`${this.name}: ${frame.command} ${getHeader(frame, 'message') ?? ''} ${frame.body.toString('utf8', 0, 200)}`.trim())
  }
}

/**
 * Sends to `destination` at `rate` msgs/s, every SEND with a receipt, never more than `window`
 * unreceipted (RECEIPTs come in order, so the highest id is how many are confirmed).
 */
class Producer {
  sent = 0
  receipted = 0
  private timer: NodeJS.Timeout | null = null
  private readonly body = Buffer.alloc(FAILOVER_BODY, 'x')
  private startedAt = 0

  constructor(private readonly peer: Peer, private readonly destination: string, private readonly rate: number, private readonly window: number) {
    peer.onReceipt = (id) => { this.receipted = Math.max(this.receipted, Number(id)) }
  }

  start(): void {
    this.startedAt = performance.now()
    this.timer = setInterval(() => this.tick(), 5)
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) * this.rate) / 1000) - this.sent
    const n = Math.min(due, this.window - (this.sent - this.receipted))
    for (let i = 0; i < n; i++) {
      const seq = this.sent++
      this.peer.write('SEND', [['destination', this.destination], ['seq', String(seq)], ['receipt', String(seq + 1)]], this.body)
    }
  }
}

interface Failover {
  /** node 2's consumer's prefetch-count, or null for none (it takes up to --max-unacked, 10,000). */
  prefetch: number | null
  held: number
  /** From the kill to the last held message redelivered at node 3; null if not within FAILOVER_WAIT_MS. */
  allMs: number | null
  firstMs: number | null
  /** Node 3 got this many redelivered messages node 2's consumer had never seen (fetched by node 2, not yet handed out). */
  fetchedNotDelivered: number
  sent: number
  receipted: number
  lost: number
  duplicates: number
  duplicatesUnflagged: number
  heldUnflagged: number
  errors: string[]
}

async function failover(quick: boolean, prefetch: number | null): Promise<Failover> {
  const processes = new Processes()
  const peers: Peer[] = []
  try {
    const redis = await processes.redis()
    const [, two, three] = [await processes.node('node 1', redis.url), await processes.node('node 2', redis.url), await processes.node('node 3', redis.url)]
    const nodes = processes.nodes
    const destination = `/queue/bench.failover.${randomBytes(4).toString('hex')}`
    const holder = new Peer(two!.tcp, 'consumer on node 2', false)
    const worker = new Peer(three!.tcp, 'consumer on node 3', true)
    const producerPeer = new Peer(nodes[0]!.tcp, 'producer on node 1', false)
    peers.push(holder, worker, producerPeer)
    for (const peer of peers) await peer.open()
    await holder.subscribe(destination, prefetch === null ? [] : [['prefetch-count', String(prefetch)]])
    await worker.subscribe(destination)
    const producer = new Producer(producerPeer, destination, FAILOVER_RATE, FAILOVER_WINDOW)
    producer.start()
    await sleep(quick ? FAILOVER_HOLD_MS.quick : FAILOVER_HOLD_MS.full)

    const killedAt = performance.now()
    two!.child.kill('SIGKILL')
    await new Promise<void>((resolve) => {
      if (two!.child.exitCode !== null || two!.child.signalCode !== null) resolve()
      else two!.child.once('exit', () => resolve())
    })
    // What reached node 2's consumer before its socket closed is what it held.
    for (let i = 0; i < 100 && holder.closedAt === null; i++) await sleep(10)
    const held = new Set(holder.deliveries.map((d) => d.seq))

    // Every held message at node 3, marked redelivered.
    const redeliveredAt = new Map<number, number>()
    let seen = 0
    let allMs: number | null = null
    while (performance.now() - killedAt < FAILOVER_WAIT_MS) {
      for (; seen < worker.deliveries.length; seen++) {
        const d = worker.deliveries[seen]!
        if (d.redelivered && held.has(d.seq) && !redeliveredAt.has(d.seq)) redeliveredAt.set(d.seq, d.at)
      }
      if (redeliveredAt.size === held.size) {
        allMs = Math.max(killedAt, ...redeliveredAt.values()) - killedAt
        break
      }
      await sleep(10)
    }
    const firstRedelivered = worker.deliveries.find((d) => d.redelivered)
    const firstMs = firstRedelivered === undefined ? null : firstRedelivered.at - killedAt

    // Stop sending; every receipted message must reach node 3.
    producer.stop()
    const settleBy = performance.now() + SETTLE_WAIT_MS
    const got = (): Set<number> => new Set(worker.deliveries.map((d) => d.seq))
    while (performance.now() < settleBy) {
      const have = got()
      let missing = 0
      for (let seq = 0; seq < producer.receipted; seq++) if (!have.has(seq)) missing++
      if (missing === 0 && producer.sent === producer.receipted) break
      await sleep(50)
    }
    await sleep(500) // anything late (a duplicate) still counts
    const times = new Map<number, number>()
    for (const d of worker.deliveries) times.set(d.seq, (times.get(d.seq) ?? 0) + 1)
    const have = got()
    let lost = 0
    for (let seq = 0; seq < producer.receipted; seq++) if (!have.has(seq)) lost++
    // A second delivery of a message to node 3 must say redelivered.
    const firstSeen = new Set<number>()
    let duplicatesUnflagged = 0
    for (const d of worker.deliveries) {
      if (firstSeen.has(d.seq) && !d.redelivered) duplicatesUnflagged++
      firstSeen.add(d.seq)
    }
    const heldUnflagged = worker.deliveries.filter((d) => held.has(d.seq) && !d.redelivered).length
    const fetchedNotDelivered = new Set(worker.deliveries.filter((d) => d.redelivered && !held.has(d.seq)).map((d) => d.seq)).size
    const errors = [...holder.errors.filter((e) => !e.includes('closed') && !e.includes('ECONNRESET')), ...worker.errors, ...producerPeer.errors]
    reportComplaints(`failover${prefetch === null ? '' : ` (prefetch-count ${prefetch})`}`, nodes)
    return {
      prefetch,
      held: held.size,
      allMs,
      firstMs,
      fetchedNotDelivered,
      sent: producer.sent,
      receipted: producer.receipted,
      lost,
      duplicates: [...times.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0),
      duplicatesUnflagged,
      heldUnflagged,
      errors,
    }
  } finally {
    await Promise.all(peers.map((p) => p.close().catch(() => {})))
    await processes.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Capacity model: one node and Redis, each on its own core.

/** `taskset` for every thread of `pid` (threads made later inherit it); the old mask, to put back. */
function pin(pid: number, cpus: string): string {
  const old = /:\s*([0-9a-f]+)\s*$/i.exec(execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }))?.[1] ?? 'ffffffff'
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
  return old
}

function unpin(pid: number, mask: string): void {
  execFileSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' })
}

/**
 * Who limited a pinned run: the node (its core), CPU 1 (Redis and the load generator share it),
 * else what load/verdict.ts says (it takes the load generator to have every core).
 */
function pinnedVerdict(run: FlowRun, t: BrokerTarget): string {
  const [node, redis] = run.cpu.processes ?? []
  if (node !== null && node !== undefined && node >= SATURATED) return `node ${pct(node)} of CPU 0`
  const cpu1 = (redis ?? 0) + (run.cpu.loadgen ?? 0)
  if (cpu1 >= SATURATED) return `CPU 1 ${pct(cpu1)} (load generator ${pct(run.cpu.loadgen)} + Redis ${pct(redis)}): the node's rate is a floor`
  return flowVerdict(run, t, 0)
}

interface Capacity {
  title: string
  run: FlowRun | null
  /** Redis cores used, node cores used, over the median run's window. */
  redis: number | null
  node: number | null
  /** Who saturated in the median run (load/verdict.ts; "broker" is the node). */
  verdict: string
  problems: string[]
}

async function capacity(pool: WorkerPool, timing: RunTiming & { runs: number }): Promise<Capacity[] | string> {
  if (cpuCount() < 2) return 'skipped: needs 2 CPUs'
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return 'skipped: no taskset (util-linux)'
  }
  const processes = new Processes()
  let loadgenMask: string | null = null
  try {
    const redis = await processes.redis()
    const node = await processes.node('node', redis.url)
    pin(node.pid, '0')
    pin(redis.pid, '1')
    loadgenMask = pin(process.pid, '1') // before compare() starts fresh load workers: they inherit it
    const t = target('one stompd + Redis, pinned', [node], redis)
    const out: Capacity[] = []
    for (const { shape, title } of SHAPES) {
      const [r] = await compare(pool, { ...shape, name: `${shape.name}-pinned` }, [t], timing) as [Runs]
      const run = medianRun(r)
      const issues = r.runs.map((x) => (x.ok ? problems(x) : `FAILED: ${x.error}`)).filter((x) => x !== '')
      out.push({ title, run, node: run?.cpu.processes?.[0] ?? null, redis: run?.cpu.processes?.[1] ?? null, verdict: run === null ? 'failed' : pinnedVerdict(run, t), problems: issues })
    }
    reportComplaints('capacity', processes.nodes)
    return out
  } finally {
    if (loadgenMask !== null) {
      await pool.close() // workers pinned with us go; the next figure starts unpinned ones
      unpin(process.pid, loadgenMask)
    }
    await processes.close()
  }
}

// ---------------------------------------------------------------------------------------------

function describeFailover(fail: Failover): string[] {
  const verdict = fail.allMs === null ? `not within ${FAILOVER_WAIT_MS / 1000} s: MISSED` : `${fail.allMs < FAILOVER_TARGET_MS ? 'met' : 'MISSED'}`
  const how = fail.prefetch === null ? 'no prefetch limit' : `prefetch-count ${fail.prefetch}`
  // After the first claim, how fast the rest came (the reaper claims in batches, once a second).
  const spread = fail.allMs !== null && fail.firstMs !== null && fail.allMs - fail.firstMs > 500 ? `, then ${count(fail.held / ((fail.allMs - fail.firstMs) / 1000))}/s` : ''
  const lines = [
    `failover, node 2's consumer with ${how}: kill -9 of node 2 holding ${count(fail.held)} unacked; all at node 3, redelivered, ${fail.allMs === null ? '—' : seconds(fail.allMs)} after the kill `
      + `(target < ${FAILOVER_TARGET_MS / 1000} s: ${verdict}); the first after ${fail.firstMs === null ? '—' : seconds(fail.firstMs)}${spread}`,
    `  ${count(fail.sent)} sent, ${count(fail.receipted)} receipted; lost ${fail.lost}; duplicates at node 3 ${fail.duplicates} (${fail.duplicatesUnflagged} without redelivered:true); `
      + `held ones delivered without redelivered:true ${fail.heldUnflagged}; ${fail.fetchedNotDelivered} more came redelivered that node 2 had fetched and not handed out`,
  ]
  for (const e of fail.errors.slice(0, 5)) lines.push(`  ${e}`)
  return lines
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)))
  const lines = rows.map((r) => r.map((cell, col) => (col > 0 && col < r.length - 1 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  ').trimEnd())
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return lines
}

export async function run(options: BenchOptions): Promise<void> {
  const timing = options.quick ? QUICK : FULL
  complaintLines.length = 0
  console.log(`cluster${options.quick ? ' (--quick: one short run per figure, indicative only)' : ''}: one stompd vs three through a private Redis (AOF everysec); `
    + `${timing.runs === 1 ? '1 run' : `median of ${timing.runs} runs`} of ${timing.measureMs / 1000} s after ${timing.warmupMs / 1000} s warm-up; `
    + `STOMP 1.2 over TCP, 256 B bodies; ${cpuCount()} CPUs, node ${process.version}; everything on this machine`)
  const pool = new WorkerPool()
  const out: string[] = []
  try {
    console.log('1. one node vs three (publishers on node 1, subscribers round-robin over nodes 1-3):')
    const comparisons = await oneVersusThree(pool, timing)

    console.log(`2. failover: producer on node 1 at ${FAILOVER_RATE}/s with a RECEIPT per SEND; consumers (client-individual) on node 2 (never acks) and node 3; kill -9 node 2 after ${(options.quick ? FAILOVER_HOLD_MS.quick : FAILOVER_HOLD_MS.full) / 1000} s;`
      + ` twice: node 2's consumer without a prefetch limit, then with prefetch-count ${FAILOVER_PREFETCH}`)
    const fails = [await failover(options.quick, null), await failover(options.quick, FAILOVER_PREFETCH)]

    console.log('3. capacity: one node pinned to CPU 0, redis-server to CPU 1, the load generator to CPU 1:')
    const cap = await capacity(pool, timing)

    const rows: string[][] = [['figure', 'one stompd', 'three + Redis', 'three/one', 'target']]
    for (const c of comparisons) {
      rows.push([
        `${c.title}, delivered/s`,
        c.one === null ? '—' : count(c.one.delivered),
        c.three === null ? '—' : count(c.three.delivered),
        c.ratio === null ? '—' : `${c.ratio.toFixed(2)}×`,
        c.ratio === null ? '' : `≥ ${RATIO_TARGET}×: ${c.ratio >= RATIO_TARGET ? 'met' : 'MISSED'}`,
      ])
    }
    out.push('', 'cluster: one stompd vs three joined through Redis', ...table(rows))
    for (const c of comparisons) {
      out.push(`  ${c.title} (median runs)${c.ratios.length > 1 ? `; per-round three/one [${c.ratios.map((r) => r.toFixed(2)).join(', ')}]` : ''}`)
      const one = c.one
      const three = c.three
      if (one !== null) out.push(`    one stompd:   ${cpuLine(['stompd'], one.cpu)}`)
      if (three !== null) out.push(`    three+Redis:  ${cpuLine(['node 1', 'node 2', 'node 3', 'redis'], three.cpu)}`)
      for (const p of c.problems) out.push(`    ${p}`)
    }

    out.push('')
    for (const fail of fails) out.push(...describeFailover(fail))

    out.push('')
    if (typeof cap === 'string') {
      out.push(`capacity model: ${cap}`)
    } else {
      out.push('capacity model: one node on CPU 0 through Redis on CPU 1 (load generator on CPU 1 beside Redis); with each node on its own core,',
        '  delivered/s ≈ N × per-node rate until Redis uses one core, at N ≈ 1 / (Redis CPU s per message × per-node rate)')
      const capRows: string[][] = [['shape', 'per-node delivered/s', 'node CPU', 'Redis CPU', 'Redis CPU ms per 1,000', 'N', 'N at a full node core', 'Redis-bound delivered/s']]
      for (const c of cap) {
        const rate = c.run?.delivered ?? null
        const perMessage = rate === null || c.redis === null || rate === 0 ? null : c.redis / rate // Redis CPU seconds per message
        const n = perMessage === null || rate === null || perMessage === 0 ? null : 1 / (perMessage * rate)
        // Where the node was not the limit (the load generator was), the rate a whole core would
        // give, by linear extrapolation of its CPU per message: more per node, so fewer nodes.
        const nFull = n === null || c.node === null || c.node <= 0 ? null : n * Math.min(1, c.node)
        capRows.push([
          c.title,
          rate === null ? '—' : count(rate),
          pct(c.node),
          pct(c.redis),
          perMessage === null ? '—' : (perMessage * 1e6).toFixed(3),
          n === null ? '—' : n.toFixed(1),
          nFull === null ? '—' : nFull.toFixed(1),
          perMessage === null || perMessage === 0 ? '—' : count(1 / perMessage),
        ])
      }
      out.push(...table(capRows).map((l) => `  ${l}`))
      for (const c of cap) {
        if (c.run !== null) out.push(`  ${c.title}: ${cpuLine(['node (CPU 0)', 'redis (CPU 1)'], c.run.cpu)}; saturated: ${c.verdict}`)
        for (const p of c.problems) out.push(`    ${p}`)
      }
      out.push('  N at a full node core: per-node rate scaled to 100 % of the node\'s core (linear in its CPU per message) where something else was the',
        '  limit. Redis-bound delivered/s = 1 / (Redis CPU s per message): the whole cluster\'s ceiling, whatever the nodes. For topics Redis',
        '  carries each published message once to each node with subscribers, however many: its cost per delivery here is for 100 subscribers',
        '  on the node; with fewer per node it is higher and N lower.')
    }
    out.push(complaintLines.length === 0 ? '  The nodes printed no warning or error.' : `  Nodes printed warnings or errors:\n${complaintLines.map((l) => `    ${l}`).join('\n')}`)
    out.push('  Noisy: a shared 2-core machine runs every node, Redis and the load generator (and whatever else runs): compare ratios, not figures.')
    console.log(out.join('\n'))
  } finally {
    await pool.close()
  }
}
