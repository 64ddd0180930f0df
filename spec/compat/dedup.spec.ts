// Duplicate detection: a SEND with a `dedup-id` is enqueued or published once per destination
// within --dedup-window; the retry still gets its RECEIPT. The ids of persistent messages are kept
// in the store, so a producer retrying after a broker restart does not enqueue twice. Each
// destination remembers at most --dedup-max-ids ids. Raw clients over TCP and WebSocket.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { eventually, TRANSPORTS } from '../helpers/expect.js'
import { startServer } from '../helpers/server.js'
import { bodies, messages, open, request, subscribe } from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`a retried SEND with the same dedup-id is receipted and enqueued once; other ids and other destinations are not duplicates (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const producer = await open(t, addresses, transport)
    for (const [destination, id, body] of [
      ['/queue/orders', 'order-1', 'first'], ['/queue/orders', 'order-1', 'retry'], ['/queue/orders', 'order-2', 'second'],
      ['/queue/invoices', 'order-1', 'same id, other queue'], ['/topic/audit', 'a-1', 'topic once'], ['/topic/audit', 'a-1', 'topic retry'],
    ]) {
      const receipt = await request(producer, 'SEND', [['destination', destination!], ['dedup-id', id!]], body)
      t.equal(receipt.command, 'RECEIPT', `${body}: receipted`)
    }
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 'o', '/queue/orders')
    await subscribe(consumer, 'i', '/queue/invoices')
    await eventually(() => messages(consumer).length >= 3, 5000, 'the queued messages')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(bodies(messages(consumer, 'o')), ['first', 'second'], 'the retry was not enqueued')
    t.same(bodies(messages(consumer, 'i')), ['same id, other queue'])
  })
}

t.test('a topic SEND with a dedup-id reaches subscribers once', async (t) => {
  const { addresses } = await startServer(t)
  const subscriber = await open(t, addresses, 'ws')
  await subscribe(subscriber, 's', '/topic/audit')
  const producer = await open(t, addresses, 'tcp')
  for (const body of ['once', 'retry', 'retry again']) await request(producer, 'SEND', [['destination', '/topic/audit'], ['dedup-id', 'x']], body)
  await request(producer, 'SEND', [['destination', '/topic/audit']], 'no id')
  await eventually(() => messages(subscriber).length >= 2, 5000, 'two messages')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(subscriber)), ['once', 'no id'])
})

t.test('after the window an id is new again; past --dedup-max-ids the oldest id is forgotten', async (t) => {
  const { addresses } = await startServer(t, { dedupWindow: 300, dedupMaxIds: 2 })
  const producer = await open(t, addresses, 'tcp')
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'a']], 'a1')
  await new Promise((resolve) => setTimeout(resolve, 450))
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'a']], 'a2 after the window')
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'b']], 'b')
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'c']], 'c')
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'a']], 'a3 evicted by b and c')
  await request(producer, 'SEND', [['destination', '/queue/w'], ['dedup-id', 'c']], 'c again')
  const consumer = await open(t, addresses, 'ws')
  await subscribe(consumer, 's', '/queue/w')
  await eventually(() => messages(consumer).length >= 5, 5000, 'the messages')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(consumer)), ['a1', 'a2 after the window', 'b', 'c', 'a3 evicted by b and c'])
})

t.test('the ids of persistent messages survive a restart: a retry after it is receipted and not enqueued again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-dedup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = `sqlite:${join(dir, 'stompd.db')}`
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses, 'tcp')
  await request(producer, 'SEND', [['destination', '/queue/payments'], ['dedup-id', 'p-1'], ['persistent', 'true']], 'pay once')
  await request(producer, 'SEND', [['destination', '/queue/payments'], ['dedup-id', 'v-1']], 'transient')
  // Consumed and acked before the restart: the id must outlive the message itself.
  const consumer = await open(t, running.addresses, 'tcp')
  await subscribe(consumer, 's', '/queue/payments')
  await eventually(() => messages(consumer).length >= 2, 5000, 'both consumed')
  await running.server.close()
  running = await startServer(t, { store })
  const again = await open(t, running.addresses, 'ws')
  const receipt = await request(again, 'SEND', [['destination', '/queue/payments'], ['dedup-id', 'p-1'], ['persistent', 'true']], 'pay once (retried)')
  t.equal(receipt.command, 'RECEIPT', 'the retry is receipted')
  await request(again, 'SEND', [['destination', '/queue/payments'], ['dedup-id', 'v-1']], 'transient (retried)')
  const after = await open(t, running.addresses, 'tcp')
  await subscribe(after, 's', '/queue/payments')
  await eventually(() => messages(after).length >= 1, 5000, 'what is new')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(bodies(messages(after)), ['transient (retried)'], 'the persistent id was remembered; a transient one is not kept across a restart')
})
