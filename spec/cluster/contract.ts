// What every Backplane does, whatever carries it: run by local-backplane.spec.ts (nodes joined in
// one process) and redis-backplane.spec.ts (a private redis-server).
import type { Test } from 'tap'
import { Message } from '../../lib/broker/message.js'
import type { Backplane, TopicKind } from '../../lib/broker/backplane.js'

export interface Cluster {
  /** A new member of one cluster. */
  join(): Promise<Backplane>
  /** Makes the engine unreachable, and reachable again; null when the implementation cannot. */
  outage: { down(): Promise<void>, up(): Promise<void> } | null
}

interface Heard { kind: TopicKind, name: string, message: Message }

function hearing(backplane: Backplane): Heard[] {
  const heard: Heard[] = []
  backplane.onMessage = (kind, name, message) => heard.push({ kind, name, message })
  return heard
}

let ids = 0
function message(name: string, body: string | Buffer = 'x', extra: Partial<ConstructorParameters<typeof Message>[0]> = {}): Message {
  const destination = `/topic/${name}`
  return new Message({ id: `m${++ids}`, destination, headers: [['destination', destination]], body: Buffer.from(body), persistent: false, expires: 0, ...extra })
}

async function until(test: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits until a listen() has taken effect: a probe published from `from` reaches `to`. */
async function settled(from: Backplane, to: Heard[], kind: TopicKind, name: string): Promise<void> {
  const probe = `probe-${++ids}`
  const deadline = Date.now() + 5000
  while (!to.some((h) => h.message.id.startsWith(probe))) {
    if (Date.now() > deadline) throw new Error(`a probe to ${name} never arrived`)
    const m = message(name)
    await from.publish(kind, name, new Message({ id: `${probe}-${Date.now()}`, destination: m.destination, headers: m.headers, body: m.body, persistent: false, expires: 0 }))
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  to.length = 0
}

export function backplaneContract(t: Test, make: (t: Test) => Promise<Cluster>): void {
  t.test('a message published on one node reaches the nodes listening for it, whole, and never comes back to its own', async (t) => {
    const cluster = await make(t)
    const [a, b, c] = [await cluster.join(), await cluster.join(), await cluster.join()]
    const [heardA, heardB, heardC] = [hearing(a), hearing(b), hearing(c)]
    b.listen('topic', 'prices.acme')
    a.listen('topic', 'prices.acme')
    await settled(a, heardB, 'topic', 'prices.acme')
    const body = Buffer.from([0, 1, 2, 255, 10, 0])
    const sent = message('prices.acme', body, { persistent: true, expires: Date.now() + 60_000, headers: [['destination', '/topic/prices.acme'], ['x-a', 'line\nbreak:colon'], ['x-a', 'again']] })
    await a.publish('topic', 'prices.acme', sent)
    await until(() => heardB.length === 1)
    const got = heardB[0]!
    t.equal(got.kind, 'topic')
    t.equal(got.name, 'prices.acme')
    t.equal(got.message.id, sent.id)
    t.equal(got.message.destination, '/topic/prices.acme')
    t.same(got.message.headers, sent.headers, 'headers, repeated ones and odd characters included')
    t.same([...got.message.body], [...body], 'the body byte for byte')
    t.equal(got.message.persistent, true)
    t.equal(got.message.expires, sent.expires)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(heardA.length, 0, 'not back to the node that published it')
    t.equal(heardC.length, 0, 'not to a node that does not listen')
  })

  t.test('wildcards: * one segment, # any number (none too); a message matching several listens arrives once', async (t) => {
    const cluster = await make(t)
    const [a, b] = [await cluster.join(), await cluster.join()]
    const heard = hearing(b)
    b.listen('topic', 'orders.*.eu')
    b.listen('topic', 'orders.#')
    b.listen('topic', 'orders.new.eu')
    await settled(a, heard, 'topic', 'orders.new.eu')
    for (const name of ['orders.new.eu', 'orders', 'orders.a.b.c', 'other.new.eu']) await a.publish('topic', name, message(name))
    await until(() => heard.length >= 3)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(heard.map((h) => h.name), ['orders.new.eu', 'orders', 'orders.a.b.c'], 'each once, in order; nothing for a topic nobody listens to')
  })

  t.test('fanout names are their own namespace, exact', async (t) => {
    const cluster = await make(t)
    const [a, b] = [await cluster.join(), await cluster.join()]
    const heard = hearing(b)
    b.listen('fanout', 'amq.fanout')
    await settled(a, heard, 'fanout', 'amq.fanout')
    await a.publish('topic', 'amq.fanout', message('amq.fanout'))
    await a.publish('fanout', 'amq.fanout', message('amq.fanout', 'f'))
    await until(() => heard.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(heard.map((h) => [h.kind, h.message.body.toString()]), [['fanout', 'f']])
  })

  t.test('listens are counted: hearing stops after as many unlistens', async (t) => {
    const cluster = await make(t)
    const [a, b] = [await cluster.join(), await cluster.join()]
    const heard = hearing(b)
    b.listen('topic', 'news')
    b.listen('topic', 'news')
    await settled(a, heard, 'topic', 'news')
    b.unlisten('topic', 'news')
    await a.publish('topic', 'news', message('news', 'still'))
    await until(() => heard.length === 1)
    b.unlisten('topic', 'news')
    await new Promise((resolve) => setTimeout(resolve, 100))
    heard.length = 0
    await a.publish('topic', 'news', message('news', 'gone'))
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(heard.length, 0)
  })

  t.test('messages from one publisher arrive in the order published', async (t) => {
    const cluster = await make(t)
    const [a, b, c] = [await cluster.join(), await cluster.join(), await cluster.join()]
    const heardB = hearing(b)
    const heardC = hearing(c)
    b.listen('topic', 'seq.#')
    c.listen('topic', 'seq.one')
    await settled(a, heardB, 'topic', 'seq.one')
    await settled(a, heardC, 'topic', 'seq.one')
    heardB.length = 0
    const sends: Promise<void>[] = []
    for (let i = 0; i < 2000; i++) sends.push(a.publish('topic', 'seq.one', message('seq.one', String(i))))
    await Promise.all(sends)
    await until(() => heardB.length === 2000 && heardC.length >= 2000)
    const expected = Array.from({ length: 2000 }, (_, i) => String(i))
    t.same(heardB.map((h) => h.message.body.toString()), expected)
    t.same(heardC.filter((h) => !h.message.id.startsWith('probe')).map((h) => h.message.body.toString()), expected)
  })

  t.test('with the engine away publish is refused (cluster unavailable) and problem says why; once back, listens hold again', async (t) => {
    const cluster = await make(t)
    if (cluster.outage === null) return t.pass('this backplane has no engine to lose')
    const [a, b] = [await cluster.join(), await cluster.join()]
    const heard = hearing(b)
    b.listen('topic', 'weather')
    await settled(a, heard, 'topic', 'weather')
    await cluster.outage.down()
    await until(() => a.problem !== null)
    const refused = await a.publish('topic', 'weather', message('weather')).then(() => null, (err: unknown) => err as { code?: string })
    t.equal(refused?.code, 'cluster-unavailable')
    b.listen('topic', 'later') // needed while the engine is away
    await cluster.outage.up()
    await until(() => a.problem === null && b.problem === null, 15_000)
    await settled(a, heard, 'topic', 'weather')
    await settled(a, heard, 'topic', 'later')
    t.pass('both listens hold after the engine came back')
  })
}
