// RabbitMQ's destination forms, as aliases of stompd's own: `/exchange/amq.topic/<key>` is
// `/topic/<key>` (and a MESSAGE names it `/topic/<key>`, as RabbitMQ does), `/exchange/amq.fanout`
// is the fan-out exchange (a routing key after it is ignored), `/amq/queue/<name>` is
// `/queue/<name>` once that queue exists (`not_found` before). Any other exchange is an unknown
// destination whose ERROR lists what is served. Unlike RabbitMQ, names may hold slashes
// (Spring's `/topic/chat/room1`). Raw clients over TCP and WebSocket see the exact frames;
// stompit shows a Node service using the RabbitMQ names.
import t, { type Test } from 'tap'
import type { Frame } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { connectStompit, sendStompit, subscribeStompit } from '../helpers/clients.js'
import { expectErrorAndClose, TRANSPORTS, type TransportName } from '../helpers/expect.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, nextReceiptId, open, request, subscribe, sync, waitMessages } from '../helpers/stomp.js'

const NAMES: Record<TransportName, string> = { tcp: 'TCP', ws: 'WebSocket' }

/** MESSAGE frames of `subscription` received so far, the sync topic (which `/topic/#` also matches) left out. */
const deliveries = (client: RawClient, subscription: string): Frame[] =>
  messages(client, subscription).filter((f) => header(f, 'destination') !== '/topic/spec-sync')

/** The `destination` header of each frame. */
const destinations = (frames: readonly Frame[]): Array<string | undefined> => frames.map((f) => header(f, 'destination'))

/** A subscriber and a publisher, both raw STOMP 1.2 clients over `transport`. */
async function pair(t: Test, addresses: ListenAddresses, transport: TransportName): Promise<{ subscriber: RawClient; publisher: RawClient }> {
  return { subscriber: await open(t, addresses, transport), publisher: await open(t, addresses, transport) }
}

/** Each [destination, body] SENT with a receipt, in order. */
async function sendEach(publisher: RawClient, sends: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [destination, body] of sends) await request(publisher, 'SEND', [['destination', destination]], body)
}

