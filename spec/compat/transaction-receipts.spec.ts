// RECEIPTs of frames inside a transaction, as a client sees them: a SEND, ACK or NACK that carries
// both `transaction` and `receipt` is answered at COMMIT, once its effect is done (a persistent
// SEND to a queue: once it is committed to the store), in frame order and ahead of the COMMIT's own
// RECEIPT — never before COMMIT. At ABORT the held RECEIPTs come back too, ahead of the ABORT's,
// and nothing is delivered or acked. Frames outside a transaction are answered at once as ever,
// and a transaction left open when its connection closes delivers nothing.
import t from 'tap'
import type { Command, Frame, Header } from '../../lib/frame/frame.js'
import type { ListenAddresses, StompdServer } from '../../lib/server.js'
import type { StoredMessage } from '../../lib/store/store.js'
import { connectStompit, sendStompit, subscribeStompit } from '../helpers/clients.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import {
  ackHeaders, bodies, disconnect, header, messages, numbered, open, receiptFor, request, sendAll, subscribe, sync, TRANSPORTS, waitMessages, type Transport,
} from '../helpers/stomp.js'

const other = (transport: Transport): Transport => (transport === 'tcp' ? 'ws' : 'tcp')

/** The receipt-id of every RECEIPT received so far, in arrival order. */
function receipts(raw: RawClient): string[] {
  return raw.frames.filter((f) => f.command === 'RECEIPT').map((f) => header(f, 'receipt-id')!)
}

/** A consumer of `destination` (ack:client-individual) holding `count` unacked messages, sent by another client. */
async function holding(t: Teardown, addresses: ListenAddresses, transport: Transport, destination: string, count: number): Promise<{ consumer: RawClient; held: Frame[] }> {
  const producer = await open(t, addresses, other(transport))
  await sendAll(producer, destination, numbered('w', count))
  const consumer = await open(t, addresses, transport)
  await subscribe(consumer, 'work', destination, [['ack', 'client-individual']])
  const held = await waitMessages(consumer, count)
  return { consumer, held }
}

/** What another consumer of `destination` gets from it: a marker sent after proves nothing else is waiting there. */
async function stillQueued(t: Teardown, addresses: ListenAddresses, transport: Transport, destination: string): Promise<string[]> {
  const next = await open(t, addresses, transport)
  await subscribe(next, 'next', destination)
  await request(next, 'SEND', [['destination', destination]], 'marker')
  await next.until(() => bodies(messages(next)).includes('marker'))
  return bodies(messages(next)).filter((b) => b !== 'marker')
}

/** Sends `command` with `receipt:<receiptId>` and waits for that RECEIPT. */
async function receipted(raw: RawClient, command: Command, receiptId: string, headers: Header[], body?: string): Promise<void> {
  raw.frame(command, [...headers, ['receipt', receiptId]], body)
  await receiptFor(raw, receiptId)
}

async function leave(raw: RawClient): Promise<void> {
  raw.destroy()
  await raw.closed
}

/**
 * Makes the broker's (memory) store as slow to commit as a disk: every persistent message it
 * takes is committed only when `commit()` is called.
 */
function holdStoreCommits(server: StompdServer): { commit(): void } {
  const store = server.broker.store
  let commit!: () => void
  const committed = new Promise<void>((resolve) => {
    commit = resolve
  })
  const append = store.append.bind(store)
  store.append = (queue, message, deliveries) => ({ key: append(queue, message, deliveries).key, durable: committed })
  return { commit }
}

async function stored(server: StompdServer, queue: string): Promise<string[]> {
  const out: StoredMessage[] = []
  for await (const message of server.broker.store.recover()) out.push(message)
  return out.filter((m) => m.queue === queue).map((m) => m.body.toString())
}

