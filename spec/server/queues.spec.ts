// Queues as clients see them: round-robin among consumers, messages kept while nobody listens,
// redelivery after a consumer leaves or NACKs, dead-lettering, ack modes, prefetch,
// UNSUBSCRIBE, expiry, and acks by message-id for STOMP 1.0 and 1.1 clients.
import t from 'tap'
import { connectStompit, connectStompjs, sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import {
  ackHeaders, bodies, disconnect, header, messages, numbered, open, receiptFor, request, sendAll, subscribe, sync, TRANSPORTS, waitMessages,
} from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`a queue hands its messages to its consumers in turn (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const consumers = [await open(t, addresses, transport), await open(t, addresses, transport), await open(t, addresses, transport)]
    for (const consumer of consumers) await subscribe(consumer, 'work', '/queue/jobs')
    const producer = await open(t, addresses, transport)
    await sendAll(producer, '/queue/jobs', numbered('job', 9))
    for (const [i, consumer] of consumers.entries()) {
      const got = await waitMessages(consumer, 3)
      t.same(bodies(got), [`job-${i}`, `job-${i + 3}`, `job-${i + 6}`], `consumer ${i} gets every third job`)
    }
    for (const consumer of consumers) await sync(consumer)
    t.same(consumers.map((c) => messages(c).length), [3, 3, 3], 'and nobody gets more')
  })
}

t.test('a queue shares its messages between a @stomp/stompjs and a stompit consumer', async (t) => {
  const { addresses } = await startServer(t)
  const browser = await connectStompjs(t, addresses.ws)
  const toBrowser = subscribeStompjs(browser, '/queue/shared')
  // A receipt on a later frame proves the subscription before it is in place.
  await new Promise<void>((resolve) => {
    browser.watchForReceipt('browser-ready', () => resolve())
    browser.publish({ destination: '/topic/warmup', headers: { receipt: 'browser-ready' } })
  })
  const service = await connectStompit(t, addresses.tcp!)
  const toService = subscribeStompit(service, { destination: '/queue/shared', ack: 'auto' })
  await sendStompit(service, { destination: '/topic/warmup' }, '')
  const producer = await open(t, addresses, 'tcp')
  await sendAll(producer, '/queue/shared', numbered('m', 6))
  const browserGot = (await toBrowser.waitFor(3)).map((m) => m.body)
  const serviceGot = (await toService.waitFor(3)).map((m) => m.body)
  t.same(browserGot, ['m-0', 'm-2', 'm-4'])
  t.same(serviceGot, ['m-1', 'm-3', 'm-5'])
})

for (const transport of TRANSPORTS) {
  t.test(`a queue keeps messages sent while no consumer is subscribed, and a later consumer gets them all, in order (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const producer = await open(t, addresses, transport)
    await sendAll(producer, '/queue/backlog', numbered('kept', 20))
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 'late', '/queue/backlog')
    const got = await waitMessages(consumer, 20)
    t.same(bodies(got), numbered('kept', 20))
    t.ok(got.every((m) => header(m, 'destination') === '/queue/backlog'), 'each carries the queue as destination')
    t.ok(got.every((m) => header(m, 'redelivered') === 'false'), 'none is marked redelivered')
  })
}

for (const [how, leave] of [
  ['its socket is destroyed', async (raw: RawClient) => { raw.destroy(); await raw.closed }],
  ['it sends DISCONNECT', disconnect],
] as const) {
  t.test(`when a consumer with unacked messages leaves (${how}), another consumer gets them, marked redelivered`, async (t) => {
    const { addresses } = await startServer(t)
    const first = await open(t, addresses, 'tcp')
    await subscribe(first, 'mine', '/queue/tasks', [['ack', 'client-individual']])
    const producer = await open(t, addresses, 'ws')
    await sendAll(producer, '/queue/tasks', numbered('task', 3))
    const delivered = await waitMessages(first, 3)
    t.ok(delivered.every((m) => header(m, 'redelivered') === 'false'), 'first deliveries are not marked redelivered')
    const second = await open(t, addresses, 'ws')
    await subscribe(second, 'theirs', '/queue/tasks', [['ack', 'client-individual']])
    await sync(second)
    t.equal(messages(second).length, 0, 'nothing for the second consumer while the first holds them')
    await leave(first)
    const redelivered = await waitMessages(second, 3)
    t.same(bodies(redelivered), numbered('task', 3), 'all of them, in order')
    t.same(redelivered.map((m) => header(m, 'redelivered')), ['true', 'true', 'true'])
    t.same(redelivered.map((m) => header(m, 'message-id')), delivered.map((m) => header(m, 'message-id')), 'with their original message-ids')
  })
}

