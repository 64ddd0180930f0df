// The management API, route by route, as an operator uses it: what it reports matches what the
// broker holds, and each action has its effect (purge empties, redrive restores order marked
// redelivered, delete deletes, closing a connection closes that one and no other, publish
// delivers); bad input is 400 with what was wrong, an unknown name 404; with authentication, only
// an admin may call it.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { hashPasscode } from '../../lib/auth/users.js'
import { eventually, expectErrorAndClose } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, open, request, subscribe } from '../helpers/stomp.js'

type Json = Record<string, unknown>

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, json: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, json: text === '' ? null : JSON.parse(text) }
}

t.test('overview and destinations report what the broker holds; an unknown name is 404', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.http
  const client = await open(t, addresses, 'tcp')
  for (const body of ['1', '2', '3']) await request(client, 'SEND', [['destination', '/queue/jobs']], body)
  await request(client, 'SEND', [['destination', '/stream/log']], 'entry')
  await subscribe(client, 't', '/topic/prices.#')
  const overview = (await call(base, 'GET', '/api/overview')).json as Json
  t.match(overview, { version: String, connections: 1, messages: { published: 4 }, store: { kind: 'memory', ok: true }, cluster: { enabled: false } })
  t.ok(typeof (overview.memory as Json).rss === 'number')
  const list = (await call(base, 'GET', '/api/destinations')).json as Json[]
  t.match(list.find((d) => d.name === '/queue/jobs'), { type: 'queue', depth: 3, unacked: 0, consumers: 0, dlqDepth: 0 })
  t.match(list.find((d) => d.name === '/topic/prices.#'), { type: 'topic', consumers: 1 })
  t.match(list.find((d) => d.name === '/stream/log'), { type: 'stream', depth: 1 })
  const one = await call(base, 'GET', `/api/destinations/${encodeURIComponent('/queue/jobs')}`)
  t.match(one, { status: 200, json: { name: '/queue/jobs', depth: 3 } })
  t.equal((await call(base, 'GET', `/api/destinations/${encodeURIComponent('/queue/nope')}`)).status, 404)
})

t.test('purge empties a queue; delete refuses while consumers are on it, then deletes; unknown queues are 404', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.http
  const client = await open(t, addresses, 'tcp')
  for (const body of ['a', 'b', 'c']) await request(client, 'SEND', [['destination', '/queue/old']], body)
  t.match(await call(base, 'DELETE', '/api/queues/old/messages'), { status: 200, json: { purged: 3 } })
  await request(client, 'SEND', [['destination', '/queue/old']], 'after the purge')
  await subscribe(client, 's', '/queue/old')
  await eventually(() => messages(client).length >= 1, 5000, 'a message')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(client)), ['after the purge'], 'nothing purged comes back')
  t.equal((await call(base, 'DELETE', '/api/queues/old')).status, 409, 'a consumer is on it')
  await request(client, 'UNSUBSCRIBE', [['id', 's']])
  t.equal((await call(base, 'DELETE', '/api/queues/old')).status, 204)
  t.equal((await call(base, 'DELETE', '/api/queues/old')).status, 404)
  t.equal((await call(base, 'DELETE', '/api/queues/never/messages')).status, 404)
})

t.test('redrive moves a DLQ back in order, marked redelivered, without the dead-letter headers', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.http
  const client = await open(t, addresses, 'ws')
  for (const body of ['m1', 'm2', 'm3']) await request(client, 'SEND', [['destination', '/queue/orders']], body)
  await subscribe(client, 'rejecting', '/queue/orders', [['ack', 'client-individual']])
  await eventually(() => messages(client).length >= 3, 5000, 'three deliveries')
  for (const message of messages(client)) client.frame('NACK', [['id', header(message, 'ack')!], ['requeue', 'false']])
  await request(client, 'UNSUBSCRIBE', [['id', 'rejecting']])
  const listed = (await call(base, 'GET', '/api/destinations')).json as Json[]
  t.match(listed.find((d) => d.name === '/queue/orders'), { dlqDepth: 3 })
  t.match(await call(base, 'POST', '/api/queues/orders/redrive'), { status: 200, json: { moved: 3 } })
  const consumer = await open(t, addresses, 'tcp')
  await subscribe(consumer, 's', '/queue/orders')
  await eventually(() => messages(consumer).length >= 3, 5000, 'the redriven messages')
  t.same(bodies(messages(consumer)), ['m1', 'm2', 'm3'], 'in order')
  t.ok(messages(consumer).every((m) => header(m, 'redelivered') === 'true' && header(m, 'dead-letter-reason') === undefined && header(m, 'destination') === '/queue/orders'))
  t.match(await call(base, 'POST', '/api/queues/orders/redrive'), { status: 200, json: { moved: 0 } })
  t.equal((await call(base, 'POST', '/api/queues/unknown/redrive')).status, 404)
})

