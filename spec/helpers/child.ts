// Runs stompd as a child process (the real CLI), for specs that measure or kill the process.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Teardown } from './server.js'
import { stompdCommand } from './stompd-command.js'

export interface BrokerProcess {
  child: ChildProcess
  ws: string
  tcp: string
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}


/** Starts `stompd` on ephemeral loopback ports with extra flags; resolves once it prints its listening line. */
export async function startBrokerProcess(t: Teardown, flags: string[] = [], timeoutMs = 15_000): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [...stompdCommand(), '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--log-level', 'warn', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stompd printed no listening line within ${timeoutMs} ms:\n${output}`)), timeoutMs)
    const check = () => {
      const match = /stompd listening ws=(\S+) tcp=(\S+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        resolve(match)
      }
    }
    child.stdout!.on('data', check)
    void exited.then(({ code }) => reject(new Error(`stompd exited with ${code} before listening:\n${output}`)))
  })
  return { child, ws: line[1]!, tcp: line[2]!, output: () => output, exited }
}

/** Peak resident memory of a process so far (VmHWM), in bytes; Linux only. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  if (match === null) throw new Error('no VmHWM in /proc/<pid>/status')
  return Number(match[1]) * 1024
}

export function currentRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  if (match === null) throw new Error('no VmRSS in /proc/<pid>/status')
  return Number(match[1]) * 1024
}
