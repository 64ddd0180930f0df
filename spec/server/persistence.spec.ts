// Persistence as a client sees it. First, behaviour that must be the same whichever store is
// configured (memory or SQLite): queues keep persistent messages for absent consumers, durable
// topic subscriptions, expiry, queue limits, dead-lettering, readiness. Then what only a store
// on disk gives: all of that surviving a broker restart (a clean close, or SIGKILL), while
// transient messages — which live in memory — do not; and what happens when the store fails.
// Last, a store that cannot be opened stops the CLI with one clear line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import type { Frame, Header } from '../../lib/frame/frame.js'
import type { ListenAddresses, ServerOptions } from '../../lib/server.js'
import { SqliteStore } from '../../lib/store/sqlite.js'
import type { Store, StoredMessage } from '../../lib/store/store.js'
import { startBrokerProcess } from '../helpers/child.js'
import { runCliToExit, type CliRun } from '../helpers/cli.js'
import { expectErrorAndClose } from '../helpers/expect.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer, type Running, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, disconnect, inTransaction, header, messages, nextReceiptId, numbered, open, request, sendAll, subscribe, sync, waitError, waitMessages,
} from '../helpers/stomp.js'

const PERSISTENT: Header[] = [['persistent', 'true']]

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-persistence-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `sqlite:<path>` in a fresh temporary directory, removed after the test. */
function tempStore(t: Teardown): string {
  return `sqlite:${join(tempDir(t), 'stompd.db')}`
}

