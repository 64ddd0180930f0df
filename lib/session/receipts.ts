// RECEIPTs in frame order. A receipt waits until its frame's effect is durable; receipts that
// wait on the same store commit (a producer's burst of persistent SENDs) share one promise
// reaction, and a receipt with nothing to wait for goes out at once when none is queued before it.
import { Fifo } from '../broker/fifo.js'

export interface ReceiptSink {
  sendReceipt(id: string): void
  /** DISCONNECT's close, once every receipt before it has gone out. */
  closeAfterReceipts(): void
  /** The commit a receipt waited on failed. */
  durabilityFailed(err: unknown, receiptId: string | undefined): void
}

/** Receipts waiting on one commit. */
class Wait {
  done = false
  readonly promise: Promise<void> | undefined

  constructor(promise: Promise<void> | undefined) {
    this.promise = promise
    this.done = promise === undefined
  }
}

interface Pending {
  id: string | undefined
  closeAfter: boolean
  wait: Wait
}

const NOTHING_TO_WAIT_FOR = new Wait(undefined)

export class ReceiptQueue {
  private readonly sink: ReceiptSink
  private readonly pending = new Fifo<Pending>()
  private lastWait: Wait = NOTHING_TO_WAIT_FOR
  private stopped = false

  constructor(sink: ReceiptSink) {
    this.sink = sink
  }

  /** Queues RECEIPT `id` (none when undefined) to go out once `durable` resolves; then closes if `closeAfter`. */
  add(id: string | undefined, durable: Promise<void> | undefined, closeAfter: boolean): void {
    if (this.stopped) return
    if (durable === undefined && this.pending.length === 0) return this.send(id, closeAfter)
    let wait = NOTHING_TO_WAIT_FOR
    if (durable !== undefined) {
      wait = this.lastWait.promise === durable && !this.lastWait.done ? this.lastWait : this.waitFor(durable, id)
    }
    this.pending.push({ id, closeAfter, wait })
    if (wait.done) this.flush()
  }

  /** The connection is going: nothing more is sent. */
  stop(): void {
    this.stopped = true
    this.pending.clear()
  }

  private waitFor(durable: Promise<void>, firstId: string | undefined): Wait {
    const wait = new Wait(durable)
    this.lastWait = wait
    durable.then(() => {
      wait.done = true
      this.flush()
    }, (err: unknown) => {
      if (!this.stopped) this.sink.durabilityFailed(err, firstId)
    })
    return wait
  }

  private flush(): void {
    while (!this.stopped && this.pending.length > 0 && this.pending.peek()!.wait.done) {
      const { id, closeAfter } = this.pending.shift()!
      this.send(id, closeAfter)
    }
  }

  private send(id: string | undefined, closeAfter: boolean): void {
    if (id !== undefined) this.sink.sendReceipt(id)
    if (closeAfter) this.sink.closeAfterReceipts()
  }
}
