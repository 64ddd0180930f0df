// The embedded default store: SQLite through better-sqlite3, in WAL mode.
//
// Writes are grouped: everything appended, delivered or removed during one event-loop turn
// (or one commit window) goes into one transaction, and every append of that turn shares one
// promise that resolves when it has committed. A message appended and removed before its
// batch commits (delivered and acked at once) never touches the disk.
//
// Durability: with `synchronous=NORMAL` (the default) a committed transaction is in the WAL
// file before the promise resolves, so it survives the process being killed; surviving a power
// cut needs `synchronous=FULL` (an fsync per commit).
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { Header, Message } from '../broker/message.js'
import { StoreOpenError, type DurableRecord, type QueueRecord, type Store, type StoredMessage, type StoreWrite } from './store.js'

export type SyncMode = 'normal' | 'full'

export interface SqliteOptions {
  path: string
  synchronous: SyncMode
  /** ms to gather writes before committing; 0 = commit at the end of each event-loop turn. */
  commitInterval: number
}

interface Row {
  key: number
  queue: string
  id: string
  destination: string
  headers: string
  body: Buffer
  expires: number
  deliveries: number
}

interface Batch {
  promise: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  key INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  id TEXT NOT NULL,
  destination TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  expires INTEGER NOT NULL,
  deliveries INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS durable_subscriptions (
  key TEXT PRIMARY KEY,
  destination TEXT NOT NULL,
  selector TEXT
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  max_length INTEGER NOT NULL,
  max_bytes INTEGER NOT NULL,
  overflow TEXT NOT NULL
);
`

export class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly closedCleanly: boolean
  private readonly db: Database.Database
  private readonly options: SqliteOptions
  private nextKey: number
  private failure: string | null = null

  // The batch being gathered.
  private inserts = new Map<number, Row>()
  private updates = new Map<number, number>()
  private deletes: number[] = []
  private batch: Batch | null = null
  private scheduled = false

  private readonly insertRow: Database.Statement
  private readonly updateRow: Database.Statement
  private readonly deleteRow: Database.Statement
  private readonly commitBatch: (inserts: Iterable<Row>, updates: Map<number, number>, deletes: number[]) => void

  /** Opens (creating if needed) the database at `options.path`; a StoreOpenError says why it cannot. */
  static open(options: SqliteOptions): SqliteStore {
    let db: Database.Database
    try {
      mkdirSync(dirname(options.path), { recursive: true })
      db = new Database(options.path)
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
      db.exec(SCHEMA)
      // Reading proves the file is a database and not, say, a text file with a .db name.
      db.prepare('SELECT COUNT(*) FROM messages').get()
    } catch (err) {
      throw new StoreOpenError(`cannot open the SQLite store at ${options.path}: ${(err as Error).message}`)
    }
    return new SqliteStore(db, options)
  }

  private constructor(db: Database.Database, options: SqliteOptions) {
    this.db = db
    this.options = options
    const max = db.prepare('SELECT MAX(key) AS max FROM messages').get() as { max: number | null }
    this.nextKey = (max.max ?? 0) + 1
    // The marker is removed while the store is open and written back by close(): finding it
    // missing (in a database that has been used) means the last run ended without closing.
    const marker = db.prepare("SELECT value FROM meta WHERE name = 'closed-cleanly'").get() as { value: string } | undefined
    this.closedCleanly = marker !== undefined || max.max === null
    db.prepare("DELETE FROM meta WHERE name = 'closed-cleanly'").run()
    this.insertRow = db.prepare('INSERT INTO messages (key, queue, id, destination, headers, body, expires, deliveries) VALUES (@key, @queue, @id, @destination, @headers, @body, @expires, @deliveries)')
    this.updateRow = db.prepare('UPDATE messages SET deliveries = ? WHERE key = ?')
    this.deleteRow = db.prepare('DELETE FROM messages WHERE key = ?')
    this.commitBatch = db.transaction((inserts: Iterable<Row>, updates: Map<number, number>, deletes: number[]) => {
      for (const row of inserts) this.insertRow.run(row)
      for (const [key, deliveries] of updates) this.updateRow.run(deliveries, key)
      for (const key of deletes) this.deleteRow.run(key)
    })
  }

  get problem(): string | null {
    return this.failure
  }

  append(queue: string, message: Message, deliveries: number): StoreWrite {
    const key = this.nextKey++
    this.inserts.set(key, {
      key, queue, id: message.id, destination: message.destination,
      headers: JSON.stringify(message.headers), body: message.body, expires: message.expires, deliveries,
    })
    return { key, durable: this.pending().promise }
  }

  delivered(key: number, deliveries: number): void {
    const row = this.inserts.get(key)
    if (row !== undefined) {
      row.deliveries = deliveries
      return
    }
    this.updates.set(key, deliveries)
    this.pending()
  }

  remove(key: number): void {
    // Appended and removed before the batch commits: it need never be written.
    if (this.inserts.delete(key)) return
    this.updates.delete(key)
    this.deletes.push(key)
    this.pending()
  }

  async *recover(): AsyncIterable<StoredMessage> {
    await this.flush()
    const rows = this.db.prepare('SELECT key, queue, id, destination, headers, body, expires, deliveries FROM messages ORDER BY key').iterate() as IterableIterator<Row>
    for (const row of rows) {
      yield { ...row, headers: JSON.parse(row.headers) as Header[] }
    }
  }

  saveDurable(record: DurableRecord): void {
    this.db.prepare('INSERT OR REPLACE INTO durable_subscriptions (key, destination, selector) VALUES (?, ?, ?)').run(record.key, record.destination, record.selector)
  }

  deleteDurable(key: string): void {
    this.db.prepare('DELETE FROM durable_subscriptions WHERE key = ?').run(key)
  }

  async durables(): Promise<DurableRecord[]> {
    return this.db.prepare('SELECT key, destination, selector FROM durable_subscriptions ORDER BY key').all() as DurableRecord[]
  }

  saveQueue(record: QueueRecord): void {
    this.db.prepare('INSERT OR REPLACE INTO queues (name, max_length, max_bytes, overflow) VALUES (?, ?, ?, ?)').run(record.name, record.maxLength, record.maxBytes, record.overflow)
  }

  async queues(): Promise<QueueRecord[]> {
    const rows = this.db.prepare('SELECT name, max_length, max_bytes, overflow FROM queues ORDER BY name').all() as Array<{ name: string; max_length: number; max_bytes: number; overflow: QueueRecord['overflow'] }>
    return rows.map((r) => ({ name: r.name, maxLength: r.max_length, maxBytes: r.max_bytes, overflow: r.overflow }))
  }

  async flush(): Promise<void> {
    if (this.batch === null) return
    const { promise } = this.batch
    this.commit()
    return promise
  }

  settled(): Promise<void> | undefined {
    return this.batch?.promise
  }

  async close(): Promise<void> {
    try {
      await this.flush()
      this.db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('closed-cleanly', ?)").run(new Date().toISOString())
    } finally {
      this.db.close()
    }
  }

  /** The batch being gathered, scheduling its commit. */
  private pending(): Batch {
    if (this.batch === null) {
      let resolve!: () => void
      let reject!: (err: Error) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      // Callers that wait attach their own handlers; one that does not must not crash the process.
      promise.catch(() => {})
      this.batch = { promise, resolve, reject }
    }
    if (!this.scheduled) {
      this.scheduled = true
      if (this.options.commitInterval > 0) setTimeout(this.commit, this.options.commitInterval)
      else setImmediate(this.commit)
    }
    return this.batch
  }

  private readonly commit = (): void => {
    this.scheduled = false
    const batch = this.batch
    if (batch === null) return
    const inserts = this.inserts
    const updates = this.updates
    const deletes = this.deletes
    this.batch = null
    this.inserts = new Map()
    this.updates = new Map()
    this.deletes = []
    try {
      this.commitBatch(inserts.values(), updates, deletes)
      this.failure = null
      batch.resolve()
    } catch (err) {
      this.failure = (err as Error).message
      batch.reject(err as Error)
    }
  }
}