/** A raw STOMP 1.2 client over TCP that logs in as `login` (no login header when undefined). */
async function openAs(t: Teardown, addresses: ListenAddresses, login: string | undefined): Promise<RawClient> {
  const raw = await RawClient.tcp(t, addresses.tcp!)
  const headers: Header[] = [['accept-version', '1.2'], ['host', 'localhost']]
  if (login !== undefined) headers.push(['login', login], ['passcode', 'secret'])
  const connected = await raw.connect(headers)
  if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command} ${getHeader(connected, 'message') ?? ''}`)
  return raw
}

async function recoverAll(store: Store): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  for await (const stored of store.recover()) out.push(stored)
  return out
}

/** Bodies of what the running broker's store holds for `queue` (its store name). */
async function storedBodies(running: Running, queue: string): Promise<string[]> {
  return (await recoverAll(running.server.broker.store)).filter((s) => s.queue === queue).map((s) => s.body.toString())
}

/** Bodies of every message committed to the SQLite database at `store` (`sqlite:<path>`), read through a connection of its own. */
async function bodiesOnDisk(t: Teardown, store: string): Promise<string[]> {
  const opened = SqliteStore.open({ path: store.slice('sqlite:'.length), synchronous: 'normal', commitInterval: 0 })
  t.teardown(() => opened.close())
  return (await recoverAll(opened)).map((s) => s.body.toString())
}

/** Closes `running` and reads every message body left in its database. */
async function bodiesOnDiskAfter(t: Teardown, running: Running, store: string): Promise<string[]> {
  await running.server.close()
  return bodiesOnDisk(t, store)
}

/** Stops `running` cleanly (as SIGTERM does) and starts a new broker on the same store. */
async function restart(t: Teardown, running: Running, options: ServerOptions): Promise<Running> {
  await running.server.close()
  return startServer(t, options)
}

/** Subscribes, waits for `count` messages, and proves by a round-trip that no more are on their way. */
async function receiveExactly(raw: RawClient, id: string, destination: string, count: number, headers: Header[] = []): Promise<Frame[]> {
  await subscribe(raw, id, destination, headers)
  if (count > 0) await waitMessages(raw, count, id)
  await sync(raw)
  return messages(raw, id)
}

const STORES: ReadonlyArray<{ name: string; store: (t: Teardown) => string }> = [
  { name: 'memory', store: () => 'memory' },
  { name: 'sqlite', store: tempStore },
]

const DURABLE_VARIANTS: ReadonlyArray<{ name: string; headers: Header[] }> = [
  { name: 'durable:true', headers: [['durable', 'true']] },
  { name: 'persistent:true', headers: [['persistent', 'true']] },
  { name: 'activemq.subscriptionName', headers: [['activemq.subscriptionName', 'my-feed']] },
]

// ---- the same behaviour on every store ----

for (const { name: storeName, store } of STORES) {
  const start = (t: Test, options: ServerOptions = {}): Promise<Running> => startServer(t, { store: store(t), ...options })

  t.test(`a consumer that left gets every persistent message sent meanwhile, in order (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const consumer = await open(t, addresses)
    await subscribe(consumer, 's', '/queue/orders')
    await disconnect(consumer)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/orders', numbered('order', 10), PERSISTENT)
    const back = await open(t, addresses)
    const got = await receiveExactly(back, 's', '/queue/orders', 10)
    t.same(bodies(got), numbered('order', 10))
    t.ok(got.every((m) => header(m, 'redelivered') === 'false'), 'none is marked redelivered')
  })

  t.test(`a persistent message delivered but not acked comes back redelivered when its consumer leaves; an acked one never does (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/work', numbered('w', 3), PERSISTENT)
    const first = await open(t, addresses)
    await subscribe(first, 's', '/queue/work', [['ack', 'client-individual']])
    const got = await waitMessages(first, 3)
    await request(first, 'ACK', ackHeaders(got[1]!))
    await disconnect(first)
    const second = await open(t, addresses)
    const again = await receiveExactly(second, 's', '/queue/work', 2)
    t.same(bodies(again), ['w-0', 'w-2'])
    t.same(again.map((m) => header(m, 'redelivered')), ['true', 'true'])
  })

  for (const variant of DURABLE_VARIANTS) {
    t.test(`a durable topic subscription (${variant.name}) keeps what is published while its subscriber is away, in order (${storeName} store)`, async (t) => {
      const { addresses } = await start(t)
      const durable = await openAs(t, addresses, 'alice')
      await subscribe(durable, 'feed', '/topic/x', variant.headers)
      const plain = await openAs(t, addresses, 'alice')
      await subscribe(plain, 'plain', '/topic/x')
      await disconnect(durable)
      await disconnect(plain)
      const producer = await open(t, addresses)
      await sendAll(producer, '/topic/x', numbered('p', 5), PERSISTENT)
      const plainBack = await openAs(t, addresses, 'alice')
      t.same(bodies(await receiveExactly(plainBack, 'plain', '/topic/x', 0)), [], 'a non-durable subscriber gets nothing that was published after it left')
      const back = await openAs(t, addresses, 'alice')
      const got = await receiveExactly(back, 'feed', '/topic/x', 5, variant.headers)
      t.same(bodies(got), numbered('p', 5), 'the durable subscriber gets everything, in order')
      t.ok(got.every((m) => header(m, 'subscription') === 'feed' && header(m, 'destination') === '/topic/x'), 'on its subscription, from the topic')
    })

    t.test(`UNSUBSCRIBE with durable:true deletes a durable subscription (${variant.name}) and what it kept (${storeName} store)`, async (t) => {
      const { addresses } = await start(t)
      const producer = await open(t, addresses)
      const durable = await openAs(t, addresses, 'alice')
      await subscribe(durable, 'feed', '/topic/x', variant.headers)
      await sendAll(producer, '/topic/x', ['live'], PERSISTENT)
      await waitMessages(durable, 1)
      await request(durable, 'UNSUBSCRIBE', [['id', 'feed'], ['durable', 'true']])
      await sendAll(producer, '/topic/x', numbered('after-delete', 3), PERSISTENT)
      await disconnect(durable)
      const back = await openAs(t, addresses, 'alice')
      t.same(bodies(await receiveExactly(back, 'feed', '/topic/x', 0, variant.headers)), [], 'subscribing again starts afresh: nothing old arrives')
      await sendAll(producer, '/topic/x', ['new'], PERSISTENT)
      t.same(bodies(await waitMessages(back, 1)), ['new'], 'and the new subscription works')
    })
  }

  t.test(`UNSUBSCRIBE without durable:true only detaches: the durable subscription goes on keeping messages (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const durable = await openAs(t, addresses, 'alice')
    await subscribe(durable, 'feed', '/topic/x', [['durable', 'true']])
    await request(durable, 'UNSUBSCRIBE', [['id', 'feed']])
    const producer = await open(t, addresses)
    await sendAll(producer, '/topic/x', numbered('kept', 3), PERSISTENT)
    await sync(durable)
    t.equal(messages(durable).length, 0, 'nothing reaches the detached connection')
    t.same(bodies(await receiveExactly(durable, 'feed', '/topic/x', 3, [['durable', 'true']])), numbered('kept', 3), 'subscribing again, it gets what was kept')
  })

  t.test(`UNSUBSCRIBE with durable:true deletes a durable subscription nobody is attached to (${storeName} store)`, async (t) => {
    const { server, addresses } = await start(t)
    const durable = await openAs(t, addresses, 'alice')
    await subscribe(durable, 'feed', '/topic/x', [['durable', 'true']])
    await disconnect(durable)
    const producer = await open(t, addresses)
    await sendAll(producer, '/topic/x', numbered('kept', 3), PERSISTENT)
    const other = await openAs(t, addresses, 'alice')
    await request(other, 'UNSUBSCRIBE', [['id', 'feed'], ['durable', 'true']])
    t.same(await storedBodies({ server, addresses }, 'durable:alice\u0000feed'), [], 'what it kept has left the store')
    t.same(bodies(await receiveExactly(other, 'feed', '/topic/x', 0, [['durable', 'true']])), [], 'subscribing again, nothing old arrives')
  })

  t.test(`a durable subscription belongs to a login: the same id under another login is another subscription (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const alice = await openAs(t, addresses, 'alice')
    await subscribe(alice, 'feed', '/topic/x', [['durable', 'true']])
    await disconnect(alice)
    const producer = await open(t, addresses)
    await sendAll(producer, '/topic/x', numbered('for-alice', 3), PERSISTENT)
    const bob = await openAs(t, addresses, 'bob')
    t.same(bodies(await receiveExactly(bob, 'feed', '/topic/x', 0, [['durable', 'true']])), [], "bob's feed does not get what alice's kept")
    const anonymous = await openAs(t, addresses, undefined)
    t.same(bodies(await receiveExactly(anonymous, 'feed', '/topic/x', 0, [['durable', 'true']])), [], 'nor does a client without a login')
    await disconnect(bob)
    await disconnect(anonymous)
    await sendAll(producer, '/topic/x', ['for-all'], PERSISTENT)
    const aliceBack = await openAs(t, addresses, 'alice')
    t.same(bodies(await receiveExactly(aliceBack, 'feed', '/topic/x', 4, [['durable', 'true']])), [...numbered('for-alice', 3), 'for-all'])
    const bobBack = await openAs(t, addresses, 'bob')
    t.same(bodies(await receiveExactly(bobBack, 'feed', '/topic/x', 1, [['durable', 'true']])), ['for-all'], 'bob kept only what came after he subscribed')
  })

  t.test(`a persistent message whose expires time has passed, or whose ttl lapses while queued, is never delivered and leaves the store (${storeName} store)`, async (t) => {
    const running = await start(t)
    const producer = await open(t, running.addresses)
    await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['expires', String(Date.now() - 60_000)]], 'already-expired')
    await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['ttl', '50']], 'ttl-lapses')
    await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['expires', String(Date.now() + 100)]], 'expires-soon')
    await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['ttl', '600000']], 'long-lived')
    await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT], 'immortal')
    t.notOk((await storedBodies(running, '/queue/fresh')).includes('already-expired'), 'a message expired on arrival is never stored')
    // Let the short lifetimes lapse for sure; nothing is asserted about timing itself.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const consumer = await open(t, running.addresses)
    const got = await receiveExactly(consumer, 's', '/queue/fresh', 2, [['ack', 'client-individual']])
    t.same(bodies(got), ['long-lived', 'immortal'], 'only the unexpired are delivered')
    t.same(await storedBodies(running, '/queue/fresh'), ['long-lived', 'immortal'], 'the expired ones are gone from the store')
  })

  t.test(`x-max-length with the default overflow drops the oldest waiting messages (${storeName} store)`, async (t) => {
    const running = await start(t)
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/queue/capped', numbered('m', 5), [...PERSISTENT, ['x-max-length', '3']])
    t.same(await storedBodies(running, '/queue/capped'), ['m-2', 'm-3', 'm-4'], 'the dropped ones leave the store')
    const consumer = await open(t, running.addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/capped', 3)), ['m-2', 'm-3', 'm-4'])
  })

  t.test(`x-max-length with x-overflow:reject-publish refuses a SEND to a full queue with ERROR queue-full (${storeName} store)`, async (t) => {
    const running = await start(t)
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/queue/strict', numbered('m', 2), [...PERSISTENT, ['x-max-length', '2'], ['x-overflow', 'reject-publish']])
    const late = await open(t, running.addresses)
    late.frame('SEND', [['destination', '/queue/strict'], ...PERSISTENT, ['receipt', 'too-many']], 'refused')
    await expectErrorAndClose(t, late, 'queue-full', { receiptId: 'too-many' })
    t.same(await storedBodies(running, '/queue/strict'), ['m-0', 'm-1'], 'the refused message is not stored')
    const consumer = await open(t, running.addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/strict', 2)), ['m-0', 'm-1'])
  })

  t.test(`x-max-length-bytes declared on SUBSCRIBE bounds the body bytes a queue keeps (${storeName} store)`, async (t) => {
    const running = await start(t)
    const consumer = await open(t, running.addresses)
    await subscribe(consumer, 'declare', '/queue/bytes', [['x-max-length-bytes', '10']])
    await request(consumer, 'UNSUBSCRIBE', [['id', 'declare']])
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/queue/bytes', ['aaaa', 'bbbb', 'cccc', 'dddd'], PERSISTENT)
    t.same(await storedBodies(running, '/queue/bytes'), ['cccc', 'dddd'], 'no more than 10 bytes wait; the oldest went')
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/bytes', 2)), ['cccc', 'dddd'])
  })

  t.test(`limits from a later SEND do not change a queue that already exists (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/first-wins', ['a'], [...PERSISTENT, ['x-max-length', '2']])
    await sendAll(producer, '/queue/first-wins', ['b', 'c', 'd'], [...PERSISTENT, ['x-max-length', '10']])
    const consumer = await open(t, addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/first-wins', 2)), ['c', 'd'])
  })

  t.test(`a COMMIT refused because a queue is full applies none of the transaction's SENDs (${storeName} store)`, async (t) => {
    const running = await start(t)
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/queue/strict', ['m-0'], [...PERSISTENT, ['x-max-length', '2'], ['x-overflow', 'reject-publish']])
    const txClient = await open(t, running.addresses)
    await request(txClient, 'BEGIN', [['transaction', 'tx']])
    for (const body of ['tx-1', 'tx-2', 'tx-3']) await inTransaction(txClient, 'SEND', [['destination', '/queue/strict'], ['transaction', 'tx'], ...PERSISTENT], body)
    await inTransaction(txClient, 'SEND', [['destination', '/queue/other'], ['transaction', 'tx'], ...PERSISTENT], 'elsewhere')
    const receipts = txClient.frames.length
    txClient.frame('COMMIT', [['transaction', 'tx'], ['receipt', 'commit']])
    await txClient.until(() => txClient.frames.length > receipts)
    const error = txClient.frames[receipts]!
    t.equal(error.command, 'ERROR', 'the COMMIT is refused')
    t.equal(header(error, 'message'), 'queue full')
    t.equal(header(error, 'receipt-id'), 'commit')
    // A transaction takes effect at COMMIT as a whole; one that fails must leave no part behind.
    t.same(await storedBodies(running, '/queue/strict'), ['m-0'], 'none of its messages is stored in the full queue')
    t.same(await storedBodies(running, '/queue/other'), [], 'nor in another queue')
    const consumer = await open(t, running.addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/strict', 1)), ['m-0'], 'the queue holds only what was there')
    t.same(bodies(await receiveExactly(consumer, 'o', '/queue/other', 0)), [], 'and the other queue got nothing')
  })

  t.test(`server-wide queueMaxLength and queueOverflow apply to every queue (${storeName} store)`, async (t) => {
    const { addresses } = await start(t, { queueMaxLength: 2, queueOverflow: 'reject-publish' })
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/any', numbered('m', 2), PERSISTENT)
    const late = await open(t, addresses)
    late.frame('SEND', [['destination', '/queue/any'], ...PERSISTENT, ['receipt', 'third']], 'refused')
    await expectErrorAndClose(t, late, 'queue-full', { receiptId: 'third' })
    const consumer = await open(t, addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/any', 2)), ['m-0', 'm-1'])
  })

  t.test(`server-wide queueMaxLength with drop-head keeps the newest (${storeName} store)`, async (t) => {
    const { addresses } = await start(t, { queueMaxLength: 2 })
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/any', numbered('m', 4), PERSISTENT)
    const consumer = await open(t, addresses)
    t.same(bodies(await receiveExactly(consumer, 's', '/queue/any', 2)), ['m-2', 'm-3'])
  })

  t.test(`a message NACKed past max-redeliveries moves to /queue/DLQ.<name> (${storeName} store)`, async (t) => {
    const running = await start(t, { maxRedeliveries: 1 })
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/queue/jobs', ['poison'], [...PERSISTENT, ['kind', 'bad']])
    const consumer = await open(t, running.addresses)
    await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual']])
    const [first] = await waitMessages(consumer, 1)
    await request(consumer, 'NACK', ackHeaders(first!))
    const [, second] = await waitMessages(consumer, 2)
    t.equal(header(second!, 'redelivered'), 'true', 'one redelivery is allowed')
    await request(consumer, 'NACK', ackHeaders(second!))
    await sync(consumer)
    t.equal(messages(consumer).length, 2, 'then it is not delivered again')
    t.same(await storedBodies(running, '/queue/jobs'), [], 'it left its queue in the store')
    t.same(await storedBodies(running, '/queue/DLQ.jobs'), ['poison'], 'and is stored in the dead-letter queue')
    const reader = await open(t, running.addresses)
    const [dead] = await receiveExactly(reader, 'dlq', '/queue/DLQ.jobs', 1)
    t.equal(dead!.body.toString(), 'poison')
    t.equal(header(dead!, 'destination'), '/queue/DLQ.jobs')
    t.equal(header(dead!, 'original-destination'), '/queue/jobs')
    t.equal(header(dead!, 'kind'), 'bad', "the sender's headers go with it")
  })

  t.test(`GET /readyz answers 200 with a working store (${storeName} store)`, async (t) => {
    const { addresses } = await start(t)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/ready', ['x'], PERSISTENT)
    const response = await fetch(`${addresses.http}/readyz`)
    t.equal(response.status, 200)
    t.same(await response.json(), { status: 'ready' })
  })
}

// ---- across restarts, with the SQLite store ----

t.test('a consumer that left gets every persistent message sent before the broker restarted, in order', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const consumer = await open(t, running.addresses)
  await subscribe(consumer, 's', '/queue/orders')
  await disconnect(consumer)
  const producer = await open(t, running.addresses, 'ws')
  // Every one receipted: from here on only the store remembers them.
  await sendAll(producer, '/queue/orders', numbered('order', 20), PERSISTENT)
  running = await restart(t, running, { store })
  const back = await open(t, running.addresses)
  const got = await receiveExactly(back, 's', '/queue/orders', 20)
  t.same(bodies(got), numbered('order', 20), 'all of them, in the order sent')
  t.ok(got.every((m) => header(m, 'redelivered') === 'false'), 'none is marked redelivered: none had been delivered')
  t.ok(got.every((m) => header(m, 'persistent') === 'true' && header(m, 'destination') === '/queue/orders'), 'with their headers')
})

t.test('a message delivered but not acked before a restart comes back redelivered; an acked one never comes back', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/work', numbered('w', 4), PERSISTENT)
  const consumer = await open(t, running.addresses)
  await subscribe(consumer, 's', '/queue/work', [['ack', 'client-individual']])
  const got = await waitMessages(consumer, 4)
  await request(consumer, 'ACK', ackHeaders(got[0]!))
  await request(consumer, 'ACK', ackHeaders(got[2]!))
  // Still attached, w-1 and w-3 unacked, when the broker goes down.
  running = await restart(t, running, { store })
  const back = await open(t, running.addresses)
  const again = await receiveExactly(back, 's', '/queue/work', 2, [['ack', 'client-individual']])
  t.same(bodies(again), ['w-1', 'w-3'])
  t.same(again.map((m) => header(m, 'redelivered')), ['true', 'true'])
  t.same(again.map((m) => header(m, 'message-id')), [got[1]!, got[3]!].map((m) => header(m, 'message-id')), 'each keeps its message-id')
  await request(back, 'ACK', ackHeaders(again[0]!))
  await request(back, 'ACK', ackHeaders(again[1]!))
  running = await restart(t, running, { store })
  const last = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(last, 's', '/queue/work', 0)), [], 'once acked after the restart, they are gone for good')
})

