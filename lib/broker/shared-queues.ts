// Where a cluster's queues and durable subscriptions live when they are not this process's
// (lib/cluster/redis-queues.ts: Redis Streams). The broker asks for its queues here instead of
// making them, and records durable subscriptions here instead of in its store.
import type { DurableRecord } from '../store/store.js'
import type { DeadLetterSink, Queue, QueueOptions } from './queue.js'

export interface SharedQueues {
  /** The queue for `/queue/<name>` (`destination`), shared with every node. */
  create(destination: string, options: QueueOptions, deadLetter: DeadLetterSink): Queue
  /** The queue of the durable subscription `key` (owner NUL name) on the topic `destination`. */
  createDurable(key: string, destination: string, options: QueueOptions, deadLetter: DeadLetterSink): Queue
  /** Records limits declared for a queue for every node; the first declaration holds. */
  declare(destination: string, options: QueueOptions): void
  /** The cluster's durable subscriptions. */
  durables(): Promise<DurableRecord[]>
  saveDurable(record: DurableRecord): void
  /** Deletes a durable subscription and what it kept, for every node. */
  deleteDurable(key: string): void
  /** One deleted elsewhere: this node stops reading it. */
  forgetDurable(key: string): void
  /** Calls `sync` with the cluster's durable subscriptions from time to time. */
  watchDurables(sync: (records: DurableRecord[]) => void): void
}
