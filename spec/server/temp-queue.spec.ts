// Temporary queues for request/reply, as clients see them (RabbitMQ style): `reply-to:/temp-queue/x`
// is rewritten to a `/reply-queue/...` name a responder can send to; replies reach the requester
// and nobody else; they stop when it leaves.
import t from 'tap'
import { errorMessage } from '../../lib/errors.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import type { ListenAddresses } from '../../lib/server.js'
import { bodies, header, messages, open, request, subscribe, sync, TRANSPORTS, waitError, waitMessages, type Transport } from '../helpers/stomp.js'

/** A responder subscribed to /queue/service, and a requester; the request is sent with `reply-to:/temp-queue/<name>`. */
async function requestReply(t: Teardown, addresses: ListenAddresses, transport: Transport, name = 'x') {
  const responder = await open(t, addresses, transport === 'tcp' ? 'ws' : 'tcp')
  await subscribe(responder, 'requests', '/queue/service')
  const requester = await open(t, addresses, transport)
  const ask = async (body: string): Promise<string> => {
    const before = messages(responder).length
    await request(requester, 'SEND', [['destination', '/queue/service'], ['reply-to', `/temp-queue/${name}`]], body)
    const got = await waitMessages(responder, before + 1)
    return header(got[before]!, 'reply-to')!
  }
  const reply = async (to: string, body: string): Promise<void> => {
    await request(responder, 'SEND', [['destination', to]], body)
  }
  return { responder, requester, ask, reply }
}

for (const transport of TRANSPORTS) {
  t.test(`reply-to naming a /temp-queue/ is rewritten to a /reply-queue/ destination (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const { responder, ask } = await requestReply(t, addresses, transport)
    const replyTo = await ask('what time is it?')
    t.match(replyTo, /^\/reply-queue\/.+/)
    t.notOk(replyTo.includes('/temp-queue/'), 'the private name does not leak')
    t.equal(messages(responder)[0]!.body.toString(), 'what time is it?')
  })

  t.test(`a reply reaches the requester on a subscription named after its /temp-queue/ when it did not subscribe itself (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const { requester, ask, reply } = await requestReply(t, addresses, transport)
    const replyTo = await ask('ping')
    await reply(replyTo, 'pong')
    const [answer] = await waitMessages(requester, 1)
    t.equal(answer!.body.toString(), 'pong')
    t.equal(header(answer!, 'subscription'), '/temp-queue/x')
    t.equal(header(answer!, 'destination'), replyTo)
  })

  t.test(`a reply reaches the requester on its own subscription to the /temp-queue/ when it made one (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const { requester, ask, reply } = await requestReply(t, addresses, transport)
    await subscribe(requester, 'my-replies', '/temp-queue/x')
    const replyTo = await ask('ping')
    await reply(replyTo, 'pong')
    const [answer] = await waitMessages(requester, 1)
    t.equal(answer!.body.toString(), 'pong')
    t.equal(header(answer!, 'subscription'), 'my-replies')
    await sync(requester)
    t.equal(messages(requester).length, 1, 'exactly once')
  })
}

t.test('several requests with the same reply-to share one reply queue, and each reply arrives once', async (t) => {
  const { addresses } = await startServer(t)
  const { requester, ask, reply } = await requestReply(t, addresses, 'tcp')
  const first = await ask('one')
  const second = await ask('two')
  t.equal(first, second, 'the same reply destination both times')
  await reply(first, 'answer one')
  await reply(second, 'answer two')
  await waitMessages(requester, 2)
  await sync(requester)
  t.same(bodies(messages(requester)), ['answer one', 'answer two'])
  t.ok(messages(requester).every((m) => header(m, 'subscription') === '/temp-queue/x'))
})

t.test('different /temp-queue/ names get different reply destinations', async (t) => {
  const { addresses } = await startServer(t)
  const responder = await open(t, addresses)
  await subscribe(responder, 'requests', '/queue/service')
  const requester = await open(t, addresses)
  await request(requester, 'SEND', [['destination', '/queue/service'], ['reply-to', '/temp-queue/a']], 'a')
  await request(requester, 'SEND', [['destination', '/queue/service'], ['reply-to', '/temp-queue/b']], 'b')
  const [a, b] = await waitMessages(responder, 2)
  t.not(header(a!, 'reply-to'), header(b!, 'reply-to'))
  await request(responder, 'SEND', [['destination', header(b!, 'reply-to')!]], 'to b')
  await request(responder, 'SEND', [['destination', header(a!, 'reply-to')!]], 'to a')
  await waitMessages(requester, 2)
  t.same(messages(requester).map((m) => [header(m, 'subscription'), m.body.toString()]), [['/temp-queue/b', 'to b'], ['/temp-queue/a', 'to a']])
})

t.test('two connections using the same /temp-queue/ name each get their own replies', async (t) => {
  const { addresses } = await startServer(t)
  const alice = await requestReply(t, addresses, 'tcp')
  const bob = await open(t, addresses, 'ws')
  const aliceReplyTo = await alice.ask('from alice')
  await request(bob, 'SEND', [['destination', '/queue/service'], ['reply-to', '/temp-queue/x']], 'from bob')
  const [, toBob] = await waitMessages(alice.responder, 2)
  const bobReplyTo = header(toBob!, 'reply-to')!
  t.not(aliceReplyTo, bobReplyTo)
  await alice.reply(bobReplyTo, 'for bob')
  await alice.reply(aliceReplyTo, 'for alice')
  await waitMessages(alice.requester, 1)
  await waitMessages(bob, 1)
  await sync(alice.requester)
  await sync(bob)
  t.same(bodies(messages(alice.requester)), ['for alice'])
  t.same(bodies(messages(bob)), ['for bob'])
})

t.test("another client subscribing to /temp-queue/x gets its own queue, not the requester's replies", async (t) => {
  const { addresses } = await startServer(t)
  const { requester, ask, reply } = await requestReply(t, addresses, 'tcp')
  const snoop = await open(t, addresses)
  await subscribe(snoop, 'snoop', '/temp-queue/x')
  const replyTo = await ask('secret?')
  await reply(replyTo, 'secret')
  await waitMessages(requester, 1)
  await sync(snoop)
  t.equal(messages(snoop).length, 0)
})

for (const transport of TRANSPORTS) {
  t.test(`another client cannot SUBSCRIBE to a /reply-queue/ (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const { ask } = await requestReply(t, addresses, 'tcp')
    const replyTo = await ask('hello')
    const thief = await open(t, addresses, transport)
    thief.frame('SUBSCRIBE', [['id', 'steal'], ['destination', replyTo], ['receipt', 'steal']])
    const error = await waitError(thief)
    t.equal(header(error, 'message'), errorMessage('invalid-destination'))
    t.equal(header(error, 'receipt-id'), 'steal')
    await thief.closed
    t.pass('and the server closes its connection')
  })
}