t.test('transient messages live in memory: only persistent ones survive a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/mixed', ['p-0'], PERSISTENT)
  await sendAll(producer, '/queue/mixed', ['t-1'])
  await sendAll(producer, '/queue/mixed', ['p-2'], PERSISTENT)
  await sendAll(producer, '/queue/mixed', ['t-3'], [['persistent', 'false']])
  running = await restart(t, running, { store })
  const consumer = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(consumer, 's', '/queue/mixed', 2)), ['p-0', 'p-2'])
})

for (const variant of DURABLE_VARIANTS) {
  t.test(`a durable topic subscription (${variant.name}) and what it kept survive a restart`, async (t) => {
    const store = tempStore(t)
    let running = await startServer(t, { store })
    const durable = await openAs(t, running.addresses, 'alice')
    await subscribe(durable, 'feed', '/topic/x', variant.headers)
    await disconnect(durable)
    const producer = await open(t, running.addresses)
    await sendAll(producer, '/topic/x', numbered('before', 5), PERSISTENT)
    running = await restart(t, running, { store })
    const after = await open(t, running.addresses)
    await sendAll(after, '/topic/x', numbered('after', 2), PERSISTENT)
    const back = await openAs(t, running.addresses, 'alice')
    const got = await receiveExactly(back, 'feed', '/topic/x', 7, variant.headers)
    t.same(bodies(got), [...numbered('before', 5), ...numbered('after', 2)], 'what came before the restart, then what came after it while still away, in order')
    t.ok(got.every((m) => header(m, 'redelivered') === 'false'), 'none marked redelivered')
  })
}

