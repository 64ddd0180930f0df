// The ACL at work in a running broker (`acl` and `users` files, as --acl and --users give them):
// alice (role trader) and bob log in from a users file, and every SEND and SUBSCRIBE — SENDs held
// in a transaction, RabbitMQ aliases, a SEND's `reply-to` — is checked against the rules. A
// refusal is ERROR `access denied` (with the frame's `receipt-id`, the destination named in the
// body) and the connection closes, with nothing published and no subscription made; a subscriber
// proves "nothing" by a round trip: the marker sent after arrives, and it is all that arrived.
// reload() re-reads the ACL for connected sessions too, and keeps the old rules when the new file
// is broken. Without an ACL everything is allowed. Raw clients over TCP and WebSocket see the
// exact frames; stompit (TCP) and @stomp/stompjs (WebSocket) show what an application sees.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { hashPasscode } from '../../lib/auth/users.js'
import type { Command, Frame, Header } from '../../lib/frame/frame.js'
import type { ListenAddresses, ServerOptions, StompdServer } from '../../lib/server.js'
import { connectStompit, connectStompjs, sendStompit } from '../helpers/clients.js'
import { expectErrorAndClose, rawClient, within, TRANSPORTS, type TransportName } from '../helpers/expect.js'
import type { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, nextReceiptId, request, waitMessages } from '../helpers/stomp.js'

const NAMES: Record<TransportName, string> = { tcp: 'TCP', ws: 'WebSocket' }

type User = 'alice' | 'bob'
const PASSCODES: Record<User, string> = { alice: 'alice-pw', bob: 'bob-pw' }

// Hashed once: scrypt costs tens of milliseconds a hash.
const USERS = {
  users: {
    alice: { passcode: await hashPasscode(PASSCODES.alice), roles: ['trader'] },
    bob: { passcode: await hashPasscode(PASSCODES.bob) },
  },
}

const RULES = [
  // First match wins: this deny comes before the trader grant that would allow it.
  { user: 'alice', deny: true, publish: ['/topic/prices.secret'] },
  { role: 'trader', publish: ['/topic/prices.#'], subscribe: ['/topic/prices.*'] },
  { user: 'bob', publish: ['/topic/prices.secret', '/topic/alerts', '/queue/#'], subscribe: ['/topic/prices.#', '/queue/#'] },
  // No user, no role: everyone may write to any one inbox, and read only their own.
  { publish: ['/queue/inbox.*', '/topic/news.#'], subscribe: ['/queue/inbox.{user}', '/topic/news.#'] },
]

interface Broker {
  server: StompdServer
  addresses: ListenAddresses
  aclFile: string
}

function writeJson(file: string, data: unknown): void {
  writeFileSync(file, JSON.stringify(data, null, 2))
}

/** A broker with the users file and (unless `rules` is null) an ACL file, both in the test's own directory. */
async function startWithAcl(t: Test, rules: unknown[] | null = RULES, options: ServerOptions = {}): Promise<Broker> {
  const dir = t.testdir()
  const usersFile = join(dir, 'users.json')
  const aclFile = join(dir, 'acl.json')
  writeJson(usersFile, USERS)
  if (rules !== null) writeJson(aclFile, { rules })
  const { server, addresses } = await startServer(t, { users: usersFile, ...(rules === null ? {} : { acl: aclFile }), ...options })
  return { server, addresses, aclFile }
}

/** A raw STOMP 1.2 client over `transport`, logged in as `user`. */
async function login(t: Test, addresses: ListenAddresses, transport: TransportName, user: User): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', user], ['passcode', PASSCODES[user]]])
  if (connected.command !== 'CONNECTED') throw new Error(`${user} could not log in: ${header(connected, 'message')} (${connected.body.toString()})`)
  return client
}

/**
 * request() that also takes every frame up to its RECEIPT off the client's next() queue (they stay
 * in `frames`), so that a later expectErrorAndClose reads the ERROR and not an old RECEIPT.
 */
async function ask(client: RawClient, command: Command, headers: Header[] = [], body?: string): Promise<Frame> {
  const receipt = await request(client, command, headers, body)
  while (await client.next() !== receipt) { /* taken */ }
  return receipt
}

async function sub(client: RawClient, id: string, destination: string): Promise<void> {
  await ask(client, 'SUBSCRIBE', [['id', id], ['destination', destination]])
}

/**
 * The client's next frame is ERROR `access denied` carrying `receiptId`, its body names
 * `destination`, and the connection closes with nothing after it.
 */