t.test('messages a consumer gives back go ahead of the ones still waiting, in their original order', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/ordered', numbered('o', 5))
  const first = await open(t, addresses)
  await subscribe(first, 's', '/queue/ordered', [['ack', 'client-individual'], ['prefetch-count', '2']])
  await waitMessages(first, 2)
  first.destroy()
  await first.closed
  const second = await open(t, addresses, 'ws')
  await subscribe(second, 's', '/queue/ordered')
  const got = await waitMessages(second, 5)
  t.same(bodies(got), numbered('o', 5))
  t.same(got.map((m) => header(m, 'redelivered')), ['true', 'true', 'false', 'false', 'false'])
})

t.test('a NACKed message is redelivered, marked redelivered', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/picky', [['ack', 'client-individual']])
  await sendAll(consumer, '/queue/picky', ['once more'])
  const [first] = await waitMessages(consumer, 1)
  t.equal(header(first!, 'redelivered'), 'false')
  await request(consumer, 'NACK', ackHeaders(first!))
  const [, again] = await waitMessages(consumer, 2)
  t.equal(again!.body.toString(), 'once more')
  t.equal(header(again!, 'redelivered'), 'true')
  t.equal(header(again!, 'message-id'), header(first!, 'message-id'))
  t.not(header(again!, 'ack'), header(first!, 'ack'), 'each delivery has its own ack id')
})

t.test('a message NACKed past max-redeliveries moves to /queue/DLQ.<name>, where a subscriber can read it', async (t) => {
  const { addresses } = await startServer(t, { maxRedeliveries: 2 })
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/poison', [['ack', 'client-individual']])
  const producer = await open(t, addresses, 'ws')
  await request(producer, 'SEND', [['destination', '/queue/poison'], ['x-order', '42'], ['content-type', 'text/plain']], 'bad input')
  // The first delivery and two redeliveries, each NACKed.
  for (let n = 1; n <= 3; n++) {
    const got = await waitMessages(consumer, n)
    const message = got[n - 1]!
    t.equal(header(message, 'redelivered'), n === 1 ? 'false' : 'true', `delivery ${n}`)
    await request(consumer, 'NACK', ackHeaders(message))
  }
  await sync(consumer)
  t.equal(messages(consumer).length, 3, 'no fourth delivery')
  const reader = await open(t, addresses, 'ws')
  await subscribe(reader, 'dead', '/queue/DLQ.poison')
  const [dead] = await waitMessages(reader, 1)
  t.equal(dead!.body.toString(), 'bad input')
  t.equal(header(dead!, 'destination'), '/queue/DLQ.poison')
  t.equal(header(dead!, 'original-destination'), '/queue/poison')
  t.equal(header(dead!, 'x-order'), '42', "the sender's headers travel with it")
  t.equal(header(dead!, 'content-type'), 'text/plain')
  t.ok(header(dead!, 'dead-letter-reason'), 'says why it was dead-lettered')
})

