// Durable topic subscriptions the RabbitMQ way: SUBSCRIBE to a /topic/ with `durable:true` (or
// the older `persistent:true`), `auto-delete:false` and an `id`. A plain UNSUBSCRIBE only
// detaches: the subscription keeps collecting what is published, and a later SUBSCRIBE with the
// same id and the same CONNECT login gets it, in order. Only UNSUBSCRIBE with `durable:true`
// (or `persistent:true`) deletes it. Raw clients over TCP and WebSocket see the exact frames;
// stompit shows a Node service resuming its subscription.
import t, { type Test } from 'tap'
import type stompit from 'stompit'
import type { Header, StompVersion } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { connectStompit, Inbox, sendStompit, type StompitMessage } from '../helpers/clients.js'
import { expectErrorAndClose, rawClient, TRANSPORTS, type TransportName } from '../helpers/expect.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, disconnect, header, messages, nextReceiptId, open, request, subscribe, sync, waitMessages } from '../helpers/stomp.js'

const NAMES: Record<TransportName, string> = { tcp: 'TCP', ws: 'WebSocket' }
const other = (transport: TransportName): TransportName => (transport === 'tcp' ? 'ws' : 'tcp')

/** The two ways RabbitMQ's STOMP plugin spells "durable" on SUBSCRIBE and UNSUBSCRIBE. */
const FLAVORS = ['durable', 'persistent'] as const
type Flavor = typeof FLAVORS[number]

/** SUBSCRIBE headers for a durable topic subscription, as RabbitMQ's documentation writes them. */
const durableHeaders = (flavor: Flavor = 'durable'): Header[] => [[flavor, 'true'], ['auto-delete', 'false']]

