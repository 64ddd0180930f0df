// Waiting on a load-generator child process (idle connections, connect storms) for its next
// message of one type, bounded in time and ended by the child exiting.
import type { ChildProcess } from 'node:child_process'

/** Waits for `child`'s next message of `type`; rejects when it exits first or after `ms`. `name` is for the error. */
export function nextChildMessage<M extends { type: string }, T extends M['type']>(child: ChildProcess, name: string, type: T, ms: number): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${name} sent no ${type} within ${Math.round(ms / 1000)} s`)), ms)
    const onMessage = (message: M): void => {
      if (message.type === type) done(null, message as Extract<M, { type: T }>)
    }
    const onExit = (code: number | null): void => done(new Error(`${name} exited (${code}) before ${type}`))
    const done = (err: Error | null, message?: Extract<M, { type: T }>): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (err === null) resolve(message!)
      else reject(err)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}
