// Receipts as clients see them: every client frame with `receipt` is answered by a RECEIPT
// with a matching `receipt-id`, in frame order; DISCONNECT's comes before the close; an
// ERROR caused by a frame that asked for a receipt names it.
import t from 'tap'
import { errorMessage } from '../../lib/errors.js'
import type { Frame, Header } from '../../lib/frame/frame.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, open, receiptFor, request, subscribe, sync, TRANSPORTS, waitError, waitMessages } from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`every kind of client frame asking for a receipt gets a RECEIPT with its receipt-id (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses, transport)
    const check = async (command: Frame['command'], headers: Header[], body?: string): Promise<void> => {
      const receiptId = `${command.toLowerCase()}-receipt`
      client.frame(command, [...headers, ['receipt', receiptId]], body)
      const receipt = await receiptFor(client, receiptId)
      t.equal(header(receipt, 'receipt-id'), receiptId, `${command}`)
    }
    await check('SUBSCRIBE', [['id', 's1'], ['destination', '/queue/r'], ['ack', 'client-individual']])
    await check('SEND', [['destination', '/queue/r']], 'one')
    await check('SEND', [['destination', '/queue/r']], 'two')
    const [one, two] = await waitMessages(client, 2)
    t.equal(header(one!, 'receipt'), undefined, 'the MESSAGE does not carry the sender\'s receipt header')
    await check('ACK', [['id', header(one!, 'ack')!]])
    await check('NACK', [['id', header(two!, 'ack')!]])
    await check('BEGIN', [['transaction', 'tx-a']])
    await check('COMMIT', [['transaction', 'tx-a']])
    await check('BEGIN', [['transaction', 'tx-b']])
    await check('ABORT', [['transaction', 'tx-b']])
    await check('UNSUBSCRIBE', [['id', 's1']])
    t.equal(client.frames.filter((f) => f.command === 'RECEIPT').length, 10, 'one RECEIPT per frame, no more')
  })
}

t.test('frames inside a transaction get their RECEIPTs at COMMIT, once their effect is done, ahead of the COMMIT\'s own', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  await subscribe(client, 's', '/queue/tx', [['ack', 'client-individual']])
  await request(client, 'SEND', [['destination', '/queue/tx']], 'to ack')
  const [message] = await waitMessages(client, 1)
  await request(client, 'BEGIN', [['transaction', 'tx']])
  client.frame('SEND', [['destination', '/queue/tx'], ['transaction', 'tx'], ['receipt', 'held-send']], 'held')
  client.frame('ACK', [['id', header(message!, 'ack')!], ['transaction', 'tx'], ['receipt', 'held-ack']])
  await sync(client)
  t.notOk(client.frames.some((frame) => frame.command === 'RECEIPT' && /^held/.test(header(frame, 'receipt-id') ?? '')), 'no RECEIPT while the transaction is open')
  client.frame('COMMIT', [['transaction', 'tx'], ['receipt', 'commit']])
  await receiptFor(client, 'commit')
  const receipts = client.frames.filter((frame) => frame.command === 'RECEIPT').map((frame) => header(frame, 'receipt-id'))
  t.same(receipts.slice(-3), ['held-send', 'held-ack', 'commit'], 'in frame order, then the COMMIT\'s')
  t.equal(bodies(await waitMessages(client, 2)).at(-1), 'held', 'and the SEND took effect')
})

t.test('at ABORT the held frames\' RECEIPTs still come back, and nothing takes effect', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  await subscribe(client, 's', '/queue/aborted')
  await request(client, 'BEGIN', [['transaction', 'tx']])
  client.frame('SEND', [['destination', '/queue/aborted'], ['transaction', 'tx'], ['receipt', 'held']], 'never')
  client.frame('ABORT', [['transaction', 'tx'], ['receipt', 'abort']])
  await receiptFor(client, 'abort')
  t.ok(client.frames.some((frame) => frame.command === 'RECEIPT' && header(frame, 'receipt-id') === 'held'), 'the SEND\'s RECEIPT came')
  await sync(client)
  t.equal(messages(client).length, 0, 'nothing was delivered')
})