for (const transport of TRANSPORTS) {
  const name = NAMES[transport]

  t.test(`a SEND to /exchange/amq.topic/<key> reaches /topic/<key> subscribers, and the MESSAGE names /topic/<key> (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'prices', '/topic/prices.eur')
    await sendEach(publisher, [['/exchange/amq.topic/prices.eur', 'via exchange'], ['/topic/prices.eur', 'via topic']])
    const got = await waitMessages(subscriber, 2, 'prices')
    t.same(bodies(got), ['via exchange', 'via topic'])
    t.same(destinations(got), ['/topic/prices.eur', '/topic/prices.eur'], 'destination is RabbitMQ\'s /topic/ name for both')
  })

  t.test(`a SEND to /topic/<key> reaches /exchange/amq.topic/<key> subscribers, and the MESSAGE names /topic/<key> (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'prices', '/exchange/amq.topic/prices.usd')
    await sendEach(publisher, [['/topic/prices.usd', 'via topic'], ['/exchange/amq.topic/prices.usd', 'via exchange']])
    const got = await waitMessages(subscriber, 2, 'prices')
    t.same(bodies(got), ['via topic', 'via exchange'])
    t.same(destinations(got), ['/topic/prices.usd', '/topic/prices.usd'])
    t.same(got.map((f) => header(f, 'subscription')), ['prices', 'prices'])
  })

  t.test(`a wildcard /exchange/amq.topic/a.* subscription gets what is sent to matching keys under either name (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'exchange-wild', '/exchange/amq.topic/a.*')
    await subscribe(subscriber, 'topic-wild', '/topic/a.*')
    await sendEach(publisher, [
      ['/topic/a.x', 'topic a.x'],
      ['/exchange/amq.topic/a.y', 'exchange a.y'],
      ['/topic/a.b.c', 'too deep'],
      ['/exchange/amq.topic/b.x', 'other key'],
    ])
    await sync(subscriber)
    for (const id of ['exchange-wild', 'topic-wild']) {
      const got = deliveries(subscriber, id)
      t.same(bodies(got), ['topic a.x', 'exchange a.y'], `${id} gets the two matching keys, in order, and nothing else`)
      t.same(destinations(got), ['/topic/a.x', '/topic/a.y'], `${id} sees each under its /topic/ name`)
    }
  })

  t.test(`/exchange/amq.fanout, with or without a routing key, gets every SEND to the fan-out exchange and nothing sent to /topic/ (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'bare', '/exchange/amq.fanout')
    await subscribe(subscriber, 'keyed', '/exchange/amq.fanout/some.key')
    await subscribe(subscriber, 'all-topics', '/topic/#')
    await sendEach(publisher, [
      ['/exchange/amq.fanout/k1', 'fanout k1'],
      ['/exchange/amq.fanout', 'fanout no key'],
      ['/topic/news', 'topic news'],
      ['/exchange/amq.fanout/other.key', 'fanout other.key'],
      ['/exchange/amq.topic/news', 'exchange topic news'],
    ])
    await sync(subscriber)
    const fanned = ['fanout k1', 'fanout no key', 'fanout other.key']
    t.same(bodies(deliveries(subscriber, 'bare')), fanned, '/exchange/amq.fanout gets every fan-out SEND, whatever its key, in order')
    t.same(bodies(deliveries(subscriber, 'keyed')), fanned, '/exchange/amq.fanout/some.key gets the same: the key is ignored')
    t.same(bodies(deliveries(subscriber, 'all-topics')), ['topic news', 'exchange topic news'], '/topic/# gets no fan-out SEND')
  })

  t.test(`a SEND to /amq/queue/<name> reaches the /queue/<name> consumer, named /queue/<name> (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'orders', '/queue/orders')
    await sendEach(publisher, [['/amq/queue/orders', 'order 1'], ['/queue/orders', 'order 2'], ['/amq/queue/orders', 'order 3']])
    const got = await waitMessages(subscriber, 3, 'orders')
    t.same(bodies(got), ['order 1', 'order 2', 'order 3'])
    t.same(destinations(got), ['/queue/orders', '/queue/orders', '/queue/orders'], 'destination is the queue\'s /queue/ name')
  })

  t.test(`a SUBSCRIBE to /amq/queue/<name> consumes the /queue/<name> a SEND created (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await sendEach(publisher, [['/queue/orders', 'waiting'], ['/amq/queue/orders', 'also waiting']])
    await subscribe(subscriber, 'orders', '/amq/queue/orders')
    await sendEach(publisher, [['/queue/orders', 'live']])
    const got = await waitMessages(subscriber, 3, 'orders')
    t.same(bodies(got), ['waiting', 'also waiting', 'live'], 'it gets what was waiting, then what comes')
    t.same(destinations(got), ['/queue/orders', '/queue/orders', '/queue/orders'])
    const other = await open(t, addresses, transport)
    await subscribe(other, 'orders', '/queue/orders')
    await sendEach(publisher, [['/queue/orders', 'shared-1'], ['/queue/orders', 'shared-2'], ['/queue/orders', 'shared-3'], ['/queue/orders', 'shared-4']])
    await sync(subscriber)
    await sync(other)
    const shared = [...bodies(deliveries(subscriber, 'orders')).slice(3), ...bodies(deliveries(other, 'orders'))]
    t.same(shared.sort(), ['shared-1', 'shared-2', 'shared-3', 'shared-4'], 'it is the same queue: a /queue/orders consumer shares it, each message once')
  })

  for (const command of ['SEND', 'SUBSCRIBE'] as const) {
    t.test(`a ${command} to /amq/queue/<name> of a queue that does not exist gets ERROR not_found and is closed (${name})`, async (t) => {
      const { addresses } = await startServer(t)
      const client = await open(t, addresses, transport)
      const receipt = nextReceiptId()
      if (command === 'SEND') client.frame('SEND', [['destination', '/amq/queue/nope'], ['receipt', receipt]], 'lost')
      else client.frame('SUBSCRIBE', [['id', 'nope'], ['destination', '/amq/queue/nope'], ['receipt', receipt]])
      const { error } = await expectErrorAndClose(t, client, 'not-found', { message: 'not_found', receiptId: receipt })
      t.match(error.body.toString('utf8'), /'nope'/, 'its body names the queue')
    })
  }

  for (const [command, destination] of [
    ['SEND', '/exchange/amq.direct/x'],
    ['SUBSCRIBE', '/exchange/amq.direct/x'],
    ['SEND', '/exchange/my-ex'],
    ['SUBSCRIBE', '/exchange/my-ex'],
  ] as const) {
    t.test(`a ${command} to ${destination} gets ERROR "Unknown destination" naming the exchange forms served (${name})`, async (t) => {
      const { addresses } = await startServer(t)
      const client = await open(t, addresses, transport)
      const receipt = nextReceiptId()
      if (command === 'SEND') client.frame('SEND', [['destination', destination], ['receipt', receipt]], 'lost')
      else client.frame('SUBSCRIBE', [['id', 'x'], ['destination', destination], ['receipt', receipt]])
      const { error } = await expectErrorAndClose(t, client, 'unknown-destination', { message: 'Unknown destination', receiptId: receipt })
      const body = error.body.toString('utf8')
      t.ok(body.includes('/exchange/amq.topic/<key>'), 'its body names /exchange/amq.topic/<key>')
      t.ok(body.includes('/exchange/amq.fanout'), 'its body names /exchange/amq.fanout')
    })
  }

  t.test(`destination names may hold slashes, Spring style: /topic/chat/room1 and /queue/a/b (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const { subscriber, publisher } = await pair(t, addresses, transport)
    await subscribe(subscriber, 'room', '/topic/chat/room1')
    await subscribe(subscriber, 'ab', '/queue/a/b')
    await sendEach(publisher, [['/topic/chat/room1', 'hello room'], ['/queue/a/b', 'hello queue'], ['/topic/chat/room2', 'other room']])
    const room = await waitMessages(subscriber, 1, 'room')
    const queue = await waitMessages(subscriber, 1, 'ab')
    await sync(subscriber)
    t.same(bodies(deliveries(subscriber, 'room')), ['hello room'], 'the topic subscriber gets its room only')
    t.equal(header(room[0]!, 'destination'), '/topic/chat/room1', 'named as sent')
    t.same(bodies(deliveries(subscriber, 'ab')), ['hello queue'])
    t.equal(header(queue[0]!, 'destination'), '/queue/a/b', 'named as sent')
  })
}

t.test('stompit services talk through RabbitMQ\'s names: /exchange/amq.topic/<key> to /topic/<key>, and /amq/queue/<name> to /queue/<name>', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await connectStompit(t, addresses.tcp!)
  const producer = await connectStompit(t, addresses.tcp!)
  const topicInbox = subscribeStompit(consumer, { destination: '/topic/audit.login', ack: 'auto' })
  const queueInbox = subscribeStompit(consumer, { destination: '/queue/jobs', ack: 'client-individual' })
  // stompit asks no receipt for SUBSCRIBE; a receipted SEND on the same connection proves both were read.
  await sendStompit(consumer, { destination: '/topic/stompit-sync', receipt: 'subscribed' }, '')

  await sendStompit(producer, { destination: '/exchange/amq.topic/audit.login', receipt: 'p-1' }, 'user 7 logged in')
  await sendStompit(producer, { destination: '/amq/queue/jobs', receipt: 'p-2' }, 'job 1')
  const [event] = await topicInbox.waitFor(1)
  t.equal(event!.body, 'user 7 logged in')
  t.equal(event!.headers.destination, '/topic/audit.login', 'the topic MESSAGE names /topic/<key>')
  const [job] = await queueInbox.waitFor(1)
  t.equal(job!.body, 'job 1')
  t.equal(job!.headers.destination, '/queue/jobs', 'the queue MESSAGE names /queue/<name>')
})