t.test("a message whose consumers keep leaving without acking ends in the dead-letter queue too", async (t) => {
  const { addresses } = await startServer(t, { maxRedeliveries: 2 })
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/crashy', ['crash me'])
  for (let n = 1; n <= 3; n++) {
    const consumer = await open(t, addresses)
    await subscribe(consumer, 's', '/queue/crashy', [['ack', 'client']])
    const [got] = await waitMessages(consumer, 1)
    t.equal(header(got!, 'redelivered'), n === 1 ? 'false' : 'true', `delivery ${n}`)
    consumer.destroy()
    await consumer.closed
  }
  const reader = await open(t, addresses)
  await subscribe(reader, 'dead', '/queue/DLQ.crashy')
  const [dead] = await waitMessages(reader, 1)
  t.equal(dead!.body.toString(), 'crash me')
  t.equal(header(dead!, 'original-destination'), '/queue/crashy')
  const last = await open(t, addresses)
  await subscribe(last, 's', '/queue/crashy')
  await sync(last)
  t.equal(messages(last).length, 0, 'the original queue no longer has it')
})

t.test('ack:client is cumulative: ACK of the third message acks the first three', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/batch', numbered('b', 5))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/batch', [['ack', 'client']])
  const got = await waitMessages(consumer, 5)
  await request(consumer, 'ACK', ackHeaders(got[2]!))
  consumer.destroy()
  await consumer.closed
  const next = await open(t, addresses)
  await subscribe(next, 's', '/queue/batch', [['ack', 'client']])
  const redelivered = await waitMessages(next, 2)
  await sync(next)
  t.same(bodies(messages(next)), ['b-3', 'b-4'], 'only the two after the acked one come back')
  t.same(redelivered.map((m) => header(m, 'redelivered')), ['true', 'true'])
})

t.test('with ack:client a NACK is cumulative too: the named message and those before it come back', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/refused', numbered('n', 3))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/refused', [['ack', 'client']])
  const got = await waitMessages(consumer, 3)
  await request(consumer, 'NACK', ackHeaders(got[1]!))
  await waitMessages(consumer, 5)
  await sync(consumer)
  t.same(bodies(messages(consumer)), ['n-0', 'n-1', 'n-2', 'n-0', 'n-1'])
  t.same(messages(consumer).map((m) => header(m, 'redelivered')), ['false', 'false', 'false', 'true', 'true'])
})

t.test('ack:client-individual acks only the message named', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/single', numbered('s', 4))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/single', [['ack', 'client-individual']])
  const got = await waitMessages(consumer, 4)
  await request(consumer, 'ACK', ackHeaders(got[2]!))
  consumer.destroy()
  await consumer.closed
  const next = await open(t, addresses)
  await subscribe(next, 's', '/queue/single', [['ack', 'client-individual']])
  await waitMessages(next, 3)
  await sync(next)
  t.same(bodies(messages(next)), ['s-0', 's-1', 's-3'], 'every message but the acked one comes back, in order')
})

for (const prefetchHeader of ['prefetch-count', 'activemq.prefetchSize']) {
  t.test(`${prefetchHeader} caps the unacked messages a subscription holds`, async (t) => {
    const { addresses } = await startServer(t)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/capped', numbered('c', 5))
    const consumer = await open(t, addresses)
    await subscribe(consumer, 's', '/queue/capped', [['ack', 'client-individual'], [prefetchHeader, '2']])
    await waitMessages(consumer, 2)
    await sync(consumer)
    t.same(bodies(messages(consumer)), ['c-0', 'c-1'], 'only two arrive before any ACK')
    await request(consumer, 'ACK', ackHeaders(messages(consumer)[0]!))
    await waitMessages(consumer, 3)
    await sync(consumer)
    t.same(bodies(messages(consumer)), ['c-0', 'c-1', 'c-2'], 'one ACK makes room for one more')
    await request(consumer, 'ACK', ackHeaders(messages(consumer)[1]!))
    await request(consumer, 'ACK', ackHeaders(messages(consumer)[2]!))
    await waitMessages(consumer, 5)
    await sync(consumer)
    t.same(bodies(messages(consumer)), numbered('c', 5), 'the rest follow as room is made, in order')
  })
}