t.test('a durable subscriber that had not acked before a restart gets those messages again, marked redelivered', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const durable = await openAs(t, running.addresses, 'alice')
  await subscribe(durable, 'feed', '/topic/x', [['durable', 'true'], ['ack', 'client']])
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/x', numbered('d', 3), PERSISTENT)
  const got = await waitMessages(durable, 3)
  await request(durable, 'ACK', ackHeaders(got[0]!))
  running = await restart(t, running, { store })
  const back = await openAs(t, running.addresses, 'alice')
  const again = await receiveExactly(back, 'feed', '/topic/x', 2, [['durable', 'true']])
  t.same(bodies(again), ['d-1', 'd-2'])
  t.same(again.map((m) => header(m, 'redelivered')), ['true', 'true'])
})

t.test('a non-durable topic subscriber gets nothing across a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const plain = await openAs(t, running.addresses, 'alice')
  await subscribe(plain, 'plain', '/topic/x')
  await disconnect(plain)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/x', numbered('p', 3), PERSISTENT)
  running = await restart(t, running, { store })
  const back = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(back, 'plain', '/topic/x', 0)), [])
  t.same(await bodiesOnDiskAfter(t, running, store), [], 'and nothing was ever stored for it')
})

t.test('a durable subscription deleted with UNSUBSCRIBE durable:true stays deleted after a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const durable = await openAs(t, running.addresses, 'alice')
  await subscribe(durable, 'feed', '/topic/x', [['durable', 'true']])
  await disconnect(durable)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/x', numbered('old', 3), PERSISTENT)
  const deleter = await openAs(t, running.addresses, 'alice')
  await request(deleter, 'UNSUBSCRIBE', [['id', 'feed'], ['durable', 'true']])
  running = await restart(t, running, { store })
  const producerAfter = await open(t, running.addresses)
  await sendAll(producerAfter, '/topic/x', numbered('unheard', 2), PERSISTENT)
  const back = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(back, 'feed', '/topic/x', 0, [['durable', 'true']])), [], 'nothing old, and nothing published while nobody subscribed')
})

