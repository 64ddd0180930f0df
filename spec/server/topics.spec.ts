// Topics end to end: fan-out to every subscriber on both transports, wildcard subscriptions,
// messages nobody is subscribed to, wildcards refused on SEND, UNSUBSCRIBE.
import t, { type Test } from 'tap'
import { connectStompit, connectStompjs, sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { expectErrorAndClose, rawClient, TRANSPORTS, type TransportName } from '../helpers/expect.js'
import type { Frame } from '../../lib/frame/frame.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import type { ListenAddresses } from '../../lib/server.js'

const transportName = (transport: string): string => (transport === 'tcp' ? 'TCP' : 'WebSocket')

/** The MESSAGE frames a raw client has received so far. */
const messages = (client: RawClient): Frame[] => client.frames.filter((f) => f.command === 'MESSAGE')

/** A raw 1.2 client with one subscription per entry of `subscriptions` (id → destination), all in place. */
async function subscribed(t: Test, addresses: ListenAddresses, transport: TransportName, subscriptions: Record<string, string>): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  await client.connect()
  for (const [id, destination] of Object.entries(subscriptions)) client.frame('SUBSCRIBE', [['id', id], ['destination', destination]])
  client.frame('SUBSCRIBE', [['id', 'fence'], ['destination', '/topic/fence'], ['receipt', 'subscribed']])
  const receipt = await client.next()
  t.equal(receipt.command, 'RECEIPT')
  return client
}

t.test('a topic message reaches every subscriber, on both transports and with both client libraries', async (t) => {
  const { addresses } = await startServer(t)
  const tcp = await subscribed(t, addresses, 'tcp', { s: '/topic/fanout' })
  const ws = await subscribed(t, addresses, 'ws', { s: '/topic/fanout' })
  const browser = await connectStompjs(t, addresses.ws)
  const browserInbox = subscribeStompjs(browser, '/topic/fanout')
  await new Promise<void>((resolve) => {
    browser.watchForReceipt('ready', () => resolve())
    browser.publish({ destination: '/topic/warmup', headers: { receipt: 'ready' } })
  })
  const service = await connectStompit(t, addresses.tcp!)
  const serviceInbox = subscribeStompit(service, { destination: '/topic/fanout', ack: 'auto' })
  // stompit has no SUBSCRIBE receipt; a round trip on the same connection proves the SUBSCRIBE was read.
  await sendStompit(service, { destination: '/topic/warmup' }, '')

  const tcpPublisher = await RawClient.tcp(t, addresses.tcp!)
  await tcpPublisher.connect()
  const wsPublisher = await RawClient.ws(t, addresses.ws)
  await wsPublisher.connect()
  const sent: string[] = []
  for (let i = 1; i <= 5; i++) {
    tcpPublisher.frame('SEND', [['destination', '/topic/fanout']], `tcp ${i}`)
    wsPublisher.frame('SEND', [['destination', '/topic/fanout']], `ws ${i}`)
    sent.push(`tcp ${i}`, `ws ${i}`)
  }
  const byProducer = (bodies: string[], producer: string): string[] => bodies.filter((b) => b.startsWith(producer + ' '))
  const expectAll = (label: string, bodies: string[]): void => {
    t.same([...bodies].sort(), [...sent].sort(), `${label} gets every message once`)
    for (const producer of ['tcp', 'ws']) {
      t.same(byProducer(bodies, producer), [1, 2, 3, 4, 5].map((i) => `${producer} ${i}`), `${label} gets ${producer}'s messages in order`)
    }
  }
  for (const [label, client] of [['a raw TCP client', tcp], ['a raw WebSocket client', ws]] as const) {
    await client.until(() => messages(client).length >= sent.length, 5000)
    expectAll(label, messages(client).map((f) => f.body.toString()))
    t.ok(messages(client).every((f) => getHeader(f, 'destination') === '/topic/fanout' && getHeader(f, 'subscription') === 's'))
  }
  expectAll('@stomp/stompjs', (await browserInbox.waitFor(sent.length)).map((m) => m.body))
  expectAll('stompit', (await serviceInbox.waitFor(sent.length)).map((m) => m.body))
  const ids = new Set(messages(tcp).map((f) => getHeader(f, 'message-id')))
  t.equal(ids.size, sent.length, 'each message has its own message-id')
})