for (const transport of TRANSPORTS) {
  t.test(`SEND, ACK and NACK frames carrying transaction and receipt get their RECEIPTs at COMMIT, in frame order, ahead of the COMMIT's own (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const observer = await open(t, addresses, other(transport))
    await subscribe(observer, 'out', '/queue/out')
    const { consumer, held } = await holding(t, addresses, transport, '/queue/work', 2)
    await request(consumer, 'BEGIN', [['transaction', 'tx']])
    consumer.frame('SEND', [['destination', '/queue/out'], ['transaction', 'tx'], ['receipt', 'send-1']], 'out-1')
    consumer.frame('ACK', [...ackHeaders(held[0]!), ['transaction', 'tx'], ['receipt', 'ack-w-0']])
    consumer.frame('NACK', [...ackHeaders(held[1]!), ['transaction', 'tx'], ['receipt', 'nack-w-1']])
    consumer.frame('SEND', [['destination', '/queue/out'], ['transaction', 'tx'], ['receipt', 'send-2']], 'out-2')
    await sync(consumer)
    const beforeCommit = receipts(consumer)
    t.same(beforeCommit.filter((id) => ['send-1', 'ack-w-0', 'nack-w-1', 'send-2'].includes(id)), [], 'no RECEIPT for them before COMMIT (a round trip after them has come back)')
    await sync(observer)
    t.equal(messages(observer).length, 0, 'and nothing is delivered')
    t.equal(messages(consumer).length, 2, 'nor redelivered')
    await receipted(consumer, 'COMMIT', 'commit', [['transaction', 'tx']])
    t.same(receipts(consumer).slice(beforeCommit.length), ['send-1', 'ack-w-0', 'nack-w-1', 'send-2', 'commit'], 'at COMMIT, in frame order, then the COMMIT\'s')
    t.same(bodies(await waitMessages(observer, 2)), ['out-1', 'out-2'], 'the SENDs are delivered')
    const [, , again] = await waitMessages(consumer, 3)
    t.equal(again!.body.toString(), 'w-1', 'the NACKed message comes back')
    t.equal(header(again!, 'redelivered'), 'true')
    await leave(consumer)
    t.same(await stillQueued(t, addresses, transport, '/queue/work'), ['w-1'], 'the ACKed one is gone for good')
  })

  t.test(`a persistent SEND in a transaction gets its RECEIPT at COMMIT only once it is committed to the store, ahead of the COMMIT's (${transport})`, async (t) => {
    const { server, addresses } = await startServer(t)
    const store = holdStoreCommits(server)
    const producer = await open(t, addresses, transport)
    // MESSAGEs are not held behind RECEIPTs: one on the producer's own connection is the round trip.
    await subscribe(producer, 'echo', '/topic/echo')
    await request(producer, 'BEGIN', [['transaction', 'tx']])
    producer.frame('SEND', [['destination', '/queue/kept'], ['persistent', 'true'], ['transaction', 'tx'], ['receipt', 'send-kept']], 'kept')
    producer.frame('COMMIT', [['transaction', 'tx'], ['receipt', 'commit']])
    producer.frame('SEND', [['destination', '/topic/echo']], 'round trip')
    await waitMessages(producer, 1, 'echo')
    t.same(receipts(producer).filter((id) => id === 'send-kept' || id === 'commit'), [], 'COMMITted but not yet in the store: no RECEIPT yet')
    store.commit()
    await receiptFor(producer, 'commit')
    t.same(await stored(server, '/queue/kept'), ['kept'], 'the store holds the message')
    t.same(receipts(producer).filter((id) => id === 'send-kept' || id === 'commit'), ['send-kept', 'commit'], 'committed, the SEND\'s RECEIPT comes, then the COMMIT\'s')
    const consumer = await open(t, addresses, other(transport))
    await subscribe(consumer, 's', '/queue/kept')
    t.same(bodies(await waitMessages(consumer, 1)), ['kept'])
  })

  t.test(`at ABORT the held frames' RECEIPTs come back ahead of the ABORT's, and nothing is delivered or acked (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const observer = await open(t, addresses, other(transport))
    await subscribe(observer, 'out', '/queue/out')
    const { consumer, held } = await holding(t, addresses, transport, '/queue/work', 2)
    await request(consumer, 'BEGIN', [['transaction', 'tx']])
    consumer.frame('SEND', [['destination', '/queue/out'], ['transaction', 'tx'], ['receipt', 'send-1']], 'never')
    consumer.frame('ACK', [...ackHeaders(held[0]!), ['transaction', 'tx'], ['receipt', 'ack-w-0']])
    consumer.frame('NACK', [...ackHeaders(held[1]!), ['transaction', 'tx'], ['receipt', 'nack-w-1']])
    await sync(consumer)
    const beforeAbort = receipts(consumer)
    t.same(beforeAbort.filter((id) => ['send-1', 'ack-w-0', 'nack-w-1'].includes(id)), [], 'no RECEIPT for them before ABORT')
    await receipted(consumer, 'ABORT', 'abort', [['transaction', 'tx']])
    t.same(receipts(consumer).slice(beforeAbort.length), ['send-1', 'ack-w-0', 'nack-w-1', 'abort'], 'at ABORT, in frame order, then the ABORT\'s')
    await sync(observer)
    t.equal(messages(observer).length, 0, 'the SEND is never delivered')
    await sync(consumer)
    t.equal(messages(consumer).length, 2, 'the NACKed message is not redelivered')
    await leave(consumer)
    t.same(await stillQueued(t, addresses, transport, '/queue/work'), ['w-0', 'w-1'], 'neither message was settled: both come back when the consumer leaves')
  })

  t.test(`frames outside a transaction get their RECEIPTs at once while one is open (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const observer = await open(t, addresses, other(transport))
    await subscribe(observer, 'out', '/queue/out')
    const { consumer, held } = await holding(t, addresses, transport, '/queue/work', 2)
    await request(consumer, 'BEGIN', [['transaction', 'tx']])
    consumer.frame('SEND', [['destination', '/queue/out'], ['transaction', 'tx'], ['receipt', 'held']], 'in tx')
    await receipted(consumer, 'SEND', 'direct', [['destination', '/queue/out']], 'direct')
    t.same(bodies(await waitMessages(observer, 1)), ['direct'], 'a SEND outside is delivered')
    await request(consumer, 'ACK', ackHeaders(held[0]!))
    t.pass('an ACK outside gets its RECEIPT')
    await request(consumer, 'NACK', ackHeaders(held[1]!))
    t.pass('a NACK outside gets its RECEIPT')
    const [, , again] = await waitMessages(consumer, 3)
    t.equal(again!.body.toString(), 'w-1', 'and the NACKed message is redelivered at once')
    t.notOk(receipts(consumer).includes('held'), 'all the while, the transaction\'s SEND has no RECEIPT')
    await receipted(consumer, 'COMMIT', 'commit', [['transaction', 'tx']])
    t.same(receipts(consumer).slice(-2), ['held', 'commit'], 'it comes at COMMIT')
    t.same(bodies(await waitMessages(observer, 2)), ['direct', 'in tx'])
  })

  for (const [how, close] of [['its socket is destroyed', leave], ['it sends DISCONNECT', disconnect]] as const) {
    t.test(`a transaction still open when its connection closes (${how}) delivers nothing and acks nothing, receipted frames included (${transport})`, async (t) => {
      const { addresses } = await startServer(t)
      const { consumer, held } = await holding(t, addresses, transport, '/queue/work', 1)
      await request(consumer, 'BEGIN', [['transaction', 'open']])
      consumer.frame('SEND', [['destination', '/queue/out'], ['transaction', 'open'], ['receipt', 'send-1']], 'never')
      consumer.frame('ACK', [...ackHeaders(held[0]!), ['transaction', 'open'], ['receipt', 'ack-w-0']])
      await sync(consumer)
      await close(consumer)
      t.same(await stillQueued(t, addresses, other(transport), '/queue/out'), [], 'the SEND was never delivered')
      t.same(await stillQueued(t, addresses, transport, '/queue/work'), ['w-0'], 'the ACK never took effect')
    })
  }
}