t.test('durable subscriptions of two logins with the same id stay apart across a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const alice = await openAs(t, running.addresses, 'alice')
  await subscribe(alice, 'feed', '/topic/x', [['durable', 'true']])
  await disconnect(alice)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/x', ['a-1'], PERSISTENT)
  const bob = await openAs(t, running.addresses, 'bob')
  await subscribe(bob, 'feed', '/topic/x', [['durable', 'true']])
  await disconnect(bob)
  await sendAll(producer, '/topic/x', ['both-2'], PERSISTENT)
  running = await restart(t, running, { store })
  const bobBack = await openAs(t, running.addresses, 'bob')
  t.same(bodies(await receiveExactly(bobBack, 'feed', '/topic/x', 1, [['durable', 'true']])), ['both-2'])
  const aliceBack = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(aliceBack, 'feed', '/topic/x', 2, [['durable', 'true']])), ['a-1', 'both-2'])
})

t.test('a durable subscription survives SIGKILL with every receipted message, in order', async (t) => {
  const store = tempStore(t)
  const first = await startBrokerProcess(t, ['--store', store])
  const durable = await RawClient.tcp(t, first.tcp)
  await durable.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice']])
  await subscribe(durable, 'feed', '/topic/x', [['durable', 'true']])
  await disconnect(durable)
  const producer = await RawClient.tcp(t, first.tcp)
  await producer.connect()
  await sendAll(producer, '/topic/x', numbered('k', 10), PERSISTENT)
  first.child.kill('SIGKILL')
  await first.exited
  const second = await startBrokerProcess(t, ['--store', store])
  const back = await RawClient.tcp(t, second.tcp)
  await back.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice']])
  t.same(bodies(await receiveExactly(back, 'feed', '/topic/x', 10, [['durable', 'true']])), numbered('k', 10))
})

