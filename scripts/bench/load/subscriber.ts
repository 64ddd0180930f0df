// One subscriber connection of a load worker: SUBSCRIBE (with a receipt, so the run starts only
// once every subscription is in place), then for each message of this run: count it into the
// shared counters, check per-publisher order, record its latency while the window is open, ACK
// it when the figure asks for client acks, and wake a publisher waiting on this subscriber.
import { encodeFrame } from '../../../lib/frame/encoder.js'
import { EMPTY_BODY, type Frame } from '../../../lib/frame/frame.js'
import { errorText, LoadConnection } from './client.js'
import { now, MEASURING, TOTAL_RECEIVED, WAITING, WAKE_AT, WAKE_SUB, type RunContext } from './protocol.js'

export class Subscriber {
  count = 0
  readonly connection: LoadConnection
  private readonly run: RunContext
  private readonly slot: number
  private readonly lastSeq: Int32Array // per publisher, for the order check
  private subscribed: ((error: string | null) => void) | null = null

  constructor(run: RunContext, slot: number) {
    this.run = run
    this.slot = slot
    this.lastSeq = new Int32Array(run.spec.publishers).fill(-1)
    // A cluster (cluster.ts): subscriber n connects to node n % nodes, the publishers to `url`.
    const { endpoint } = run.spec
    const urls = endpoint.subscriberUrls
    const own = urls === undefined || urls.length === 0 ? endpoint : { ...endpoint, url: urls[slot % urls.length]! }
    this.connection = new LoadConnection(own, {
      onFrame: (frame) => this.frame(frame),
      onClose: (_expected, detail) => {
        run.errors.push(`subscriber ${slot}: ${detail}`)
        this.subscribed?.(detail)
      },
    }, run.spec.publishers + slot) // load client after the publishers: its own passcode (client.ts)
  }

  async open(): Promise<void> {
    const spec = this.run.spec
    if (!spec.endpoint.stomp) {
      await this.connection.open('0,0', { role: 'sub', channel: spec.rawChannel })
      return
    }
    await this.connection.open('0,0')
    const done = new Promise<void>((resolve, reject) => {
      this.subscribed = (error) => (error === null ? resolve() : reject(new Error(error)))
    })
    const receipt = `sub-${this.slot}`
    this.connection.write(encodeFrame('SUBSCRIBE', [['id', '0'], ['destination', spec.destination], ['ack', spec.ack], ['receipt', receipt]], EMPTY_BODY, '1.2'))
    await done
  }

  private frame(frame: Frame): void {
    switch (frame.command) {
      case 'MESSAGE':
      case 'SEND': // the ceiling passes the publisher's SEND frames on as they are
        return this.message(frame)
      case 'RECEIPT': {
        const settle = this.subscribed
        this.subscribed = null
        return settle?.(null)
      }
      case 'ERROR':
        this.run.errors.push(`subscriber ${this.slot}: ERROR ${errorText(frame)}`)
        this.subscribed?.(`ERROR ${errorText(frame)}`)
        return
      default:
        this.run.errors.push(`subscriber ${this.slot}: unexpected ${frame.command}`)
    }
  }

  private message(frame: Frame): void {
    const run = this.run
    let id = ''
    let ts = 0
    let ack: string | undefined
    const headers = frame.headers
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i]![0]
      if (name === 'bench-id') id = headers[i]![1]
      else if (name === 'ts') ts = Number(headers[i]![1])
      else if (name === 'ack' && ack === undefined) ack = headers[i]![1]
    }
    if (run.spec.ack === 'client-individual' && run.spec.endpoint.stomp && ack !== undefined) {
      // Every message, even a stale one, is acked: the broker must not keep it.
      this.connection.write(encodeFrame('ACK', [['id', ack]], EMPTY_BODY, '1.2'))
    }
    // bench-id is `<run>/<publisher>/<seq>`: a message of an earlier run (left on a shared
    // queue) does not count; within the run, each publisher's messages must come in order.
    const runEnd = id.indexOf('/')
    if (runEnd < 0 || id.slice(0, runEnd) !== run.spec.runId) return
    const pubEnd = id.indexOf('/', runEnd + 1)
    const pub = Number(id.slice(runEnd + 1, pubEnd))
    const seq = Number(id.slice(pubEnd + 1))
    if (pub >= 0 && pub < this.lastSeq.length) {
      if (seq <= this.lastSeq[pub]!) run.outOfOrder++
      else this.lastSeq[pub] = seq
    }
    const control = run.shared.control
    if (Atomics.load(control, MEASURING) === 1) run.histogram.recordMs(now() - ts)
    this.count++
    Atomics.store(run.shared.received, this.slot, this.count)
    if (run.queueMode) {
      const total = Atomics.add(control, TOTAL_RECEIVED, 1) + 1
      if (Atomics.load(control, WAITING) === 1 && Atomics.load(control, WAKE_SUB) < 0 && total >= Atomics.load(control, WAKE_AT)) wake(control)
    } else if (Atomics.load(control, WAITING) === 1 && Atomics.load(control, WAKE_SUB) === this.slot && this.count >= Atomics.load(control, WAKE_AT)) {
      wake(control)
    }
  }
}

/** Wakes the waiting publisher thread, once. */
function wake(control: Int32Array): void {
  if (Atomics.compareExchange(control, WAITING, 1, 0) === 1) Atomics.notify(control, WAITING)
}
