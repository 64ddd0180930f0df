// The brokers a figure is measured on, side by side:
//   stompd   started here as a child process on free loopback ports (memory store unless the
//            scenario asks for SQLite), one process per store setting, reused across figures
//   stompd-uncapped  the same stompd with no practical --ws-max-message-bytes cap: each
//            connection's event-loop turn goes as one WebSocket message, as before the cap
//            existed; the WebSocket fan-out figures measure the default cap against it
//   stompd-secured  the same stompd with --jwt-secret and a 50-rule --acl (secured.ts); every
//            load client CONNECTs with its own JWT; security.ts measures it against plain stompd
//   rabbitmq an already-running RabbitMQ with the STOMP and Web-STOMP plugins; skipped, with a
//            line saying why, when it is not reachable
//   ceiling  the raw broadcast server (ceiling-server.ts), a child process
// Every child started here is killed when the suite ends, or when this process exits anyway.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LoadConnection, type Endpoint, type Transport } from './client.js'
import { cpuCount, findProcess, openFileLimit } from './cpu.js'
import { prepareSecured } from './secured.js'

export type BrokerKind = 'stompd' | 'stompd-uncapped' | 'stompd-secured' | 'rabbitmq' | 'ceiling'

/**
 * The cap `stompd-uncapped` runs with: 1 GiB, far more than a connection queues in one turn, so
 * a turn is never split (0 would mean the opposite: one frame per message).
 */
const UNCAPPED_WS_MESSAGE_BYTES = 2 ** 30

/** How stompd stores messages in a figure: the memory store, or SQLite on a temp file (normal or full sync). */
export type StompdStore = 'memory' | 'sqlite' | 'sqlite-full'

/** The malloc stompd runs with: the system's (glibc here), or jemalloc preloaded as the Docker image does. */
export type Allocator = 'system' | 'jemalloc'

/** Where Debian and Ubuntu (`apt-get install libjemalloc2`) and other distributions put jemalloc. */
const JEMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
]

/** The jemalloc library on this machine, or null. */
export function findJemalloc(): string | null {
  return JEMALLOC_PATHS.find((path) => existsSync(path)) ?? null
}

export interface BrokerTarget {
  kind: BrokerKind
  /** For the table: `stompd`, `stompd sqlite sync=full`, `RabbitMQ`, `raw ws`. */
  label: string
  /** The process whose CPU and RSS are measured; null when it cannot be found (remote broker). */
  pid: number | null
  /** Single-threaded brokers saturate at one core of their main thread; RabbitMQ at all cores. */
  singleThreaded: boolean
  /** Connections it can take at once (RabbitMQ: its socket limit); Infinity when unknown. */
  maxConnections: number
  /** The URL for a transport, or null when the broker does not listen on it. */
  endpoint(transport: Transport): Endpoint | null
  /** Why the broker is unusable now (its process died), or null. */
  problem(): string | null
  /**
   * More processes whose CPU a flow run reads in its window (CpuUse.processes, in this order):
   * cluster.ts's stompd nodes and Redis. `pid` stays the one the verdicts are about.
   */
  processes?: ReadonlyArray<{ label: string, pid: number }>
}

export type Availability = { target: BrokerTarget } | { skipped: string }

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CEILING = fileURLToPath(new URL('./ceiling-server.ts', import.meta.url))
const START_TIMEOUT_MS = 30_000

const RABBITMQ_LOGIN: Array<[string, string]> = [['host', '/'], ['login', 'guest'], ['passcode', 'guest']]

/** Children alive right now: killed on exit whatever happens. */
const children = new Set<ChildProcess>()
let exitHandlers = false

/** Kills every child when this process exits, also on Ctrl-C or a kill (signals skip 'exit' handlers). */
function killChildrenOnExit(): void {
  if (exitHandlers) return
  exitHandlers = true
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL')
  }
  process.on('exit', killAll)
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(code)
    })
  }
}

interface Started {
  child: ChildProcess
  match: RegExpExecArray
  output: () => string
}

