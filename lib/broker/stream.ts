// Streams (`/stream/<name>`): an append-only log that readers replay from where they choose and
// then follow live, as RabbitMQ's stream queues and Kafka's topics do. A message is not consumed
// by reading it: every reader gets every entry from its starting point, each MESSAGE carrying its
// `stream-offset`; no ACK is needed (the reader keeps its place; a durable reader's place is
// kept for it). Entries are persistent by default (written to the store in the same commits as
// queue messages) and leave from the front by count, body bytes or age.
import type { Store } from '../store/store.js'
import type { PublishResult } from './broker.js'
import { UNTRACKED_DELIVERY, type Binding, type Consumer } from './consumer.js'
import { Message } from './message.js'

export const STREAM_STORE_PREFIX = 'stream:'

export interface StreamLimits {
  /** Most entries kept; 0 = no limit. */
  maxLength: number
  /** Most bytes (bodies and headers) kept; 0 = no limit. */
  maxBytes: number
  /** Longest an entry is kept, ms; 0 = no limit. */
  maxAgeMs: number
}

/** Where a reader starts: the first entry kept, the last one, the next one appended, an offset, or the first appended at or after a time. */
export type StreamStart = { from: 'first' } | { from: 'last' } | { from: 'next' } | { from: 'offset', offset: number } | { from: 'time', at: number }

interface Entry {
  /** The SEND's message as it came (its encoding is shared by every reader); the offset is added per delivery. */
  message: Message
  offset: number
  /** When it was appended, epoch ms. */
  at: number
  /** Body bytes, for x-max-length-bytes. */
  size: number
  /** Store key, when persistent. */
  key: number | null
}

/** Stream headers the store copy of an entry carries, and a delivery adds (the offset). */
const OFFSET = 'stream-offset'
const TIMESTAMP = 'stream-timestamp'

/** How long one reader's replay holds the event loop before the rest waits for the next turn. */
const REPLAY_BUDGET_MS = 2

export class Stream {
  readonly name: string
  readonly limits: StreamLimits
  private readonly store: Store
  /** Live entries are entries[head...]; the entry at index i has offset base + i. */
  private entries: Entry[] = []
  private head = 0
  private base = 0
  private bytes = 0
  private readonly readers = new Set<StreamReader>()
  /** Entries handed to readers, all together (the management API's rates). */
  delivered = 0

  constructor(name: string, limits: StreamLimits, store: Store) {
    this.name = name
    this.limits = limits
    this.store = store
  }

  /** The offset of the first entry kept. */
  get firstOffset(): number {
    return this.base + this.head
  }

  /** The offset the next entry appended gets. */
  get nextOffset(): number {
    return this.base + this.entries.length
  }

  get length(): number {
    return this.entries.length - this.head
  }

  /** A SEND: the entry, kept (in the store unless `persistent:false`) and handed to every reader that is caught up. */
  append(message: Message, persistent: boolean): PublishResult {
    const offset = this.nextOffset
    const at = Date.now()
    let durable: Promise<void> | undefined
    let key: number | null = null
    if (persistent) {
      // The store's copy names its offset and time, for a restart.
      const headers = message.headers.filter(([name]) => name !== OFFSET && name !== TIMESTAMP)
      headers.push([OFFSET, String(offset)], [TIMESTAMP, String(at)])
      const written = this.store.append(STREAM_STORE_PREFIX + this.name, message.with(message.destination, headers), 0)
      key = written.key
      durable = written.durable
    }
    this.push({ message, offset, at, size: message.body.length, key })
    this.trim(at)
    for (const reader of this.readers) reader.wake()
    return durable
  }

  /** A stored entry, at start-up, in offset order. */
  restore(stored: Message, key: number): void {
    const headers = stored.headers
    const offset = Number(headers.find(([name]) => name === OFFSET)?.[1])
    const at = Number(headers.find(([name]) => name === TIMESTAMP)?.[1] ?? Date.now())
    if (!Number.isInteger(offset) || offset < this.nextOffset && this.entries.length > 0) return // not ours to understand, or out of order
    if (this.entries.length === 0) this.base = offset
    const message = stored.with(stored.destination, headers.filter(([name]) => name !== OFFSET && name !== TIMESTAMP))
    this.push({ message, offset, at, size: message.body.length, key })
  }

