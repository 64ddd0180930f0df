// NACK with RabbitMQ's `requeue` header, as clients written for RabbitMQ use it: `requeue:false`
// (any case) refuses a message for good — it goes to its dead-letter queue `/queue/DLQ.<name>`
// with `dead-letter-reason:rejected` and `original-destination` instead of coming back — while a
// NACK without it, or with `requeue:true`, redelivers as before. STOMP 1.1 (message-id and
// subscription) and 1.2 (id) NACKs alike, single (ack:client-individual) and cumulative
// (ack:client); inside a transaction it waits for COMMIT; any other value is an ERROR.
import type stompit from 'stompit'
import t, { type Test } from 'tap'
import type { Frame, Header } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { connectStompit, Inbox, sendStompit } from '../helpers/clients.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, firstError, header, inTransaction, messages, numbered, open, request, sendAll, subscribe, sync, TRANSPORTS, waitError, waitMessages,
  type Transport,
} from '../helpers/stomp.js'

const NACK_VERSIONS = ['1.1', '1.2'] as const

const other = (transport: Transport): Transport => (transport === 'tcp' ? 'ws' : 'tcp')

/** A reader subscribed to `/queue/DLQ.<name>`, so that it sees whatever is dead-lettered from `/queue/<name>`. */
async function deadLetterReader(t: Teardown, addresses: ListenAddresses, transport: Transport, name: string): Promise<RawClient> {
  const reader = await open(t, addresses, transport)
  await subscribe(reader, 'dead', `/queue/DLQ.${name}`)
  return reader
}

/** Everything `reader` has been sent so far (a round trip on its connection proves nothing more is on its way). */
async function settledBodies(reader: RawClient): Promise<string[]> {
  await sync(reader)
  return bodies(messages(reader))
}

/** Another consumer of `destination` over `transport` gets what is waiting there; a marker sent after proves nothing else is. */
async function stillQueued(t: Teardown, addresses: ListenAddresses, transport: Transport, destination: string): Promise<Frame[]> {
  const next = await open(t, addresses, transport)
  await subscribe(next, 'next', destination)
  await request(next, 'SEND', [['destination', destination]], 'marker')
  await next.until(() => bodies(messages(next)).includes('marker'))
  return messages(next).filter((m) => m.body.toString() !== 'marker')
}

function expectDeadLettered(t: Test, dead: Frame, body: string, name: string): void {
  t.equal(dead.body.toString(), body)
  t.equal(header(dead, 'destination'), `/queue/DLQ.${name}`, 'delivered from the dead-letter queue')
  t.equal(header(dead, 'dead-letter-reason'), 'rejected', 'dead-letter-reason:rejected')
  t.equal(header(dead, 'original-destination'), `/queue/${name}`, `original-destination:/queue/${name}`)
}

