// Selectors on SUBSCRIBE, end to end over TCP and WebSocket: on a topic a message the selector
// does not take is not delivered; on a queue it stays for a consumer that takes it; a durable
// subscription keeps only what its selector takes, across a restart; a bad selector is ERROR
// `invalid selector` naming where and what, with the SUBSCRIBE's receipt-id. Raw clients see the
// exact frames; @stomp/stompjs and stompit pass `selector` as the header it is.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connectStompit, connectStompjs, sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { eventually, expectErrorAndClose, TRANSPORTS } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, open, request, subscribe } from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`topic: each subscriber gets what its selector takes, and nothing else (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const acme = await open(t, addresses, transport)
    const dear = await open(t, addresses, transport)
    const everything = await open(t, addresses, transport)
    const publisher = await open(t, addresses, transport)
    await subscribe(acme, 's', '/topic/prices', [['selector', "symbol = 'ACME'"]])
    await subscribe(dear, 's', '/topic/prices', [['selector', 'price > 100 AND region IN (\'eu\', \'us\')']])
    await subscribe(everything, 's', '/topic/prices')
    const sends: Array<[string, string, string, string]> = [
      ['ACME', '50', 'eu', 'acme cheap'], ['INIT', '150', 'eu', 'init dear eu'], ['ACME', '120', 'us', 'acme dear us'],
      ['INIT', '150', 'asia', 'init dear asia'], ['ACME', 'n/a', 'eu', 'acme no price'],
    ]
    for (const [symbol, price, region, body] of sends) {
      await request(publisher, 'SEND', [['destination', '/topic/prices'], ['symbol', symbol], ['price', price], ['region', region]], body)
    }
    await eventually(() => messages(everything).length >= 5, 5000, 'all five')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(bodies(messages(acme)), ['acme cheap', 'acme dear us', 'acme no price'], "symbol = 'ACME'")
    t.same(bodies(messages(dear)), ['init dear eu', 'acme dear us'], "price > 100 AND region IN ('eu', 'us'): 'n/a' is no number")
    t.equal(messages(everything).length, 5, 'no selector: everything')
  })

  t.test(`queue: a message no consumer's selector takes stays for one that does (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const onlyA = await open(t, addresses, transport)
    const producer = await open(t, addresses, transport)
    await subscribe(onlyA, 's', '/queue/jobs', [['selector', "kind = 'a'"]])
    for (const kind of ['a', 'b', 'a', 'b']) await request(producer, 'SEND', [['destination', '/queue/jobs'], ['kind', kind]], `${kind} job`)
    await eventually(() => messages(onlyA).length >= 2, 5000, 'the a jobs')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(bodies(messages(onlyA)), ['a job', 'a job'])
    const later = await open(t, addresses, transport)
    await subscribe(later, 's', '/queue/jobs', [['selector', "kind = 'b'"]])
    await eventually(() => messages(later).length >= 2, 5000, 'the b jobs, kept')
    t.same(bodies(messages(later)), ['b job', 'b job'])
  })

  t.test(`a bad selector gets ERROR invalid selector, naming the character and the problem, with the receipt-id (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await open(t, addresses, transport)
    client.frame('SUBSCRIBE', [['id', 's'], ['destination', '/topic/x'], ['selector', "symbol = 'ACME' AND"], ['receipt', 'sub-1']])
    const { error } = await expectErrorAndClose(t, client, 'invalid-selector')
    t.equal(header(error, 'receipt-id'), 'sub-1')
    t.match(error.body.toString(), /at character 20: the selector ends where a value was expected/)
  })
}

t.test('a durable subscription keeps only what its selector takes while away, across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-selector-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = `sqlite:${join(dir, 'stompd.db')}`
  const login: Array<[string, string]> = [['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice']]
  let running = await startServer(t, { store })
  const first = await RawClient.tcp(t, running.addresses.tcp!)
  await first.connect(login)
  await request(first, 'SUBSCRIBE', [['id', 'alerts'], ['destination', '/topic/alerts'], ['durable', 'true'], ['selector', "severity IN ('high', 'critical')"]])
  await request(first, 'DISCONNECT')
  const publisher = await open(t, running.addresses, 'ws')
  for (const severity of ['low', 'high', 'medium', 'critical']) {
    await request(publisher, 'SEND', [['destination', '/topic/alerts'], ['severity', severity], ['persistent', 'true']], severity)
  }
  await running.server.close()
  running = await startServer(t, { store })
  const back = await RawClient.ws(t, running.addresses.ws)
  await back.connect(login)
  await request(back, 'SUBSCRIBE', [['id', 'alerts'], ['destination', '/topic/alerts'], ['durable', 'true'], ['selector', "severity IN ('high', 'critical')"]])
  await eventually(() => messages(back).length >= 2, 5000, 'the kept alerts')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(back)), ['high', 'critical'], 'only the selected, kept across the restart')
  const publisher2 = await open(t, running.addresses, 'tcp')
  await request(publisher2, 'SEND', [['destination', '/topic/alerts'], ['severity', 'low']], 'low again')
  await request(publisher2, 'SEND', [['destination', '/topic/alerts'], ['severity', 'critical']], 'critical again')
  await eventually(() => messages(back).length >= 3, 5000, 'the live one')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(back)).slice(2), ['critical again'], 'its selector still applies after the restart')
})

t.test('@stomp/stompjs and stompit pass selector as a header and get only what it takes', async (t) => {
  const { addresses } = await startServer(t)
  const browser = await connectStompjs(t, addresses.ws)
  const inbox = subscribeStompjs(browser, '/topic/scores', { selector: "team = 'blue' AND points >= 3" })
  const service = await connectStompit(t, addresses.tcp!)
  const serviceInbox = subscribeStompit(service, { destination: '/queue/orders', selector: "country = 'NL'" })
  const publisher = await connectStompit(t, addresses.tcp!)
  // stompjs sends SUBSCRIBE without a receipt: publish probes until its subscription is live.
  for (let i = 0; i < 50 && inbox.messages.length === 0; i++) {
    await sendStompit(publisher, { destination: '/topic/scores', team: 'blue', points: '3' }, 'probe')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await inbox.waitFor(1)
  inbox.messages.length = 0
  await sendStompit(publisher, { destination: '/topic/scores', team: 'red', points: '5' }, 'red 5')
  await sendStompit(publisher, { destination: '/topic/scores', team: 'blue', points: '1' }, 'blue 1')
  await sendStompit(publisher, { destination: '/topic/scores', team: 'blue', points: '4' }, 'blue 4')
  await sendStompit(publisher, { destination: '/queue/orders', country: 'DE' }, 'de order')
  await sendStompit(publisher, { destination: '/queue/orders', country: 'NL' }, 'nl order')
  const [got] = await inbox.waitFor(1)
  t.equal(got!.body, 'blue 4')
  const [order] = await serviceInbox.waitFor(1)
  t.equal(order!.body, 'nl order')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(inbox.messages.length, 1, 'nothing else reached the browser')
  t.equal(serviceInbox.messages.length, 1, 'nothing else reached the service')
})