t.test('a persistent message that expires while the broker is down is not delivered after the restart, and leaves the store', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['ttl', '100']], 'ttl-lapses')
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['expires', String(Date.now() + 100)]], 'expires-soon')
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['expires', String(Date.now() - 1000)]], 'already-expired')
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ...PERSISTENT, ['ttl', '600000']], 'long-lived')
  await running.server.close()
  t.same(await bodiesOnDisk(t, store), ['ttl-lapses', 'expires-soon', 'long-lived'], 'before the lapse, the short-lived ones are stored (the expired one never was)')
  // Let the short lifetimes lapse for sure while the broker is down.
  await new Promise((resolve) => setTimeout(resolve, 300))
  running = await startServer(t, { store })
  t.same(await bodiesOnDiskAfter(t, running, store), ['long-lived'], 'a restart drops expired messages from the store')
  running = await startServer(t, { store })
  const consumer = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(consumer, 's', '/queue/fresh', 1)), ['long-lived'])
})

t.test('queue limits declared with x-max-length and x-overflow survive a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/strict', ['m-0'], [...PERSISTENT, ['x-max-length', '2'], ['x-overflow', 'reject-publish']])
  const consumer = await open(t, running.addresses)
  await subscribe(consumer, 'declare', '/queue/drop', [['x-max-length', '2']])
  await request(consumer, 'UNSUBSCRIBE', [['id', 'declare']])
  running = await restart(t, running, { store })
  const after = await open(t, running.addresses)
  await sendAll(after, '/queue/strict', ['m-1'], PERSISTENT)
  await sendAll(after, '/queue/drop', numbered('d', 4), PERSISTENT)
  const late = await open(t, running.addresses)
  const receiptId = nextReceiptId()
  late.frame('SEND', [['destination', '/queue/strict'], ...PERSISTENT, ['receipt', receiptId]], 'refused')
  await expectErrorAndClose(t, late, 'queue-full', { receiptId })
  const reader = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(reader, 'strict', '/queue/strict', 2)), ['m-0', 'm-1'], 'reject-publish still holds')
  t.same(bodies(await receiveExactly(reader, 'drop', '/queue/drop', 2)), ['d-2', 'd-3'], 'drop-head with max-length 2 still holds')
})

t.test('the dead-letter queue is persistent: a dead-lettered message is still there after a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store, maxRedeliveries: 1 })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/jobs', ['poison', 'fine'], PERSISTENT)
  const consumer = await open(t, running.addresses)
  await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual'], ['prefetch-count', '1']])
  const [first] = await waitMessages(consumer, 1)
  await request(consumer, 'NACK', ackHeaders(first!))
  const [, second] = await waitMessages(consumer, 2)
  t.equal(second!.body.toString(), 'poison')
  await request(consumer, 'NACK', ackHeaders(second!))
  const [, , third] = await waitMessages(consumer, 3)
  t.equal(third!.body.toString(), 'fine', 'the next message follows once the poison one is dead-lettered')
  await request(consumer, 'ACK', ackHeaders(third!))
  running = await restart(t, running, { store, maxRedeliveries: 1 })
  const reader = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(reader, 'jobs', '/queue/jobs', 0)), [], 'the original queue is empty')
  const [dead, ...more] = await receiveExactly(reader, 'dlq', '/queue/DLQ.jobs', 1)
  t.equal(more.length, 0)
  t.equal(dead!.body.toString(), 'poison')
  t.equal(header(dead!, 'original-destination'), '/queue/jobs')
})

t.test('GET /readyz answers 200 after a restart on an existing SQLite database', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/ready', ['x'], PERSISTENT)
  running = await restart(t, running, { store })
  const response = await fetch(`${running.addresses.http}/readyz`)
  t.equal(response.status, 200)
  t.same(await response.json(), { status: 'ready' })
})

t.test('a persistent message is on disk when its RECEIPT arrives, whatever the commit window', async (t) => {
  for (const storeCommitInterval of [0, 50]) {
    const store = tempStore(t)
    const { addresses } = await startServer(t, { store, storeCommitInterval })
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/durable', numbered(`c${storeCommitInterval}`, 3), PERSISTENT)
    // Read by another connection to the database while the broker still runs, as after a crash.
    t.same(await bodiesOnDisk(t, store), numbered(`c${storeCommitInterval}`, 3), `commit window ${storeCommitInterval} ms`)
  }
})

t.test('a persistent message with a binary body (NUL bytes, content-length) comes back byte for byte after a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const body = Buffer.from([0x00, 0x01, 0x00, 0xff, 0xfe, 0x0a, 0x00])
  const producer = await open(t, running.addresses)
  await request(producer, 'SEND', [['destination', '/queue/bin'], ...PERSISTENT, ['content-type', 'application/octet-stream'], ['content-length', String(body.length)], ['x-custom', 'a:b']], body)
  running = await restart(t, running, { store })
  const consumer = await open(t, running.addresses)
  const [got] = await receiveExactly(consumer, 's', '/queue/bin', 1)
  t.ok(got!.body.equals(body), 'the body, byte for byte')
  t.equal(header(got!, 'content-type'), 'application/octet-stream')
  t.equal(header(got!, 'x-custom'), 'a:b', "the sender's headers")
})

