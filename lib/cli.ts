#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=75
// The `stompd` command: read the configuration, start the broker, print where it listens,
// re-read credentials on SIGHUP, shut down cleanly on SIGTERM/SIGINT. `stompd passwd FILE USER`
// sets a user's passcode in a users file instead.
//
// The node flags above are the one place stompd's runtime tuning lives (`npm start`, `npx stompd`,
// the Docker image and the benchmarks all run this file through them). Both are for the many
// idle connections a broker holds:
// - a 4 MiB young generation instead of V8's 16 MiB default: with tens of thousands of idle
//   connections the default lets the young generation grow to ~48 MiB of resident pages
//   (2.5 KiB per connection at 19,000);
// - the old generation may grow by 75 % of what the last full GC kept before the next one.
//   Idle connections still produce garbage that lives seconds (ws keeps the last frame's
//   buffers until the next heart-beat replaces them), so it is promoted, and V8's adaptive
//   limit, which lets the heap double when collections are cheap, let it pile up: 19,000 idle
//   connections held 7.7 KiB each without this flag, 6.95 with it (8.1–8.3 at 100 %, 6.4 at
//   50 %, which cost client-individual queues about 15 % of their throughput; 75 % showed no
//   cost beyond run-to-run noise).
import { ConfigError, loadConfig, USAGE } from './config.js'
import { DEFAULT_IDLE_COLLECT, IdleCollector, processProbe } from './idle-collect.js'
import { DEFAULT_MALLOC_TRIM, loadGlibcHeap, MallocTrimmer } from './malloc-trim.js'
import { createServer } from './server.js'
import { VERSION } from './version.js'

async function main(): Promise<void> {
  if (process.argv[2] === 'passwd') {
    const { runPasswd } = await import('./auth/passwd.js')
    process.exitCode = await runPasswd(process.argv.slice(3), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, isTTY: process.stdin.isTTY === true })
    return
  }
  let commandLine
  try {
    commandLine = loadConfig(process.argv.slice(2))
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`stompd: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (commandLine.help) {
    process.stdout.write(USAGE)
    return
  }
  if (commandLine.version) {
    process.stdout.write(`stompd ${VERSION}\n`)
    return
  }
  let server
  let addresses
  try {
    server = createServer(commandLine.config)
    addresses = await server.listen()
  } catch (err) {
    // One line, never a stack trace: a bad store path or a taken port is the user's to fix.
    process.stderr.write(`stompd: cannot start: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const running = server
  const wsName = addresses.ws.startsWith('wss:') ? 'wss' : 'ws'
  process.stdout.write(`stompd listening ${wsName}=${addresses.ws}${addresses.tcp === null ? '' : ` tcp=${addresses.tcp}`}${addresses.tls === null ? '' : ` tls=${addresses.tls}`}\n`)

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    running.logger.info({ signal }, 'shutting down')
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP re-reads the users file, the ACL and the TLS certificate; a broken one is logged and the old one kept.
  process.on('SIGHUP', () => {
    try {
      running.reload()
      running.logger.info('reloaded on SIGHUP')
    } catch (err) {
      running.logger.error({ err }, 'reload on SIGHUP failed; keeping what was loaded before')
    }
  })

  // The process is ours here (a program embedding createServer owns its own), so the CLI is
  // the one to give memory back to the system after bursts: collect the garbage once the broker
  // goes idle, then hand what malloc freed back. After the signal handlers: a SIGTERM while
  // koffi loads must still shut the broker down cleanly.
  const heap = await loadGlibcHeap()
  const trimmer = 'unavailable' in heap ? null : new MallocTrimmer(heap, DEFAULT_MALLOC_TRIM, running.logger)
  if ('unavailable' in heap) running.logger.debug({ reason: heap.unavailable }, 'malloc trimming off')
  trimmer?.start()
  new IdleCollector(processProbe(), DEFAULT_IDLE_COLLECT, running.logger, () => trimmer?.check()).start()
}

void main()
