// Three stompd processes on one private Redis share their queues: each message goes to exactly
// one consumer in the whole cluster, the work is spread over the nodes, a queue keeps what nobody
// consumes, and what a node killed with SIGKILL had taken and not acked is delivered elsewhere,
// marked redelivered, with nothing receipted lost.
import t from 'tap'
import { startBrokerProcess, type BrokerProcess } from '../helpers/child.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { eventually } from '../helpers/expect.js'
import { startRedis } from '../helpers/redis.js'
import type { Frame } from '../../lib/frame/frame.js'

type T = Parameters<typeof startBrokerProcess>[0]

async function node(t: T, redis: string): Promise<BrokerProcess> {
  return startBrokerProcess(t, ['--store', 'memory', '--redis', redis])
}

const messages = (client: RawClient): Frame[] => client.frames.filter((f) => f.command === 'MESSAGE')

/** A consumer that acks every message (client-individual) as it comes. */
async function acking(t: T, open: () => Promise<RawClient>, destination: string): Promise<RawClient> {
  const client = await open()
  await client.connect()
  client.frame('SUBSCRIBE', [['id', 's'], ['destination', destination], ['ack', 'client-individual'], ['receipt', 'sub']])
  await client.until(() => client.frames.some((f) => f.command === 'RECEIPT'))
  const timer = setInterval(() => {
    for (const message of messages(client)) {
      if ((message as Frame & { acked?: boolean }).acked === true) continue
      ;(message as Frame & { acked?: boolean }).acked = true
      client.frame('ACK', [['id', getHeader(message, 'ack')!]])
    }
  }, 5)
  t.teardown(() => clearInterval(timer))
  return client
}

async function produce(client: RawClient, destination: string, count: number, prefix = ''): Promise<void> {
  for (let i = 0; i < count; i++) client.frame('SEND', [['destination', destination], ['receipt', `p${prefix}${i}`]], `${prefix}${i}`)
  await client.until(() => client.frames.filter((f) => f.command === 'RECEIPT').length >= count, 20_000)
}

t.test('cluster queue: exactly once across three nodes, spread over them, over WS and TCP', async (t) => {
  const redis = await startRedis(t)
  const nodes = [await node(t, redis.url), await node(t, redis.url), await node(t, redis.url)]
  const consumers: RawClient[] = []
  for (const n of nodes) {
    consumers.push(await acking(t, () => RawClient.ws(t, n.ws), '/queue/work'))
    consumers.push(await acking(t, () => RawClient.tcp(t, n.tcp), '/queue/work'))
  }
  const producer = await RawClient.tcp(t, nodes[0]!.tcp)
  await producer.connect()
  const count = 600
  await produce(producer, '/queue/work', count)
  const received = (): number => consumers.reduce((sum, c) => sum + messages(c).length, 0)
  await eventually(() => received() >= count, 20_000, 'every message delivered')
  await new Promise((resolve) => setTimeout(resolve, 500))
  const bodies = consumers.flatMap((c) => messages(c).map((m) => m.body.toString()))
  t.equal(bodies.length, count, 'as many deliveries as messages')
  t.equal(new Set(bodies).size, count, 'every message once')
  const perNode = [0, 1, 2].map((i) => messages(consumers[2 * i]!).length + messages(consumers[2 * i + 1]!).length)
  t.ok(perNode.every((n) => n > 0), `consumers on every node got work (${perNode.join(', ')})`)
  t.ok(consumers.every((c) => messages(c).every((m) => getHeader(m, 'redelivered') === 'false')), 'none marked redelivered')
})

t.test('cluster queue: messages sent while nobody consumes wait, and a consumer on another node gets them all, in order', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)]
  const producer = await RawClient.ws(t, a.ws)
  await producer.connect()
  await produce(producer, '/queue/later', 200)
  const consumer = await RawClient.tcp(t, b.tcp)
  await consumer.connect()
  consumer.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/later']])
  await consumer.until(() => messages(consumer).length >= 200, 10_000)
  t.same(messages(consumer).map((m) => m.body.toString()), Array.from({ length: 200 }, (_, i) => String(i)))
})

