// `redelivered` as RabbitMQ-written clients read it: every MESSAGE from a queue, a temp queue or a
// durable topic subscription says whether it is a first delivery (`redelivered:false`) or one that
// came back (`redelivered:true`: NACKed, or its consumer left without acking), in STOMP 1.0, 1.1 and
// 1.2 alike; a plain topic subscription's MESSAGE carries no `redelivered` at all; and a sender's
// own `redelivered` header never gets through — the broker's value is the only one on the wire.
import t from 'tap'
import type stompit from 'stompit'
import type { Frame, Header, StompVersion } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { connectStompit, Inbox, sendStompit } from '../helpers/clients.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, header, messages, open, request, sendAll, subscribe, sync, TRANSPORTS, waitMessages, type Transport,
} from '../helpers/stomp.js'

const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2']

/** Every `redelivered` header line a frame carries, repeats included, in order. */
function redelivered(frame: Frame): string[] {
  return frame.headers.filter(([name]) => name === 'redelivered').map(([, value]) => value)
}

/** The ack modes a client of `version` may ask for (client-individual came with STOMP 1.1). */
function ackModes(version: StompVersion): string[] {
  return version === '1.0' ? ['auto', 'client'] : ['auto', 'client', 'client-individual']
}

/** A raw STOMP 1.2 client over `transport` that logs in as `login`, as a durable subscriber does. */
async function openAs(t: Teardown, addresses: ListenAddresses, transport: Transport, login: string): Promise<RawClient> {
  const raw = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, addresses.ws, ['v12.stomp'])
  const connected = await raw.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', login], ['passcode', 'secret']])
  if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command} ${getHeader(connected, 'message') ?? ''}`)
  return raw
}

const other = (transport: Transport): Transport => (transport === 'tcp' ? 'ws' : 'tcp')

for (const transport of TRANSPORTS) {
  for (const version of VERSIONS) {
    t.test(`a STOMP ${version} consumer of a queue sees redelivered:false on every first delivery, whatever its ack mode (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const producer = await open(t, addresses, other(transport))
      for (const ack of ackModes(version)) {
        const consumer = await open(t, addresses, transport, version)
        await subscribe(consumer, 's', `/queue/first-${ack}`, [['ack', ack]])
        await sendAll(producer, `/queue/first-${ack}`, ['a', 'b', 'c'])
        const got = await waitMessages(consumer, 3)
        t.same(bodies(got), ['a', 'b', 'c'], `ack:${ack} gets them`)
        t.same(got.map(redelivered), [['false'], ['false'], ['false']], `ack:${ack}: one redelivered:false line on each`)
      }
    })
  }

  for (const version of ['1.1', '1.2'] as const) {
    for (const ack of ['client-individual', 'client']) {
      t.test(`a message NACKed by a STOMP ${version} consumer (ack:${ack}) comes back once, with redelivered:true (${transport})`, async (t) => {
        const { addresses } = await startServer(t)
        const consumer = await open(t, addresses, transport, version)
        await subscribe(consumer, 's', '/queue/picky', [['ack', ack]])
        const producer = await open(t, addresses, other(transport))
        await sendAll(producer, '/queue/picky', ['try me'])
        const [first] = await waitMessages(consumer, 1)
        t.same(redelivered(first!), ['false'], 'the first delivery says redelivered:false')
        await request(consumer, 'NACK', ackHeaders(first!, version))
        const [, again] = await waitMessages(consumer, 2)
        t.equal(again!.body.toString(), 'try me')
        t.same(redelivered(again!), ['true'], 'the redelivery says redelivered:true, once')
        t.equal(header(again!, 'message-id'), header(first!, 'message-id'), 'with the same message-id')
        await request(consumer, 'ACK', ackHeaders(again!, version))
        await sync(consumer)
        t.equal(messages(consumer).length, 2, 'acked, it does not come back again')
      })
    }
  }

  for (const version of VERSIONS) {
    for (const ack of version === '1.0' ? ['client'] : ['client-individual', 'client']) {
      t.test(`a message whose STOMP ${version} consumer (ack:${ack}) leaves without acking reaches the next consumer with redelivered:true (${transport})`, async (t) => {
        const { addresses } = await startServer(t)
        const producer = await open(t, addresses, other(transport))
        await sendAll(producer, '/queue/tasks', ['t-0', 't-1'])
        const first = await open(t, addresses, transport, version)
        await subscribe(first, 's', '/queue/tasks', [['ack', ack]])
        const held = await waitMessages(first, 2)
        t.same(held.map(redelivered), [['false'], ['false']], 'first deliveries say redelivered:false')
        first.destroy()
        await first.closed
        const second = await open(t, addresses, transport, version)
        await subscribe(second, 's', '/queue/tasks', [['ack', ack]])
        const got = await waitMessages(second, 2)
        t.same(bodies(got), ['t-0', 't-1'])
        t.same(got.map(redelivered), [['true'], ['true']], 'both come back saying redelivered:true')
        await request(producer, 'SEND', [['destination', '/queue/tasks']], 't-2')
        const [, , fresh] = await waitMessages(second, 3)
        t.same(redelivered(fresh!), ['false'], 'while a new message still says redelivered:false')
      })
    }
  }

  t.test(`a reply on the requester's own /temp-queue/ subscription carries redelivered:false, and redelivered:true once NACKed (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const responder = await open(t, addresses, other(transport))
    await subscribe(responder, 'requests', '/queue/service')
    const requester = await open(t, addresses, transport)
    await subscribe(requester, 'replies', '/temp-queue/x', [['ack', 'client-individual']])
    await request(requester, 'SEND', [['destination', '/queue/service'], ['reply-to', '/temp-queue/x']], 'ping')
    const [asked] = await waitMessages(responder, 1)
    t.same(redelivered(asked!), ['false'], 'the request, from a queue, says redelivered:false')
    await request(responder, 'SEND', [['destination', header(asked!, 'reply-to')!]], 'pong')
    const [answer] = await waitMessages(requester, 1)
    t.equal(answer!.body.toString(), 'pong')
    t.equal(header(answer!, 'subscription'), 'replies')
    t.same(redelivered(answer!), ['false'], 'the reply says redelivered:false')
    await request(requester, 'NACK', ackHeaders(answer!))
    const [, again] = await waitMessages(requester, 2)
    t.equal(again!.body.toString(), 'pong')
    t.same(redelivered(again!), ['true'], 'NACKed, it comes back saying redelivered:true')
  })

  for (const variant of [['durable', 'true'], ['persistent', 'true']] as const) {
    t.test(`a durable topic subscription (${variant.join(':')}) says redelivered:false on a first delivery, redelivered:true after a NACK or after its subscriber left without acking (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const subscription: Header[] = [[...variant], ['ack', 'client-individual']]
      const subscriber = await openAs(t, addresses, transport, 'alice')
      await subscribe(subscriber, 'feed', '/topic/x', subscription)
      const publisher = await open(t, addresses, other(transport))
      await sendAll(publisher, '/topic/x', ['news-0', 'news-1'])
      const firsts = await waitMessages(subscriber, 2)
      t.same(bodies(firsts), ['news-0', 'news-1'])
      t.same(firsts.map(redelivered), [['false'], ['false']], 'first deliveries say redelivered:false')
      await request(subscriber, 'NACK', ackHeaders(firsts[0]!))
      const [, , again] = await waitMessages(subscriber, 3)
      t.equal(again!.body.toString(), 'news-0')
      t.same(redelivered(again!), ['true'], 'NACKed, it comes back saying redelivered:true')
      subscriber.destroy()
      await subscriber.closed
      const back = await openAs(t, addresses, transport, 'alice')
      await subscribe(back, 'feed', '/topic/x', subscription)
      const kept = await waitMessages(back, 2)
      t.same(bodies(kept), ['news-0', 'news-1'], 'its subscriber back, both unacked messages return, in order')
      t.same(kept.map(redelivered), [['true'], ['true']], 'saying redelivered:true')
      await request(publisher, 'SEND', [['destination', '/topic/x']], 'news-2')
      const [, , fresh] = await waitMessages(back, 3)
      t.same(redelivered(fresh!), ['false'], 'while a new message says redelivered:false')
    })
  }

  for (const version of VERSIONS) {
    t.test(`a plain topic subscription's MESSAGE carries no redelivered header, even when its SEND had one (STOMP ${version}, ${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const subscriber = await open(t, addresses, transport, version)
      await subscribe(subscriber, 'auto', '/topic/news')
      await subscribe(subscriber, 'client', '/topic/news', [['ack', 'client']])
      const publisher = await open(t, addresses, other(transport))
      await request(publisher, 'SEND', [['destination', '/topic/news']], 'plain')
      await request(publisher, 'SEND', [['destination', '/topic/news'], ['redelivered', 'true']], 'claims true')
      await request(publisher, 'SEND', [['destination', '/topic/news'], ['redelivered', 'false']], 'claims false')
      const got = await waitMessages(subscriber, 6)
      t.same(bodies(messages(subscriber, 'auto')), ['plain', 'claims true', 'claims false'])
      t.same(bodies(messages(subscriber, 'client')), ['plain', 'claims true', 'claims false'])
      t.same(got.map(redelivered), [[], [], [], [], [], []], 'no redelivered line on any of them')
    })
  }

  t.test(`a sender's own redelivered header never reaches a consumer: the broker's value is the only one (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const consumer = await openAs(t, addresses, transport, 'bob')
    await subscribe(consumer, 'q', '/queue/claims', [['ack', 'client-individual']])
    await subscribe(consumer, 'd', '/topic/claims', [['durable', 'true'], ['ack', 'client-individual']])
    const producer = await open(t, addresses, other(transport))
    await request(producer, 'SEND', [['destination', '/queue/claims'], ['redelivered', 'true']], 'queue says true')
    await request(producer, 'SEND', [['destination', '/queue/claims'], ['redelivered', 'false'], ['x-kept', 'yes']], 'queue says false')
    await request(producer, 'SEND', [['destination', '/topic/claims'], ['redelivered', 'true']], 'durable says true')
    const queued = await waitMessages(consumer, 2, 'q')
    const [durable] = await waitMessages(consumer, 1, 'd')
    t.same(queued.map(redelivered), [['false'], ['false']], 'a first delivery from a queue says redelivered:false, once, whatever the sender said')
    t.equal(header(queued[1]!, 'x-kept'), 'yes', "the sender's other headers do get through")
    t.same(redelivered(durable!), ['false'], 'so does one from a durable subscription')
    await request(consumer, 'NACK', ackHeaders(queued[1]!))
    const again = await waitMessages(consumer, 3, 'q')
    t.equal(again[2]!.body.toString(), 'queue says false')
    t.same(redelivered(again[2]!), ['true'], 'NACKed, the one whose sender said false says redelivered:true, once')
  })
}