for (const transport of TRANSPORTS) {
  for (const version of NACK_VERSIONS) {
    t.test(`a STOMP ${version} NACK with requeue:false sends the message to /queue/DLQ.<name>, marked rejected, instead of redelivering it (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const reader = await deadLetterReader(t, addresses, other(transport), 'jobs')
      const consumer = await open(t, addresses, transport, version)
      await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual']])
      const producer = await open(t, addresses, other(transport))
      await request(producer, 'SEND', [['destination', '/queue/jobs'], ['x-order', '7'], ['content-type', 'text/plain']], 'poison')
      const [got] = await waitMessages(consumer, 1)
      const nack: Header[] = [...ackHeaders(got!, version), ['requeue', 'false']]
      t.same(nack.map(([name]) => name), version === '1.2' ? ['id', 'requeue'] : ['subscription', 'message-id', 'requeue'], `the NACK names the message as STOMP ${version} does`)
      await request(consumer, 'NACK', nack)
      const [dead] = await waitMessages(reader, 1)
      expectDeadLettered(t, dead!, 'poison', 'jobs')
      t.equal(header(dead!, 'x-order'), '7', "the sender's headers travel with it")
      t.equal(header(dead!, 'content-type'), 'text/plain')
      await sync(consumer)
      t.equal(messages(consumer).length, 1, 'the consumer does not get it again')
      consumer.destroy()
      await consumer.closed
      t.same(bodies(await stillQueued(t, addresses, transport, '/queue/jobs')), [], 'nor does anyone after the consumer leaves: it left /queue/jobs')
      t.same(await settledBodies(reader), ['poison'], 'and it is dead-lettered once')
    })

    for (const requeue of [undefined, 'true', 'TRUE'] as const) {
      t.test(`a STOMP ${version} NACK ${requeue === undefined ? 'without a requeue header' : `with requeue:${requeue}`} redelivers the message with redelivered:true, and nothing is dead-lettered (${transport})`, async (t) => {
        const { addresses } = await startServer(t)
        const reader = await deadLetterReader(t, addresses, other(transport), 'jobs')
        const consumer = await open(t, addresses, transport, version)
        await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual']])
        await sendAll(consumer, '/queue/jobs', ['again'])
        const [got] = await waitMessages(consumer, 1)
        await request(consumer, 'NACK', [...ackHeaders(got!, version), ...(requeue === undefined ? [] : [['requeue', requeue] as Header])])
        const [, again] = await waitMessages(consumer, 2)
        t.equal(again!.body.toString(), 'again')
        t.equal(header(again!, 'redelivered'), 'true')
        t.equal(header(again!, 'message-id'), header(got!, 'message-id'))
        t.same(await settledBodies(reader), [], 'nothing in /queue/DLQ.jobs')
      })
    }

    t.test(`with ack:client a STOMP ${version} NACK requeue:false of the third message dead-letters the first three, in order, and the fourth stays in flight (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const reader = await deadLetterReader(t, addresses, other(transport), 'batch')
      const producer = await open(t, addresses, other(transport))
      await sendAll(producer, '/queue/batch', numbered('b', 4))
      const consumer = await open(t, addresses, transport, version)
      await subscribe(consumer, 's', '/queue/batch', [['ack', 'client']])
      const got = await waitMessages(consumer, 4)
      await request(consumer, 'NACK', [...ackHeaders(got[2]!, version), ['requeue', 'false']])
      const dead = await waitMessages(reader, 3)
      t.same(bodies(dead), ['b-0', 'b-1', 'b-2'], 'the NACKed message and those before it, in order')
      for (const [i, message] of dead.entries()) expectDeadLettered(t, message, `b-${i}`, 'batch')
      await sync(consumer)
      t.same(bodies(messages(consumer)), numbered('b', 4), 'none comes back to the consumer')
      t.same(await settledBodies(reader), ['b-0', 'b-1', 'b-2'], 'the fourth is not dead-lettered')
      const next = await open(t, addresses, transport, version)
      await subscribe(next, 'next', '/queue/batch')
      await sync(next)
      t.equal(messages(next).length, 0, 'nobody else gets the fourth while the consumer holds it')
      consumer.destroy()
      await consumer.closed
      const [back] = await waitMessages(next, 1)
      t.equal(back!.body.toString(), 'b-3', 'when the consumer leaves, the fourth comes back')
      t.equal(header(back!, 'redelivered'), 'true')
      await sync(next)
      t.equal(messages(next).length, 1, 'and only the fourth')
    })
  }

  for (const requeue of ['False', 'FALSE', 'fAlSe']) {
    t.test(`requeue:${requeue} is read as false: the message is dead-lettered (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const reader = await deadLetterReader(t, addresses, transport, 'cased')
      const consumer = await open(t, addresses, transport)
      await subscribe(consumer, 's', '/queue/cased', [['ack', 'client-individual']])
      await sendAll(consumer, '/queue/cased', ['shout'])
      const [got] = await waitMessages(consumer, 1)
      await request(consumer, 'NACK', [...ackHeaders(got!), ['requeue', requeue]])
      const [dead] = await waitMessages(reader, 1)
      expectDeadLettered(t, dead!, 'shout', 'cased')
      await sync(consumer)
      t.equal(messages(consumer).length, 1, 'not redelivered')
    })
  }

  t.test(`a NACK with requeue:maybe gets ERROR "Invalid header", then the connection closes, and the message is neither dead-lettered nor lost (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const reader = await deadLetterReader(t, addresses, other(transport), 'unsure')
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 's', '/queue/unsure', [['ack', 'client-individual']])
    await sendAll(consumer, '/queue/unsure', ['hmm'])
    const [got] = await waitMessages(consumer, 1)
    consumer.frame('NACK', [...ackHeaders(got!), ['requeue', 'maybe'], ['receipt', 'nack-maybe']])
    const error = await waitError(consumer)
    t.equal(header(error, 'message'), 'Invalid header', 'message:Invalid header')
    t.equal(header(error, 'receipt-id'), 'nack-maybe', 'naming the NACK by its receipt')
    t.ok(error.body.length > 0, 'its body explains the error')
    await consumer.closed
    t.equal(consumer.frames[consumer.frames.length - 1], error, 'nothing follows the ERROR: the connection closes')
    t.notOk(consumer.frames.some((f) => f.command === 'RECEIPT' && header(f, 'receipt-id') === 'nack-maybe'), 'no RECEIPT for the NACK')
    const back = await stillQueued(t, addresses, transport, '/queue/unsure')
    t.same(bodies(back), ['hmm'], 'the unacked message comes back to the next consumer')
    t.equal(header(back[0]!, 'redelivered'), 'true')
    t.same(await settledBodies(reader), [], 'nothing in /queue/DLQ.unsure')
  })

  t.test(`a NACK requeue:false inside a transaction dead-letters the message only at COMMIT (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const reader = await deadLetterReader(t, addresses, other(transport), 'tx')
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 's', '/queue/tx', [['ack', 'client-individual']])
    await sendAll(consumer, '/queue/tx', ['later'])
    const [got] = await waitMessages(consumer, 1)
    await request(consumer, 'BEGIN', [['transaction', 'tx1']])
    await inTransaction(consumer, 'NACK', [...ackHeaders(got!), ['requeue', 'false'], ['transaction', 'tx1']])
    t.same(await settledBodies(reader), [], 'nothing in the dead-letter queue before COMMIT')
    await request(consumer, 'COMMIT', [['transaction', 'tx1']])
    const [dead] = await waitMessages(reader, 1)
    expectDeadLettered(t, dead!, 'later', 'tx')
    await sync(consumer)
    t.equal(messages(consumer).length, 1, 'not redelivered')
    t.equal(firstError(consumer), undefined)
  })

  t.test(`a NACK requeue:false inside an aborted transaction does nothing: the message stays unacked (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const reader = await deadLetterReader(t, addresses, other(transport), 'tx')
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 's', '/queue/tx', [['ack', 'client-individual']])
    await sendAll(consumer, '/queue/tx', ['kept'])
    const [got] = await waitMessages(consumer, 1)
    await request(consumer, 'BEGIN', [['transaction', 'tx1']])
    await inTransaction(consumer, 'NACK', [...ackHeaders(got!), ['requeue', 'false'], ['transaction', 'tx1']])
    await request(consumer, 'ABORT', [['transaction', 'tx1']])
    t.same(await settledBodies(reader), [], 'nothing in the dead-letter queue after ABORT')
    await sync(consumer)
    t.equal(messages(consumer).length, 1, 'nor is it redelivered')
    consumer.destroy()
    await consumer.closed
    const back = await stillQueued(t, addresses, transport, '/queue/tx')
    t.same(bodies(back), ['kept'], 'still unacked, it comes back to the next consumer when the first leaves')
    t.equal(header(back[0]!, 'redelivered'), 'true')
    t.same(await settledBodies(reader), [], 'and still nothing in the dead-letter queue')
  })
}