t.test('cluster queue: a node killed with SIGKILL mid-stream loses nothing; what it held comes elsewhere redelivered; it rejoins', async (t) => {
  const redis = await startRedis(t)
  const [a, b, c] = [await node(t, redis.url), await node(t, redis.url), await node(t, redis.url)]
  // On b: a consumer that takes messages and never acks them.
  const hoarder = await RawClient.tcp(t, b.tcp)
  await hoarder.connect()
  hoarder.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/jobs'], ['ack', 'client-individual'], ['receipt', 'sub']])
  await hoarder.until(() => hoarder.frames.some((f) => f.command === 'RECEIPT'))
  const producer = await RawClient.tcp(t, a.tcp)
  await producer.connect()
  await produce(producer, '/queue/jobs', 100, 'a')
  await hoarder.until(() => messages(hoarder).length > 0, 10_000)
  const held = messages(hoarder).map((m) => m.body.toString())

  b.child.kill('SIGKILL')
  await b.exited
  // On c: a consumer that acks; it should get everything, what b held marked redelivered.
  const worker = await acking(t, () => RawClient.ws(t, c.ws), '/queue/jobs')
  const started = Date.now()
  await worker.until(() => new Set(messages(worker).map((m) => m.body.toString())).size >= 100, 30_000)
  t.ok(Date.now() - started < 30_000, `all delivered elsewhere within 30 s (${Date.now() - started} ms)`)
  const got = messages(worker)
  t.equal(new Set(got.map((m) => m.body.toString())).size, 100, 'none lost')
  for (const message of got) {
    const body = message.body.toString()
    if (held.includes(body)) t.equal(getHeader(message, 'redelivered'), 'true', `${body}, held by the killed node, is marked redelivered`)
  }
  const counts = new Map<string, number>()
  for (const message of got) counts.set(message.body.toString(), (counts.get(message.body.toString()) ?? 0) + 1)
  const unflagged = got.filter((m) => counts.get(m.body.toString())! > 1 && getHeader(m, 'redelivered') !== 'true')
  t.equal(unflagged.length, 0, 'no duplicate without the redelivered flag')

  // b comes back and takes part again.
  const b2 = await node(t, redis.url)
  const rejoined = await acking(t, () => RawClient.tcp(t, b2.tcp), '/queue/jobs')
  worker.frame('UNSUBSCRIBE', [['id', 's'], ['receipt', 'gone']])
  await worker.until(() => worker.frames.some((f) => getHeader(f, 'receipt-id') === 'gone'))
  await produce(producer, '/queue/jobs', 20, 'z')
  await rejoined.until(() => messages(rejoined).length >= 20, 10_000)
  // Not necessarily in order: a message c had just fetched as its consumer left goes back to the end.
  t.same(messages(rejoined).map((m) => m.body.toString()).sort(), Array.from({ length: 20 }, (_, i) => `z${i}`).sort(), 'the restarted node consumes again')
})

t.test('cluster queue: Redis restarted under load loses nothing receipted; SENDs while it is away get ERROR cluster unavailable', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)]
  const worker = await acking(t, () => RawClient.tcp(t, b.tcp), '/queue/load')
  const receipted = new Set<string>()
  let refusals = 0
  let stopped = false
  // A producer as an application writes one: each message receipted; on an ERROR it reconnects and sends it again.
  const producing = (async () => {
    let producer = await RawClient.tcp(t, a.tcp)
    await producer.connect()
    for (let i = 0; i < 400 && !stopped; i++) {
      producer.frame('SEND', [['destination', '/queue/load'], ['receipt', `m${i}`]], `m${i}`)
      const answer = await producer.next(10_000)
      if (answer.command === 'RECEIPT') {
        receipted.add(`m${i}`)
      } else {
        refusals++
        t.equal(getHeader(answer, 'message'), 'cluster unavailable')
        await new Promise((resolve) => setTimeout(resolve, 100))
        producer = await RawClient.tcp(t, a.tcp)
        await producer.connect()
        i--
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  await new Promise((resolve) => setTimeout(resolve, 500))
  await redis.stop()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await redis.start()
  await producing
  stopped = true
  t.ok(refusals > 0, `SENDs were refused while Redis was away (${refusals})`)
  t.equal(receipted.size, 400, 'every message was receipted in the end')
  await worker.until(() => new Set(messages(worker).map((m) => m.body.toString())).size >= 400, 30_000)
  const got = new Set(messages(worker).map((m) => m.body.toString()))
  t.equal([...receipted].filter((m) => !got.has(m)).length, 0, 'every receipted message was delivered')
})

t.test('cluster queue: limits declared on one node hold on every node (x-max-length with reject-publish, and drop-head)', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)]
  const declarer = await RawClient.tcp(t, a.tcp)
  await declarer.connect()
  declarer.frame('SEND', [['destination', '/queue/capped'], ['x-max-length', '3'], ['x-overflow', 'reject-publish'], ['receipt', 'd']], 'm0')
  await declarer.until(() => declarer.frames.some((f) => f.command === 'RECEIPT'))
  const other = await RawClient.ws(t, b.ws)
  await other.connect()
  for (let i = 1; i <= 2; i++) {
    other.frame('SEND', [['destination', '/queue/capped'], ['receipt', `r${i}`]], `m${i}`)
    t.equal((await other.next()).command, 'RECEIPT', `m${i} fits`)
  }
  other.frame('SEND', [['destination', '/queue/capped'], ['receipt', 'r3']], 'm3')
  const refused = await other.next()
  t.equal(refused.command, 'ERROR', 'the fourth is refused on the other node')
  t.equal(getHeader(refused, 'message'), 'queue full')

  declarer.frame('SEND', [['destination', '/queue/rolling'], ['x-max-length', '2'], ['receipt', 'd2']], 'n0')
  await declarer.until(() => declarer.frames.some((f) => getHeader(f, 'receipt-id') === 'd2'))
  const third = await RawClient.tcp(t, b.tcp)
  await third.connect()
  for (let i = 1; i <= 3; i++) third.frame('SEND', [['destination', '/queue/rolling'], ['receipt', `n${i}`]], `n${i}`)
  await third.until(() => third.frames.filter((f) => f.command === 'RECEIPT').length === 3)
  const reader = await RawClient.tcp(t, b.tcp)
  await reader.connect()
  reader.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/rolling']])
  await reader.until(() => messages(reader).length >= 2)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(messages(reader).map((m) => m.body.toString()), ['n2', 'n3'], 'the oldest were dropped for room')
})

