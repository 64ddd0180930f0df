// Duplicate detection: a SEND with a `dedup-id` is published or enqueued once per destination
// within a window; a retry inside it does nothing but get the first one's outcome (its RECEIPT
// waits for the first's durability). The ids of persistent messages are written to the store
// with them (as store queue `dedup:<destination>`, committed in the same batch), so a restart
// does not forget the window. Each destination remembers a bounded number of ids, oldest dropped.
import type { Store } from '../store/store.js'
import type { PublishResult } from './broker.js'
import { Message } from './message.js'

export const DEDUP_STORE_PREFIX = 'dedup:'

export interface DedupOptions {
  /** How long an id is remembered, in ms; 0 turns duplicate detection off. */
  windowMs: number
  /** Most ids remembered per destination. */
  maxIds: number
}

interface Seen {
  expires: number
  /** The first SEND's outcome while it is still pending; undefined once it is done. */
  pending: Promise<void> | undefined
  /** Its store key, for a persistent message's id. */
  key: number | null
}

const EMPTY = Buffer.alloc(0)

export class DedupWindow {
  private readonly store: Store
  private readonly options: DedupOptions
  /** By destination, ids in the order first seen (so in expiry order). */
  private readonly seen = new Map<string, Map<string, Seen>>()

  constructor(store: Store, options: DedupOptions) {
    this.store = store
    this.options = options
  }

  get enabled(): boolean {
    return this.options.windowMs > 0
  }

  /**
   * Publishes through `publish` unless `id` was published to `destination` within the window;
   * a duplicate returns the first one's outcome (undefined once done).
   */
  once(destination: string, id: string, persistent: boolean, publish: () => PublishResult): PublishResult {
    const now = Date.now()
    let ids = this.seen.get(destination)
    const earlier = ids?.get(id)
    if (earlier !== undefined && earlier.expires > now) return earlier.pending
    const result = publish()
    if (result instanceof Error) return result // refused: a retry may try again
    if (ids === undefined) {
      ids = new Map()
      this.seen.set(destination, ids)
    }
    if (earlier !== undefined) this.drop(ids, id, earlier)
    const entry: Seen = { expires: now + this.options.windowMs, pending: result, key: null }
    if (persistent) {
      const marker = new Message({ id, destination, headers: [], body: EMPTY, persistent: true, expires: entry.expires })
      entry.key = this.store.append(DEDUP_STORE_PREFIX + destination, marker, 0).key
    }
    ids.set(id, entry)
    if (result !== undefined) {
      result.then(() => {
        entry.pending = undefined
      }, () => {
        // Not accepted after all: forgotten, so the client's retry is published.
        if (ids.get(id) === entry) this.drop(ids!, id, entry)
      })
    }
    if (ids.size > this.options.maxIds) {
      const [oldestId, oldest] = ids.entries().next().value as [string, Seen]
      this.drop(ids, oldestId, oldest)
    }
    return result
  }

  /** An id kept in the store, at start-up. */
  restore(destination: string, id: string, expires: number, key: number): void {
    if (expires <= Date.now()) {
      this.store.remove(key)
      return
    }
    let ids = this.seen.get(destination)
    if (ids === undefined) {
      ids = new Map()
      this.seen.set(destination, ids)
    }
    ids.set(id, { expires, pending: undefined, key })
  }

  /** Forgets ids whose window has passed. */
  sweep(now: number): void {
    for (const [destination, ids] of this.seen) {
      for (const [id, entry] of ids) {
        if (entry.expires > now) break // in expiry order
        this.drop(ids, id, entry)
      }
      if (ids.size === 0) this.seen.delete(destination)
    }
  }

  private drop(ids: Map<string, Seen>, id: string, entry: Seen): void {
    ids.delete(id)
    if (entry.key !== null) this.store.remove(entry.key)
  }
}
