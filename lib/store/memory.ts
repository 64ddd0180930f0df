// A store in memory: the same contract as SQLite, nothing survives the process. For
// `--store memory`, and for specs that restart a broker within one process.
import type { Message } from '../broker/message.js'
import type { DurableRecord, QueueRecord, Store, StoredMessage, StoreWrite } from './store.js'

export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly problem = null
  readonly closedCleanly = true
  private readonly messages = new Map<number, StoredMessage>()
  private readonly durableRecords = new Map<string, DurableRecord>()
  private readonly queueRecords = new Map<string, QueueRecord>()
  private nextKey = 1

  append(queue: string, message: Message, deliveries: number): StoreWrite {
    const key = this.nextKey++
    this.messages.set(key, {
      key, queue, id: message.id, destination: message.destination, headers: message.headers,
      body: message.body, expires: message.expires, deliveries,
    })
    return { key, durable: undefined }
  }

  delivered(key: number, deliveries: number): void {
    const stored = this.messages.get(key)
    if (stored !== undefined) stored.deliveries = deliveries
  }

  remove(key: number): void {
    this.messages.delete(key)
  }

  async *recover(): AsyncIterable<StoredMessage> {
    // Map iteration follows insertion order, which is key order.
    for (const stored of this.messages.values()) yield { ...stored }
  }

  saveDurable(record: DurableRecord): void {
    this.durableRecords.set(record.key, { ...record })
  }

  deleteDurable(key: string): void {
    this.durableRecords.delete(key)
  }

  async durables(): Promise<DurableRecord[]> {
    return [...this.durableRecords.values()].map((r) => ({ ...r }))
  }

  saveQueue(record: QueueRecord): void {
    this.queueRecords.set(record.name, { ...record })
  }

  async queues(): Promise<QueueRecord[]> {
    return [...this.queueRecords.values()].map((r) => ({ ...r }))
  }

  async flush(): Promise<void> {}

  settled(): undefined {
    return undefined
  }

  async close(): Promise<void> {}
}