for (const transport of TRANSPORTS) {
  t.test(`RECEIPTs come back in the order of the frames that asked for them (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses, transport)
    const ids: string[] = []
    const frame = (command: Frame['command'], headers: Header[], body?: string): void => {
      const receiptId = `order-${ids.length}`
      ids.push(receiptId)
      client.frame(command, [...headers, ['receipt', receiptId]], body)
    }
    // Written back to back, without waiting for any RECEIPT in between.
    frame('SUBSCRIBE', [['id', 'q'], ['destination', '/queue/o']])
    frame('SUBSCRIBE', [['id', 't'], ['destination', '/topic/o']])
    for (let i = 0; i < 50; i++) {
      frame('SEND', [['destination', i % 2 === 0 ? '/queue/o' : '/topic/o']], `m${i}`)
      if (i % 10 === 0) {
        frame('BEGIN', [['transaction', `tx${i}`]])
        frame('SEND', [['destination', '/queue/o'], ['transaction', `tx${i}`]], `tx m${i}`)
        frame(i % 20 === 0 ? 'COMMIT' : 'ABORT', [['transaction', `tx${i}`]])
      }
    }
    frame('UNSUBSCRIBE', [['id', 't']])
    await receiptFor(client, ids[ids.length - 1]!)
    const received = client.frames.filter((f) => f.command === 'RECEIPT').map((f) => header(f, 'receipt-id'))
    t.same(received, ids)
  })
}

for (const transport of TRANSPORTS) {
  t.test(`DISCONNECT with a receipt gets its RECEIPT, then the server closes the connection (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses, transport)
    client.frame('DISCONNECT', [['receipt', 'bye']])
    const receipt = await client.next()
    t.equal(receipt.command, 'RECEIPT')
    t.equal(header(receipt, 'receipt-id'), 'bye')
    await client.closed
    t.equal(client.frames.length, 2, 'CONNECTED and RECEIPT, nothing else')
  })
}

t.test('messages delivered before DISCONNECT arrive before its RECEIPT', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  await subscribe(client, 's', '/topic/last-words')
  client.frame('SEND', [['destination', '/topic/last-words']], 'one')
  client.frame('SEND', [['destination', '/topic/last-words']], 'two')
  client.frame('DISCONNECT', [['receipt', 'bye']])
  await client.closed
  t.same(client.frames.slice(2).map((f) => [f.command, f.body.toString()]), [['MESSAGE', 'one'], ['MESSAGE', 'two'], ['RECEIPT', '']])
})

t.test('frames after DISCONNECT are ignored', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  const watcher = await open(t, addresses)
  await subscribe(watcher, 's', '/queue/after')
  client.send('DISCONNECT\nreceipt:bye\n\n\0SEND\ndestination:/queue/after\nreceipt:late\n\nlate\0')
  await client.closed
  t.same(client.frames.slice(1).map((f) => header(f, 'receipt-id')), ['bye'], 'only the DISCONNECT is answered')
  await request(watcher, 'SEND', [['destination', '/queue/after']], 'marker')
  await waitMessages(watcher, 1)
  t.same(messages(watcher).map((m) => m.body.toString()), ['marker'], 'the SEND after DISCONNECT was not delivered')
})

for (const transport of TRANSPORTS) {
  t.test(`an ERROR caused by a frame carrying a receipt has its receipt-id (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses, transport)
    client.frame('SEND', [['destination', '/nowhere/x'], ['receipt', 'doomed']], 'lost')
    const error = await waitError(client)
    t.equal(header(error, 'message'), errorMessage('unknown-destination'))
    t.equal(header(error, 'receipt-id'), 'doomed')
    await client.closed
    t.notOk(client.frames.some((f) => f.command === 'RECEIPT'), 'and no RECEIPT')
  })
}

const failing: ReadonlyArray<[string, Frame['command'], Header[], Parameters<typeof errorMessage>[0]]> = [
  ['a SUBSCRIBE without an id', 'SUBSCRIBE', [['destination', '/queue/s']], 'missing-header'],
  ['an UNSUBSCRIBE of an unknown subscription', 'UNSUBSCRIBE', [['id', 'nope']], 'unknown-subscription'],
  ['an ACK of an unknown message', 'ACK', [['id', 'nope']], 'unknown-ack'],
  ['a NACK of an unknown message', 'NACK', [['id', 'nope']], 'unknown-ack'],
  ['a COMMIT of an unknown transaction', 'COMMIT', [['transaction', 'nope']], 'unknown-transaction'],
  ['a SEND with a wildcard destination', 'SEND', [['destination', '/topic/a.*']], 'invalid-destination'],
]
for (const [what, command, headers, code] of failing) {
  t.test(`the ERROR for ${what} carries the frame's receipt as receipt-id`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses)
    client.frame(command, [...headers, ['receipt', 'why']])
    const error = await waitError(client)
    t.equal(header(error, 'message'), errorMessage(code))
    t.equal(header(error, 'receipt-id'), 'why')
  })
}

t.test('an ERROR caused by a frame without a receipt has no receipt-id', async (t) => {
  const { addresses } = await startServer(t)
  const client = await open(t, addresses)
  await request(client, 'SEND', [['destination', '/queue/fine']], 'fine')
  client.frame('SEND', [['destination', '/nowhere/x']], 'lost')
  const error = await waitError(client)
  t.equal(header(error, 'message'), errorMessage('unknown-destination'))
  t.equal(header(error, 'receipt-id'), undefined)
})