interface Received {
  headers: Record<string, string>
  body: string
  message: stompit.Client.Message
}

/** A stompit subscription that keeps each message (unacked) with its headers and body. */
function subscribeKeeping(client: stompit.Client, headers: Record<string, string>): Inbox<Received> {
  const inbox = new Inbox<Received>()
  client.subscribe(headers, (err, message) => {
    if (err) return
    // stompit's type declarations omit the headers its frames carry at run time.
    const received = (message as unknown as { headers: Record<string, string> }).headers
    message.readString('utf8', (readErr, body) => {
      if (!readErr) inbox.push({ headers: received, body: body ?? '', message })
    })
  })
  return inbox
}

t.test('stompit sees redelivered "false" on a first delivery from a queue, and "true" on the same message after it NACKs it', async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeKeeping(client, { destination: '/queue/stompit', ack: 'client-individual' })
  // A receipt on a later frame proves the subscription is in place.
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  await sendStompit(client, { destination: '/queue/stompit', redelivered: 'true' }, 'job')
  const [first] = await inbox.waitFor(1)
  t.equal(first!.body, 'job')
  t.equal(first!.headers.redelivered, 'false', "the broker's false, not the sender's true")
  client.nack(first!.message)
  const [, again] = await inbox.waitFor(2)
  t.equal(again!.body, 'job')
  t.equal(again!.headers.redelivered, 'true')
  t.equal(again!.headers['message-id'], first!.headers['message-id'])
})

t.test("stompit sees no redelivered header on a plain topic subscription's message, even when the sender set one", async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeKeeping(client, { destination: '/topic/stompit', ack: 'auto' })
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  await sendStompit(client, { destination: '/topic/stompit', redelivered: 'true' }, 'news')
  const [got] = await inbox.waitFor(1)
  t.equal(got!.body, 'news')
  t.notOk('redelivered' in got!.headers, `headers: ${JSON.stringify(got!.headers)}`)
})
