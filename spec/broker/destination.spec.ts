// Specs for destination names (lib/broker/destination.ts): the kinds, and what is refused where
// — empty names, control characters, wildcards on SEND, reply queues on SUBSCRIBE, unknown prefixes.
import t from 'tap'
import { formatDestination, parseDestination, type Destination, type DestinationUse } from '../../lib/broker/destination.js'
import { StompError, type ErrorCode } from '../../lib/errors.js'

const USES: readonly DestinationUse[] = ['send', 'subscribe']

/** The error code parseDestination gives, or null when it accepts the name. */
function refusal(value: string, use: DestinationUse): ErrorCode | null {
  const parsed = parseDestination(value, use)
  return parsed instanceof StompError ? parsed.code : null
}

t.test('each prefix names its kind, and the rest is the name', async (t) => {
  const cases: ReadonlyArray<[string, Destination]> = [
    ['/topic/prices.acme', { kind: 'topic', name: 'prices.acme' }],
    ['/queue/orders', { kind: 'queue', name: 'orders' }],
    ['/queue/a/b/c', { kind: 'queue', name: 'a/b/c' }],
    ['/temp-queue/replies', { kind: 'temp-queue', name: 'replies' }],
    ['/topic/ünïcødé 名前', { kind: 'topic', name: 'ünïcødé 名前' }],
  ]
  for (const [value, expected] of cases) {
    t.same(parseDestination(value, 'send'), expected, `${value} for SEND`)
    t.same(parseDestination(value, 'subscribe'), expected, `${value} for SUBSCRIBE`)
    t.equal(formatDestination(expected), value, `${value} formats back to itself`)
  }
  t.same(parseDestination('/reply-queue/abc.replies', 'send'), { kind: 'reply-queue', name: 'abc.replies' }, 'a reply queue can be sent to')
})

t.test('a prefix with no name after it is an invalid destination', async (t) => {
  for (const prefix of ['/topic/', '/queue/', '/temp-queue/', '/reply-queue/']) {
    for (const use of USES) t.equal(refusal(prefix, use), 'invalid-destination', `${prefix} for ${use}`)
  }
})

t.test('a name with control characters is an invalid destination', async (t) => {
  for (const name of ['a\nb', 'tab\there', 'nul\u0000', 'esc\u001b[31m', 'del\u007f', '\r']) {
    for (const use of USES) t.equal(refusal(`/queue/${name}`, use), 'invalid-destination', `${JSON.stringify(name)} for ${use}`)
  }
  t.equal(refusal('/topic/non-breaking\u00a0space', 'send'), null, 'characters beyond ASCII control ones are fine')
})

t.test('a name longer than 255 characters is an invalid destination', async (t) => {
  t.equal(refusal(`/queue/${'x'.repeat(255)}`, 'send'), null)
  t.equal(refusal(`/queue/${'x'.repeat(256)}`, 'send'), 'invalid-destination')
})

t.test('topic wildcards are refused on SEND but allowed on SUBSCRIBE', async (t) => {
  for (const pattern of ['*', '#', '**', 'prices.*', 'prices.#', 'a.*.c', '#.last', 'a/*/c', 'a/**', '*.b']) {
    t.equal(refusal(`/topic/${pattern}`, 'send'), 'invalid-destination', `SEND to /topic/${pattern}`)
    t.same(parseDestination(`/topic/${pattern}`, 'subscribe'), { kind: 'topic', name: pattern }, `SUBSCRIBE to /topic/${pattern}`)
  }
})

t.test('a * or # inside a segment is a literal character, fine on SEND', async (t) => {
  for (const name of ['a*b', 'price#1', 'x.*y', 'c#.d', '***']) {
    t.equal(refusal(`/topic/${name}`, 'send'), null, `/topic/${name}`)
  }
})

t.test('queue names are never wildcards, so * and # are fine in them on SEND', async (t) => {
  t.same(parseDestination('/queue/*', 'send'), { kind: 'queue', name: '*' })
  t.same(parseDestination('/queue/a.#', 'send'), { kind: 'queue', name: 'a.#' })
})

t.test('a /reply-queue/ can be sent to but not subscribed to', async (t) => {
  t.equal(refusal('/reply-queue/session.x', 'send'), null)
  t.equal(refusal('/reply-queue/session.x', 'subscribe'), 'invalid-destination')
})

t.test('a destination without a known prefix is an unknown destination', async (t) => {
  for (const value of ['', 'orders', '/orders', '/topics/x', '/Queue/x', 'queue/x', '/exchange/amq.direct/x', '/amq/topic/x', 'topic/x', '/topic', '/queue']) {
    for (const use of USES) t.equal(refusal(value, use), 'unknown-destination', `${JSON.stringify(value)} for ${use}`)
  }
})

t.test('every refusal carries a readable detail naming the problem', async (t) => {
  const refused = parseDestination('/nowhere/x', 'send')
  t.ok(refused instanceof StompError)
  t.match((refused as StompError).detail, /\/nowhere\/x/)
})

t.test("RabbitMQ's destination forms name the same topics and queues, and format back to stompd's names", async (t) => {
  const cases: ReadonlyArray<[string, Destination, string]> = [
    ['/exchange/amq.topic/prices.acme', { kind: 'topic', name: 'prices.acme' }, '/topic/prices.acme'],
    ['/amq/queue/orders', { kind: 'queue', name: 'orders', mustExist: true }, '/queue/orders'],
    ['/exchange/amq.fanout', { kind: 'fanout', name: 'amq.fanout' }, '/exchange/amq.fanout'],
    ['/exchange/amq.fanout/any.key', { kind: 'fanout', name: 'amq.fanout' }, '/exchange/amq.fanout'],
  ]
  for (const [value, expected, formatted] of cases) {
    for (const use of USES) t.same(parseDestination(value, use), expected, `${value} for ${use}`)
    t.equal(formatDestination(expected), formatted)
  }
  t.equal(refusal('/exchange/amq.topic/a.*', 'send'), 'invalid-destination', 'no wildcard in a SEND to amq.topic either')
  t.same(parseDestination('/exchange/amq.topic/a.*', 'subscribe'), { kind: 'topic', name: 'a.*' }, 'but in a SUBSCRIBE')
  t.equal(refusal('/exchange/amq.topic/', 'send'), 'invalid-destination', 'a routing key is needed')
  const other = parseDestination('/exchange/my.exchange/key', 'subscribe') as StompError
  t.equal(other.code, 'unknown-destination', 'any other exchange is unknown')
  t.match(other.detail, /\/exchange\/amq\.topic\/<key>.*\/exchange\/amq\.fanout/, 'and the ERROR says which exchanges there are')
})

t.test("an empty name's ERROR reads as RabbitMQ's", async (t) => {
  t.equal((parseDestination('/queue/', 'send') as StompError).detail, "'' is not a valid queue destination\n")
  t.equal((parseDestination('/topic/', 'subscribe') as StompError).detail, "'' is not a valid topic destination\n")
  t.equal((parseDestination('/nowhere/x', 'send') as StompError).message, 'Unknown destination')
})