/** Reference semantics from DESIGN.md: segments split on . or /; * is one segment; # and ** zero or more. */
function matches(pattern: string, topic: string): boolean {
  const p = pattern.split(/[./]/)
  const s = topic.split(/[./]/)
  const walk = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length
    if (p[i] === '#' || p[i] === '**') {
      for (let k = j; k <= s.length; k++) if (walk(i + 1, k)) return true
      return false
    }
    if (j === s.length) return false
    return (p[i] === '*' || p[i] === s[j]) && walk(i + 1, j + 1)
  }
  return walk(0, 0)
}

const PATTERNS = ['a.*', 'a.#', 'a.**', 'a/*', 'a/#', 'a/**', '*.b', '#.c', 'a.#.c', '*', '#', '**', 'a.*.c', 'a/b.c']
const TOPICS = ['a', 'a.b', 'a/b', 'a.b.c', 'a/b/c', 'a/b.c', 'x.b', 'b', 'c', 'a.c', 'a.b.b.c', 'a.x.b', 'other.thing']

t.test('the reference matcher agrees with the wildcard rules written in DESIGN.md', async (t) => {
  t.ok(matches('a.*', 'a.b'))
  t.notOk(matches('a.*', 'a'), '* needs exactly one segment')
  t.notOk(matches('a.*', 'a.b.c'), '* matches one segment only')
  t.ok(matches('a.#', 'a'), '# matches zero segments')
  t.ok(matches('a.#', 'a.b.c'), '# matches several segments')
  t.ok(matches('a/*', 'a.b'), '/ and . are both separators')
  t.ok(matches('a.#.c', 'a.c'))
})