interface Received {
  headers: Record<string, string>
  body: string
  message: stompit.Client.Message
}

t.test("stompit's nack(message, { requeue: 'false' }) dead-letters the message; its plain nack(message) redelivers it", async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompit(t, addresses.tcp!)
  const inbox = new Inbox<Received>()
  for (const destination of ['/queue/stompit', '/queue/DLQ.stompit']) {
    client.subscribe({ destination, ack: 'client-individual' }, (err, message) => {
      if (err) return
      const headers = (message as unknown as { headers: Record<string, string> }).headers
      message.readString('utf8', (readErr, body) => {
        if (!readErr) inbox.push({ headers, body: body ?? '', message })
      })
    })
  }
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  await sendStompit(client, { destination: '/queue/stompit' }, 'refuse me')
  const [first] = await inbox.waitFor(1)
  t.equal(first!.headers.redelivered, 'false')
  client.nack(first!.message)
  const [, again] = await inbox.waitFor(2)
  t.equal(again!.body, 'refuse me')
  t.equal(again!.headers.destination, '/queue/stompit', 'a plain nack brings it back')
  t.equal(again!.headers.redelivered, 'true')
  client.nack(again!.message, { requeue: 'false' })
  const [, , dead] = await inbox.waitFor(3)
  t.equal(dead!.body, 'refuse me')
  t.equal(dead!.headers.destination, '/queue/DLQ.stompit', 'requeue:false sends it to the dead-letter queue')
  t.equal(dead!.headers['dead-letter-reason'], 'rejected')
  t.equal(dead!.headers['original-destination'], '/queue/stompit')
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  t.equal(inbox.messages.length, 3, 'and it does not come back to /queue/stompit')
})