t.test('cluster queue: a NACKed message comes back redelivered; past --max-redeliveries it goes to DLQ.<name>, a stream read on another node', async (t) => {
  const redis = await startRedis(t)
  const args = ['--store', 'memory', '--redis', redis.url, '--max-redeliveries', '2']
  const [a, b, c] = [await startBrokerProcess(t, args), await startBrokerProcess(t, args), await startBrokerProcess(t, args)]
  const dlq = await RawClient.tcp(t, c.tcp)
  await dlq.connect()
  dlq.frame('SUBSCRIBE', [['id', 'd'], ['destination', '/queue/DLQ.flaky'], ['receipt', 'dlq']])
  await dlq.until(() => dlq.frames.some((f) => f.command === 'RECEIPT'))
  // Consumers that refuse everything, on b and on a.
  const refusers: RawClient[] = []
  for (const n of [b, a]) {
    const refuser = await RawClient.ws(t, n.ws)
    await refuser.connect()
    refuser.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/flaky'], ['ack', 'client-individual'], ['receipt', 'sub']])
    await refuser.until(() => refuser.frames.some((f) => f.command === 'RECEIPT'))
    refusers.push(refuser)
  }
  const timer = setInterval(() => {
    for (const refuser of refusers) {
      for (const message of messages(refuser)) {
        if ((message as Frame & { nacked?: boolean }).nacked === true) continue
        ;(message as Frame & { nacked?: boolean }).nacked = true
        refuser.frame('NACK', [['id', getHeader(message, 'ack')!]])
      }
    }
  }, 5)
  t.teardown(() => clearInterval(timer))
  const producer = await RawClient.tcp(t, a.tcp)
  await producer.connect()
  await produce(producer, '/queue/flaky', 1)
  await dlq.until(() => messages(dlq).length >= 1, 10_000)
  const deliveries = refusers.flatMap((refuser) => messages(refuser))
  t.equal(deliveries.length, 3, 'delivered three times: once, then twice more (--max-redeliveries 2)')
  t.same(deliveries.map((m) => getHeader(m, 'redelivered')).sort(), ['false', 'true', 'true'], 'the redeliveries are marked')
  const dead = messages(dlq)[0]!
  t.equal(dead.body.toString(), '0')
  t.equal(getHeader(dead, 'original-destination'), '/queue/flaky')
})

t.test('cluster queue: a message past its expires is never delivered; the others are', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = [await node(t, redis.url), await node(t, redis.url)]
  const producer = await RawClient.tcp(t, a.tcp)
  await producer.connect()
  producer.frame('SEND', [['destination', '/queue/fresh'], ['expires', String(Date.now() + 300)], ['receipt', 'r1']], 'short-lived')
  producer.frame('SEND', [['destination', '/queue/fresh'], ['expires', String(Date.now() + 60_000)], ['receipt', 'r2']], 'long-lived')
  producer.frame('SEND', [['destination', '/queue/fresh'], ['receipt', 'r3']], 'forever')
  await producer.until(() => producer.frames.filter((f) => f.command === 'RECEIPT').length === 3)
  await new Promise((resolve) => setTimeout(resolve, 600))
  const consumer = await RawClient.ws(t, b.ws)
  await consumer.connect()
  consumer.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/fresh']])
  await consumer.until(() => messages(consumer).length >= 2, 10_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(messages(consumer).map((m) => m.body.toString()), ['long-lived', 'forever'])
})
