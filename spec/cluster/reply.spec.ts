// Request/reply across a cluster: a reply sent to a `reply-to` from a client on another node
// reaches the temporary queue of the requester, on the node it is connected to.
import t from 'tap'
import { startBrokerProcess } from '../helpers/child.js'
import { RawClient, getHeader } from '../helpers/raw.js'
import { startRedis } from '../helpers/redis.js'

t.test('cluster: a reply from a client on another node reaches the requester\'s temporary queue', async (t) => {
  const redis = await startRedis(t)
  const a = await startBrokerProcess(t, ['--store', 'memory', '--redis', redis.url])
  const b = await startBrokerProcess(t, ['--store', 'memory', '--redis', redis.url])
  const responder = await RawClient.ws(t, b.ws)
  await responder.connect()
  responder.frame('SUBSCRIBE', [['id', 'r'], ['destination', '/queue/requests'], ['receipt', 'sub']])
  await responder.until(() => responder.frames.some((f) => f.command === 'RECEIPT'))

  const requester = await RawClient.tcp(t, a.tcp)
  await requester.connect()
  requester.frame('SUBSCRIBE', [['id', 'replies'], ['destination', '/temp-queue/replies'], ['receipt', 'sub']])
  await requester.until(() => requester.frames.some((f) => f.command === 'RECEIPT'))
  for (let i = 0; i < 3; i++) requester.frame('SEND', [['destination', '/queue/requests'], ['reply-to', '/temp-queue/replies']], `question ${i}`)

  await responder.until(() => responder.frames.filter((f) => f.command === 'MESSAGE').length === 3, 10_000)
  for (const request of responder.frames.filter((f) => f.command === 'MESSAGE')) {
    const replyTo = getHeader(request, 'reply-to')!
    t.match(replyTo, /^\/reply-queue\//, 'the reply-to names the requester\'s temporary queue')
    responder.frame('SEND', [['destination', replyTo]], request.body.toString().replace('question', 'answer'))
  }
  await requester.until(() => requester.frames.filter((f) => f.command === 'MESSAGE').length === 3, 10_000)
  const answers = requester.frames.filter((f) => f.command === 'MESSAGE')
  t.same(answers.map((f) => f.body.toString()), ['answer 0', 'answer 1', 'answer 2'])
  t.equal(getHeader(answers[0]!, 'subscription'), 'replies')
})
