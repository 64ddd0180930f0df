// One publisher connection of a load worker: encodes each SEND (`bench-id:<run>/<publisher>/<seq>`
// and the send time in `ts`), asks for a RECEIPT on every n-th, and tracks
// how many the broker has confirmed. When to send is decided by the run (worker.ts): pacing
// spans every publisher of the thread.
import { encodeFrame } from '../../../lib/frame/encoder.js'
import type { Frame, Header } from '../../../lib/frame/frame.js'
import { errorText, LoadConnection } from './client.js'
import { now, type RunContext } from './protocol.js'

export class Publisher {
  sent = 0
  /** Messages the broker has confirmed (by RECEIPT; cumulative, as a connection's frames are handled in order). */
  confirmed = 0
  readonly connection: LoadConnection
  private readonly run: RunContext
  private readonly slot: number
  private readonly fixed: Header[]
  /** `bench-id` up to the sequence number: `<run>/<publisher>/`. */
  private readonly idPrefix: string

  constructor(run: RunContext, slot: number) {
    this.run = run
    this.slot = slot
    const spec = run.spec
    this.fixed = [['destination', spec.destination], ['content-type', 'text/plain']]
    if (spec.persistent) this.fixed.push(['persistent', 'true'])
    this.idPrefix = `${spec.runId}/${slot}/`
    this.connection = new LoadConnection(spec.endpoint, {
      onFrame: (frame) => this.frame(frame),
      onClose: (_expected, detail) => run.errors.push(`publisher ${slot}: ${detail}`),
    }, slot) // load client `slot`: its passcode when the broker wants one (client.ts)
  }

  async open(): Promise<void> {
    const spec = this.run.spec
    await this.connection.open('0,0', spec.endpoint.stomp ? undefined : { role: 'pub', channel: spec.rawChannel })
  }

  /** How many more messages the receipt window allows now. */
  windowRoom(): number {
    const spec = this.run.spec
    if (spec.receiptEvery === 0 || !spec.endpoint.stomp) return Number.MAX_SAFE_INTEGER
    return spec.window - (this.sent - this.confirmed)
  }

  send(): void {
    const spec = this.run.spec
    const seq = this.sent++
    // Two headers of our own, as an application would have a few: who sent it (run, publisher,
    // sequence number, for the stale-message and order checks) and when (for the latency).
    const headers: Header[] = [...this.fixed, ['bench-id', this.idPrefix + seq], ['ts', String(now())]]
    const wantsReceipt = spec.receiptEvery > 0 && spec.endpoint.stomp && (seq + 1) % spec.receiptEvery === 0
    if (wantsReceipt) headers.push(['receipt', String(seq + 1)]) // = messages confirmed once it arrives
    this.connection.write(encodeFrame('SEND', headers, this.run.body, '1.2'))
    Atomics.store(this.run.shared.sent, this.slot, this.sent)
  }

  private frame(frame: Frame): void {
    if (frame.command === 'RECEIPT') {
      const id = Number(frame.headers.find(([name]) => name === 'receipt-id')?.[1])
      if (id > this.confirmed) this.confirmed = id
      this.run.pump()
      return
    }
    if (frame.command === 'ERROR') this.run.errors.push(`publisher ${this.slot}: ERROR ${errorText(frame)}`)
    else this.run.errors.push(`publisher ${this.slot}: unexpected ${frame.command}`)
  }
}