  /** Drops entries past the limits (age is checked by the broker's sweep too). */
  trim(now: number): void {
    const { maxLength, maxBytes, maxAgeMs } = this.limits
    while (this.length > 0) {
      const first = this.entries[this.head]!
      const over = (maxLength > 0 && this.length > maxLength) || (maxBytes > 0 && this.bytes > maxBytes) || (maxAgeMs > 0 && now - first.at > maxAgeMs)
      if (!over) break
      this.head++
      this.bytes -= first.size
      if (first.key !== null) this.store.remove(first.key)
    }
    // Compact once half the array is dropped entries, so trimming stays O(1) per entry.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.base += this.head
      this.head = 0
    }
  }

  /** The entry at `offset`, if it is still kept. */
  entry(offset: number): Entry | undefined {
    if (offset < this.firstOffset) return undefined
    return this.entries[offset - this.base]
  }

  /** Where `start` puts a new reader. */
  startOffset(start: StreamStart): number {
    switch (start.from) {
      case 'first': return this.firstOffset
      case 'next': return this.nextOffset
      case 'last': return this.length === 0 ? this.nextOffset : this.nextOffset - 1
      case 'offset': return Math.min(Math.max(start.offset, this.firstOffset), this.nextOffset)
      case 'time': {
        // Entries are in time order: the first at or after `at`.
        let low = this.head
        let high = this.entries.length
        while (low < high) {
          const middle = (low + high) >>> 1
          if (this.entries[middle]!.at < start.at) low = middle + 1
          else high = middle
        }
        return this.base + low
      }
    }
  }

  /** A reader from `offset` on; `moved` is told its place as it advances (a durable reader's keeper). */
  read(consumer: Consumer, offset: number, moved: ((next: number) => void) | null): StreamReader {
    const reader = new StreamReader(this, consumer, offset, moved)
    this.readers.add(reader)
    reader.wake()
    return reader
  }

  forget(reader: StreamReader): void {
    this.readers.delete(reader)
  }

  private push(entry: Entry): void {
    this.entries.push(entry)
    this.bytes += entry.size
  }
}

/** One SUBSCRIBE reading a stream: replays while its consumer has room, then follows appends. */
export class StreamReader implements Binding {
  private readonly stream: Stream
  private readonly consumer: Consumer
  private readonly moved: ((next: number) => void) | null
  /** The offset it delivers next. */
  private cursor: number
  private scheduled = false
  private cancelled = false

  constructor(stream: Stream, consumer: Consumer, offset: number, moved: ((next: number) => void) | null) {
    this.stream = stream
    this.consumer = consumer
    this.cursor = offset
    this.moved = moved
  }

  get position(): number {
    return this.cursor
  }

  /** Delivers what it can now; a long replay goes on in the next turns. */
  wake(): void {
    if (this.scheduled || this.cancelled) return
    const stream = this.stream
    const consumer = this.consumer
    const delivery = consumer.ackMode === 'auto' ? null : UNTRACKED_DELIVERY
    const started = performance.now()
    let sent = 0
    if (this.cursor < stream.firstOffset) this.cursor = stream.firstOffset // trimmed meanwhile
    while (this.cursor < stream.nextOffset && consumer.ready && !this.cancelled) {
      const entry = stream.entry(this.cursor++)!
      if (consumer.filter === null || consumer.filter(entry.message)) consumer.deliver(entry.message, false, delivery, `${OFFSET}:${entry.offset}\n`)
      if (++sent % 64 === 0 && performance.now() - started > REPLAY_BUDGET_MS) {
        this.scheduled = true
        setImmediate(() => {
          this.scheduled = false
          this.wake()
        })
        break
      }
    }
    if (sent > 0) {
      stream.delivered += sent
      this.moved?.(this.cursor)
    }
  }

  resume(): void {
    this.wake()
  }

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.stream.forget(this)
  }
}
