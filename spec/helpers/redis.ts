// A private redis-server for one test: a free loopback port, a temp dir, AOF on; never the
// machine's shared Redis. It fails loudly (the test errors) when redis-server cannot start.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
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

export async function startRedis(t: Teardown, { port: givenPort, extraArgs = [] }: { port?: number, extraArgs?: string[] } = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-redis-'))
  const port = givenPort ?? await freePort()
  let child: ChildProcess | null = null
  let output = ''
  const start = async (): Promise<void> => {
    output = ''
    const started = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec',
      '--save', '', '--protected-mode', 'no', ...extraArgs,
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

/** A port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10000 > 65535) continue
    const bus = net.createServer()
    const free = await new Promise<boolean>((resolve) => {
      bus.once('error', () => resolve(false))
      bus.listen(port + 10000, '127.0.0.1', () => resolve(true))
    })
    if (free) {
      await new Promise((resolve) => bus.close(resolve))
      return port
    }
  }
}

export interface PrivateRedisCluster {
  /** redis-cluster://… for --redis. */
  url: string
  /** Stops every shard, and starts them again (they keep their data and the cluster's layout). */
  stop(): Promise<void>
  start(): Promise<void>
}

/** A Redis Cluster of three masters (no replicas), each a private redis-server as startRedis makes. */
export async function startRedisCluster(t: Teardown): Promise<PrivateRedisCluster> {
  const shards: PrivateRedis[] = []
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort()
    shards.push(await startRedis(t, { port, extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }))
  }
  const addresses = shards.map((shard) => `127.0.0.1:${shard.port}`)
  await new Promise<void>((resolve, reject) => {
    execFile('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], (err, stdout, stderr) => {
      if (err === null) resolve()
      else reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}${stderr}`))
    })
  })
  const healthy = async (): Promise<void> => {
    const deadline = Date.now() + 15_000
    for (const shard of shards) {
      for (;;) {
        const info = await new Promise<string>((resolve) => execFile('redis-cli', ['-p', String(shard.port), 'cluster', 'info'], (_err, stdout) => resolve(stdout)))
        if (info.includes('cluster_state:ok')) break
        if (Date.now() > deadline) throw new Error(`the Redis Cluster is not ok after 15 s:\n${info}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  await healthy()
  return {
    url: `redis-cluster://${addresses.join(',')}`,
    stop: async () => {
      await Promise.all(shards.map((shard) => shard.stop()))
    },
    start: async () => {
      await Promise.all(shards.map((shard) => shard.start()))
      await healthy()
    },
  }
}
