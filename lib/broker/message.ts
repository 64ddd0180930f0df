// A message as the broker routes it: destination, headers, body and delivery metadata.
// Nothing here knows how a message is framed on the wire.
import { randomBytes } from 'node:crypto'

/** One header, as the sender wrote it. Order is kept. */
export type Header = [name: string, value: string]

/**
 * Keeps a message's headers in some other form and decodes them when asked; the session layer's
 * encoded MESSAGE tail is one. A message in flight then holds its header bytes once, off the
 * JavaScript heap, instead of an array of pairs of strings the garbage collector has to copy and
 * promote for as long as the message waits for its ACK.
 */
export interface HeaderSource {
  /** The headers, decoded anew on each call. */
  readHeaders(): Header[]
}

export interface MessageInit {
  id: string
  destination: string
  /** Headers forwarded to subscribers, the destination header included; or where to read them. */
  headers: Header[] | HeaderSource
  /** Owned by the message: never a view into a socket chunk. */
  body: Buffer
  persistent: boolean
  /** Epoch milliseconds after which the message is never delivered; 0 = never expires. */
  expires: number
  /**
   * The headers as pairs, when `headers` is a HeaderSource and they are at hand anyway (a SEND
   * to a topic, routed and let go at once): a selector then reads them without decoding.
   */
  properties?: Header[]
  /** A SEND's `dedup-id`: published once per destination within the duplicate-detection window. */
  dedupId?: string
  /** A SEND with `retain:true`: kept as its topic's last value. */
  retain?: boolean
}

export class Message {
  readonly id: string
  readonly destination: string
  private readonly headerList: Header[] | HeaderSource
  readonly body: Buffer
  readonly persistent: boolean
  readonly expires: number
  readonly dedupId: string | undefined
  readonly retain: boolean
  /**
   * The message's wire encoding, made and read only by the layer that writes messages
   * to clients, so a message fanned out to many subscribers is encoded once.
   */
  encoded: object | undefined = undefined

  constructor(init: MessageInit) {
    this.id = init.id
    this.destination = init.destination
    this.headerList = init.headers
    this.body = init.body
    this.persistent = init.persistent
    this.expires = init.expires
    this.propertyList = init.properties
    this.dedupId = init.dedupId
    this.retain = init.retain === true
  }

  /**
   * Headers forwarded to subscribers, the destination header included; not to be changed. From a
   * HeaderSource they are decoded on every read: code that looks at them per delivery (a selector)
   * should read them once.
   */
  get headers(): Header[] {
    const list = this.headerList
    return Array.isArray(list) ? list : list.readHeaders()
  }

  /** The headers as a selector reads them: decoded once per message, when first asked. */
  private propertyList: Header[] | undefined

  /** The value of the first header called `name`, as a selector reads it; undefined when there is none. */
  property(name: string): string | undefined {
    let list = this.propertyList
    if (list === undefined) {
      list = this.headers
      this.propertyList = list
    }
    // A message has a handful of headers: a scan beats building a Map for each message.
    for (let i = 0; i < list.length; i++) if (list[i]![0] === name) return list[i]![1]
    return undefined
  }

  isExpired(now: number): boolean {
    return this.expires !== 0 && now >= this.expires
  }

  /** Bytes this message holds, for queue byte limits and memory accounting. */
  get size(): number {
    let size = this.body.length
    for (const [name, value] of this.headers) size += name.length + value.length + 2
    return size
  }

  /** The same message with other headers, e.g. on its way to a dead-letter queue. */
  with(destination: string, headers: Header[]): Message {
    return new Message({ id: this.id, destination, headers, body: this.body, persistent: this.persistent, expires: this.expires })
  }
}

/** Message ids unique per broker and across restarts: a random per-process prefix and a counter. */
export class MessageIds {
  private readonly prefix: string
  private counter = 0

  constructor(prefix = randomBytes(6).toString('base64url')) {
    this.prefix = prefix + '-'
  }

  next(): string {
    return this.prefix + (++this.counter).toString(36)
  }
}