for (const transport of TRANSPORTS) {
  t.test(`wildcard subscriptions receive exactly the topics they match, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    const subscriptions = Object.fromEntries(PATTERNS.map((pattern) => [pattern, `/topic/${pattern}`]))
    const client = await subscribed(t, addresses, transport, subscriptions)
    const publisher = await RawClient.tcp(t, addresses.tcp!)
    await publisher.connect()
    for (const topic of TOPICS) publisher.frame('SEND', [['destination', `/topic/${topic}`]], topic)
    publisher.frame('SEND', [['destination', '/topic/fence']], 'fence')

    const expected = new Set<string>()
    // The fence topic is published last; the catch-all patterns get it too.
    for (const pattern of [...PATTERNS, 'fence']) for (const topic of [...TOPICS, 'fence']) if (matches(pattern, topic)) expected.add(`${pattern} ← ${topic}`)
    await client.until(() => messages(client).length >= expected.size, 5000)
    t.ok(await client.quiet(200), 'nothing more arrives')
    const got = messages(client).map((f) => `${getHeader(f, 'subscription')} ← ${f.body.toString()}`)
    t.same([...got].sort(), [...expected].sort(), 'each subscription got exactly its matches, once')

    // A few spelled out, so a failure here reads without the reference matcher.
    const gotSet = new Set(got)
    t.ok(gotSet.has('a.* ← a.b') && !gotSet.has('a.* ← a') && !gotSet.has('a.* ← a.b.c'), '* matches exactly one segment')
    t.ok(gotSet.has('a.# ← a') && gotSet.has('a.# ← a.b.c') && gotSet.has('a.** ← a/b/c'), '# and ** match zero or more segments')
    t.ok(gotSet.has('a/* ← a.b') && gotSet.has('a.* ← a/b'), '/ and . are interchangeable separators')
    t.ok(gotSet.has('# ← other.thing') && gotSet.has('** ← a'), '# alone matches every topic')
    t.ok(gotSet.has('a.#.c ← a.c') && gotSet.has('a.#.c ← a.b.b.c'), '# in the middle matches zero or more segments')
  })
}

t.test('a wildcard subscription also receives from stompjs and stompit publishers', async (t) => {
  const { addresses } = await startServer(t)
  const client = await subscribed(t, addresses, 'tcp', { all: '/topic/prices.#' })
  const browser = await connectStompjs(t, addresses.ws)
  browser.publish({ destination: '/topic/prices.eu.acme', body: 'from stompjs' })
  const service = await connectStompit(t, addresses.tcp!)
  await sendStompit(service, { destination: '/topic/prices/us/globex' }, 'from stompit')
  await client.until(() => messages(client).length >= 2)
  t.same(messages(client).map((f) => f.body.toString()).sort(), ['from stompit', 'from stompjs'])
})

t.test('a topic message with no subscribers is dropped, and later subscribers get nothing', async (t) => {
  const { server, addresses } = await startServer(t)
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  publisher.frame('SEND', [['destination', '/topic/nobody-home'], ['receipt', 'sent']], 'lost')
  t.equal((await publisher.next()).command, 'RECEIPT', 'the SEND is accepted')
  t.equal(server.broker.stats.dropped, 1, 'and counted as dropped')
  for (const transport of TRANSPORTS) {
    const late = await subscribed(t, addresses, transport, { late: '/topic/nobody-home', wild: '/topic/nobody.#' })
    publisher.frame('SEND', [['destination', '/topic/fence']], `fence ${transport}`)
    const fence = await late.next()
    t.equal(fence.body.toString(), `fence ${transport}`, 'the first thing a late subscriber gets is the fence')
    t.ok(await late.quiet(100), 'and nothing else')
  }
})

t.test('a SEND to a wildcard topic is an ERROR', async (t) => {
  const { addresses } = await startServer(t)
  const destinations = ['/topic/a.*', '/topic/#', '/topic/a/**', '/topic/*/b', '/topic/a.#.c']
  for (const transport of TRANSPORTS) {
    for (const destination of destinations) {
      const client = await rawClient(t, addresses, transport)
      await client.connect()
      client.frame('SEND', [['destination', destination], ['receipt', 'wild']], 'to many')
      await expectErrorAndClose(t, client, 'invalid-destination', { receiptId: 'wild' })
    }
  }
})

t.test('a * or # inside a longer segment is literal, not a wildcard', async (t) => {
  const { addresses } = await startServer(t)
  const client = await subscribed(t, addresses, 'tcp', { literal: '/topic/price*.x#' })
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  publisher.frame('SEND', [['destination', '/topic/prices.x']], 'not for it')
  publisher.frame('SEND', [['destination', '/topic/price*.x#'], ['receipt', 'ok']], 'for it')
  t.equal((await publisher.next()).command, 'RECEIPT', 'SEND to a name with * inside a segment is accepted')
  const message = await client.next()
  t.equal(message.body.toString(), 'for it')
  t.ok(await client.quiet(100))
})

for (const transport of TRANSPORTS) {
  t.test(`UNSUBSCRIBE stops delivery to that subscription only, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await subscribed(t, addresses, transport, { one: '/topic/news', two: '/topic/news', wild: '/topic/#' })
    const other = await subscribed(t, addresses, transport, { one: '/topic/news' })
    const publisher = await RawClient.tcp(t, addresses.tcp!)
    await publisher.connect()
    publisher.frame('SEND', [['destination', '/topic/news']], 'first')
    await client.until(() => messages(client).length >= 3)
    t.same(messages(client).map((f) => getHeader(f, 'subscription')).sort(), ['one', 'two', 'wild'], 'each subscription gets its own copy')

    client.frame('UNSUBSCRIBE', [['id', 'one'], ['receipt', 'gone']])
    client.frame('UNSUBSCRIBE', [['id', 'wild']])
    client.frame('SUBSCRIBE', [['id', 'sync'], ['destination', '/topic/sync'], ['receipt', 'synced']])
    const receiptIds = (): Array<string | undefined> => client.frames.filter((f) => f.command === 'RECEIPT').map((f) => getHeader(f, 'receipt-id'))
    await client.until(() => receiptIds().includes('synced'))
    t.same(receiptIds(), ['subscribed', 'gone', 'synced'])

    const before = messages(client).length
    publisher.frame('SEND', [['destination', '/topic/news']], 'second')
    // `two` gets it in the same fan-out that would have reached `one` and `wild`.
    await client.until(() => messages(client).length > before)
    t.ok(await client.quiet(150), 'no other copy follows')
    const after = messages(client).slice(before)
    t.same(after.map((f) => [getHeader(f, 'subscription'), f.body.toString()]), [['two', 'second']], 'only the remaining subscription gets it')
    await other.until(() => messages(other).length >= 2)
    t.same(messages(other).map((f) => f.body.toString()), ['first', 'second'], 'another connection\'s subscription is unaffected')
  })
}
