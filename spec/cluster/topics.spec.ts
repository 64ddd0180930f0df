// Three stompd processes on one private Redis behave as one broker for topics, over WebSocket and
// TCP: a message published on any node reaches every matching subscriber on every node, once, in
// the order its publisher sent it; with Redis away a topic SEND is refused and /readyz says so.
import t from 'tap'
import { startBrokerProcess, type BrokerProcess } from '../helpers/child.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { startRedis, startSentinel } from '../helpers/redis.js'

const COUNT = 500

async function node(t: Parameters<typeof startBrokerProcess>[0], redis: string): Promise<BrokerProcess> {
  return startBrokerProcess(t, ['--store', 'memory', '--redis', redis])
}

const httpOf = (broker: BrokerProcess): string => broker.ws.replace(/^ws:/, 'http:').replace(/\/ws$/, '')

/** /readyz of `broker`, asked every 100 ms until it answers `status` (or `ms` pass); the last answer. */
async function readyzOnce(broker: BrokerProcess, status: number, ms: number): Promise<Response> {
  const deadline = Date.now() + ms
  for (;;) {
    const response = await fetch(`${httpOf(broker)}/readyz`)
    if (response.status === status || Date.now() > deadline) return response
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function subscribed(client: RawClient, destination: string, id: string): Promise<void> {
  client.frame('SUBSCRIBE', [['id', id], ['destination', destination], ['receipt', `sub-${id}`]])
  await client.until(() => client.frames.some((f) => f.command === 'RECEIPT' && getHeader(f, 'receipt-id') === `sub-${id}`))
}

const bodiesOf = (client: RawClient, id: string): string[] =>
  client.frames.filter((f) => f.command === 'MESSAGE' && getHeader(f, 'subscription') === id).map((f) => f.body.toString())

/** Publishes from `publisher` until `subscribers` all got a probe: a fresh SUBSCRIBE is heard cluster-wide a moment later. */
async function probeUntilHeard(publisher: RawClient, destination: string, subscribers: Array<[RawClient, string]>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    publisher.frame('SEND', [['destination', destination]], 'probe')
    await new Promise((resolve) => setTimeout(resolve, 50))
    if (subscribers.every(([client, id]) => bodiesOf(client, id).includes('probe'))) break
  }
}

t.test('cluster of three: a topic message reaches every matching subscriber on every node once, in publisher order, over WS and TCP', async (t) => {
  const redis = await startRedis(t)
  const [a, b, c] = [await node(t, redis.url), await node(t, redis.url), await node(t, redis.url)]
  const onA = await RawClient.tcp(t, a.tcp)
  const onB = await RawClient.ws(t, b.ws)
  const onC = await RawClient.tcp(t, c.tcp)
  const publisher = await RawClient.ws(t, a.ws)
  for (const client of [onA, onB, onC, publisher]) await client.connect()
  await subscribed(onA, '/topic/stocks.acme', 'exact')
  await subscribed(onB, '/topic/stocks.#', 'all')
  await subscribed(onC, '/topic/stocks.*', 'one')
  await subscribed(onC, '/topic/bonds.#', 'other')
  await probeUntilHeard(publisher, '/topic/stocks.acme', [[onA, 'exact'], [onB, 'all'], [onC, 'one']])
  for (const client of [onA, onB, onC]) client.frames.length = 0

  for (let i = 0; i < COUNT; i++) publisher.frame('SEND', [['destination', '/topic/stocks.acme'], ...(i % 50 === 49 ? [['receipt', `r${i}`] as [string, string]] : [])], String(i))
  publisher.frame('SEND', [['destination', '/topic/stocks.acme.deep'], ['receipt', 'deep']], 'deep')
  await publisher.until(() => publisher.frames.some((f) => getHeader(f, 'receipt-id') === 'deep'))
  const expected = Array.from({ length: COUNT }, (_, i) => String(i))
  await onA.until(() => bodiesOf(onA, 'exact').length >= COUNT, 10_000)
  await onB.until(() => bodiesOf(onB, 'all').length >= COUNT + 1, 10_000)
  await onC.until(() => bodiesOf(onC, 'one').length >= COUNT, 10_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(bodiesOf(onA, 'exact'), expected, 'a subscriber on the publishing node: each once, in order')
  t.same(bodiesOf(onB, 'all'), [...expected, 'deep'], 'over WebSocket on another node, with #: each once, in order, the deeper topic too')
  t.same(bodiesOf(onC, 'one'), expected, 'over TCP on the third node, with *: not the deeper topic')
  t.same(bodiesOf(onC, 'other'), [], 'nothing for a pattern that does not match')
  const message = onB.frames.find((f) => f.command === 'MESSAGE')!
  t.equal(getHeader(message, 'destination'), '/topic/stocks.acme', 'the destination the publisher sent to')
  t.ok(getHeader(message, 'message-id'), 'a message-id')
})

t.test('cluster: with Redis away a topic SEND gets ERROR cluster unavailable and /readyz 503; with it back, messages cross again', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)]
  const subscriber = await RawClient.tcp(t, b.tcp)
  await subscriber.connect()
  await subscribed(subscriber, '/topic/alerts', 's')
  const probe = await RawClient.tcp(t, a.tcp)
  await probe.connect()
  await probeUntilHeard(probe, '/topic/alerts', [[subscriber, 's']])
  t.equal((await fetch(`${httpOf(a)}/readyz`)).status, 200)

  await redis.stop()
  const readyz = await readyzOnce(a, 503, 10_000)
  t.equal(readyz.status, 503, '/readyz says the node is not ready')
  t.match(await readyz.text(), /cluster/)
  const refused = await RawClient.tcp(t, a.tcp)
  await refused.connect()
  refused.frame('SEND', [['destination', '/topic/alerts'], ['receipt', 'r1']], 'lost?')
  const error = await refused.next(5000)
  t.equal(error.command, 'ERROR')
  t.equal(getHeader(error, 'message'), 'cluster unavailable')
  t.equal(getHeader(error, 'receipt-id'), 'r1')

  await redis.start()
  t.equal((await readyzOnce(a, 200, 20_000)).status, 200, 'ready again')
  const again = await RawClient.tcp(t, a.tcp)
  await again.connect()
  subscriber.frames.length = 0
  await probeUntilHeard(again, '/topic/alerts', [[subscriber, 's']])
  t.ok(bodiesOf(subscriber, 's').includes('probe'), 'messages cross again')
  t.notOk(bodiesOf(subscriber, 's').includes('lost?'), 'the refused one never arrived')
})

