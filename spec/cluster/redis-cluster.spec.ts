// Three stompd processes on a private three-shard Redis Cluster (`--redis redis-cluster://…`)
// behave as one broker, as they do on one Redis: topic messages cross nodes (wildcards too, in
// publisher order) through node inboxes on sharded pub/sub; queues spread over the shards, each
// message to one consumer, kept while nobody consumes; what a killed node held is delivered
// elsewhere, marked redelivered; durable subscriptions keep what arrives while their subscriber
// is away.
import t from 'tap'
import { startBrokerProcess, type BrokerProcess } from '../helpers/child.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { eventually } from '../helpers/expect.js'
import { startRedisCluster } from '../helpers/redis.js'
import type { Command, Frame } from '../../lib/frame/frame.js'

type T = Parameters<typeof startBrokerProcess>[0]

const node = (t: T, redis: string): Promise<BrokerProcess> => startBrokerProcess(t, ['--store', 'memory', '--redis', redis])
const messages = (client: RawClient): Frame[] => client.frames.filter((f) => f.command === 'MESSAGE')
const bodiesOf = (client: RawClient, id: string): string[] =>
  messages(client).filter((f) => getHeader(f, 'subscription') === id).map((f) => f.body.toString())

async function request(client: RawClient, command: Command, headers: Array<[string, string]>): Promise<void> {
  const receipt = `r${Math.random()}`
  client.frame(command, [...headers, ['receipt', receipt]])
  await client.until(() => client.frames.some((f) => getHeader(f, 'receipt-id') === receipt), 5000)
}

async function produce(client: RawClient, destination: string, count: number, prefix: string): Promise<void> {
  const receipts = (): number => client.frames.filter((f) => f.command === 'RECEIPT' && getHeader(f, 'receipt-id')!.startsWith(`p${prefix}`)).length
  for (let i = 0; i < count; i++) client.frame('SEND', [['destination', destination], ['receipt', `p${prefix}${i}`]], `${prefix}${i}`)
  await client.until(() => receipts() >= count, 20_000)
}

/** Publishes probes until every subscriber heard one: a fresh SUBSCRIBE is known cluster-wide a moment later. */
async function probeUntilHeard(publisher: RawClient, destination: string, subscribers: Array<[RawClient, string]>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    publisher.frame('SEND', [['destination', destination]], 'probe')
    await new Promise((resolve) => setTimeout(resolve, 50))
    if (subscribers.every(([client, id]) => bodiesOf(client, id).includes('probe'))) return
  }
  throw new Error('the probes never arrived')
}