/** A raw STOMP 1.2 client connected with CONNECT `login` (durable subscriptions are kept per login). */
async function connectAs(t: Test, addresses: ListenAddresses, transport: TransportName, login: string): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', login], ['passcode', 'secret']])
  if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command} ${getHeader(connected, 'message') ?? ''}`)
  return client
}

/** SENDs each body to `destination` with a receipt, alternating `persistent:true` and no persistent header. */
async function publish(publisher: RawClient, destination: string, sent: readonly string[]): Promise<void> {
  for (let i = 0; i < sent.length; i++) {
    const headers: Header[] = [['destination', destination]]
    if (i % 2 === 0) headers.push(['persistent', 'true'])
    await request(publisher, 'SEND', headers, sent[i])
  }
}

/** MESSAGE frames of `subscription` received so far, the sync topic left out. */
const deliveries = (client: RawClient, subscription: string) => messages(client, subscription).filter((f) => header(f, 'destination') !== '/topic/spec-sync')

for (const transport of TRANSPORTS) {
  const name = NAMES[transport]

  for (const flavor of FLAVORS) {
    t.test(`a ${flavor}:true topic subscription keeps what is published while it is unsubscribed, and hands it over in order on the next SUBSCRIBE (${name})`, async (t) => {
      const { addresses } = await startServer(t)
      const alice = await connectAs(t, addresses, transport, 'alice')
      const publisher = await connectAs(t, addresses, transport, 'publisher')
      await subscribe(alice, 'prices', '/topic/prices', durableHeaders(flavor))
      await publish(publisher, '/topic/prices', ['live'])
      t.same(bodies(await waitMessages(alice, 1, 'prices')), ['live'], 'while subscribed it gets what is published')

      await request(alice, 'UNSUBSCRIBE', [['id', 'prices']])
      const kept = ['kept-1', 'kept-2', 'kept-3', 'kept-4']
      await publish(publisher, '/topic/prices', kept)
      await sync(alice)
      t.equal(deliveries(alice, 'prices').length, 1, 'nothing arrives after a plain UNSUBSCRIBE')

      await subscribe(alice, 'prices', '/topic/prices', durableHeaders(flavor))
      const resumed = (await waitMessages(alice, 1 + kept.length, 'prices')).slice(1)
      t.same(bodies(resumed), kept, 'the same id gets what was published meanwhile (persistent or not), in order')
      for (const message of resumed) {
        t.equal(header(message, 'redelivered'), 'false', `${message.body.toString()} carries redelivered:false`)
        t.equal(header(message, 'destination'), '/topic/prices', `${message.body.toString()} names its topic`)
      }
      await sync(alice)
      t.equal(deliveries(alice, 'prices').length, 1 + kept.length, 'and each only once')

      await publish(publisher, '/topic/prices', ['after'])
      t.same(bodies(await waitMessages(alice, 2 + kept.length, 'prices')).slice(-1), ['after'], 'then it goes on receiving live')
    })
  }

  t.test(`a new connection with the same login resumes the durable subscription and gets what was published meanwhile (${name}, then ${NAMES[other(transport)]})`, async (t) => {
    const { addresses } = await startServer(t)
    const publisher = await connectAs(t, addresses, transport, 'publisher')
    const first = await connectAs(t, addresses, transport, 'alice')
    await subscribe(first, 'news', '/topic/news.world', durableHeaders())
    await request(first, 'UNSUBSCRIBE', [['id', 'news']])
    await disconnect(first)
    await publish(publisher, '/topic/news.world', ['while-away-1', 'while-away-2'])

    const second = await connectAs(t, addresses, other(transport), 'alice')
    await subscribe(second, 'news', '/topic/news.world', durableHeaders())
    const resumed = await waitMessages(second, 2, 'news')
    t.same(bodies(resumed), ['while-away-1', 'while-away-2'], 'the new connection gets them, in order')
    t.same(resumed.map((f) => header(f, 'redelivered')), ['false', 'false'], 'each with redelivered:false')
    t.same(resumed.map((f) => header(f, 'subscription')), ['news', 'news'], 'on its own subscription id')
  })

  t.test(`a durable subscription outlives a connection that closes without UNSUBSCRIBE (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const publisher = await connectAs(t, addresses, transport, 'publisher')
    const first = await connectAs(t, addresses, transport, 'alice')
    await subscribe(first, 'news', '/topic/news', durableHeaders())
    await disconnect(first)
    await publish(publisher, '/topic/news', ['after-close-1', 'after-close-2'])

    const second = await connectAs(t, addresses, transport, 'alice')
    await subscribe(second, 'news', '/topic/news', durableHeaders())
    t.same(bodies(await waitMessages(second, 2, 'news')), ['after-close-1', 'after-close-2'])
  })

  for (const flavor of FLAVORS) {
    t.test(`UNSUBSCRIBE with ${flavor}:true deletes the durable subscription: nothing is kept for it any more (${name})`, async (t) => {
      const { addresses } = await startServer(t)
      const alice = await connectAs(t, addresses, transport, 'alice')
      const publisher = await connectAs(t, addresses, transport, 'publisher')
      await subscribe(alice, 'prices', '/topic/prices', durableHeaders(flavor))
      await publish(publisher, '/topic/prices', ['live'])
      await waitMessages(alice, 1, 'prices')

      const receipt = await request(alice, 'UNSUBSCRIBE', [['id', 'prices'], [flavor, 'true']])
      t.equal(receipt.command, 'RECEIPT', 'the UNSUBSCRIBE is receipted')
      await publish(publisher, '/topic/prices', ['gone-1', 'gone-2'])
      await subscribe(alice, 'prices', '/topic/prices', durableHeaders(flavor))
      await sync(alice)
      t.same(bodies(deliveries(alice, 'prices')), ['live'], 'a resubscribe gets nothing published before it')

      await publish(publisher, '/topic/prices', ['fresh'])
      t.same(bodies(await waitMessages(alice, 2, 'prices')), ['live', 'fresh'], 'the new subscription gets what is published from then on')
    })
  }

  t.test(`UNSUBSCRIBE with durable:true also deletes a durable subscription nobody is attached to (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const alice = await connectAs(t, addresses, transport, 'alice')
    const publisher = await connectAs(t, addresses, transport, 'publisher')
    await subscribe(alice, 'prices', '/topic/prices', durableHeaders())
    await request(alice, 'UNSUBSCRIBE', [['id', 'prices']])
    await publish(publisher, '/topic/prices', ['kept-then-deleted'])

    const receipt = await request(alice, 'UNSUBSCRIBE', [['id', 'prices'], ['durable', 'true']])
    t.equal(receipt.command, 'RECEIPT', 'the deleting UNSUBSCRIBE is receipted')
    await publish(publisher, '/topic/prices', ['not-kept'])
    await subscribe(alice, 'prices', '/topic/prices', durableHeaders())
    await sync(alice)
    t.same(deliveries(alice, 'prices'), [], 'a resubscribe gets neither what was kept nor what came after the delete')
  })

  t.test(`two connections with the same login and durable id share the subscription: each message reaches exactly one (${name} and ${NAMES[other(transport)]})`, async (t) => {
    const { addresses } = await startServer(t)
    const one = await connectAs(t, addresses, transport, 'workers')
    const two = await connectAs(t, addresses, other(transport), 'workers')
    const publisher = await connectAs(t, addresses, transport, 'publisher')
    await subscribe(one, 'jobs', '/topic/jobs', durableHeaders())
    await subscribe(two, 'jobs', '/topic/jobs', durableHeaders())
    const sent = Array.from({ length: 20 }, (_, i) => `job-${i}`)
    await publish(publisher, '/topic/jobs', sent)

    await Promise.all([
      one.until(() => deliveries(one, 'jobs').length + deliveries(two, 'jobs').length >= sent.length, 5000),
      two.until(() => deliveries(one, 'jobs').length + deliveries(two, 'jobs').length >= sent.length, 5000),
    ])
    await sync(one)
    await sync(two)
    const got = [...bodies(deliveries(one, 'jobs')), ...bodies(deliveries(two, 'jobs'))]
    t.equal(got.length, sent.length, 'no message reaches both')
    t.same([...got].sort(), [...sent].sort(), 'every message arrives across the two')
    for (const [label, client] of [['the first', one], ['the second', two]] as const) {
      const own = bodies(deliveries(client, 'jobs'))
      t.same(own, sent.filter((b) => own.includes(b)), `${label} gets its share in publishing order`)
    }
  })

  t.test(`the same durable id under another login is another subscription (${name})`, async (t) => {
    const { addresses } = await startServer(t)
    const publisher = await connectAs(t, addresses, transport, 'publisher')
    const alice = await connectAs(t, addresses, transport, 'alice')
    await subscribe(alice, 'prices', '/topic/prices', durableHeaders())
    await request(alice, 'UNSUBSCRIBE', [['id', 'prices']])
    await publish(publisher, '/topic/prices', ['for-alice'])

    const bob = await connectAs(t, addresses, transport, 'bob')
    await subscribe(bob, 'prices', '/topic/prices', durableHeaders())
    await sync(bob)
    t.same(deliveries(bob, 'prices'), [], 'bob does not get what alice\'s subscription kept')
    await publish(publisher, '/topic/prices', ['for-both'])
    t.same(bodies(await waitMessages(bob, 1, 'prices')), ['for-both'], 'bob gets what is published to his own')

    await subscribe(alice, 'prices', '/topic/prices', durableHeaders())
    t.same(bodies(await waitMessages(alice, 2, 'prices')), ['for-alice', 'for-both'], 'alice\'s kept both, bob attached or not')
    await sync(alice)
    await sync(bob)
    t.equal(deliveries(alice, 'prices').length, 2, 'alice gets each once')
    t.equal(deliveries(bob, 'prices').length, 1, 'bob shared nothing with alice')
  })

  for (const version of ['1.2', '1.0'] as const satisfies readonly StompVersion[]) {
    for (const flavor of FLAVORS) {
      t.test(`a ${flavor}:true SUBSCRIBE without an id is refused with "Missing Header", in STOMP ${version} too (${name})`, async (t) => {
        const { addresses } = await startServer(t)
        const client = await open(t, addresses, transport, version)
        const receipt = nextReceiptId()
        client.frame('SUBSCRIBE', [['destination', '/topic/prices'], ...durableHeaders(flavor), ['receipt', receipt]])
        const { error } = await expectErrorAndClose(t, client, 'missing-header', { message: 'Missing Header', receiptId: receipt })
        t.equal(error.body.toString('utf8'), 'Header \'id\' is required for durable subscriptions', 'its body says why')
      })
    }
  }
}

/** A stompit subscription and what it has received. */
function subscribeWithStompit(client: stompit.Client, headers: Record<string, string>): { subscription: ReturnType<stompit.Client['subscribe']>; inbox: Inbox<StompitMessage> } {
  const inbox = new Inbox<StompitMessage>()
  const subscription = client.subscribe({ ...headers }, (err, message) => {
    if (err) return
    const received = (message as unknown as { headers: Record<string, string> }).headers
    message.readString('utf8', (readErr, body) => {
      if (!readErr) inbox.push({ headers: received, body: body ?? '' })
    })
  })
  return { subscription, inbox }
}

t.test('a stompit service resumes its durable subscription after a plain unsubscribe, and gets what it missed in order', async (t) => {
  const { addresses } = await startServer(t)
  const service = await connectStompit(t, addresses.tcp!, { login: 'billing', passcode: 'secret' })
  const publisher = await connectAs(t, addresses, 'tcp', 'publisher')
  const headers = { destination: '/topic/invoices', id: 'billing-invoices', durable: 'true', 'auto-delete': 'false', ack: 'auto' }

  const first = subscribeWithStompit(service, headers)
  // stompit asks no receipt for SUBSCRIBE; a receipted SEND on the same connection proves it was read.
  await sendStompit(service, { destination: '/topic/stompit-sync', receipt: 'sub-1' }, '')
  await publish(publisher, '/topic/invoices', ['live'])
  t.same((await first.inbox.waitFor(1)).map((m) => m.body), ['live'])

  // stompit's unsubscribe asks a receipt and forgets the id once it comes; the SEND's receipt follows it.
  first.subscription.unsubscribe()
  await sendStompit(service, { destination: '/topic/stompit-sync', receipt: 'unsub-1' }, '')
  await publish(publisher, '/topic/invoices', ['missed-1', 'missed-2', 'missed-3'])

  const second = subscribeWithStompit(service, headers)
  const resumed = await second.inbox.waitFor(3)
  t.same(resumed.map((m) => m.body), ['missed-1', 'missed-2', 'missed-3'], 'the resubscribe gets what was published meanwhile, in order')
  t.same(resumed.map((m) => m.headers.redelivered), ['false', 'false', 'false'], 'each with redelivered:false')
  t.same(resumed.map((m) => m.headers.subscription), ['billing-invoices', 'billing-invoices', 'billing-invoices'], 'on the same subscription id')
  t.same(first.inbox.messages.map((m) => m.body), ['live'], 'the unsubscribed listener got nothing more')
})
