// The SQLite store (the embedded default) against the Store contract, plus what only a store
// on disk can promise: data survives close and reopen, a turn's writes share one commit, and
// a path that is not a usable database fails with one clear line.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SqliteStore, type SqliteOptions } from '../../lib/store/sqlite.js'
import { StoreOpenError } from '../../lib/store/store.js'
import type { Teardown } from '../helpers/server.js'
import { recoverAll, storeContract, storeMessage } from './contract.js'

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-sqlite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function options(path: string, commitInterval = 0): SqliteOptions {
  return { path, synchronous: 'normal', commitInterval }
}

let databases = 0
const contractDir = tempDir(t)
storeContract(t, 'sqlite', () => SqliteStore.open(options(join(contractDir, `contract-${++databases}.db`))))

// The same contract with a commit window, so writes gather across event-loop turns.
storeContract(t, 'sqlite (commit interval 20 ms)', () => SqliteStore.open(options(join(contractDir, `windowed-${++databases}.db`), 20)))

t.test('messages, durable subscriptions and queue records survive closing and reopening the database', async (t) => {
  const path = join(tempDir(t), 'stompd.db')
  const first = SqliteStore.open(options(path))
  const kept = first.append('/queue/a', storeMessage('/queue/a', Buffer.from([0, 1, 2, 0])), 0)
  const acked = first.append('/queue/a', storeMessage('/queue/a', 'acked'), 0)
  const delivered = first.append('durable:\u0000news', storeMessage('/topic/news', 'delivered once'), 0)
  first.saveDurable({ key: '\u0000news', destination: '/topic/news', selector: null })
  first.saveQueue({ name: 'a', maxLength: 2, maxBytes: 0, overflow: 'reject-publish' })
  await kept.durable
  first.remove(acked.key)
  first.delivered(delivered.key, 1)
  // close() commits what is still pending.
  await first.close()

  const second = SqliteStore.open(options(path))
  t.teardown(() => second.close())
  const recovered = await recoverAll(second)
  t.same(recovered.map((r) => [r.key, r.queue, r.body.toString('hex'), r.deliveries]), [
    [kept.key, '/queue/a', '00010200', 0],
    [delivered.key, 'durable:\u0000news', Buffer.from('delivered once').toString('hex'), 1],
  ], 'what was neither acked nor removed is back, with its delivery count')
  t.same(await second.durables(), [{ key: '\u0000news', destination: '/topic/news', selector: null }])
  t.same(await second.queues(), [{ name: 'a', maxLength: 2, maxBytes: 0, overflow: 'reject-publish' }])
  const next = second.append('/queue/a', storeMessage('/queue/a', 'after reopen'), 0)
  t.ok(next.key > delivered.key, 'keys keep growing after a reopen, so order is kept')
})

t.test('appends in one event-loop turn share one commit', async (t) => {
  const store = SqliteStore.open(options(join(tempDir(t), 'stompd.db')))
  t.teardown(() => store.close())
  const writes = [1, 2, 3].map((n) => store.append('/queue/a', storeMessage('/queue/a', `m${n}`), 0))
  t.ok(writes[0]!.durable instanceof Promise, 'a write to SQLite has a durable promise')
  t.ok(writes.every((w) => w.durable === writes[0]!.durable), 'the same promise object for every append of the turn')
  await writes[0]!.durable
  const later = store.append('/queue/a', storeMessage('/queue/a', 'm4'), 0)
  t.not(later.durable, writes[0]!.durable, 'a later turn gets a commit of its own')
  await later.durable
  t.equal((await recoverAll(store)).length, 4)
})

/** Opening `path` throws a StoreOpenError with a one-line message naming the path. */
function expectOpenError(t: Test, path: string): void {
  let thrown: unknown
  try {
    const store = SqliteStore.open(options(path))
    t.teardown(() => store.close())
  } catch (err) {
    thrown = err
  }
  t.type(thrown, StoreOpenError, 'a StoreOpenError')
  const message = (thrown as Error | undefined)?.message ?? ''
  t.notMatch(message, /[\r\n]/, 'its message is one line')
  t.match(message, path, 'and names the path')
}

t.test('opening a directory as the database fails with a StoreOpenError', async (t) => {
  const path = join(tempDir(t), 'stompd.db')
  mkdirSync(path)
  expectOpenError(t, path)
})

t.test('opening a text file as the database fails with a StoreOpenError', async (t) => {
  const path = join(tempDir(t), 'notes.db')
  const text = 'these are my notes, not a database\n'.repeat(200)
  writeFileSync(path, text)
  expectOpenError(t, path)
  t.equal(readFileSync(path, 'utf8'), text, 'and the file is left as it was')
})

t.test('a path under a file (not a directory) fails with a StoreOpenError', async (t) => {
  const file = join(tempDir(t), 'plain-file')
  writeFileSync(file, 'x')
  expectOpenError(t, join(file, 'stompd.db'))
})

// A read-only directory stops only an unprivileged user: root (uid 0) writes through the
// permission bits, so as root the case proves nothing and is left out rather than faked.
if (process.getuid?.() !== 0) {
  t.test('a database in a read-only directory fails with a StoreOpenError', async (t) => {
    const dir = join(tempDir(t), 'read-only')
    mkdirSync(dir)
    chmodSync(dir, 0o555)
    t.teardown(() => chmodSync(dir, 0o755))
    expectOpenError(t, join(dir, 'stompd.db'))
  })
}