t.test("stompit: a SEND through client.begin()'s Transaction gets its onReceipt only after commit(), ahead of the commit's", async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeStompit(consumer, { destination: '/queue/stompit-tx', ack: 'auto' })
  await sendStompit(consumer, { destination: '/topic/warmup' }, '')
  const client = await connectStompit(t, addresses.tcp!)
  const heard: string[] = []
  const failed: Error[] = []
  const transaction = client.begin()
  const receipted = (name: string) => ({ onReceipt: () => heard.push(name), onError: (err: Error) => failed.push(err) })
  transaction.send({ destination: '/queue/stompit-tx' }, receipted('send-1')).end('first')
  transaction.send({ destination: '/queue/stompit-tx' }, receipted('send-2')).end('second')
  // A receipted SEND outside the transaction is the round trip.
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  t.same(heard, [], 'no onReceipt before commit')
  await sendStompit(consumer, { destination: '/topic/warmup' }, '')
  t.equal(inbox.messages.length, 0, 'and nothing delivered')
  await new Promise<void>((resolve, reject) => {
    transaction.commit({
      onReceipt: () => {
        heard.push('commit')
        resolve()
      },
      onError: reject,
    })
  })
  t.same(heard, ['send-1', 'send-2', 'commit'], 'after commit, in order, ahead of the commit\'s')
  t.same((await inbox.waitFor(2)).map((m) => m.body), ['first', 'second'])
  t.same(failed, [])
})

t.test("stompit: a receipted SEND in an aborted Transaction hears its onReceipt at abort(), and is never delivered", async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeStompit(consumer, { destination: '/queue/stompit-tx', ack: 'auto' })
  await sendStompit(consumer, { destination: '/topic/warmup' }, '')
  const client = await connectStompit(t, addresses.tcp!)
  const heard: string[] = []
  const transaction = client.begin()
  transaction.send({ destination: '/queue/stompit-tx' }, { onReceipt: () => heard.push('send'), onError: () => heard.push('error') }).end('dropped')
  await sendStompit(client, { destination: '/topic/warmup' }, '')
  t.same(heard, [], 'no onReceipt before abort')
  await new Promise<void>((resolve, reject) => {
    transaction.abort({
      onReceipt: () => {
        heard.push('abort')
        resolve()
      },
      onError: reject,
    })
  })
  t.same(heard, ['send', 'abort'])
  await sendStompit(client, { destination: '/queue/stompit-tx' }, 'after')
  t.same((await inbox.waitFor(1)).map((m) => m.body), ['after'], 'only what was sent outside the transaction arrives')
  await sendStompit(consumer, { destination: '/topic/warmup' }, '')
  t.equal(inbox.messages.length, 1)
})