t.test('persistent messages sent in a committed transaction survive a restart; those of an aborted one never appear', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await request(producer, 'BEGIN', [['transaction', 'tx-1']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/tx'], ['transaction', 'tx-1'], ...PERSISTENT], 'committed-0')
  await inTransaction(producer, 'SEND', [['destination', '/queue/tx'], ['transaction', 'tx-1'], ...PERSISTENT], 'committed-1')
  await request(producer, 'COMMIT', [['transaction', 'tx-1']])
  await request(producer, 'BEGIN', [['transaction', 'tx-2']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/tx'], ['transaction', 'tx-2'], ...PERSISTENT], 'aborted')
  await request(producer, 'ABORT', [['transaction', 'tx-2']])
  await request(producer, 'BEGIN', [['transaction', 'tx-3']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/tx'], ['transaction', 'tx-3'], ...PERSISTENT], 'never-committed')
  running = await restart(t, running, { store })
  const consumer = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(consumer, 's', '/queue/tx', 2)), ['committed-0', 'committed-1'])
})

t.test('a message redelivered before a restart counts toward max-redeliveries after it', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store, maxRedeliveries: 1 })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/jobs', ['poison'], PERSISTENT)
  const consumer = await open(t, running.addresses)
  await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual']])
  await waitMessages(consumer, 1)
  // Delivered once, not acked, when the broker goes down.
  running = await restart(t, running, { store, maxRedeliveries: 1 })
  const back = await open(t, running.addresses)
  const [again] = await receiveExactly(back, 's', '/queue/jobs', 1, [['ack', 'client-individual']])
  t.equal(header(again!, 'redelivered'), 'true', 'the second delivery, after the restart')
  await request(back, 'NACK', ackHeaders(again!))
  await sync(back)
  t.equal(messages(back).length, 1, 'a NACK of the second delivery exceeds max-redeliveries 1')
  const reader = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(reader, 'dlq', '/queue/DLQ.jobs', 1)), ['poison'], 'so it is dead-lettered')
})

t.test('a durable subscription to a wildcard topic keeps matching messages across a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const durable = await openAs(t, running.addresses, 'alice')
  await subscribe(durable, 'prices', '/topic/prices.*', [['durable', 'true']])
  await disconnect(durable)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/prices.eur', ['eur-1'], PERSISTENT)
  await sendAll(producer, '/topic/news.eur', ['not-a-price'], PERSISTENT)
  running = await restart(t, running, { store })
  const after = await open(t, running.addresses)
  await sendAll(after, '/topic/prices.usd', ['usd-2'], PERSISTENT)
  await sendAll(after, '/topic/prices.usd.spot', ['too-deep'], PERSISTENT)
  const back = await openAs(t, running.addresses, 'alice')
  const got = await receiveExactly(back, 'prices', '/topic/prices.*', 2, [['durable', 'true']])
  t.same(bodies(got), ['eur-1', 'usd-2'])
  t.same(got.map((m) => header(m, 'destination')), ['/topic/prices.eur', '/topic/prices.usd'], 'each with the topic it was published to')
})

t.test('transient messages kept for an absent durable subscriber live in memory: only persistent ones survive a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const durable = await openAs(t, running.addresses, 'alice')
  await subscribe(durable, 'feed', '/topic/x', [['durable', 'true']])
  await disconnect(durable)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/x', ['p-0'], PERSISTENT)
  await sendAll(producer, '/topic/x', ['t-1'])
  await sendAll(producer, '/topic/x', ['p-2'], PERSISTENT)
  running = await restart(t, running, { store })
  const back = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(back, 'feed', '/topic/x', 2, [['durable', 'true']])), ['p-0', 'p-2'])
})

t.test('a durable subscription re-made on another topic starts afresh, and its old messages leave the store', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const durable = await openAs(t, running.addresses, 'alice')
  await subscribe(durable, 'feed', '/topic/old', [['durable', 'true']])
  await disconnect(durable)
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/topic/old', numbered('old', 2), PERSISTENT)
  const moved = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(moved, 'feed', '/topic/new', 0, [['durable', 'true']])), [], 'nothing from the old topic arrives')
  await disconnect(moved)
  await sendAll(producer, '/topic/old', ['old-late'], PERSISTENT)
  await sendAll(producer, '/topic/new', ['new-0'], PERSISTENT)
  running = await restart(t, running, { store })
  const back = await openAs(t, running.addresses, 'alice')
  t.same(bodies(await receiveExactly(back, 'feed', '/topic/new', 1, [['durable', 'true']])), ['new-0'], 'after a restart it still follows the new topic only')
  await disconnect(back)
  t.same(await bodiesOnDiskAfter(t, running, store), [], 'nothing of the old subscription is left on disk')
})

t.test('queue byte limits declared with x-max-length-bytes survive a restart', async (t) => {
  const store = tempStore(t)
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses)
  await sendAll(producer, '/queue/bytes', ['aaaa'], [...PERSISTENT, ['x-max-length-bytes', '10']])
  running = await restart(t, running, { store })
  const after = await open(t, running.addresses)
  await sendAll(after, '/queue/bytes', ['bbbb', 'cccc', 'dddd'], PERSISTENT)
  const consumer = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(consumer, 's', '/queue/bytes', 2)), ['cccc', 'dddd'])
})