t.test('prefetch-count with ack:client is freed by one cumulative ACK', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/capped', numbered('c', 6))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/capped', [['ack', 'client'], ['prefetch-count', '3']])
  await waitMessages(consumer, 3)
  await sync(consumer)
  t.equal(messages(consumer).length, 3)
  await request(consumer, 'ACK', ackHeaders(messages(consumer)[2]!))
  await waitMessages(consumer, 6)
  t.same(bodies(messages(consumer)), numbered('c', 6))
})

t.test('a prefetch-capped consumer leaves the rest of the queue to other consumers', async (t) => {
  const { addresses } = await startServer(t)
  const slow = await open(t, addresses)
  await subscribe(slow, 's', '/queue/split', [['ack', 'client-individual'], ['prefetch-count', '1']])
  const fast = await open(t, addresses)
  await subscribe(fast, 'f', '/queue/split')
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/split', numbered('x', 6))
  await waitMessages(fast, 5)
  await sync(slow)
  await sync(fast)
  t.same(bodies(messages(slow)), ['x-0'])
  t.same(bodies(messages(fast)), ['x-1', 'x-2', 'x-3', 'x-4', 'x-5'])
})

t.test('UNSUBSCRIBE returns unacked messages to the queue', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/returned', numbered('r', 3))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/returned', [['ack', 'client-individual']])
  const got = await waitMessages(consumer, 3)
  await request(consumer, 'ACK', ackHeaders(got[0]!))
  await request(consumer, 'UNSUBSCRIBE', [['id', 's']])
  const other = await open(t, addresses, 'ws')
  await subscribe(other, 'o', '/queue/returned')
  const back = await waitMessages(other, 2)
  await sync(other)
  t.same(bodies(messages(other)), ['r-1', 'r-2'], 'the unacked ones come back, the acked one does not')
  t.same(back.map((m) => header(m, 'redelivered')), ['true', 'true'])
  await sync(consumer)
  t.equal(messages(consumer).length, 3, 'the unsubscribed consumer gets nothing more')
})

t.test('a message whose expires time has passed is never delivered', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 'q', '/queue/fresh')
  await subscribe(consumer, 't', '/topic/fresh')
  const producer = await open(t, addresses, 'ws')
  const past = String(Date.now() - 60_000)
  const future = String(Date.now() + 60_000)
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ['expires', past]], 'stale')
  await request(producer, 'SEND', [['destination', '/topic/fresh'], ['expires', past]], 'stale')
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ['expires', future]], 'fresh')
  await request(producer, 'SEND', [['destination', '/topic/fresh'], ['expires', future]], 'fresh')
  await request(producer, 'SEND', [['destination', '/queue/fresh'], ['expires', '0']], 'forever')
  await waitMessages(consumer, 3)
  await sync(consumer)
  t.same(bodies(messages(consumer, 'q')), ['fresh', 'forever'], 'the queue delivers only unexpired messages (expires:0 never expires)')
  t.same(bodies(messages(consumer, 't')), ['fresh'], 'the topic too')
})

t.test('a queued message whose ttl lapses before a consumer comes is never delivered', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await request(producer, 'SEND', [['destination', '/queue/ttl'], ['ttl', '50']], 'short-lived')
  await request(producer, 'SEND', [['destination', '/queue/ttl'], ['ttl', '600000']], 'long-lived')
  await request(producer, 'SEND', [['destination', '/queue/ttl']], 'immortal')
  // Let the 50 ms ttl lapse for sure; nothing is asserted about timing itself.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/ttl')
  await waitMessages(consumer, 2)
  await sync(consumer)
  t.same(bodies(messages(consumer)), ['long-lived', 'immortal'])
})

