// A private redis-server for one test: a free loopback port, a temp dir, AOF on; never the
// machine's shared Redis. It fails loudly (the test errors) when redis-server cannot start.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Teardown } from './server.js'

export interface PrivateRedis {
  url: string
  port: number
  /** Stops the server (SIGTERM: it writes its AOF); the data dir stays for start(). */
  stop(): Promise<void>
  /** Starts it again on the same port and dir. */
  start(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startRedis(t: Teardown): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-redis-'))
  const port = await freePort()
  let child: ChildProcess | null = null
  let output = ''
  const start = async (): Promise<void> => {
    output = ''
    const started = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec',
      '--save', '', '--protected-mode', 'no',
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    started.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    started.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000)
      started.once('error', (err) => {
        clearTimeout(timer)
        reject(new Error(`redis-server could not be started (is it installed?): ${err.message}`))
      })
      started.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}:\n${output}`))
      })
      const check = (): void => {
        if (!output.includes('Ready to accept connections')) return
        clearTimeout(timer)
        started.stdout!.off('data', check)
        resolve()
      }
      started.stdout!.on('data', check)
    })
  }
  const stop = async (): Promise<void> => {
    const running = child
    child = null
    if (running === null || running.exitCode !== null) return
    const gone = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGTERM')
    await gone
  }
  await start()
  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}

/** A Sentinel watching `master` as `mymaster`, on a free port; its URL for --redis. */
export async function startSentinel(t: Teardown, master: PrivateRedis): Promise<{ url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-sentinel-'))
  const port = await freePort()
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`)
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis sentinel did not start within 10 s:\n${output}`)), 10_000)
    child.once('error', (err) => reject(new Error(`redis sentinel could not be started: ${err.message}`)))
    const check = (): void => {
      if (!output.includes('+monitor master mymaster')) return
      clearTimeout(timer)
      resolve()
    }
    child.stdout!.on('data', check)
  })
  t.teardown(async () => {
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await gone
    rmSync(dir, { recursive: true, force: true })
  })
  return { url: `redis-sentinel://127.0.0.1:${port}/mymaster` }
}
