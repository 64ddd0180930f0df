// Every stream of a broker, the limits each was declared with, and the places of durable readers,
// all kept in the store beside the entries: `stream:<name>` holds a stream's entries,
// `stream-limits:<name>` its declared limits (one JSON record), `stream-cursor:<key>` a durable
// reader's next offset (its body).
import type { Store, StoredMessage } from '../store/store.js'
import type { PublishResult } from './broker.js'
import type { Binding, Consumer } from './consumer.js'
import { Message } from './message.js'
import { Stream, STREAM_STORE_PREFIX, type StreamLimits, type StreamStart } from './stream.js'

const LIMITS_PREFIX = 'stream-limits:'
const CURSOR_PREFIX = 'stream-cursor:'

interface Cursor {
  offset: number
  key: number | null
}

export class Streams {
  private readonly store: Store
  private readonly defaults: StreamLimits
  private readonly streams = new Map<string, Stream>()
  private readonly cursors = new Map<string, Cursor>()

  constructor(store: Store, defaults: StreamLimits) {
    this.store = store
    this.defaults = defaults
  }

  get all(): ReadonlyMap<string, Stream> {
    return this.streams
  }

  /** The stream `name`, made on first use with `declared` limits (later declarations are ignored, as for queues). */
  get(name: string, declared: Partial<StreamLimits> = {}): Stream {
    let stream = this.streams.get(name)
    if (stream === undefined) {
      const limits = { ...this.defaults, ...declared }
      stream = new Stream(name, limits, this.store)
      this.streams.set(name, stream)
      if (Object.keys(declared).length > 0) this.store.append(LIMITS_PREFIX + name, record(name, JSON.stringify(limits)), 0)
    }
    return stream
  }

  append(name: string, message: Message, persistent: boolean): PublishResult {
    return this.get(name).append(message, persistent)
  }

  /** A reader; a durable one (`durableKey`) starts where it stopped, if it has read before. */
  subscribe(name: string, consumer: Consumer, start: StreamStart, durableKey: string | null): Binding {
    const stream = this.get(name)
    if (durableKey === null) return stream.read(consumer, stream.startOffset(start), null)
    const saved = this.cursors.get(durableKey)
    const offset = saved === undefined ? stream.startOffset(start) : saved.offset
    return stream.read(consumer, offset, (next) => this.keep(durableKey, next))
  }

  /** UNSUBSCRIBE with durable:true: its place is forgotten. */
  deleteCursor(key: string): boolean {
    const cursor = this.cursors.get(key)
    if (cursor === undefined) return false
    if (cursor.key !== null) this.store.remove(cursor.key)
    this.cursors.delete(key)
    return true
  }

  /** A stored record of a stream, at start-up (in store order); false when it is not one. */
  restore(stored: StoredMessage): boolean {
    if (stored.queue.startsWith(STREAM_STORE_PREFIX)) {
      const message = new Message({ id: stored.id, destination: stored.destination, headers: stored.headers, body: stored.body, persistent: true, expires: 0 })
      this.get(stored.queue.slice(STREAM_STORE_PREFIX.length)).restore(message, stored.key)
      return true
    }
    if (stored.queue.startsWith(LIMITS_PREFIX)) {
      const name = stored.queue.slice(LIMITS_PREFIX.length)
      const limits = JSON.parse(stored.body.toString()) as StreamLimits
      if (!this.streams.has(name)) this.streams.set(name, new Stream(name, { ...this.defaults, ...limits }, this.store))
      return true
    }
    if (stored.queue.startsWith(CURSOR_PREFIX)) {
      const key = stored.queue.slice(CURSOR_PREFIX.length)
      const previous = this.cursors.get(key)
      if (previous?.key != null) this.store.remove(previous.key)
      this.cursors.set(key, { offset: Number(stored.body.toString()), key: stored.key })
      return true
    }
    return false
  }

  /** Entries past their age leave. */
  sweep(now: number): void {
    for (const stream of this.streams.values()) stream.trim(now)
  }

  private keep(durableKey: string, offset: number): void {
    const previous = this.cursors.get(durableKey)
    if (previous?.key != null) this.store.remove(previous.key)
    const written = this.store.append(CURSOR_PREFIX + durableKey, record(durableKey, String(offset)), 0)
    this.cursors.set(durableKey, { offset, key: written.key })
  }
}

function record(id: string, body: string): Message {
  return new Message({ id, destination: '', headers: [], body: Buffer.from(body), persistent: true, expires: 0 })
}
