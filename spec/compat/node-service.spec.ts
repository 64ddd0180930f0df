// A Node service using stompit over TCP, with issue 22's features as such a service would use
// them: a reply to a user destination, a SEND retried with the same dedup-id, a retained status
// read by a late subscriber, and a stream read from its first entry.
import t from 'tap'
import { connectStompit, sendStompit, subscribeStompit } from '../helpers/clients.js'
import { startServer } from '../helpers/server.js'

t.test('stompit: user destination, dedup-id, retained value, stream offset', async (t) => {
  const { addresses } = await startServer(t)
  const alice = await connectStompit(t, addresses.tcp!, { login: 'alice' })
  const inbox = subscribeStompit(alice, { id: 'u', destination: '/user/queue/replies' })
  const service = await connectStompit(t, addresses.tcp!, { login: 'service' })
  // The SUBSCRIBE went first on alice's connection; a receipted SEND of hers orders it before what follows.
  await sendStompit(alice, { destination: '/queue/sync' }, 'sync')
  await sendStompit(service, { destination: '/user/alice/queue/replies' }, 'for alice')
  const [reply] = await inbox.waitFor(1)
  t.equal(reply!.body, 'for alice')
  t.equal(reply!.headers.destination, '/user/queue/replies')

  await sendStompit(service, { destination: '/queue/payments', 'dedup-id': 'pay-7' }, 'once')
  await sendStompit(service, { destination: '/queue/payments', 'dedup-id': 'pay-7' }, 'retried')
  await sendStompit(service, { destination: '/topic/status', retain: 'true' }, 'healthy')
  for (const body of ['s0', 's1']) await sendStompit(service, { destination: '/stream/audit' }, body)

  const late = await connectStompit(t, addresses.tcp!)
  const payments = subscribeStompit(late, { id: 'p', destination: '/queue/payments' })
  const status = subscribeStompit(late, { id: 's', destination: '/topic/status' })
  const audit = subscribeStompit(late, { id: 'a', destination: '/stream/audit', offset: 'first' })
  t.same((await payments.waitFor(1)).map((m) => m.body), ['once'])
  const [retained] = await status.waitFor(1)
  t.equal(retained!.body, 'healthy')
  t.equal(retained!.headers.retained, 'true')
  const entries = await audit.waitFor(2)
  t.same(entries.map((m) => [m.body, m.headers['stream-offset']]), [['s0', '0'], ['s1', '1']])
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(payments.messages.length, 1, 'the retried payment was not enqueued again')
})
