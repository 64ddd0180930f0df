// The Store interface: where persistent queue messages, durable subscriptions and queue
// settings live across restarts. The broker talks to it only through this file; it never
// knows SQL. Writes are grouped by the store (one commit per event-loop turn), so a
// message's `durable` promise is shared with everything else committed with it.
import type { Header, Message } from '../broker/message.js'

/** A persistent message as the store holds it. */
export interface StoredMessage {
  /** Store-wide key; grows with insertion order, so sorting by it restores each queue's order. */
  key: number
  /** The queue's store name: its destination (`/queue/a`), or `durable:<key>` for a durable subscription. */
  queue: string
  id: string
  destination: string
  headers: Header[]
  body: Buffer
  expires: number
  /** Times delivered without an ack; above 0 it comes back marked redelivered. */
  deliveries: number
}

/** A durable topic subscription: kept, with its messages, while its subscriber is away. */
export interface DurableRecord {
  /** Who it belongs to and its name: login + NUL + subscription name. */
  key: string
  /** The topic destination subscribed to, wildcards included (`/topic/a.#`). */
  destination: string
  selector: string | null
}

/** Limits declared for a queue when it was created (x-max-length and friends). */
export interface QueueRecord {
  name: string
  maxLength: number
  maxBytes: number
  overflow: 'drop-head' | 'reject-publish'
}

export interface StoreWrite {
  key: number
  /** Resolves once the message is committed; undefined when nothing needs waiting for. */
  durable: Promise<void> | undefined
}

export interface Store {
  /** `memory` or `sqlite`, for logs. */
  readonly kind: string
  append(queue: string, message: Message, deliveries: number): StoreWrite
  /** The message was handed to a consumer; counts toward `redelivered` after a restart. */
  delivered(key: number, deliveries: number): void
  /** Acked, expired, dropped or moved: gone from the store. */
  remove(key: number): void
  /** Every stored message, in key order. */
  recover(): AsyncIterable<StoredMessage>
  saveDurable(record: DurableRecord): void
  deleteDurable(key: string): void
  durables(): Promise<DurableRecord[]>
  saveQueue(record: QueueRecord): void
  queues(): Promise<QueueRecord[]>
  /** Commits what is pending now. */
  flush(): Promise<void>
  /**
   * The commit that will make every write made so far durable; undefined when nothing is
   * pending. A RECEIPT for an ACK waits for it, so an acked message never comes back.
   */
  settled(): Promise<void> | undefined
  /**
   * False when the previous run did not close the store (a crash, kill -9): what it recovers
   * may have been delivered without the store knowing.
   */
  readonly closedCleanly: boolean
  /** Null when the store works; otherwise why it does not (for /readyz). */
  readonly problem: string | null
  close(): Promise<void>
}

/** The store could not be opened: the message is one line, fit for a start-up error. */
export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreOpenError'
  }
}