async function expectDenied(t: Test, client: RawClient, receiptId: string, destination: string): Promise<Frame> {
  const { error } = await expectErrorAndClose(t, client, 'access-denied', { receiptId })
  t.ok(error.body.toString('utf8').includes(destination), `the body names ${destination}: ${JSON.stringify(error.body.toString('utf8'))}`)
  t.same(messages(client), [], 'the refused client received no MESSAGE')
  return error
}

/**
 * `publisher` SENDs a marker to `destination` (receipt awaited); once `subscriber` has it on
 * subscription `id`, the marker must be all that subscription ever got.
 */
async function onlyMarkerArrives(t: Test, subscriber: RawClient, id: string, publisher: RawClient, destination: string): Promise<void> {
  const marker = `marker ${nextReceiptId()}`
  await ask(publisher, 'SEND', [['destination', destination]], marker)
  await subscriber.until(() => messages(subscriber, id).some((f) => f.body.toString('utf8') === marker), 5000)
  t.same(bodies(messages(subscriber, id)), [marker], `subscription ${id} got the marker sent afterwards, and nothing before it`)
}

/** The value of one sample line (`name{labels} value`) in Prometheus text, or undefined. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const ACCESS_DENIED_SERIES = 'stompd_refused_total{reason="access-denied"}'

async function scrape(addresses: ListenAddresses): Promise<string> {
  const response = await fetch(`${addresses.http}/metrics`)
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`)
  return response.text()
}

for (const transport of TRANSPORTS) {
  const name = NAMES[transport]

  // ---- allowed ----

  t.test(`alice publishes where her role, a rule for everyone and # and * grant it, and the subscribers get it (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const alice = await login(t, addresses, transport, 'alice')
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'prices', '/topic/prices.#')
    await sub(bob, 'inbox', '/queue/inbox.bob')
    await sub(alice, 'own-inbox', '/queue/inbox.alice')
    // `/topic/prices.#` (role trader): one segment, several, or none after prices.
    await ask(alice, 'SEND', [['destination', '/topic/prices.eur']], 'eur')
    await ask(alice, 'SEND', [['destination', '/topic/prices.eur.spot']], 'eur spot')
    await ask(alice, 'SEND', [['destination', '/topic/prices']], 'all prices')
    // `/queue/inbox.*` (everyone): any one inbox, her own and bob's.
    await ask(alice, 'SEND', [['destination', '/queue/inbox.bob']], 'to bob')
    await ask(alice, 'SEND', [['destination', '/queue/inbox.alice']], 'to self')
    t.same(bodies(await waitMessages(bob, 3, 'prices')), ['eur', 'eur spot', 'all prices'], 'bob gets every price alice published')
    t.same(bodies(await waitMessages(bob, 1, 'inbox')), ['to bob'])
    t.same(bodies(await waitMessages(alice, 1, 'own-inbox')), ['to self'])
  })

  t.test(`alice subscribes to her own inbox ({user}), under /topic/prices.* (her role) and to /topic/news.# (everyone), and receives there (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const alice = await login(t, addresses, transport, 'alice')
    const bob = await login(t, addresses, transport, 'bob')
    await sub(alice, 'inbox', '/queue/inbox.alice')
    // The deny rule on /topic/prices.secret is for her publishing only.
    await sub(alice, 'secret', '/topic/prices.secret')
    await sub(alice, 'news', '/topic/news.#')
    await ask(bob, 'SEND', [['destination', '/queue/inbox.alice']], 'hello alice')
    await ask(bob, 'SEND', [['destination', '/topic/prices.secret']], 'bob may publish here')
    await ask(bob, 'SEND', [['destination', '/topic/news.today.eu']], 'news')
    t.same(bodies(await waitMessages(alice, 1, 'inbox')), ['hello alice'])
    t.same(bodies(await waitMessages(alice, 1, 'secret')), ['bob may publish here'])
    t.same(bodies(await waitMessages(alice, 1, 'news')), ['news'])
  })

  // ---- denied SEND ----

  const deniedSends: ReadonlyArray<{ why: string; sender: User; destination: string; listener: User; listenTo: string; marker: User }> = [
    { why: 'a deny rule before the broader grant of her role wins', sender: 'alice', destination: '/topic/prices.secret', listener: 'bob', listenTo: '/topic/prices.#', marker: 'bob' },
    { why: 'bob does not hold the role whose rule grants /topic/prices.#', sender: 'bob', destination: '/topic/prices.eur', listener: 'alice', listenTo: '/topic/prices.eur', marker: 'alice' },
    { why: '/queue/inbox.* grants exactly one segment after inbox', sender: 'alice', destination: '/queue/inbox.bob.extra', listener: 'bob', listenTo: '/queue/inbox.bob.extra', marker: 'bob' },
    { why: 'no rule grants it at all', sender: 'alice', destination: '/queue/orders', listener: 'bob', listenTo: '/queue/orders', marker: 'bob' },
  ]
  for (const { why, sender, destination, listener, listenTo, marker } of deniedSends) {
    t.test(`${sender}'s SEND to ${destination} is refused — ${why} — and its subscriber receives nothing (${name})`, async (t) => {
      const { addresses } = await startWithAcl(t)
      const subscriber = await login(t, addresses, transport, listener)
      await sub(subscriber, 'watch', listenTo)
      const client = await login(t, addresses, transport, sender)
      const receipt = nextReceiptId()
      client.frame('SEND', [['destination', destination], ['receipt', receipt]], 'must not arrive')
      await expectDenied(t, client, receipt, destination)
      const publisher = marker === listener ? subscriber : await login(t, addresses, transport, marker)
      await onlyMarkerArrives(t, subscriber, 'watch', publisher, destination)
    })
  }

  // ---- denied SUBSCRIBE ----

  t.test(`alice's SUBSCRIBE to bob's inbox is refused ({user} is her own name), and the queue keeps what is sent there for bob (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const alice = await login(t, addresses, transport, 'alice')
    const receipt = nextReceiptId()
    alice.frame('SUBSCRIBE', [['id', 'peek'], ['destination', '/queue/inbox.bob'], ['receipt', receipt]])
    await expectDenied(t, alice, receipt, '/queue/inbox.bob')
    const bob = await login(t, addresses, transport, 'bob')
    await ask(bob, 'SEND', [['destination', '/queue/inbox.bob']], 'for bob only')
    await sub(bob, 'inbox', '/queue/inbox.bob')
    t.same(bodies(await waitMessages(bob, 1, 'inbox')), ['for bob only'], 'no consumer of alice\'s took it: bob gets it from his queue')
    t.same(messages(alice), [], 'alice got nothing')
  })

  const deniedSubscribes: ReadonlyArray<{ why: string; subscriber: User; destination: string; publisher: User; publishTo: string }> = [
    { why: '/topic/prices.* grants exactly one segment after prices', subscriber: 'alice', destination: '/topic/prices.eur.spot', publisher: 'alice', publishTo: '/topic/prices.eur.spot' },
    { why: 'a wildcard subscription wider than the /topic/prices.* grant', subscriber: 'alice', destination: '/topic/prices.#', publisher: 'alice', publishTo: '/topic/prices.eur' },
    { why: 'no rule grants it', subscriber: 'alice', destination: '/topic/alerts', publisher: 'bob', publishTo: '/topic/alerts' },
  ]
  for (const { why, subscriber, destination, publisher: sender, publishTo } of deniedSubscribes) {
    t.test(`${subscriber}'s SUBSCRIBE to ${destination} is refused — ${why} — and makes no subscription (${name})`, async (t) => {
      const { server, addresses } = await startWithAcl(t)
      const client = await login(t, addresses, transport, subscriber)
      const receipt = nextReceiptId()
      client.frame('SUBSCRIBE', [['id', 'refused'], ['destination', destination], ['receipt', receipt]])
      await expectDenied(t, client, receipt, destination)
      t.equal(server.broker.topicSubscriptionCount, 0, 'the broker holds no topic subscription')
      const publisher = await login(t, addresses, transport, sender)
      const dropped = server.broker.stats.dropped
      await ask(publisher, 'SEND', [['destination', publishTo]], 'nobody listens')
      t.equal(server.broker.stats.dropped, dropped + 1, `the SEND to ${publishTo} matched no subscriber`)
      t.same(messages(client), [], 'the refused client received nothing')
    })
  }

  // ---- transactions ----

  t.test(`a denied SEND inside a transaction is refused at the SEND, before COMMIT, and nothing of the transaction is delivered (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'prices', '/topic/prices.#')
    const alice = await login(t, addresses, transport, 'alice')
    await ask(alice, 'BEGIN', [['transaction', 'tx']])
    alice.frame('SEND', [['destination', '/topic/prices.eur'], ['transaction', 'tx']], 'allowed, held in tx')
    const receipt = nextReceiptId()
    alice.frame('SEND', [['destination', '/topic/prices.secret'], ['transaction', 'tx'], ['receipt', receipt]], 'denied, in tx')
    const error = await within(expectDenied(t, alice, receipt, '/topic/prices.secret'), 5000, 'the ERROR for the SEND, with no COMMIT sent')
    t.equal(header(error, 'receipt-id'), receipt, 'the ERROR answers the denied SEND, not a COMMIT')
    await onlyMarkerArrives(t, bob, 'prices', bob, '/topic/prices.secret')
  })

  t.test(`a COMMIT written right behind a denied transactional SEND commits nothing (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'prices', '/topic/prices.#')
    const alice = await login(t, addresses, transport, 'alice')
    await ask(alice, 'BEGIN', [['transaction', 'tx']])
    alice.frame('SEND', [['destination', '/topic/prices.eur'], ['transaction', 'tx']], 'allowed, held in tx')
    const receipt = nextReceiptId()
    alice.frame('SEND', [['destination', '/topic/prices.secret'], ['transaction', 'tx'], ['receipt', receipt]], 'denied, in tx')
    alice.frame('COMMIT', [['transaction', 'tx'], ['receipt', nextReceiptId()]])
    await expectDenied(t, alice, receipt, '/topic/prices.secret')
    t.same(alice.frames.map((f) => f.command), ['CONNECTED', 'RECEIPT', 'ERROR'], 'the BEGIN\'s RECEIPT, the ERROR, and no RECEIPT for the COMMIT')
    await onlyMarkerArrives(t, bob, 'prices', bob, '/topic/prices.secret')
  })

  // ---- RabbitMQ aliases ----

  t.test(`/exchange/amq.topic/prices.x is checked as /topic/prices.x: alice may publish and subscribe there (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'prices', '/topic/prices.#')
    const alice = await login(t, addresses, transport, 'alice')
    await sub(alice, 'x', '/exchange/amq.topic/prices.x')
    await ask(alice, 'SEND', [['destination', '/exchange/amq.topic/prices.x']], 'via the exchange')
    const got = await waitMessages(bob, 1, 'prices')
    t.same(bodies(got), ['via the exchange'])
    t.equal(header(got[0]!, 'destination'), '/topic/prices.x')
    t.same(bodies(await waitMessages(alice, 1, 'x')), ['via the exchange'])
  })

  t.test(`/exchange/amq.topic/prices.secret is refused to alice as /topic/prices.secret is (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'prices', '/topic/prices.#')
    const alice = await login(t, addresses, transport, 'alice')
    const receipt = nextReceiptId()
    alice.frame('SEND', [['destination', '/exchange/amq.topic/prices.secret'], ['receipt', receipt]], 'must not arrive')
    await expectDenied(t, alice, receipt, '/topic/prices.secret')
    await onlyMarkerArrives(t, bob, 'prices', bob, '/topic/prices.secret')
  })

  for (const command of ['SEND', 'SUBSCRIBE'] as const) {
    t.test(`a ${command} to /amq/queue/secret, once the queue exists, is refused to alice, whom no rule grants /queue/secret (${name})`, async (t) => {
      const { addresses } = await startWithAcl(t)
      const bob = await login(t, addresses, transport, 'bob')
      await ask(bob, 'SEND', [['destination', '/queue/secret']], 'kept for bob')
      const alice = await login(t, addresses, transport, 'alice')
      const receipt = nextReceiptId()
      if (command === 'SEND') alice.frame('SEND', [['destination', '/amq/queue/secret'], ['receipt', receipt]], 'must not arrive')
      else alice.frame('SUBSCRIBE', [['id', 'secret'], ['destination', '/amq/queue/secret'], ['receipt', receipt]])
      await expectDenied(t, alice, receipt, '/queue/secret')
      await sub(bob, 'secret', '/queue/secret')
      await ask(bob, 'SEND', [['destination', '/queue/secret']], 'marker')
      await waitMessages(bob, 2, 'secret')
      t.same(bodies(messages(bob, 'secret')), ['kept for bob', 'marker'], 'the queue held what bob sent and then the marker: alice added nothing and took nothing')
    })
  }

  // ---- reply-to ----

  t.test(`a SEND with reply-to:/queue/not-mine, where alice may not publish, is refused and delivers nothing (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'inbox', '/queue/inbox.bob')
    const alice = await login(t, addresses, transport, 'alice')
    const receipt = nextReceiptId()
    alice.frame('SEND', [['destination', '/queue/inbox.bob'], ['reply-to', '/queue/not-mine'], ['receipt', receipt]], 'answer me there')
    await expectDenied(t, alice, receipt, '/queue/not-mine')
    await onlyMarkerArrives(t, bob, 'inbox', bob, '/queue/inbox.bob')
  })

  t.test(`a SEND with reply-to:/temp-queue/r is allowed, and so is reply-to naming a queue alice may publish to (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'inbox', '/queue/inbox.bob')
    const alice = await login(t, addresses, transport, 'alice')
    await ask(alice, 'SEND', [['destination', '/queue/inbox.bob'], ['reply-to', '/temp-queue/r']], 'reply to my temp queue')
    await ask(alice, 'SEND', [['destination', '/queue/inbox.bob'], ['reply-to', '/queue/inbox.alice']], 'reply to my inbox')
    const got = await waitMessages(bob, 2, 'inbox')
    t.same(bodies(got), ['reply to my temp queue', 'reply to my inbox'])
    t.match(header(got[0]!, 'reply-to'), /^\/reply-queue\//, 'the temp queue is named for others to reach')
    t.equal(header(got[1]!, 'reply-to'), '/queue/inbox.alice')
  })

  // ---- reload ----

  t.test(`reload() after rewriting the ACL applies the new rules to connected sessions at their next SEND (${name})`, async (t) => {
    const { server, addresses, aclFile } = await startWithAcl(t)
    const connected = await login(t, addresses, transport, 'alice')
    await ask(connected, 'SEND', [['destination', '/topic/prices.eur']], 'before reload')
    // The same destination twice: the session remembers its decision and its last destination.
    const repeating = await login(t, addresses, transport, 'alice')
    await ask(repeating, 'SEND', [['destination', '/queue/inbox.bob']], 'one')
    await ask(repeating, 'SEND', [['destination', '/queue/inbox.bob']], 'two')
    const refused = await login(t, addresses, transport, 'alice')
    const receipt = nextReceiptId()
    refused.frame('SEND', [['destination', '/topic/alerts'], ['receipt', receipt]], 'not yet')
    await expectDenied(t, refused, receipt, '/topic/alerts')

    writeJson(aclFile, {
      rules: [
        { user: 'alice', publish: ['/topic/alerts'] },
        { user: 'alice', deny: true, publish: ['/queue/inbox.#'] },
        { user: 'bob', subscribe: ['/topic/alerts'] },
        ...RULES,
      ],
    })
    server.reload()

    const bob = await login(t, addresses, transport, 'bob')
    await sub(bob, 'alerts', '/topic/alerts')
    await ask(connected, 'SEND', [['destination', '/topic/alerts']], 'allowed now')
    t.same(bodies(await waitMessages(bob, 1, 'alerts')), ['allowed now'], 'the session connected before the reload may publish there now')
    const again = nextReceiptId()
    repeating.frame('SEND', [['destination', '/queue/inbox.bob'], ['receipt', again]], 'three')
    await expectDenied(t, repeating, again, '/queue/inbox.bob')
  })

  t.test(`a broken ACL file on reload() throws, and the old rules stay in force (${name})`, async (t) => {
    const { server, addresses, aclFile } = await startWithAcl(t)
    const connected = await login(t, addresses, transport, 'alice')
    await ask(connected, 'SEND', [['destination', '/topic/prices.eur']], 'before')

    writeFileSync(aclFile, '{ "rules": [ { "user": "alice", "publish": ["/#"] } ')
    t.throws(() => server.reload(), /acl file .*not valid JSON/, 'truncated JSON is refused, naming the file')
    writeJson(aclFile, { rules: [{ user: 'alice', publish: '/#' }] })
    t.throws(() => server.reload(), /acl file .*rules\[0\]/, 'a malformed rule is refused, naming the rule')

    await ask(connected, 'SEND', [['destination', '/topic/prices.eur']], 'after')
    t.pass('the connected session may still publish what the old rules grant')
    const receipt = nextReceiptId()
    connected.frame('SEND', [['destination', '/topic/prices.secret'], ['receipt', receipt]], 'still denied')
    await expectDenied(t, connected, receipt, '/topic/prices.secret')
    const fresh = await login(t, addresses, transport, 'alice')
    const other = nextReceiptId()
    fresh.frame('SEND', [['destination', '/topic/anything'], ['receipt', other]], 'not granted by the old rules')
    await expectDenied(t, fresh, other, '/topic/anything')
  })

  // ---- baseline ----

  t.test(`without an ACL file, logged-in users may publish and subscribe anywhere (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t, null)
    const alice = await login(t, addresses, transport, 'alice')
    const bob = await login(t, addresses, transport, 'bob')
    await sub(alice, 'all', '/topic/#')
    await sub(alice, 'bobs', '/queue/inbox.bob')
    await sub(bob, 'orders', '/queue/orders')
    await ask(alice, 'SEND', [['destination', '/topic/prices.secret']], 'secret')
    await ask(bob, 'SEND', [['destination', '/topic/prices.eur']], 'eur')
    await ask(alice, 'SEND', [['destination', '/queue/orders'], ['reply-to', '/queue/not-mine']], 'order')
    await ask(bob, 'SEND', [['destination', '/queue/inbox.bob']], 'read by alice')
    t.same(bodies(await waitMessages(alice, 2, 'all')), ['secret', 'eur'])
    t.same(bodies(await waitMessages(alice, 1, 'bobs')), ['read by alice'])
    const orders = await waitMessages(bob, 1, 'orders')
    t.same(bodies(orders), ['order'])
    t.equal(header(orders[0]!, 'reply-to'), '/queue/not-mine')
  })

  // ---- metrics ----

  t.test(`GET /metrics counts each denial in stompd_refused_total{reason="access-denied"} (${name})`, async (t) => {
    const { addresses } = await startWithAcl(t)
    t.equal(sample(await scrape(addresses), ACCESS_DENIED_SERIES) ?? 0, 0, 'none before')
    const denials: Array<(client: RawClient, receipt: string) => void> = [
      (client, receipt) => client.frame('SEND', [['destination', '/topic/prices.secret'], ['receipt', receipt]], 'x'),
      (client, receipt) => client.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/inbox.bob'], ['receipt', receipt]]),
      (client, receipt) => client.frame('SEND', [['destination', '/queue/inbox.bob'], ['reply-to', '/queue/not-mine'], ['receipt', receipt]], 'x'),
    ]
    for (const deny of denials) {
      const client = await login(t, addresses, transport, 'alice')
      const receipt = nextReceiptId()
      deny(client, receipt)
      await expectErrorAndClose(t, client, 'access-denied', { receiptId: receipt })
    }
    const allowed = await login(t, addresses, transport, 'alice')
    await ask(allowed, 'SEND', [['destination', '/topic/prices.eur']], 'allowed sends are not counted')
    const metrics = await scrape(addresses)
    t.match(metrics, /# TYPE stompd_refused_total counter/)
    t.equal(sample(metrics, ACCESS_DENIED_SERIES), 3, `${ACCESS_DENIED_SERIES} is 3`)
  })
}

// ---- real clients ----

t.test('with stompit (TCP), a denied SEND surfaces as the client\'s error "access denied"', async (t) => {
  const { addresses } = await startWithAcl(t)
  const client = await connectStompit(t, addresses.tcp!, { login: 'alice', passcode: PASSCODES.alice })
  const emitted = new Promise<Error>((resolve) => client.once('error', resolve))
  await sendStompit(client, { destination: '/topic/prices.eur' }, 'allowed')
  const rejected = await sendStompit(client, { destination: '/topic/prices.secret' }, 'denied').then(
    () => null,
    (err: Error) => err,
  )
  t.ok(rejected instanceof Error, 'the SEND\'s onError is called')
  t.equal(rejected?.message, 'access denied')
  const error = await within(emitted, 5000, 'the client emits error')
  t.equal(error.message, 'access denied', 'the client emits error with message "access denied"')
})

t.test('with @stomp/stompjs (WebSocket), a denied SEND arrives as onStompError "access denied" with its receipt-id', async (t) => {
  const { addresses } = await startWithAcl(t)
  const client = await connectStompjs(t, addresses.ws, { connectHeaders: { login: 'alice', passcode: PASSCODES.alice } })
  const failed = new Promise<{ message?: string; receiptId?: string; body: string }>((resolve) => {
    client.onStompError = (frame) => resolve({ message: frame.headers.message, receiptId: frame.headers['receipt-id'], body: frame.body })
  })
  const closed = new Promise<void>((resolve) => { client.onWebSocketClose = () => resolve() })
  client.publish({ destination: '/topic/prices.secret', body: 'denied', headers: { receipt: 'denied-send' } })
  const error = await within(failed, 5000, 'onStompError')
  t.equal(error.message, 'access denied')
  t.equal(error.receiptId, 'denied-send')
  t.match(error.body, '/topic/prices.secret')
  await within(closed, 5000, 'the WebSocket closes')
  t.pass('the server closed the WebSocket')
})