t.test('cluster through Redis Sentinel: --redis redis-sentinel://host:port/<master> finds the master and works as a plain URL does', async (t) => {
  const redis = await startRedis(t)
  const sentinel = await startSentinel(t, redis)
  const [a, b] = [await node(t, sentinel.url), await node(t, sentinel.url)]
  const subscriber = await RawClient.ws(t, b.ws)
  await subscriber.connect()
  await subscribed(subscriber, '/topic/via.sentinel', 's')
  const publisher = await RawClient.tcp(t, a.tcp)
  await publisher.connect()
  await probeUntilHeard(publisher, '/topic/via.sentinel', [[subscriber, 's']])
  t.ok(bodiesOf(subscriber, 's').includes('probe'), 'a topic message crosses')
  publisher.frame('SEND', [['destination', '/queue/via.sentinel'], ['receipt', 'q']], 'queued')
  await publisher.until(() => publisher.frames.some((f) => getHeader(f, 'receipt-id') === 'q'))
  const consumer = await RawClient.tcp(t, b.tcp)
  await consumer.connect()
  consumer.frame('SUBSCRIBE', [['id', 'q'], ['destination', '/queue/via.sentinel']])
  await consumer.until(() => consumer.frames.some((f) => f.command === 'MESSAGE'), 10_000)
  t.equal(consumer.frames.find((f) => f.command === 'MESSAGE')!.body.toString(), 'queued', 'a queue message is taken on the other node')
})