t.test('closing the broker commits persistent messages still waiting in the commit window', async (t) => {
  const store = tempStore(t)
  // A long window: the messages below are still uncommitted when close() begins.
  let running = await startServer(t, { store, storeCommitInterval: 1000 })
  const producer = await open(t, running.addresses)
  for (const body of numbered('pending', 3)) producer.frame('SEND', [['destination', '/queue/window'], ...PERSISTENT], body)
  // No receipt on the SENDs (that would wait for the commit); a transient round-trip proves they were handled.
  await sync(producer)
  running = await restart(t, running, { store })
  const consumer = await open(t, running.addresses)
  t.same(bodies(await receiveExactly(consumer, 's', '/queue/window', 3)), numbered('pending', 3))
})

t.test('with a commit window, a delivery and an ACK a client has seen are not lost to SIGKILL', async (t) => {
  const store = tempStore(t)
  // The longest window allowed, so the kill below surely lands inside it.
  const first = await startBrokerProcess(t, ['--store', store, '--store-commit-interval', '1000'])
  const producer = await RawClient.tcp(t, first.tcp)
  await producer.connect()
  await sendAll(producer, '/queue/window', numbered('w', 2), PERSISTENT)
  const consumer = await RawClient.tcp(t, first.tcp)
  await consumer.connect()
  await subscribe(consumer, 's', '/queue/window', [['ack', 'client-individual']])
  const got = await waitMessages(consumer, 2)
  // The RECEIPT says the ACK took effect: w-0 is consumed. w-1 has been delivered.
  await request(consumer, 'ACK', ackHeaders(got[0]!))
  first.child.kill('SIGKILL')
  await first.exited
  const second = await startBrokerProcess(t, ['--store', store])
  const back = await RawClient.tcp(t, second.tcp)
  await back.connect()
  await subscribe(back, 's', '/queue/window')
  await waitMessages(back, 1)
  await sync(back)
  const again = messages(back)
  t.same(bodies(again), ['w-1'], 'the message acked (with a RECEIPT) before the kill does not come back')
  const delivered = again.find((m) => m.body.toString() === 'w-1')
  t.equal(delivered && header(delivered, 'redelivered'), 'true', 'the one delivered before the kill comes back marked redelivered')
})

t.test('when the store cannot commit, a persistent SEND is refused with ERROR store-unavailable, is not delivered, and /readyz answers 503', async (t) => {
  const store = tempStore(t)
  const { addresses } = await startServer(t, { store })
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/a', ['stored'], PERSISTENT)
  // Fault injection: another connection drops the table the broker commits to, so its next commit fails.
  const saboteur = new Database(store.slice('sqlite:'.length))
  saboteur.exec('DROP TABLE messages')
  saboteur.close()
  producer.frame('SEND', [['destination', '/queue/a'], ...PERSISTENT, ['receipt', 'refused']], 'not-stored')
  const error = await waitError(producer)
  t.equal(header(error, 'message'), 'store unavailable')
  t.equal(header(error, 'receipt-id'), 'refused')
  t.equal(messages(producer).length, 0)
  const response = await fetch(`${addresses.http}/readyz`)
  t.equal(response.status, 503, '/readyz reports the broker not ready')
  t.match(await response.json(), { status: 'unavailable', detail: /^store: / })
  // No receipts from here on: with the store broken, a RECEIPT that waits for the consumer's
  // ack to be stored would (rightly) be an ERROR too.
  const consumer = await open(t, addresses)
  consumer.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/a']])
  await waitMessages(consumer, 1, 's')
  await consumer.quiet(300)
  t.same(bodies(messages(consumer, 's')), ['stored'], 'a message the producer was told was not accepted is never delivered')
})

// ---- a store that cannot be opened ----

/** stompd exited non-zero with one line on stderr, `stompd: cannot start: ...`, and no stack trace. */
function expectStartFailure(t: Test, run: CliRun): string {
  t.not(run.code, 0, `it exits non-zero (${run.code})`)
  t.equal(run.signal, null, 'by itself, not by a signal')
  t.notMatch(run.stdout, /stompd listening/, 'it never says it is listening')
  const lines = run.stderr.split('\n').filter((line) => line.trim() !== '')
  t.equal(lines.length, 1, `stderr is one line: ${JSON.stringify(run.stderr)}`)
  t.match(lines[0], /^stompd: cannot start: /, 'starting "stompd: cannot start:"')
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
  return lines[0] ?? ''
}

t.test('a store that cannot be opened stops the CLI at start-up with one clear line', async (t) => {
  const textFile = join(tempDir(t), 'notes.db')
  writeFileSync(textFile, 'these are my notes, not a database\n'.repeat(200))
  // Both processes start at once: most of each run is Node loading the broker.
  const underFile = runCliToExit(t, ['--store', 'sqlite:/dev/null/x.db'])
  const notADatabase = runCliToExit(t, ['--store', `sqlite:${textFile}`])

  t.test('when the store path lies under a file (/dev/null/x.db)', async (t) => {
    const line = expectStartFailure(t, await underFile)
    t.match(line, '/dev/null/x.db', 'naming the path')
  })

  t.test('when the store path is a text file', async (t) => {
    const line = expectStartFailure(t, await notADatabase)
    t.match(line, textFile, 'naming the path')
  })
})