t.test('a STOMP 1.0 client ACKs by message-id', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/legacy', numbered('l', 3))
  const old = await open(t, addresses, 'tcp', '1.0')
  // STOMP 1.0: SUBSCRIBE needs no id; the destination names the subscription.
  const receiptId = 'sub-1.0'
  old.frame('SUBSCRIBE', [['destination', '/queue/legacy'], ['ack', 'client'], ['receipt', receiptId]])
  await receiptFor(old, receiptId)
  const got = await waitMessages(old, 3)
  t.equal(header(got[0]!, 'subscription'), '/queue/legacy')
  t.ok(got.every((m) => header(m, 'message-id') !== undefined))
  // Cumulative: acks l-0 and l-1.
  await request(old, 'ACK', ackHeaders(got[1]!, '1.0'))
  t.same(old.frames.filter((f) => f.command === 'ERROR'), [], 'no ERROR')
  old.destroy()
  await old.closed
  const next = await open(t, addresses)
  await subscribe(next, 's', '/queue/legacy')
  await waitMessages(next, 1)
  await sync(next)
  t.same(bodies(messages(next)), ['l-2'], 'only the unacked one comes back')
  t.equal(header(messages(next)[0]!, 'redelivered'), 'true')
})

for (const transport of TRANSPORTS) {
  t.test(`a STOMP 1.1 client ACKs and NACKs with subscription and message-id (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const producer = await open(t, addresses)
    await sendAll(producer, '/queue/eleven', numbered('e', 3))
    const client = await open(t, addresses, transport, '1.1')
    await subscribe(client, 'sub-11', '/queue/eleven', [['ack', 'client-individual']])
    const got = await waitMessages(client, 3)
    await request(client, 'ACK', ackHeaders(got[0]!, '1.1'))
    await request(client, 'NACK', ackHeaders(got[1]!, '1.1'))
    const [, , , again] = await waitMessages(client, 4)
    t.equal(again!.body.toString(), 'e-1', 'the NACKed message comes back')
    t.equal(header(again!, 'redelivered'), 'true')
    client.destroy()
    await client.closed
    const next = await open(t, addresses)
    await subscribe(next, 's', '/queue/eleven')
    await waitMessages(next, 2)
    await sync(next)
    t.same(bodies(messages(next)), ['e-1', 'e-2'], 'the acked one is gone; the others come back')
  })
}

t.test('a STOMP 1.1 client with two client-ack subscriptions matching one topic message ACKs each copy by its subscription', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses, 'tcp', '1.1')
  await subscribe(client, 'exact', '/topic/news.sport', [['ack', 'client-individual'], ['prefetch-count', '1']])
  await subscribe(client, 'wild', '/topic/news.*', [['ack', 'client-individual'], ['prefetch-count', '1']])
  const producer = await open(t, addresses)
  await sendAll(producer, '/topic/news.sport', ['goal'])
  const [a, b] = await waitMessages(client, 2)
  t.same([a, b].map((m) => header(m!, 'subscription')).sort(), ['exact', 'wild'])
  t.equal(header(a!, 'message-id'), header(b!, 'message-id'), 'both copies carry the same message-id')
  // STOMP 1.1: the subscription header tells the two apart.
  await request(client, 'ACK', ackHeaders(a!, '1.1'))
  await request(client, 'ACK', ackHeaders(b!, '1.1'))
  await sendAll(producer, '/topic/news.sport', ['another goal'])
  await waitMessages(client, 4)
  t.same(bodies(messages(client)).slice(2), ['another goal', 'another goal'], 'both subscriptions have room again')
})

for (const transport of TRANSPORTS) {
  t.test(`a backlog far larger than the connection's write buffer reaches a late consumer complete and in order (${transport})`, async (t) => {
    const { addresses } = await startServer(t, { highWaterMark: 16 * 1024 })
    const producer = await open(t, addresses)
    const sent = numbered('big', 2000)
    const padding = 'x'.repeat(1024)
    await sendAll(producer, '/queue/big', sent.map((b) => `${b} ${padding}`))
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 's', '/queue/big')
    const got = await waitMessages(consumer, sent.length, undefined, 30_000)
    t.same(bodies(got).map((b) => b.split(' ')[0]), sent)
  })
}
