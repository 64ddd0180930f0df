// Runs the real `stompd` CLI to completion, for specs about how it refuses to start: the exit
// code and exactly what it wrote to stdout and to stderr, kept apart.
import { spawn } from 'node:child_process'
import type { Teardown } from './server.js'
import { stompdCommand } from './stompd-command.js'

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}


/**
 * Starts `stompd` on ephemeral loopback ports with extra flags and resolves once it exits.
 * A process still running after `timeoutMs` (it started when it should not have) is killed
 * and the promise rejects with what it printed.
 */
export function runCliToExit(t: Teardown, flags: string[], timeoutMs = 15_000): Promise<CliRun> {
  const child = spawn(process.execPath, [...stompdCommand(), '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--log-level', 'warn', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  // 'close' (not 'exit') so every byte of both pipes has been read.
  const closed = new Promise<CliRun>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return closed
  })
  return new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`stompd did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`))
    }, timeoutMs)
    void closed.then((run) => {
      clearTimeout(timer)
      resolve(run)
    })
  })
}
