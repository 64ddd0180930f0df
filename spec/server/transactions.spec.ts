// Transactions as clients see them: SENDs and ACKs held until COMMIT, dropped at ABORT or
// when the connection closes, and ERRORs for transactions that do not exist or already do.
import t from 'tap'
import { errorMessage } from '../../lib/errors.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, inTransaction, disconnect, header, messages, numbered, open, request, sendAll, subscribe, sync, TRANSPORTS, waitError, waitMessages,
} from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`a SEND in a transaction is delivered only at COMMIT (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const consumer = await open(t, addresses, transport)
    await subscribe(consumer, 'q', '/queue/orders')
    await subscribe(consumer, 't', '/topic/prices')
    const producer = await open(t, addresses, transport)
    await request(producer, 'BEGIN', [['transaction', 'tx1']])
    await inTransaction(producer, 'SEND', [['destination', '/queue/orders'], ['transaction', 'tx1']], 'order 1')
    await inTransaction(producer, 'SEND', [['destination', '/topic/prices'], ['transaction', 'tx1']], 'price 1')
    await inTransaction(producer, 'SEND', [['destination', '/queue/orders'], ['transaction', 'tx1']], 'order 2')
    await sync(consumer)
    t.equal(messages(consumer).length, 0, 'nothing before COMMIT')
    await request(producer, 'COMMIT', [['transaction', 'tx1']])
    await waitMessages(consumer, 3)
    t.same(bodies(messages(consumer, 'q')), ['order 1', 'order 2'], 'the queue gets its SENDs, in order')
    t.same(bodies(messages(consumer, 't')), ['price 1'], 'the topic its one')
    t.equal(header(messages(consumer)[0]!, 'transaction'), undefined, 'MESSAGE does not carry the transaction header')
  })
}

t.test('SENDs in an aborted transaction are never delivered', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 'q', '/queue/orders')
  const producer = await open(t, addresses, 'ws')
  await request(producer, 'BEGIN', [['transaction', 'tx1']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/orders'], ['transaction', 'tx1']], 'aborted 1')
  await inTransaction(producer, 'SEND', [['destination', '/queue/orders'], ['transaction', 'tx1']], 'aborted 2')
  await request(producer, 'ABORT', [['transaction', 'tx1']])
  await request(producer, 'SEND', [['destination', '/queue/orders']], 'after abort')
  await waitMessages(consumer, 1)
  await sync(consumer)
  t.same(bodies(messages(consumer)), ['after abort'])
})

t.test('SENDs outside a transaction are delivered at once while one is open', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 'q', '/queue/mixed')
  const producer = await open(t, addresses)
  await request(producer, 'BEGIN', [['transaction', 'tx']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/mixed'], ['transaction', 'tx']], 'held')
  await request(producer, 'SEND', [['destination', '/queue/mixed']], 'direct')
  await waitMessages(consumer, 1)
  await sync(consumer)
  t.same(bodies(messages(consumer)), ['direct'])
  await request(producer, 'COMMIT', [['transaction', 'tx']])
  await waitMessages(consumer, 2)
  t.same(bodies(messages(consumer)), ['direct', 'held'])
})

t.test('two transactions on one connection commit independently', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 'q', '/queue/two')
  const producer = await open(t, addresses)
  await request(producer, 'BEGIN', [['transaction', 'a']])
  await request(producer, 'BEGIN', [['transaction', 'b']])
  await inTransaction(producer, 'SEND', [['destination', '/queue/two'], ['transaction', 'a']], 'from a')
  await inTransaction(producer, 'SEND', [['destination', '/queue/two'], ['transaction', 'b']], 'from b')
  await request(producer, 'ABORT', [['transaction', 'a']])
  await request(producer, 'COMMIT', [['transaction', 'b']])
  await waitMessages(consumer, 1)
  await sync(consumer)
  t.same(bodies(messages(consumer)), ['from b'])
})

/** A consumer holding `count` unacked messages of /queue/work (client-individual), and the queue's producer. */
async function holding(t: Teardown, count: number) {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses)
  await sendAll(producer, '/queue/work', numbered('w', count))
  const consumer = await open(t, addresses)
  await subscribe(consumer, 's', '/queue/work', [['ack', 'client-individual']])
  const held = await waitMessages(consumer, count)
  /** Closes `consumer` and returns what another consumer then gets from the queue. */
  const redeliveredAfterLeaving = async (leave: (raw: RawClient) => Promise<void>): Promise<string[]> => {
    await leave(consumer)
    const other = await open(t, addresses, 'ws')
    await subscribe(other, 'o', '/queue/work')
    // A marker after the returned messages: once it is in, everything before it is too.
    await request(producer, 'SEND', [['destination', '/queue/work']], 'marker')
    await waitMessages(other, 1)
    await other.until(() => bodies(messages(other)).includes('marker'))
    return bodies(messages(other)).filter((b) => b !== 'marker')
  }
  return { consumer, held, redeliveredAfterLeaving }
}

const destroy = async (raw: RawClient): Promise<void> => {
  raw.destroy()
  await raw.closed
}

t.test('an ACK in a transaction takes effect at COMMIT', async (t) => {
  const { consumer, held, redeliveredAfterLeaving } = await holding(t, 2)
  await request(consumer, 'BEGIN', [['transaction', 'acks']])
  await inTransaction(consumer, 'ACK', [...ackHeaders(held[0]!), ['transaction', 'acks']])
  await request(consumer, 'COMMIT', [['transaction', 'acks']])
  t.same(await redeliveredAfterLeaving(destroy), ['w-1'], 'the acked message is gone; only the other comes back')
})

t.test('an ACK in an aborted transaction leaves the message unacked, so it is redelivered when the consumer leaves', async (t) => {
  const { consumer, held, redeliveredAfterLeaving } = await holding(t, 2)
  await request(consumer, 'BEGIN', [['transaction', 'acks']])
  await inTransaction(consumer, 'ACK', [...ackHeaders(held[0]!), ['transaction', 'acks']])
  await request(consumer, 'ABORT', [['transaction', 'acks']])
  t.same(await redeliveredAfterLeaving(destroy), ['w-0', 'w-1'])
})

t.test('an ACK in a transaction still open when the connection closes never takes effect', async (t) => {
  const { consumer, held, redeliveredAfterLeaving } = await holding(t, 2)
  await request(consumer, 'BEGIN', [['transaction', 'acks']])
  await inTransaction(consumer, 'ACK', [...ackHeaders(held[0]!), ['transaction', 'acks']])
  await inTransaction(consumer, 'ACK', [...ackHeaders(held[1]!), ['transaction', 'acks']])
  t.same(await redeliveredAfterLeaving(disconnect), ['w-0', 'w-1'])
})

t.test('a NACK in a transaction redelivers only at COMMIT', async (t) => {
  const { consumer, held } = await holding(t, 1)
  await request(consumer, 'BEGIN', [['transaction', 'n']])
  await inTransaction(consumer, 'NACK', [...ackHeaders(held[0]!), ['transaction', 'n']])
  await sync(consumer)
  t.equal(messages(consumer).length, 1, 'no redelivery before COMMIT')
  await request(consumer, 'COMMIT', [['transaction', 'n']])
  const [, again] = await waitMessages(consumer, 2)
  t.equal(again!.body.toString(), 'w-0')
  t.equal(header(again!, 'redelivered'), 'true')
})

for (const [how, leave] of [['its socket is destroyed', destroy], ['it sends DISCONNECT', disconnect]] as const) {
  t.test(`a transaction still open when the connection closes is aborted: its SENDs are never delivered (${how})`, async (t) => {
    const { addresses } = await startServer(t)
    const consumer = await open(t, addresses)
    await subscribe(consumer, 'q', '/queue/orders')
    const producer = await open(t, addresses, 'ws')
    await request(producer, 'BEGIN', [['transaction', 'open']])
    await inTransaction(producer, 'SEND', [['destination', '/queue/orders'], ['transaction', 'open']], 'never')
    await leave(producer)
    const another = await open(t, addresses)
    await request(another, 'SEND', [['destination', '/queue/orders']], 'marker')
    await waitMessages(consumer, 1)
    await sync(consumer)
    t.same(bodies(messages(consumer)), ['marker'])
  })
}

t.test('a transaction id belongs to its connection: another connection cannot commit it', async (t) => {
  const { addresses } = await startServer(t)
  const owner = await open(t, addresses)
  await request(owner, 'BEGIN', [['transaction', 'mine']])
  const stranger = await open(t, addresses)
  stranger.frame('COMMIT', [['transaction', 'mine']])
  const error = await waitError(stranger)
  t.equal(header(error, 'message'), errorMessage('unknown-transaction'))
})

for (const command of ['COMMIT', 'ABORT'] as const) {
  t.test(`${command} of a transaction that was never begun is an ERROR`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses)
    client.frame(command, [['transaction', 'nope']])
    const error = await waitError(client)
    t.equal(header(error, 'message'), errorMessage('unknown-transaction'))
    await client.closed
    t.pass('and the server closes the connection')
  })

  t.test(`${command} of a transaction already finished is an ERROR`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses)
    await request(client, 'BEGIN', [['transaction', 'done']])
    await request(client, 'COMMIT', [['transaction', 'done']])
    client.frame(command, [['transaction', 'done']])
    const error = await waitError(client)
    t.equal(header(error, 'message'), errorMessage('unknown-transaction'))
  })
}

t.test('a SEND naming a transaction that was never begun is an ERROR, and nothing is delivered', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses)
  await subscribe(consumer, 'q', '/queue/orders')
  const client = await open(t, addresses)
  client.frame('SEND', [['destination', '/queue/orders'], ['transaction', 'ghost']], 'lost')
  const error = await waitError(client)
  t.equal(header(error, 'message'), errorMessage('unknown-transaction'))
  await sync(consumer)
  t.equal(messages(consumer).length, 0)
})

t.test('BEGIN of a transaction already begun is an ERROR', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  await request(client, 'BEGIN', [['transaction', 'twice']])
  client.frame('BEGIN', [['transaction', 'twice']])
  const error = await waitError(client)
  t.equal(header(error, 'message'), errorMessage('duplicate-transaction'))
  await client.closed
  t.pass('and the server closes the connection')
})

t.test('BEGIN without a transaction header is an ERROR', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  client.frame('BEGIN')
  const error = await waitError(client)
  t.equal(header(error, 'message'), errorMessage('missing-header'))
})