/** The line of a child's output that says what went wrong (an error line, else the last one). */
function gist(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return (lines.find((l) => /error|cannot|stompd:/i.test(l)) ?? lines.at(-1) ?? '').slice(0, 300)
}

/** Spawns `args` under node (with `env` added to ours) and waits for a stdout line matching `ready`. */
export async function startChild(name: string, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<Started> {
  killChildrenOnExit()
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000) // the tail, for error messages
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  // STOMPD_BENCH_BROKER_LOG=<file>: everything the brokers print, e.g. with
  // STOMPD_BENCH_NODE_ARGS=--trace-gc to see the collector's pauses under a figure's load, or
  // STOMPD_BENCH_LOG_LEVEL=debug for stompd's own debug lines (default warn).
  const log = process.env.STOMPD_BENCH_BROKER_LOG
  if (log !== undefined) {
    const append = (chunk: Buffer): void => appendFileSync(log, chunk)
    child.stdout!.on('data', append)
    child.stderr!.on('data', append)
  }
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no listening line within ${START_TIMEOUT_MS / 1000} s: ${gist(output)}`)), START_TIMEOUT_MS)
    const check = (): void => {
      const found = ready.exec(output)
      if (found === null) return
      clearTimeout(timer)
      child.stdout!.off('data', check)
      resolve(found)
    }
    child.stdout!.on('data', check)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${signal ?? code}) before listening: ${gist(output)}`))
    })
  })
  return { child, match, output: () => output }
}

/** SIGTERM, then SIGKILL if it has not gone within `ms`. */
export async function stopChild(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  await gone
  clearTimeout(timer)
}

function childProblem(name: string, started: Started): () => string | null {
  return () => {
    const { child } = started
    if (child.exitCode === null && child.signalCode === null) return null
    const tail = gist(started.output())
    return `${name} exited (${child.signalCode ?? `code ${child.exitCode}`})${tail === '' ? '' : `: ${tail}`}`
  }
}

/**
 * The stompd CLI to run: the built dist/cli.js (`npm run bench` builds first) with the node flags
 * of its own `#!` line, as `npm start`, `npx stompd` and the Docker image run it — but through
 * this node, and without relying on the file's exec bit. STOMPD_BENCH_CLI=lib/cli.ts runs the
 * source through tsx instead; STOMPD_BENCH_NODE_ARGS adds node flags, e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof` to profile the broker under the bench's load (the profile is
 * written when the suite stops it).
 */
export function stompdCommand(): string[] {
  // Relative to the project, or absolute (another checkout's build, to compare two versions).
  const cli = resolve(ROOT, process.env.STOMPD_BENCH_CLI ?? 'dist/cli.js')
  const extra = (process.env.STOMPD_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
  const nodeArgs = [...shebangFlags(cli), ...extra]
  return [...nodeArgs, ...(cli.endsWith('.ts') ? ['--import', 'tsx', cli] : [cli])]
}

/** The node flags on a script's `#!/usr/bin/env -S node ...` line. */
function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!
  const match = /^#!.*\bnode((?:\s+-\S+)*)\s*$/.exec(first)
  return match === null ? [] : match[1]!.split(/\s+/).filter((a) => a !== '')
}

const STORE_LABEL: Record<StompdStore, string> = {
  'memory': 'stompd',
  'sqlite': 'stompd sqlite',
  'sqlite-full': 'stompd sqlite sync=full',
}

/**
 * The --ws-max-message-bytes flag a stompd contender runs with, and its label's suffix. `stompd`
 * gets stompd's own default unless STOMPD_BENCH_WS_MAX_MESSAGE_BYTES=<bytes> sets another cap
 * (0 = one frame per message), to compare caps by hand; `stompd-uncapped` always gets 1 GiB.
 * A flag, not STOMPD_WS_MAX_MESSAGE_BYTES: the children inherit our environment, and a flag wins
 * over it, so the uncapped contender stays uncapped whatever is set there.
 */