t.test('on a Redis Cluster', async (t) => {
  const redis = await startRedisCluster(t)
  const [a, b, c] = [await node(t, redis.url), await node(t, redis.url), await node(t, redis.url)]

  t.test('topics: every matching subscriber on every node gets each message once, in publisher order, wildcards included', async (t) => {
    const exact = await RawClient.ws(t, b.ws)
    const wildcard = await RawClient.tcp(t, c.tcp)
    const publisher = await RawClient.tcp(t, a.tcp)
    for (const client of [exact, wildcard, publisher]) await client.connect()
    await request(exact, 'SUBSCRIBE', [['id', 'exact'], ['destination', '/topic/prices.acme']])
    await request(wildcard, 'SUBSCRIBE', [['id', 'all'], ['destination', '/topic/prices.#']])
    await probeUntilHeard(publisher, '/topic/prices.acme', [[exact, 'exact'], [wildcard, 'all']])
    await new Promise((resolve) => setTimeout(resolve, 200))
    exact.frames.length = 0
    wildcard.frames.length = 0
    for (let i = 0; i < 300; i++) publisher.frame('SEND', [['destination', i % 3 === 0 ? '/topic/prices.other' : '/topic/prices.acme']], String(i))
    const expectedAll = Array.from({ length: 300 }, (_, i) => String(i))
    const expectedAcme = expectedAll.filter((_, i) => i % 3 !== 0)
    await eventually(() => bodiesOf(wildcard, 'all').length >= 300 && bodiesOf(exact, 'exact').length >= expectedAcme.length, 10_000, 'both subscribers\' messages')
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.same(bodiesOf(wildcard, 'all'), expectedAll, 'the wildcard subscriber: every message, once, in order')
    t.same(bodiesOf(exact, 'exact'), expectedAcme, 'the exact subscriber: its topic\'s messages, once, in order')
  })

  t.test('queues: exactly once over consumers on all three nodes, several queues over the shards, kept while nobody consumes', async (t) => {
    const queues = ['/queue/one', '/queue/two', '/queue/three']
    const consumers: RawClient[] = []
    for (const n of [a, b, c]) {
      const consumer = await RawClient.tcp(t, n.tcp)
      await consumer.connect()
      for (const [i, queue] of queues.entries()) await request(consumer, 'SUBSCRIBE', [['id', `s${i}`], ['destination', queue]])
      consumers.push(consumer)
    }
    const producer = await RawClient.ws(t, a.ws)
    await producer.connect()
    for (const queue of queues) await produce(producer, queue, 150, queue.slice(7))
    const all = (): string[] => consumers.flatMap((consumer) => messages(consumer).map((m) => m.body.toString()))
    await eventually(() => all().length >= 450, 20_000, 'every message delivered')
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(all().length, 450, 'as many deliveries as messages')
    t.equal(new Set(all()).size, 450, 'every message once')
    t.ok(consumers.every((consumer) => messages(consumer).length > 0), `every node's consumer got work (${consumers.map((x) => messages(x).length).join(', ')})`)

    await produce(producer, '/queue/later', 50, 'later')
    const late = await RawClient.tcp(t, c.tcp)
    await late.connect()
    late.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/later']])
    await late.until(() => messages(late).length >= 50, 10_000)
    t.same(messages(late).map((m) => m.body.toString()), Array.from({ length: 50 }, (_, i) => `later${i}`), 'sent while nobody consumed: all of it, in order')
  })

  t.test('durable subscriptions: what is published while the subscriber is away waits for it on another node', async (t) => {
    const LOGIN: Array<[string, string]> = [['accept-version', '1.2'], ['host', 'localhost'], ['login', 'carol']]
    const first = await RawClient.tcp(t, a.tcp)
    await first.connect(LOGIN)
    await request(first, 'SUBSCRIBE', [['id', 'feed'], ['destination', '/topic/news.#'], ['durable', 'true']])
    await request(first, 'DISCONNECT', [])
    await new Promise((resolve) => setTimeout(resolve, 1500)) // every node knows it (they look every second)
    const publisher = await RawClient.ws(t, b.ws)
    await publisher.connect()
    await produce(publisher, '/topic/news.eu', 20, 'news')
    const back = await RawClient.ws(t, c.ws)
    await back.connect(LOGIN)
    await request(back, 'SUBSCRIBE', [['id', 'feed'], ['destination', '/topic/news.#'], ['durable', 'true']])
    await back.until(() => messages(back).length >= 20, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.same(messages(back).map((m) => m.body.toString()), Array.from({ length: 20 }, (_, i) => `news${i}`), 'once each, in order')
    await request(back, 'UNSUBSCRIBE', [['id', 'feed'], ['durable', 'true']])
  })

  t.test('a node killed with SIGKILL: what it held is delivered on another node, marked redelivered, none lost', async (t) => {
    const victim = await node(t, redis.url)
    const hoarder = await RawClient.tcp(t, victim.tcp)
    await hoarder.connect()
    await request(hoarder, 'SUBSCRIBE', [['id', 's'], ['destination', '/queue/jobs'], ['ack', 'client-individual']])
    const producer = await RawClient.tcp(t, a.tcp)
    await producer.connect()
    await produce(producer, '/queue/jobs', 60, 'job')
    await hoarder.until(() => messages(hoarder).length > 0, 10_000)
    const held = new Set(messages(hoarder).map((m) => m.body.toString()))
    victim.child.kill('SIGKILL')
    await victim.exited
    const worker = await RawClient.ws(t, b.ws)
    await worker.connect()
    worker.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/jobs']])
    await worker.until(() => new Set(messages(worker).map((m) => m.body.toString())).size >= 60, 30_000)
    const got = messages(worker)
    t.equal(new Set(got.map((m) => m.body.toString())).size, 60, 'none lost')
    t.ok(got.filter((m) => held.has(m.body.toString())).every((m) => getHeader(m, 'redelivered') === 'true'), `the ${held.size} the killed node held are marked redelivered`)
    t.equal(got.length, 60, 'no duplicate')
  })
})
