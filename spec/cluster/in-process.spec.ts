// An embedder can join brokers in one process: createServer({ backplane }) with members of one
// LocalHub behave as a cluster for topics (queues stay each broker's own without Redis).
import t from 'tap'
import { LocalHub } from '../../lib/cluster/local-backplane.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

t.test('two brokers in one process on a LocalHub: a topic message published on one reaches a subscriber on the other', async (t) => {
  const hub = new LocalHub()
  const one = await startServer(t, { backplane: hub.join() })
  const two = await startServer(t, { backplane: hub.join() })
  const subscriber = await RawClient.ws(t, two.addresses.ws)
  await subscriber.connect()
  subscriber.frame('SUBSCRIBE', [['id', 's'], ['destination', '/topic/hub.#'], ['receipt', 'sub']])
  await subscriber.until(() => subscriber.frames.some((f) => f.command === 'RECEIPT'))
  const publisher = await RawClient.tcp(t, one.addresses.tcp!)
  await publisher.connect()
  publisher.frame('SEND', [['destination', '/topic/hub.news'], ['receipt', 'p']], 'across')
  await publisher.until(() => publisher.frames.some((f) => getHeader(f, 'receipt-id') === 'p'))
  await subscriber.until(() => subscriber.frames.some((f) => f.command === 'MESSAGE'))
  const message = subscriber.frames.find((f) => f.command === 'MESSAGE')!
  t.equal(message.body.toString(), 'across')
  t.equal(getHeader(message, 'destination'), '/topic/hub.news')

  hub.up = false
  publisher.frame('SEND', [['destination', '/topic/hub.news'], ['receipt', 'down']], 'refused')
  await publisher.until(() => publisher.frames.some((f) => f.command === 'ERROR'))
  const refused = publisher.frames.find((f) => f.command === 'ERROR')!
  t.equal(getHeader(refused, 'message'), 'cluster unavailable', 'with the hub down, a topic SEND is refused')
  t.equal(getHeader(refused, 'receipt-id'), 'down')
})

t.test('user destinations cross the cluster: a SEND to /user/alice/queue/x on one broker reaches alice on the other', async (t) => {
  const hub = new LocalHub()
  const one = await startServer(t, { backplane: hub.join() })
  const two = await startServer(t, { backplane: hub.join() })
  const alice = await RawClient.ws(t, two.addresses.ws)
  await alice.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice']])
  alice.frame('SUBSCRIBE', [['id', 's'], ['destination', '/user/queue/x'], ['receipt', 'sub']])
  await alice.until(() => alice.frames.some((f) => f.command === 'RECEIPT'))
  const sender = await RawClient.tcp(t, one.addresses.tcp!)
  await sender.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'bob']])
  sender.frame('SEND', [['destination', '/user/alice/queue/x'], ['receipt', 'p']], 'to alice, elsewhere')
  await sender.until(() => sender.frames.some((f) => getHeader(f, 'receipt-id') === 'p'))
  await alice.until(() => alice.frames.some((f) => f.command === 'MESSAGE'))
  const message = alice.frames.find((f) => f.command === 'MESSAGE')!
  t.equal(message.body.toString(), 'to alice, elsewhere')
  t.equal(getHeader(message, 'destination'), '/user/queue/x')
})