t.test('connections are listed; closing one sends it ERROR and closes it, and no other', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.http
  const alice = await RawClient.tcp(t, addresses.tcp!)
  await alice.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'alice'], ['heart-beat', '0,0']])
  const other = await open(t, addresses, 'ws')
  await subscribe(other, 's', '/topic/x')
  const list = (await call(base, 'GET', '/api/connections')).json as Json[]
  t.equal(list.length, 2)
  const aliceRow = list.find((c) => c.user === 'alice')!
  t.match(aliceRow, { transport: 'tcp', version: '1.2', subscriptions: 0, remote: /127\.0\.0\.1/, connectedSince: String, bufferedBytes: 0 })
  t.match(list.find((c) => c.user !== 'alice'), { transport: 'ws', subscriptions: 1 })
  t.equal((await call(base, 'DELETE', `/api/connections/${aliceRow.id as string}`)).status, 204)
  const { error } = await expectErrorAndClose(t, alice, 'closed-by-administrator')
  t.equal(header(error, 'message'), 'closed by an administrator')
  t.equal((await request(other, 'SEND', [['destination', '/topic/x']], 'still here')).command, 'RECEIPT', 'the other connection stays')
  t.equal((await call(base, 'DELETE', '/api/connections/nobody')).status, 404)
})

t.test('publish delivers a test message; bad input is 400 saying what was wrong', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.http
  const subscriber = await open(t, addresses, 'tcp')
  await subscribe(subscriber, 's', '/topic/tests')
  const sent = await call(base, 'POST', '/api/publish', { destination: '/topic/tests', headers: { 'content-type': 'text/plain', note: 'from the API' }, body: 'hello' })
  t.equal(sent.status, 200)
  await eventually(() => messages(subscriber).length >= 1, 5000, 'the message')
  const message = messages(subscriber)[0]!
  t.equal(message.body.toString(), 'hello')
  t.equal(header(message, 'note'), 'from the API')
  t.equal(header(message, 'message-id'), (sent.json as Json).id)
  const bad: Array<[unknown, RegExp]> = [
    [{ body: 'x' }, /destination is required/],
    [{ destination: '/nowhere/x' }, /not a valid destination/],
    [{ destination: '/topic/x', extra: 1 }, /unknown field extra/],
    [{ destination: '/topic/x', headers: { n: 1 } }, /headers.n must be a string/],
  ]
  for (const [body, pattern] of bad) {
    const answer = await call(base, 'POST', '/api/publish', body)
    t.equal(answer.status, 400, JSON.stringify(body))
    t.match(JSON.stringify(answer.json), pattern)
  }
})

t.test('with a users file only an admin may call the API: 401 without credentials or with wrong ones, 403 for others', async (t) => {
  const dir = t.testdir()
  const users = join(dir, 'users.json')
  writeFileSync(users, JSON.stringify({ users: {
    root: { passcode: await hashPasscode('admin secret'), roles: ['admin'] },
    bob: { passcode: await hashPasscode('bob secret'), roles: [] },
  } }))
  const { addresses } = await startServer(t, { users })
  const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` })
  t.equal((await call(addresses.http, 'GET', '/api/overview')).status, 401)
  t.equal((await call(addresses.http, 'GET', '/api/overview', undefined, basic('root', 'wrong'))).status, 401)
  t.equal((await call(addresses.http, 'GET', '/api/overview', undefined, basic('bob', 'bob secret'))).status, 403)
  t.equal((await call(addresses.http, 'GET', '/api/overview', undefined, basic('root', 'admin secret'))).status, 200)
  t.equal((await call(addresses.http, 'GET', '/healthz')).status, 200, 'probes stay open')
})

t.test('rates: per second over the last sample, for queues (in and out), topic patterns (out) and streams (in and out)', async (t) => {
  const { addresses } = await startServer(t)
  const consumer = await open(t, addresses, 'ws')
  await subscribe(consumer, 'q', '/queue/rated')
  await subscribe(consumer, 't', '/topic/rated.#')
  await subscribe(consumer, 's', '/stream/rated')
  const producer = await open(t, addresses, 'tcp')
  const until = Date.now() + 2500
  while (Date.now() < until) {
    for (const destination of ['/queue/rated', '/topic/rated.a', '/stream/rated']) producer.frame('SEND', [['destination', destination]], 'x')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const list = (await call(addresses.http, 'GET', '/api/destinations')).json as Json[]
  const row = (name: string): Json => list.find((d) => d.name === name)!
  t.ok((row('/queue/rated').publishRate as number) > 0 && (row('/queue/rated').deliverRate as number) > 0, `queue in ${row('/queue/rated').publishRate}/s, out ${row('/queue/rated').deliverRate}/s`)
  t.ok((row('/topic/rated.#').deliverRate as number) > 0, `topic pattern out ${row('/topic/rated.#').deliverRate}/s`)
  t.ok((row('/stream/rated').publishRate as number) > 0 && (row('/stream/rated').deliverRate as number) > 0, `stream in ${row('/stream/rated').publishRate}/s, out ${row('/stream/rated').deliverRate}/s`)
  const overview = (await call(addresses.http, 'GET', '/api/overview')).json as { messages: { publishRate: number, deliverRate: number } }
  t.ok(overview.messages.publishRate > 0 && overview.messages.deliverRate > 0, 'and in the overview')
})
