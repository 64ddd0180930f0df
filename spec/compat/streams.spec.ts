// Streams (`/stream/<name>`): an append-only log. A reader starts where `offset` (first, last,
// next, a number; RabbitMQ's x-stream-offset forms) or `since` says, replays from there and then
// follows live; every MESSAGE carries `stream-offset`; reading consumes nothing, so every reader
// gets every entry; a durable reader resumes where it stopped, across a restart; entries leave by
// x-max-length or x-max-age. Raw clients over TCP and WebSocket, and @stomp/stompjs.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Header } from '../../lib/frame/frame.js'
import { connectStompjs, subscribeStompjs } from '../helpers/clients.js'
import { eventually, expectErrorAndClose, TRANSPORTS } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, open, request, subscribe } from '../helpers/stomp.js'

const offsets = (client: RawClient, id: string): Array<string | undefined> => messages(client, id).map((m) => header(m, 'stream-offset'))

for (const transport of TRANSPORTS) {
  t.test(`readers start at first, last, next, an offset or a time, replay, then follow live; each gets every entry (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const producer = await open(t, addresses, transport)
    for (const body of ['e0', 'e1']) await request(producer, 'SEND', [['destination', '/stream/events']], body)
    await new Promise((resolve) => setTimeout(resolve, 30))
    const since = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 5))
    for (const body of ['e2', 'e3', 'e4']) await request(producer, 'SEND', [['destination', '/stream/events']], body)
    const reader = await open(t, addresses, transport)
    const starts: Array<[string, Header[]]> = [
      ['first', [['offset', 'first']]], ['last', [['offset', 'last']]], ['next', []], ['three', [['offset', '3']]],
      ['rabbit', [['x-stream-offset', 'offset=1']]], ['since', [['since', String(since)]]],
    ]
    for (const [id, headers] of starts) await subscribe(reader, id, '/stream/events', headers)
    await request(producer, 'SEND', [['destination', '/stream/events']], 'live')
    await eventually(() => messages(reader, 'next').length >= 1 && messages(reader, 'first').length >= 6, 5000, 'replays and the live entry')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(bodies(messages(reader, 'first')), ['e0', 'e1', 'e2', 'e3', 'e4', 'live'])
    t.same(offsets(reader, 'first'), ['0', '1', '2', '3', '4', '5'], 'every MESSAGE has its stream-offset')
    t.same(bodies(messages(reader, 'last')), ['e4', 'live'])
    t.same(bodies(messages(reader, 'next')), ['live'], 'next (the default): only what comes after')
    t.same(bodies(messages(reader, 'three')), ['e3', 'e4', 'live'])
    t.same(bodies(messages(reader, 'rabbit')), ['e1', 'e2', 'e3', 'e4', 'live'])
    t.same(bodies(messages(reader, 'since')), ['e2', 'e3', 'e4', 'live'])
    t.equal(header(messages(reader, 'first')[0]!, 'destination'), '/stream/events')
  })
}

t.test('x-max-length keeps the newest entries; x-max-age drops the old ones; a bad offset is ERROR invalid header', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses, 'tcp')
  await request(producer, 'SEND', [['destination', '/stream/capped'], ['x-max-length', '3']], 'c0')
  for (const body of ['c1', 'c2', 'c3', 'c4']) await request(producer, 'SEND', [['destination', '/stream/capped']], body)
  await request(producer, 'SEND', [['destination', '/stream/aged'], ['x-max-age', '300']], 'old')
  await new Promise((resolve) => setTimeout(resolve, 400))
  await request(producer, 'SEND', [['destination', '/stream/aged']], 'new')
  const reader = await open(t, addresses, 'ws')
  await subscribe(reader, 'capped', '/stream/capped', [['offset', 'first']])
  await subscribe(reader, 'aged', '/stream/aged', [['offset', 'first']])
  await eventually(() => messages(reader).length >= 4, 5000, 'the kept entries')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(reader, 'capped')), ['c2', 'c3', 'c4'])
  t.same(offsets(reader, 'capped'), ['2', '3', '4'], 'offsets stay what they were')
  t.same(bodies(messages(reader, 'aged')), ['new'])
  const bad = await open(t, addresses, 'tcp')
  bad.frame('SUBSCRIBE', [['id', 's'], ['destination', '/stream/capped'], ['offset', 'yesterday'], ['receipt', 'r']])
  const { error } = await expectErrorAndClose(t, bad, 'invalid-header')
  t.match(error.body.toString(), /offset must be first, last, next/)
})

t.test('entries and a durable reader\'s place survive a restart: it resumes where it stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-stream-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = `sqlite:${join(dir, 'stompd.db')}`
  const login: Header[] = [['accept-version', '1.2'], ['host', 'localhost'], ['login', 'auditor']]
  let running = await startServer(t, { store })
  const producer = await open(t, running.addresses, 'tcp')
  for (const body of ['a', 'b', 'c']) await request(producer, 'SEND', [['destination', '/stream/log']], body)
  const first = await RawClient.tcp(t, running.addresses.tcp!)
  await first.connect(login)
  await request(first, 'SUBSCRIBE', [['id', 'audit'], ['destination', '/stream/log'], ['durable', 'true'], ['offset', 'first']])
  await eventually(() => messages(first).length >= 3, 5000, 'the first three')
  await request(first, 'DISCONNECT')
  for (const body of ['d', 'e']) await request(producer, 'SEND', [['destination', '/stream/log']], body)
  await request(producer, 'SEND', [['destination', '/stream/log'], ['persistent', 'false']], 'not kept')
  await running.server.close()
  running = await startServer(t, { store })
  const back = await RawClient.ws(t, running.addresses.ws)
  await back.connect(login)
  await request(back, 'SUBSCRIBE', [['id', 'audit'], ['destination', '/stream/log'], ['durable', 'true'], ['offset', 'first']])
  await eventually(() => messages(back).length >= 2, 5000, 'what came while away')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(back)), ['d', 'e'], 'resumed after c; the transient entry did not survive the restart')
  t.same(offsets(back, 'audit'), ['3', '4'])
  const fresh = await open(t, running.addresses, 'tcp')
  await subscribe(fresh, 'all', '/stream/log', [['offset', 'first']])
  await eventually(() => messages(fresh).length >= 5, 5000, 'everything kept')
  t.same(bodies(messages(fresh)), ['a', 'b', 'c', 'd', 'e'])
})

t.test('@stomp/stompjs reads a stream from the first entry with an offset header', async (t) => {
  const { addresses } = await startServer(t)
  const producer = await open(t, addresses, 'tcp')
  for (const body of ['x', 'y']) await request(producer, 'SEND', [['destination', '/stream/browser']], body)
  const client = await connectStompjs(t, addresses.ws)
  const inbox = subscribeStompjs(client, '/stream/browser', { offset: 'first' })
  const got = await inbox.waitFor(2)
  t.same(got.map((m) => m.body), ['x', 'y'])
  t.same(got.map((m) => m.headers['stream-offset']), ['0', '1'])
})
