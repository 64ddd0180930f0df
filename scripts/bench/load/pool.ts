// A pool of load worker threads, started once per suite and reused by every run (starting a
// worker under tsx takes about half a second, which would swamp a 2-second --quick run).
// Each worker does one thing at a time: set up a run's publishers or subscribers, send, finish.
import { Worker } from 'node:worker_threads'
import type { FromWorker, ToWorker, WorkerResult } from './protocol.js'

const BOOT = new URL('./boot.mjs', import.meta.url)
const ENTRY = new URL('./worker.ts', import.meta.url).href

type Reply = Exclude<FromWorker, { type: 'boot' }>

export class PoolWorker {
  readonly worker: Worker
  /** The thread's id, for its CPU time in /proc (null where /proc is missing). */
  tid: number | null = null
  private waiter: { resolve: (reply: Reply) => void, reject: (err: Error) => void } | null = null
  private dead: Error | null = null
  readonly booted: Promise<void>

  constructor() {
    this.worker = new Worker(BOOT, { workerData: { entry: ENTRY } })
    this.booted = new Promise((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        if (message.type === 'boot') {
          this.tid = message.tid
          resolve()
          return
        }
        const waiter = this.waiter
        this.waiter = null
        waiter?.resolve(message)
      })
      const die = (err: Error): void => {
        this.dead = err
        reject(err)
        this.waiter?.reject(err)
        this.waiter = null
      }
      this.worker.on('error', die)
      this.worker.on('exit', (code) => die(new Error(`load worker exited with code ${code}`)))
    })
    this.booted.catch(() => {}) // take() awaits it; a worker dying later must not be an unhandled rejection
  }

  get alive(): boolean {
    return this.dead === null
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message)
  }

  /** Sends `message` and waits for the worker's answer (at most `timeoutMs`). */
  request(message: ToWorker, timeoutMs: number): Promise<Reply> {
    if (this.dead !== null) return Promise.reject(this.dead)
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null
        reject(new Error(`load worker gave no answer to ${message.type} within ${Math.round(timeoutMs / 1000)} s`))
      }, timeoutMs)
      this.waiter = {
        resolve: (reply) => { clearTimeout(timer); resolve(reply) },
        reject: (err) => { clearTimeout(timer); reject(err) },
      }
      this.worker.postMessage(message)
    })
  }

  /** Asks for the run's results; a worker that does not answer is replaced by the pool. */
  async finish(timeoutMs: number): Promise<WorkerResult | null> {
    try {
      const reply = await this.request({ type: 'finish' }, timeoutMs)
      return reply.type === 'done' ? reply.result : null
    } catch {
      return null
    }
  }

  terminate(): Promise<number> {
    this.dead ??= new Error('terminated')
    return this.worker.terminate()
  }
}

export class WorkerPool {
  private workers: PoolWorker[] = []

  /** `n` live, booted workers (replacing any that died or hung). */
  async take(n: number): Promise<PoolWorker[]> {
    this.workers = this.workers.filter((w) => w.alive)
    while (this.workers.length < n) this.workers.push(new PoolWorker())
    const taken = this.workers.slice(0, n)
    await Promise.all(taken.map((w) => w.booted))
    return taken
  }

  /** Terminates a worker that misbehaved; take() starts a fresh one next time. */
  async discard(worker: PoolWorker): Promise<void> {
    this.workers = this.workers.filter((w) => w !== worker)
    await worker.terminate()
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.workers = []
  }
}
