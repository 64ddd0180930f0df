// A topic's subscriptions whose selector pins a header are indexed by it: a publish evaluates
// only the candidates its header values name, and each subscriber still gets exactly what its
// whole selector takes.
import t from 'tap'
import type { AckMode, Consumer, Delivery, SessionRef } from '../../lib/broker/consumer.js'
import { Message } from '../../lib/broker/message.js'
import { TopicRouter } from '../../lib/broker/topic.js'
import { compileSelector, type Selector } from '../../lib/selector/compile.js'

let evaluations = 0

class SelectingConsumer implements Consumer {
  readonly session: SessionRef
  readonly ackMode: AckMode = 'auto'
  readonly ready = true
  readonly selector: Selector | null
  readonly filter: ((message: Message) => boolean) | null
  readonly received: string[] = []

  constructor(name: string, selector: string | null) {
    this.session = { id: name }
    this.selector = selector === null ? null : compileSelector(selector)
    const compiled = this.selector
    this.filter = compiled === null ? null : (message) => {
      evaluations++
      return compiled.matches(message)
    }
  }

  deliver(message: Message, _redelivered: boolean, _delivery: Delivery | null): void {
    this.received.push(message.body.toString())
  }

  overflow(): void {}
}

let ids = 0
function message(headers: Array<[string, string]>, body: string): Message {
  return new Message({ id: `m${++ids}`, destination: '/topic/prices', headers: [['destination', '/topic/prices'], ...headers], body: Buffer.from(body), persistent: false, expires: 0 })
}

t.test('10,000 subscribers each selecting their own symbol: a publish evaluates one selector and reaches one subscriber', async (t) => {
  const router = new TopicRouter({ maxBacklog: 100 })
  const consumers = Array.from({ length: 10_000 }, (_, i) => new SelectingConsumer(`c${i}`, `symbol = 'S${i}' AND price > 10`))
  for (const consumer of consumers) router.subscribe('prices', consumer)
  t.equal(router.subscriptionCount, 10_000)
  evaluations = 0
  router.publish('prices', message([['symbol', 'S42'], ['price', '11']], 'S42 at 11'))
  router.publish('prices', message([['symbol', 'S43'], ['price', '9']], 'S43 at 9'))
  router.publish('prices', message([['symbol', 'unknown'], ['price', '99']], 'nobody'))
  router.publish('prices', message([['price', '99']], 'no symbol'))
  t.equal(evaluations, 2, 'one evaluation for each message whose symbol someone selects')
  t.same(consumers[42]!.received, ['S42 at 11'])
  t.same(consumers[43]!.received, [], 'a candidate whose whole selector says no gets nothing')
  t.equal(consumers.reduce((sum, c) => sum + c.received.length, 0), 1)
})

t.test('indexed, unindexed and plain subscribers on one topic and on wildcards each get what they select, once', async (t) => {
  const router = new TopicRouter({ maxBacklog: 100 })
  const eu = new SelectingConsumer('eu', "region IN ('eu', 'uk')")
  const either = new SelectingConsumer('either', "region = 'eu' OR region = 'us'")
  const plain = new SelectingConsumer('plain', null)
  const wild = new SelectingConsumer('wild', "region = 'us'")
  router.subscribe('prices', eu)
  router.subscribe('prices', either)
  router.subscribe('prices', plain)
  router.subscribe('#', wild)
  for (const region of ['eu', 'us', 'uk', 'asia']) router.publish('prices', message([['region', region]], region))
  t.same(eu.received, ['eu', 'uk'])
  t.same(either.received, ['eu', 'us'])
  t.same(plain.received, ['eu', 'us', 'uk', 'asia'])
  t.same(wild.received, ['us'])
})

t.test('a cancelled indexed subscription gets nothing more and leaves the index; the others stay', async (t) => {
  const interest: Array<[string, boolean]> = []
  const router = new TopicRouter({ maxBacklog: 100 }, (pattern, added) => interest.push([pattern, added]))
  const a = new SelectingConsumer('a', "k = 'x'")
  const b = new SelectingConsumer('b', "k = 'x'")
  const bindingA = router.subscribe('t', a)
  const bindingB = router.subscribe('t', b)
  bindingA.cancel()
  router.publish('t', message([['k', 'x']], 'one'))
  t.same(a.received, [])
  t.same(b.received, ['one'])
  t.equal(router.subscriptionCount, 1)
  bindingB.cancel()
  t.equal(router.subscriptionCount, 0)
  router.publish('t', message([['k', 'x']], 'two'))
  t.same(b.received, ['one'])
  t.same(interest, [['t', true], ['t', true], ['t', false], ['t', false]], 'a cluster hears of each subscription and each cancel')
})
