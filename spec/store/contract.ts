// The Store contract: what the broker relies on from any store, run against each
// implementation (memory.spec.ts, sqlite.spec.ts; Redis later), as aedes-persistence ships
// `abstract.js`. Not a spec itself: a spec file calls storeContract with a way to open a
// fresh, empty store.
import type { Test } from 'tap'
import { Message, type Header } from '../../lib/broker/message.js'
import type { DurableRecord, QueueRecord, Store, StoredMessage } from '../../lib/store/store.js'

export type OpenStore = () => Promise<Store> | Store

let ids = 0

/** A persistent message for `destination`, with the headers a SEND would leave on it. */
export function storeMessage(destination: string, body: string | Buffer, extra: { headers?: Header[]; expires?: number } = {}): Message {
  return new Message({
    id: `contract-${++ids}`,
    destination,
    headers: [['destination', destination], ...(extra.headers ?? [])],
    body: typeof body === 'string' ? Buffer.from(body) : body,
    persistent: true,
    expires: extra.expires ?? 0,
  })
}

/** Every message the store holds, in the order recover() yields them. */
export async function recoverAll(store: Store): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  for await (const stored of store.recover()) out.push(stored)
  return out
}

function byKey<T extends { key: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

export function storeContract(t: Test, name: string, open: OpenStore): void {
  /** A fresh store for one test, closed when the test ends. */
  async function fresh(t: Test): Promise<Store> {
    const store = await open()
    t.teardown(() => store.close())
    return store
  }

  t.test(`${name} store`, async (t) => {
    t.test('append returns a larger key for every message appended', async (t) => {
      const store = await fresh(t)
      const keys = [
        store.append('/queue/a', storeMessage('/queue/a', 'one'), 0).key,
        store.append('/queue/b', storeMessage('/queue/b', 'two'), 0).key,
        store.append('/queue/a', storeMessage('/queue/a', 'three'), 0).key,
      ]
      await store.flush()
      keys.push(store.append('/queue/a', storeMessage('/queue/a', 'four'), 0).key)
      t.ok(keys.every((key, i) => Number.isInteger(key) && key > 0 && (i === 0 || key > keys[i - 1]!)), `keys ${keys.join(', ')} grow`)
    })

    t.test('recover yields every appended message in key order, every field intact', async (t) => {
      const store = await fresh(t)
      // NUL bytes and bytes that are not UTF-8: a body is bytes, not text.
      const binary = Buffer.from([0x00, 0x01, 0xff, 0x00, 0xfe, 0x80, 0x00])
      const expires = Date.now() + 3_600_000
      const sent = [
        { queue: '/queue/a', message: storeMessage('/queue/a', binary, { headers: [['content-type', 'application/octet-stream'], ['x', 'a:b\\c\n'], ['x', 'repeated']] }), deliveries: 0 },
        { queue: 'durable:alice\u0000prices', message: storeMessage('/topic/prices', 'to a durable subscription', { expires }), deliveries: 2 },
        { queue: '/queue/b', message: storeMessage('/queue/b', Buffer.alloc(0)), deliveries: 0 },
        { queue: '/queue/a', message: storeMessage('/queue/a', 'second on a'), deliveries: 1 },
      ]
      const keys = sent.map(({ queue, message, deliveries }) => store.append(queue, message, deliveries).key)
      // No flush: recover() sees what was appended before it.
      const recovered = await recoverAll(store)
      t.equal(recovered.length, sent.length, 'as many come back as went in')
      t.same(recovered.map((r) => r.key), keys, 'in key order')
      for (const [i, { queue, message, deliveries }] of sent.entries()) {
        const got = recovered[i]!
        t.equal(got.queue, queue, `message ${i}: its queue`)
        t.equal(got.id, message.id, `message ${i}: its id`)
        t.equal(got.destination, message.destination, `message ${i}: its destination`)
        t.same(got.headers, message.headers, `message ${i}: its headers, in order, repeats included`)
        t.ok(Buffer.isBuffer(got.body), `message ${i}: its body is a Buffer`)
        t.ok(got.body.equals(message.body), `message ${i}: its body, byte for byte`)
        t.equal(got.expires, message.expires, `message ${i}: its expiry`)
        t.equal(got.deliveries, deliveries, `message ${i}: its delivery count`)
      }
    })

    t.test('a store with nothing in it recovers nothing', async (t) => {
      const store = await fresh(t)
      t.same(await recoverAll(store), [])
      t.same(await store.durables(), [])
      t.same(await store.queues(), [])
    })

    t.test('delivered() records how many times a message was delivered', async (t) => {
      const store = await fresh(t)
      const committed = store.append('/queue/a', storeMessage('/queue/a', 'committed first'), 0).key
      await store.flush()
      store.delivered(committed, 1)
      store.delivered(committed, 3)
      const pending = store.append('/queue/a', storeMessage('/queue/a', 'delivered before its commit'), 0).key
      store.delivered(pending, 2)
      await store.flush()
      t.same((await recoverAll(store)).map((r) => [r.key, r.deliveries]), [[committed, 3], [pending, 2]])
    })

    t.test('remove() takes a message out of the store', async (t) => {
      const store = await fresh(t)
      const keys = ['a', 'b', 'c'].map((body) => store.append('/queue/a', storeMessage('/queue/a', body), 0).key)
      await store.flush()
      store.remove(keys[1]!)
      await store.flush()
      t.same((await recoverAll(store)).map((r) => r.body.toString()), ['a', 'c'])
      store.delivered(keys[0]!, 1)
      store.remove(keys[0]!)
      await store.flush()
      t.same((await recoverAll(store)).map((r) => r.body.toString()), ['c'], 'a delivered-then-removed message is gone too')
    })

    t.test('a message appended and removed before a flush leaves nothing behind', async (t) => {
      const store = await fresh(t)
      const key = store.append('/queue/a', storeMessage('/queue/a', 'acked at once'), 0).key
      store.delivered(key, 1)
      store.remove(key)
      await store.flush()
      t.same(await recoverAll(store), [])
    })

    t.test('durable subscription records are saved, replaced, deleted and listed', async (t) => {
      const store = await fresh(t)
      const alice: DurableRecord = { key: 'alice\u0000prices', destination: '/topic/prices.#', selector: null }
      const bob: DurableRecord = { key: 'bob\u0000prices', destination: '/topic/prices.eur', selector: "type = 'bid'" }
      const anonymous: DurableRecord = { key: '\u0000news', destination: '/topic/news', selector: null }
      store.saveDurable(alice)
      store.saveDurable(bob)
      store.saveDurable(anonymous)
      t.same(byKey(await store.durables()), byKey([alice, bob, anonymous]), 'all three are listed, keys with their NUL intact')
      store.saveDurable({ ...alice, destination: '/topic/other' })
      t.same(byKey(await store.durables()), byKey([{ ...alice, destination: '/topic/other' }, bob, anonymous]), 'saving under the same key replaces')
      store.deleteDurable(bob.key)
      store.deleteDurable('nobody\u0000nothing')
      t.same(byKey(await store.durables()), byKey([{ ...alice, destination: '/topic/other' }, anonymous]), 'a deleted one is gone; deleting an unknown key is harmless')
    })

    t.test('queue records are saved and listed', async (t) => {
      const store = await fresh(t)
      const limited: QueueRecord = { name: 'limited', maxLength: 3, maxBytes: 0, overflow: 'reject-publish' }
      const bytes: QueueRecord = { name: 'bytes', maxLength: 0, maxBytes: 1024, overflow: 'drop-head' }
      store.saveQueue(limited)
      store.saveQueue(bytes)
      const byName = (records: QueueRecord[]) => [...records].sort((a, b) => a.name.localeCompare(b.name))
      t.same(byName(await store.queues()), byName([limited, bytes]))
      store.saveQueue({ ...limited, maxLength: 5 })
      t.same(byName(await store.queues()), byName([{ ...limited, maxLength: 5 }, bytes]), 'saving under the same name replaces')
    })

    t.test('flush() resolves, with or without anything pending', async (t) => {
      const store = await fresh(t)
      await store.flush()
      store.append('/queue/a', storeMessage('/queue/a', 'x'), 0)
      await store.flush()
      await store.flush()
      t.pass('every flush resolved')
    })

    t.test("a message's durable promise is either absent or resolves once it is stored", async (t) => {
      const store = await fresh(t)
      const write = store.append('/queue/a', storeMessage('/queue/a', 'x'), 0)
      t.ok(write.durable === undefined || write.durable instanceof Promise, 'undefined or a promise')
      if (write.durable !== undefined) await write.durable
      t.same((await recoverAll(store)).map((r) => r.key), [write.key], 'and then it is in the store')
    })

    t.test('a store that works reports no problem', async (t) => {
      const store = await fresh(t)
      store.append('/queue/a', storeMessage('/queue/a', 'x'), 0)
      await store.flush()
      t.equal(store.problem, null)
    })
  })
}
