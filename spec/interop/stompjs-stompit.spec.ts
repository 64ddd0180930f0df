// A browser library over WebSocket and a Node service library over TCP, on one broker.
import t from 'tap'
import { connectStompit, connectStompjs, sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { startServer } from '../helpers/server.js'

t.test('a @stomp/stompjs publisher reaches a stompit subscriber', async (t) => {
  const { addresses } = await startServer(t)
  const publisher = await connectStompjs(t, addresses.ws)
  const subscriber = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeStompit(subscriber, { destination: '/queue/orders', ack: 'auto' })
  // The queue keeps what arrives before the subscription is in place, so no race here.
  publisher.publish({ destination: '/queue/orders', body: 'order 1', headers: { 'content-type': 'text/plain', 'x-customer': 'ada' } })
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, 'order 1')
  t.equal(message!.headers['x-customer'], 'ada')
  t.equal(message!.headers['content-type'], 'text/plain')
  t.equal(message!.headers.destination, '/queue/orders')
})

t.test('a stompit publisher reaches a @stomp/stompjs subscriber', async (t) => {
  const { addresses } = await startServer(t)
  const subscriber = await connectStompjs(t, addresses.ws)
  const inbox = subscribeStompjs(subscriber, '/queue/replies')
  const publisher = await connectStompit(t, addresses.tcp!)
  await sendStompit(publisher, { destination: '/queue/replies', 'x-n': '7' }, 'hello browser')
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, 'hello browser')
  t.equal(message!.headers['x-n'], '7')
  t.ok(message!.headers['message-id'], 'has a message-id')
})

t.test('topic messages cross transports both ways', async (t) => {
  const { addresses } = await startServer(t)
  const browser = await connectStompjs(t, addresses.ws)
  const service = await connectStompit(t, addresses.tcp!)
  const toBrowser = subscribeStompjs(browser, '/topic/prices.*')
  const toService = subscribeStompit(service, { destination: '/topic/prices.#', ack: 'auto' })
  // A receipt on a later frame proves the subscriptions before it are in place.
  await new Promise<void>((resolve) => {
    const receipt = 'sub-ready'
    browser.watchForReceipt(receipt, () => resolve())
    browser.publish({ destination: '/topic/warmup', headers: { receipt } })
  })
  await sendStompit(service, { destination: '/topic/warmup' }, '')
  await sendStompit(service, { destination: '/topic/prices.acme' }, 'from service')
  browser.publish({ destination: '/topic/prices.globex', body: 'from browser' })
  const browserGot = await toBrowser.waitFor(2)
  const serviceGot = await toService.waitFor(2)
  t.same(browserGot.map((m) => m.body).sort(), ['from browser', 'from service'])
  t.same(serviceGot.map((m) => m.body).sort(), ['from browser', 'from service'])
})
