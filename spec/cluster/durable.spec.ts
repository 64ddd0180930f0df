// Durable topic subscriptions belong to the cluster: made on one node, they keep what any node
// publishes while their subscriber is away, and the subscriber gets it all, once and in order,
// back on any node; deleting one deletes it everywhere.
import t from 'tap'
import { startBrokerProcess, type BrokerProcess } from '../helpers/child.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { startRedis } from '../helpers/redis.js'

type T = Parameters<typeof startBrokerProcess>[0]

const node = (t: T, redis: string): Promise<BrokerProcess> => startBrokerProcess(t, ['--store', 'memory', '--redis', redis])
const LOGIN: Array<[string, string]> = [['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice']]
const bodies = (client: RawClient): string[] => client.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())

async function request(client: RawClient, command: 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'DISCONNECT', headers: Array<[string, string]>): Promise<void> {
  const receipt = `r${Math.random()}`
  client.frame(command, [...headers, ['receipt', receipt]])
  await client.until(() => client.frames.some((f) => getHeader(f, 'receipt-id') === receipt), 5000)
}

t.test('cluster: a durable subscription keeps what any node publishes while its subscriber is away, for any node it comes back to', async (t) => {
  const redis = await startRedis(t)
  const [a, b, c] = [await node(t, redis.url), await node(t, redis.url), await node(t, redis.url)]
  const first = await RawClient.tcp(t, a.tcp)
  await first.connect(LOGIN)
  await request(first, 'SUBSCRIBE', [['id', 'feed'], ['destination', '/topic/news.#'], ['durable', 'true']])
  const publisher = await RawClient.ws(t, b.ws)
  await publisher.connect()
  // Until b knows the subscription (it looks every second), a's own copy keeps it whole.
  publisher.frame('SEND', [['destination', '/topic/news.eu'], ['receipt', 'live']], 'live')
  await first.until(() => bodies(first).includes('live'), 10_000)
  await request(first, 'DISCONNECT', [])

  await new Promise((resolve) => setTimeout(resolve, 1500))
  for (let i = 0; i < 20; i++) publisher.frame('SEND', [['destination', `/topic/news.${i % 2 === 0 ? 'eu' : 'us'}`], ['receipt', `p${i}`]], `while away ${i}`)
  await publisher.until(() => publisher.frames.filter((f) => f.command === 'RECEIPT').length >= 21, 10_000)

  const back = await RawClient.ws(t, c.ws)
  await back.connect(LOGIN)
  await request(back, 'SUBSCRIBE', [['id', 'feed'], ['destination', '/topic/news.#'], ['durable', 'true']])
  await back.until(() => bodies(back).length >= 20, 10_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(bodies(back), Array.from({ length: 20 }, (_, i) => `while away ${i}`), 'every message published while away, once, in order, on another node')

  await request(back, 'UNSUBSCRIBE', [['id', 'feed'], ['durable', 'true']])
  await new Promise((resolve) => setTimeout(resolve, 1500))
  publisher.frame('SEND', [['destination', '/topic/news.eu'], ['receipt', 'after']], 'after deletion')
  await publisher.until(() => publisher.frames.some((f) => getHeader(f, 'receipt-id') === 'after'))
  const again = await RawClient.tcp(t, a.tcp)
  await again.connect(LOGIN)
  await request(again, 'SUBSCRIBE', [['id', 'feed'], ['destination', '/topic/news.#'], ['durable', 'true']])
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(bodies(again), [], 'deleted on one node, it is gone on every node: a new one starts empty')
})
