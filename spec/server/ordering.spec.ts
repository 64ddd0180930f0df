// Order as clients see it: messages from one producer to one destination arrive at each
// subscriber in the order sent, whatever the transports on either side.
import t from 'tap'
import { connectStompit, connectStompjs, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { startServer } from '../helpers/server.js'
import { ackHeaders, bodies, messages, numbered, open, sendAll, subscribe, sync, TRANSPORTS, waitMessages } from '../helpers/stomp.js'

const COUNT = 1000
const WAIT_MS = 30_000

/** True when `got` is a subsequence of `sent` in the same order. */
function inSendOrder(got: readonly string[], sent: readonly string[]): boolean {
  let at = 0
  for (const body of got) {
    at = sent.indexOf(body, at)
    if (at < 0) return false
    at++
  }
  return true
}

for (const transport of TRANSPORTS) {
  t.test(`${COUNT} messages from one producer (${transport}) to a topic arrive at every subscriber in send order`, async (t) => {
    const { addresses } = await startServer(t)
    const tcp = await open(t, addresses, 'tcp')
    await subscribe(tcp, 's', '/topic/ticks')
    const ws = await open(t, addresses, 'ws')
    await subscribe(ws, 's', '/topic/ticks')
    // A second subscription on one connection, through a wildcard.
    await subscribe(ws, 'wild', '/topic/#')
    const browser = await connectStompjs(t, addresses.ws)
    const toBrowser = subscribeStompjs(browser, '/topic/ticks')
    const service = await connectStompit(t, addresses.tcp!)
    const toService = subscribeStompit(service, { destination: '/topic/ticks', ack: 'auto' })
    // Each real client's subscription is in place once a later frame of its own is answered.
    await new Promise<void>((resolve) => {
      browser.watchForReceipt('ready', () => resolve())
      browser.publish({ destination: '/topic/warmup', headers: { receipt: 'ready' } })
    })
    await new Promise<void>((resolve, reject) => {
      service.send({ destination: '/topic/warmup', receipt: 'ready' }, { onReceipt: () => resolve(), onError: reject }).end('')
    })
    const sent = numbered('tick', COUNT)
    const producer = await open(t, addresses, transport)
    await sendAll(producer, '/topic/ticks', sent)
    t.same(bodies(await waitMessages(tcp, COUNT, 's', WAIT_MS)), sent, 'raw TCP subscriber')
    t.same(bodies(await waitMessages(ws, COUNT, 's', WAIT_MS)), sent, 'raw WebSocket subscriber')
    // The wildcard subscription also saw the warm-up messages.
    await waitMessages(ws, COUNT + 2, 'wild', WAIT_MS)
    t.same(bodies(messages(ws, 'wild')).filter((b) => b !== ''), sent, 'wildcard subscription on the same connection')
    t.same((await toBrowser.waitFor(COUNT, WAIT_MS)).map((m) => m.body), sent, '@stomp/stompjs subscriber')
    t.same((await toService.waitFor(COUNT, WAIT_MS)).map((m) => m.body), sent, 'stompit subscriber')
  })

  t.test(`${COUNT} messages from one producer (${transport}) to a queue arrive at its consumer in send order`, async (t) => {
    const { addresses } = await startServer(t)
    const other = transport === 'tcp' ? 'ws' : 'tcp'
    const consumer = await open(t, addresses, other)
    await subscribe(consumer, 's', '/queue/jobs', [['ack', 'client-individual'], ['prefetch-count', '100']])
    const sent = numbered('job', COUNT)
    const producer = await open(t, addresses, transport)
    // Acked as they come, so the prefetch window keeps moving.
    let acked = 0
    const acking = (async () => {
      while (acked < COUNT) {
        const got = await waitMessages(consumer, acked + 1, undefined, WAIT_MS)
        for (; acked < got.length; acked++) consumer.frame('ACK', ackHeaders(got[acked]!))
      }
    })()
    await sendAll(producer, '/queue/jobs', sent)
    await acking
    t.same(bodies(await waitMessages(consumer, COUNT, undefined, WAIT_MS)), sent)
  })

  t.test(`${COUNT} messages from one producer (${transport}) to a queue with several consumers arrive at each in send order`, async (t) => {
    const { addresses } = await startServer(t)
    const consumers = [await open(t, addresses, 'tcp'), await open(t, addresses, 'ws'), await open(t, addresses, 'tcp')]
    for (const consumer of consumers) await subscribe(consumer, 's', '/queue/jobs')
    const sent = numbered('job', COUNT)
    const producer = await open(t, addresses, transport)
    await sendAll(producer, '/queue/jobs', sent)
    for (const consumer of consumers) await sync(consumer)
    const got = consumers.map((c) => bodies(messages(c)))
    for (const [i, list] of got.entries()) t.ok(inSendOrder(list, sent), `consumer ${i} got its ${list.length} in send order`)
    t.same(got.flat().sort(), [...sent].sort(), 'together they got each message exactly once')
  })
}