function wsCap(kind: 'stompd' | 'stompd-uncapped'): { flags: string[], label: string } {
  if (kind === 'stompd-uncapped') return { flags: ['--ws-max-message-bytes', String(UNCAPPED_WS_MESSAGE_BYTES)], label: ' uncapped' }
  const bytes = process.env.STOMPD_BENCH_WS_MAX_MESSAGE_BYTES
  if (bytes === undefined || bytes === '') return { flags: [], label: '' }
  return { flags: ['--ws-max-message-bytes', bytes], label: ` ws cap ${bytes}` }
}

async function startStompd(kind: 'stompd' | 'stompd-uncapped' | 'stompd-secured', store: StompdStore, allocator: Allocator, cleanup: Array<() => Promise<void>>): Promise<BrokerTarget> {
  const env: Record<string, string> = {}
  if (allocator === 'jemalloc') {
    const jemalloc = findJemalloc()
    if (jemalloc === null) throw new Error('jemalloc not found (apt-get install libjemalloc2)')
    env.LD_PRELOAD = jemalloc
    env.MALLOC_CONF = 'background_thread:true' // as the Dockerfile sets it
  }
  const flags = ['--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--log-level', process.env.STOMPD_BENCH_LOG_LEVEL ?? 'warn']
  if (store === 'memory') {
    flags.push('--store', 'memory')
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'stompd-bench-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    flags.push('--store', `sqlite:${join(dir, 'stompd.db')}`)
    if (store === 'sqlite-full') flags.push('--store-sync', 'full')
  }
  // stompd secured gets the cap plain stompd gets: the two differ only by authentication and ACL.
  const cap = wsCap(kind === 'stompd-uncapped' ? kind : 'stompd')
  flags.push(...cap.flags)
  // stompd secured: --jwt-secret and --acl files in a temp dir, and a token per load client.
  let passcodes: string[] | null = null
  if (kind === 'stompd-secured') {
    const dir = mkdtempSync(join(tmpdir(), 'stompd-bench-secured-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    const secured = await prepareSecured(dir)
    flags.push(...secured.flags)
    passcodes = secured.passcodes
  }
  const secured = kind === 'stompd-secured' ? ' secured' : ''
  const name = `stompd${cap.label}${secured}`
  const started = await startChild(name, [...stompdCommand(), ...flags], /stompd listening ws=(\S+) tcp=(\S+)/, env)
  cleanup.unshift(() => stopChild(started.child))
  const ws = started.match[1]!
  const tcp = `tcp://${started.match[2]!}`
  return {
    kind,
    label: STORE_LABEL[store] + cap.label + secured + (allocator === 'jemalloc' ? ' jemalloc' : ''),
    pid: started.child.pid ?? null,
    singleThreaded: true,
    maxConnections: Number.POSITIVE_INFINITY,
    endpoint: (transport) => ({ transport, url: transport === 'ws' ? ws : tcp, stomp: true, connectHeaders: [['host', '127.0.0.1']], ...(passcodes === null ? {} : { passcodes }) }),
    problem: childProblem(name, started),
  }
}

async function startCeiling(cleanup: Array<() => Promise<void>>): Promise<BrokerTarget> {
  const started = await startChild('ceiling server', ['--import', 'tsx', CEILING], /ceiling listening ws=(\S+) tcp=(\S+)/)
  cleanup.unshift(() => stopChild(started.child))
  const ws = started.match[1]!
  const tcp = `tcp://${started.match[2]!}`
  return {
    kind: 'ceiling',
    label: 'raw ws',
    pid: started.child.pid ?? null,
    singleThreaded: true,
    maxConnections: Number.POSITIVE_INFINITY,
    endpoint: (transport) => ({ transport, url: transport === 'ws' ? ws : tcp, stomp: false, connectHeaders: [] }),
    problem: childProblem('ceiling server', started),
  }
}

/** Can we CONNECT over STOMP at `endpoint`? null if so, else why not. */
async function probe(endpoint: Endpoint): Promise<string | null> {
  const connection = new LoadConnection(endpoint, { onFrame: () => {}, onClose: () => {} })
  try {
    await Promise.race([
      connection.open('0,0'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no CONNECTED within 5 s')), 5000)),
    ])
    await connection.close(1000)
    return null
  } catch (err) {
    connection.destroy()
    return (err as Error).message
  }
}

/**
 * RabbitMQ refuses sockets past a share of its open-file limit (file_handle_cache keeps about
 * 100 descriptors for itself and gives sockets 90 % of the rest: `rabbitmqctl status` shows
 * "Sockets: limit 832" under the default 1024). Keep a margin below that.
 */
function rabbitSocketLimit(pid: number | null): number {
  const limit = pid === null ? null : openFileLimit(pid)
  if (limit === null || !Number.isFinite(limit)) return Number.POSITIVE_INFINITY
  return Math.floor(0.9 * (limit - 100)) - 10
}

async function findRabbitMq(): Promise<Availability> {
  if (process.env.BENCH_RABBITMQ === 'off') return { skipped: 'RabbitMQ: skipped (BENCH_RABBITMQ=off)' }
  const ws = process.env.BENCH_RABBITMQ_WS ?? 'ws://127.0.0.1:15674/ws'
  const tcp = process.env.BENCH_RABBITMQ_TCP ?? 'tcp://127.0.0.1:61613'
  const endpoint = (transport: Transport): Endpoint => ({ transport, url: transport === 'ws' ? ws : tcp, stomp: true, connectHeaders: RABBITMQ_LOGIN })
  const wsProblem = await probe(endpoint('ws'))
  if (wsProblem !== null) return { skipped: `RabbitMQ: not reachable at ${ws} (${wsProblem}); its figures are skipped` }
  const tcpProblem = await probe(endpoint('tcp'))
  const pid = findProcess('beam.smp')
  return {
    target: {
      kind: 'rabbitmq',
      label: 'RabbitMQ',
      pid,
      singleThreaded: false,
      maxConnections: rabbitSocketLimit(pid),
      endpoint: (transport) => (transport === 'tcp' && tcpProblem !== null ? null : endpoint(transport)),
      problem: () => null,
    },
  }
}

/** Brokers started on first use and kept for the whole suite; close() stops them. */
export class Brokers {
  private readonly cache = new Map<string, Promise<Availability>>()
  private readonly cleanup: Array<() => Promise<void>> = []

  /** stompd (capped or not, secured or not) with the given store (and malloc), RabbitMQ, or the ceiling. */
  get(kind: BrokerKind, store: StompdStore = 'memory', allocator: Allocator = 'system'): Promise<Availability> {
    const key = kind === 'stompd' || kind === 'stompd-uncapped' || kind === 'stompd-secured' ? `${kind}:${store}:${allocator}` : kind
    let found = this.cache.get(key)
    if (found === undefined) {
      found = this.start(kind, store, allocator)
      this.cache.set(key, found)
    }
    return found.then((availability) => {
      // A stompd (or ceiling) that died in an earlier figure is started afresh.
      if ('target' in availability && availability.target.problem() !== null) {
        this.cache.delete(key)
        return this.get(kind, store, allocator)
      }
      return availability
    })
  }

  private async start(kind: BrokerKind, store: StompdStore, allocator: Allocator): Promise<Availability> {
    try {
      if (kind === 'rabbitmq') return await findRabbitMq()
      if (kind === 'ceiling') return { target: await startCeiling(this.cleanup) }
      return { target: await startStompd(kind, store, allocator, this.cleanup) }
    } catch (err) {
      return { skipped: `${kind}: cannot start: ${(err as Error).message}` }
    }
  }

  async close(): Promise<void> {
    for (const step of this.cleanup.splice(0)) await step()
    this.cache.clear()
  }
}

/** How many cores a broker can use: one for a single-threaded one, all of them otherwise. */
export function brokerCores(target: BrokerTarget): number {
  return target.singleThreaded ? 1 : cpuCount()
}