for (const [how, leave] of [
  ['its socket is destroyed', async (raw: RawClient) => { raw.destroy(); await raw.closed }],
  ['it sends DISCONNECT', async (raw: RawClient) => { await request(raw, 'DISCONNECT'); await raw.closed }],
] as const) {
  t.test(`after the requester leaves (${how}), replies to its reply queue are dropped without error`, async (t) => {
    const { addresses } = await startServer(t)
    const { requester, responder, ask, reply } = await requestReply(t, addresses, 'tcp')
    const replyTo = await ask('are you there?')
    await leave(requester)
    await reply(replyTo, 'too late')
    await reply(replyTo, 'still too late')
    await sync(responder)
    t.notOk(responder.frames.some((f) => f.command === 'ERROR'), 'the responder gets no ERROR')
    // A newcomer using the same /temp-queue/ name does not inherit the old replies.
    const newcomer = await open(t, addresses)
    await subscribe(newcomer, 'mine', '/temp-queue/x')
    await sync(newcomer)
    t.equal(messages(newcomer).length, 0, 'nobody gets the replies')
  })
}

t.test('a requester that leaves with replies waiting does not pass them on', async (t) => {
  const { addresses } = await startServer(t)
  const responder = await open(t, addresses)
  await subscribe(responder, 'requests', '/queue/service')
  const requester = await open(t, addresses)
  // Subscribed with a prefetch of one and never acking: a second reply has to wait in the queue.
  await subscribe(requester, 'replies', '/temp-queue/slow', [['ack', 'client-individual'], ['prefetch-count', '1']])
  await request(requester, 'SEND', [['destination', '/queue/service'], ['reply-to', '/temp-queue/slow']], 'q')
  const [req] = await waitMessages(responder, 1)
  const replyTo = header(req!, 'reply-to')!
  await request(responder, 'SEND', [['destination', replyTo]], 'r1')
  await request(responder, 'SEND', [['destination', replyTo]], 'r2')
  await waitMessages(requester, 1)
  requester.destroy()
  await requester.closed
  await request(responder, 'SEND', [['destination', replyTo]], 'r3')
  const newcomer = await open(t, addresses)
  await subscribe(newcomer, 'mine', '/temp-queue/slow')
  await sync(newcomer)
  await sync(responder)
  t.equal(messages(newcomer).length, 0)
  t.notOk(responder.frames.some((f) => f.command === 'ERROR'))
})
