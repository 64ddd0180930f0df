// Spring's user destinations: a session SUBSCRIBEs to its own `/user/queue/<name>` (or
// `/user/topic/<name>`), and a SEND to `/user/<user>/queue/<name>` reaches every session of that
// user subscribed to it, and nobody else; the MESSAGE names `/user/queue/<name>`, what the
// subscriber subscribed to, as Spring's broker writes it. The user is the authenticated
// principal; without authentication, CONNECT's `login`. Raw clients over TCP and WebSocket see
// the exact frames; @stomp/stompjs is used as an app written for a Spring server uses it.
import t from 'tap'
import type { Header } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { writeUsersFile } from '../auth/helpers.js'
import { connectStompjs, subscribeStompjs } from '../helpers/clients.js'
import { eventually, expectErrorAndClose } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, request, subscribe } from '../helpers/stomp.js'

type T = Parameters<typeof startServer>[0]

/** A raw STOMP 1.2 client connected as `login` (with `passcode` when given), over TCP or WebSocket. */
async function as(t: T, addresses: ListenAddresses, transport: 'tcp' | 'ws', login: string, passcode?: string): Promise<RawClient> {
  const raw = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, addresses.ws)
  const headers: Header[] = [['accept-version', '1.2'], ['host', 'localhost']]
  if (login !== '') headers.push(['login', login])
  if (passcode !== undefined) headers.push(['passcode', passcode])
  const connected = await raw.connect(headers)
  if (connected.command !== 'CONNECTED') throw new Error(`not connected: ${header(connected, 'message')}`)
  return raw
}

t.test('without authentication: a SEND to /user/<user>/queue/<name> reaches each session of that user subscribed to /user/queue/<name>, and only them', async (t) => {
  const { addresses } = await startServer(t)
  const aliceTcp = await as(t, addresses, 'tcp', 'alice')
  const aliceWs = await as(t, addresses, 'ws', 'alice')
  const bob = await as(t, addresses, 'ws', 'bob')
  const carol = await as(t, addresses, 'tcp', 'carol')
  for (const client of [aliceTcp, aliceWs, bob]) await subscribe(client, 'notes', '/user/queue/notes')
  await subscribe(aliceTcp, 'news', '/user/topic/news')

  await request(carol, 'SEND', [['destination', '/user/alice/queue/notes'], ['content-type', 'text/plain']], 'for alice')
  await request(carol, 'SEND', [['destination', '/user/bob/queue/notes']], 'for bob')
  await request(carol, 'SEND', [['destination', '/user/alice/topic/news']], 'news for alice')
  await request(carol, 'SEND', [['destination', '/user/dave/queue/notes']], 'for nobody here')
  await eventually(() => messages(aliceTcp).length >= 2 && messages(aliceWs).length >= 1 && messages(bob).length >= 1, 5000, 'the deliveries')
  await new Promise((resolve) => setTimeout(resolve, 100))

  t.same(bodies(messages(aliceTcp, 'notes')), ['for alice'], 'alice over TCP')
  t.same(bodies(messages(aliceWs, 'notes')), ['for alice'], 'alice over WebSocket, her second session')
  t.same(bodies(messages(bob, 'notes')), ['for bob'], 'bob gets his own, not alice\'s')
  t.same(bodies(messages(aliceTcp, 'news')), ['news for alice'], '/user/topic/ too')
  const delivered = messages(aliceWs, 'notes')[0]!
  t.equal(header(delivered, 'destination'), '/user/queue/notes', 'the MESSAGE names what was subscribed to')
  t.equal(header(delivered, 'content-type'), 'text/plain', 'the sender\'s headers come along')
  t.equal(header(messages(aliceTcp, 'news')[0]!, 'destination'), '/user/topic/news')
  t.equal(messages(carol).length, 0, 'the sender gets nothing')
})

t.test('with authentication the user is the authenticated principal', async (t) => {
  const users = await writeUsersFile(t.testdir(), { alice: 'correct horse', bob: 'battery staple' })
  const { addresses } = await startServer(t, { users })
  const alice = await as(t, addresses, 'ws', 'alice', 'correct horse')
  const bob = await as(t, addresses, 'tcp', 'bob', 'battery staple')
  await subscribe(alice, 'inbox', '/user/queue/inbox')
  await subscribe(bob, 'inbox', '/user/queue/inbox')
  await request(bob, 'SEND', [['destination', '/user/alice/queue/inbox']], 'hello alice')
  await eventually(() => messages(alice).length >= 1, 5000, 'alice\'s message')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(alice, 'inbox')), ['hello alice'])
  t.same(messages(bob), [], 'not to the sender\'s own user destination')
})

t.test('a user name holding a slash is written %2F in a SEND, as Spring writes it', async (t) => {
  const { addresses } = await startServer(t)
  const user = await as(t, addresses, 'tcp', 'corp/alice')
  await subscribe(user, 's', '/user/queue/q')
  const sender = await as(t, addresses, 'ws', 'x')
  await request(sender, 'SEND', [['destination', '/user/corp%2Falice/queue/q']], 'slashed')
  await eventually(() => messages(user).length >= 1, 5000, 'the message')
  t.same(bodies(messages(user)), ['slashed'])
})

t.test('@stomp/stompjs as written for a Spring server: subscribe to /user/queue/reply, another client sends to /user/<user>/queue/reply', async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompjs(t, addresses.ws, { connectHeaders: { login: 'alice' } })
  const replies = subscribeStompjs(client, '/user/queue/reply')
  const other = await connectStompjs(t, addresses.ws, { connectHeaders: { login: 'bob' } })
  // The subscription is made once its RECEIPT-less SUBSCRIBE reached the broker: publish until one arrives.
  for (let i = 0; i < 50 && replies.messages.length === 0; i++) {
    other.publish({ destination: '/user/alice/queue/reply', body: 'your answer' })
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const [first] = await replies.waitFor(1)
  t.equal(first!.body, 'your answer')
  t.equal(first!.headers.destination, '/user/queue/reply')
})

t.test('bad user destinations get ERROR Invalid destination, saying what to use instead', async (t) => {
  const { addresses } = await startServer(t)
  const cases: Array<[login: string, command: 'SEND' | 'SUBSCRIBE', destination: string, pattern: RegExp]> = [
    ['alice', 'SUBSCRIBE', '/user/bob/queue/x', /subscribe to your own \/user\/queue\/<name>/],
    ['alice', 'SEND', '/user/queue/x', /\/user\/<user>\/queue\/<name>/],
    ['alice', 'SEND', '/user/bob/exchange/x', /\/user\/<user>\/queue\/<name>/],
    ['', 'SUBSCRIBE', '/user/queue/x', /need a user/],
  ]
  for (const [login, command, destination, pattern] of cases) {
    const client = await as(t, addresses, 'tcp', login)
    const headers: Header[] = [['destination', destination], ['receipt', 'r']]
    if (command === 'SUBSCRIBE') headers.push(['id', 's'])
    client.frame(command, headers)
    const { error } = await expectErrorAndClose(t, client, 'invalid-destination')
    t.match(error.body.toString(), pattern, `${command} ${destination}${login === '' ? ' without a login' : ''}`)
    t.equal(header(error, 'receipt-id'), 'r')
  }
})
