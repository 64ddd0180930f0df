// Specs for the point-to-point queue (lib/broker/queue.ts), driven through fake consumers:
// round-robin, readiness and filters, keeping messages while nobody can take them, acks and
// requeues (order, redelivered flag, dead-lettering), expiry, overflow limits, cancel and purge.
import t from 'tap'
import type { AckMode, Consumer, Delivery, SessionRef } from '../../lib/broker/consumer.js'
import { Message } from '../../lib/broker/message.js'
import { deferDispatch, Queue, type QueueOptions } from '../../lib/broker/queue.js'
import { StompError } from '../../lib/errors.js'

const OPTIONS: QueueOptions = { maxRedeliveries: 5, maxLength: 0, maxBytes: 0, overflow: 'drop-head' }

let ids = 0
function message(body: string, expires = 0): Message {
  return new Message({ id: `m${++ids}`, destination: '/queue/q', headers: [['destination', '/queue/q']], body: Buffer.from(body), persistent: false, expires })
}

interface Received {
  body: string
  redelivered: boolean
  delivery: Delivery | null
}

/** A consumer that records what it receives; its readiness and filter are set by the spec. */
class FakeConsumer implements Consumer {
  readonly session: SessionRef
  readonly ackMode: AckMode
  readonly received: Received[] = []
  isReady = true
  /** Becomes not ready after holding this many unsettled deliveries (0 = never). */
  capacity = 0
  filter: ((message: Message) => boolean) | null = null
  overflowed = 0
  /** Runs inside deliver(), to exercise re-entrant calls into the queue. */
  onDeliver: ((received: Received) => void) | null = null

  constructor(name: string, ackMode: AckMode = 'client-individual') {
    this.session = { id: name }
    this.ackMode = ackMode
  }

  get ready(): boolean {
    return this.isReady && (this.capacity === 0 || this.unsettled < this.capacity)
  }

  unsettled = 0

  deliver(message: Message, redelivered: boolean, delivery: Delivery | null): void {
    const received = { body: message.body.toString(), redelivered, delivery }
    this.received.push(received)
    if (delivery !== null) this.unsettled++
    this.onDeliver?.(received)
  }

  overflow(): void {
    this.overflowed++
  }

  bodies(): string[] {
    return this.received.map((r) => r.body)
  }

  ack(index: number): void {
    this.unsettled--
    this.received[index]!.delivery!.ack()
  }

  requeue(index: number): void {
    this.unsettled--
    this.received[index]!.delivery!.requeue()
  }
}

function queueWith(options: Partial<QueueOptions> = {}, deadLetters: Array<[string, string]> | null = []): Queue {
  const sink = deadLetters === null ? null : (m: Message, reason: string) => { deadLetters.push([m.body.toString(), reason]) }
  return new Queue('/queue/q', { ...OPTIONS, ...options }, sink, null, null)
}

t.test('a queue delivers each message to exactly one consumer, in turn', async (t) => {
  const queue = queueWith()
  const consumers = [new FakeConsumer('a', 'auto'), new FakeConsumer('b', 'auto'), new FakeConsumer('c', 'auto')]
  for (const c of consumers) queue.addConsumer(c)
  for (let i = 0; i < 7; i++) queue.enqueue(message(`m${i}`))
  t.same(consumers.map((c) => c.bodies()), [['m0', 'm3', 'm6'], ['m1', 'm4'], ['m2', 'm5']])
  t.equal(queue.depth, 0)
  t.equal(queue.consumerCount, 3)
})

t.test('an auto-ack consumer gets no delivery handle, and nothing stays in flight', async (t) => {
  const queue = queueWith()
  const consumer = new FakeConsumer('a', 'auto')
  queue.addConsumer(consumer)
  queue.enqueue(message('x'))
  t.equal(consumer.received[0]!.delivery, null)
  t.equal(queue.inFlight, 0)
})

t.test('a queue keeps messages while nobody consumes, and a new consumer gets them in order', async (t) => {
  const queue = queueWith()
  for (let i = 0; i < 5; i++) queue.enqueue(message(`m${i}`))
  t.equal(queue.depth, 5)
  const consumer = new FakeConsumer('a')
  queue.addConsumer(consumer)
  t.same(consumer.bodies(), ['m0', 'm1', 'm2', 'm3', 'm4'])
  t.ok(consumer.received.every((r) => !r.redelivered && r.delivery !== null))
  t.equal(queue.depth, 0)
  t.equal(queue.inFlight, 5)
})

t.test('a consumer that is not ready is skipped, and gets messages again after resume', async (t) => {
  const queue = queueWith()
  const busy = new FakeConsumer('busy', 'auto')
  const free = new FakeConsumer('free', 'auto')
  const binding = queue.addConsumer(busy)
  queue.addConsumer(free)
  busy.isReady = false
  queue.enqueue(message('m0'))
  queue.enqueue(message('m1'))
  t.same(free.bodies(), ['m0', 'm1'])
  free.isReady = false
  queue.enqueue(message('m2'))
  t.equal(queue.depth, 1, 'with no ready consumer the message waits')
  busy.isReady = true
  binding.resume()
  t.same(busy.bodies(), ['m2'])
  t.equal(queue.depth, 0)
})

t.test("a message no consumer's filter takes waits, without holding up the messages behind it", async (t) => {
  const queue = queueWith()
  const evens = new FakeConsumer('evens', 'auto')
  evens.filter = (m) => Number(m.body.toString().slice(1)) % 2 === 0
  queue.addConsumer(evens)
  for (let i = 0; i < 5; i++) queue.enqueue(message(`m${i}`))
  t.same(evens.bodies(), ['m0', 'm2', 'm4'], 'the filtered consumer gets every message it takes')
  t.equal(queue.depth, 2, 'the others wait')
  const anything = new FakeConsumer('anything', 'auto')
  queue.addConsumer(anything)
  t.same(anything.bodies(), ['m1', 'm3'], 'a consumer that takes them gets them, in order')
  t.equal(queue.depth, 0)
})

t.test('an acked message is gone: nothing in flight, nothing redelivered', async (t) => {
  const queue = queueWith()
  const consumer = new FakeConsumer('a')
  const binding = queue.addConsumer(consumer)
  queue.enqueue(message('x'))
  t.equal(queue.inFlight, 1)
  consumer.ack(0)
  t.equal(queue.inFlight, 0)
  consumer.received[0]!.delivery!.requeue()
  t.equal(queue.depth, 0, 'a requeue after the ack does nothing')
  binding.cancel()
  t.equal(queue.depth, 0)
})

t.test('a requeued message is delivered again, marked redelivered, ahead of newer messages', async (t) => {
  const queue = queueWith()
  const consumer = new FakeConsumer('a')
  consumer.capacity = 2
  const binding = queue.addConsumer(consumer)
  for (let i = 0; i < 4; i++) queue.enqueue(message(`m${i}`))
  t.same(consumer.bodies(), ['m0', 'm1'])
  consumer.requeue(1)
  t.same(consumer.bodies(), ['m0', 'm1', 'm1'], 'm1 comes back before m2')
  t.same(consumer.received.map((r) => r.redelivered), [false, false, true])
  consumer.requeue(0)
  consumer.ack(2)
  // An ack frees room; the consumer says so with resume().
  binding.resume()
  t.same(consumer.bodies(), ['m0', 'm1', 'm1', 'm0', 'm2'])
  t.same(consumer.received.map((r) => r.redelivered), [false, false, true, true, false])
})

t.test('messages requeued out of order go back to their original places', async (t) => {
  const queue = queueWith()
  const holder = new FakeConsumer('holder')
  const binding = queue.addConsumer(holder)
  for (let i = 0; i < 5; i++) queue.enqueue(message(`m${i}`))
  binding.cancel()
  queue.enqueue(message('m5'))
  for (const index of [3, 0, 4, 1]) holder.requeue(index)
  const next = new FakeConsumer('next', 'auto')
  queue.addConsumer(next)
  t.same(next.bodies(), ['m0', 'm1', 'm3', 'm4', 'm5'])
  t.same(holder.bodies(), ['m0', 'm1', 'm2', 'm3', 'm4'], 'a cancelled consumer gets nothing more')
})

t.test('a message requeued more than maxRedeliveries times goes to the dead-letter sink', async (t) => {
  const deadLetters: Array<[string, string]> = []
  const queue = queueWith({ maxRedeliveries: 2 }, deadLetters)
  const consumer = new FakeConsumer('a')
  queue.addConsumer(consumer)
  queue.enqueue(message('poison'))
  consumer.requeue(0)
  consumer.requeue(1)
  t.equal(consumer.received.length, 3, 'the first delivery and two redeliveries')
  t.same(deadLetters, [])
  consumer.requeue(2)
  t.equal(consumer.received.length, 3, 'no fourth delivery')
  t.equal(deadLetters.length, 1)
  t.equal(deadLetters[0]![0], 'poison')
  t.ok(deadLetters[0]![1].length > 0, 'with a reason')
  t.equal(queue.depth, 0)
  t.equal(queue.inFlight, 0)
})

t.test('with maxRedeliveries 0 the first requeue dead-letters', async (t) => {
  const deadLetters: Array<[string, string]> = []
  const queue = queueWith({ maxRedeliveries: 0 }, deadLetters)
  const consumer = new FakeConsumer('a')
  queue.addConsumer(consumer)
  queue.enqueue(message('once'))
  consumer.requeue(0)
  t.equal(consumer.received.length, 1)
  t.equal(deadLetters.length, 1)
})

t.test('without a dead-letter sink, a message past maxRedeliveries is discarded', async (t) => {
  const queue = queueWith({ maxRedeliveries: 1 }, null)
  const consumer = new FakeConsumer('a')
  queue.addConsumer(consumer)
  queue.enqueue(message('gone'))
  consumer.requeue(0)
  consumer.requeue(1)
  t.equal(consumer.received.length, 2)
  t.equal(queue.depth, 0)
  t.equal(queue.inFlight, 0)
})

t.test('an expired message is dropped instead of delivered', async (t) => {
  const queue = queueWith()
  queue.enqueue(message('stale', Date.now() - 1))
  queue.enqueue(message('fresh', Date.now() + 60_000))
  queue.enqueue(message('forever', 0))
  const consumer = new FakeConsumer('a', 'auto')
  queue.addConsumer(consumer)
  t.same(consumer.bodies(), ['fresh', 'forever'])
  t.equal(queue.depth, 0)
})

t.test('when maxLength is reached, drop-head drops the oldest waiting message', async (t) => {
  const queue = queueWith({ maxLength: 3, overflow: 'drop-head' })
  for (let i = 0; i < 5; i++) t.equal(queue.enqueue(message(`m${i}`)), undefined)
  t.equal(queue.depth, 3)
  const consumer = new FakeConsumer('a', 'auto')
  queue.addConsumer(consumer)
  t.same(consumer.bodies(), ['m2', 'm3', 'm4'])
})

t.test('when maxLength is reached, reject-publish refuses the new message with queue-full', async (t) => {
  const queue = queueWith({ maxLength: 2, overflow: 'reject-publish' })
  t.equal(queue.enqueue(message('m0')), undefined)
  t.equal(queue.enqueue(message('m1')), undefined)
  const refused = queue.enqueue(message('m2'))
  t.ok(refused instanceof StompError)
  t.equal((refused as StompError).code, 'queue-full')
  const consumer = new FakeConsumer('a', 'auto')
  queue.addConsumer(consumer)
  t.same(consumer.bodies(), ['m0', 'm1'])
})

t.test('maxBytes bounds the body bytes waiting', async (t) => {
  const queue = queueWith({ maxBytes: 10, overflow: 'reject-publish' })
  t.equal(queue.enqueue(message('12345')), undefined)
  t.equal(queue.enqueue(message('67890')), undefined)
  t.equal((queue.enqueue(message('x')) as StompError).code, 'queue-full')
  const dropping = queueWith({ maxBytes: 10, overflow: 'drop-head' })
  dropping.enqueue(message('12345'))
  dropping.enqueue(message('67890'))
  dropping.enqueue(message('abc'))
  const consumer = new FakeConsumer('a', 'auto')
  dropping.addConsumer(consumer)
  t.same(consumer.bodies(), ['67890', 'abc'])
  t.equal(queueWith({ maxBytes: 4 }).enqueue(message('a message bigger than the limit')), undefined, 'one message larger than the limit still fits an empty queue')
})

t.test('in-flight messages do not count against maxLength', async (t) => {
  const queue = queueWith({ maxLength: 1, overflow: 'reject-publish' })
  const consumer = new FakeConsumer('a')
  consumer.capacity = 2
  queue.addConsumer(consumer)
  t.equal(queue.enqueue(message('m0')), undefined)
  t.equal(queue.enqueue(message('m1')), undefined)
  t.equal(queue.enqueue(message('m2')), undefined, 'one waiting')
  t.equal((queue.enqueue(message('m3')) as StompError).code, 'queue-full')
  t.equal(queue.inFlight, 2)
  t.equal(queue.depth, 1)
})

t.test('a cancelled consumer gets nothing more, and round-robin carries on among the rest', async (t) => {
  const queue = queueWith()
  const a = new FakeConsumer('a', 'auto')
  const b = new FakeConsumer('b', 'auto')
  const c = new FakeConsumer('c', 'auto')
  queue.addConsumer(a)
  const bBinding = queue.addConsumer(b)
  queue.addConsumer(c)
  queue.enqueue(message('m0'))
  queue.enqueue(message('m1'))
  bBinding.cancel()
  bBinding.cancel()
  t.equal(queue.consumerCount, 2, 'cancelling twice is harmless')
  for (let i = 2; i < 6; i++) queue.enqueue(message(`m${i}`))
  t.same(b.bodies(), ['m1'])
  t.same(c.bodies(), ['m2', 'm4'], 'c was next, and stays in turn')
  t.same(a.bodies(), ['m0', 'm3', 'm5'])
})

t.test('unacked messages of a cancelled consumer can still be settled', async (t) => {
  const queue = queueWith()
  const a = new FakeConsumer('a')
  const binding = queue.addConsumer(a)
  queue.enqueue(message('m0'))
  queue.enqueue(message('m1'))
  binding.cancel()
  a.ack(0)
  a.requeue(1)
  t.equal(queue.inFlight, 0)
  t.equal(queue.depth, 1)
  const b = new FakeConsumer('b')
  queue.addConsumer(b)
  t.same(b.bodies(), ['m1'])
  t.equal(b.received[0]!.redelivered, true)
})

t.test('a consumer that settles inside deliver() does not break dispatch', async (t) => {
  const queue = queueWith({ maxRedeliveries: 1 }, [])
  const a = new FakeConsumer('a')
  const b = new FakeConsumer('b')
  // a refuses everything at once; b acks everything at once.
  a.onDeliver = (r) => { a.unsettled--; r.delivery!.requeue() }
  b.onDeliver = (r) => { b.unsettled--; r.delivery!.ack() }
  queue.addConsumer(a)
  queue.addConsumer(b)
  for (let i = 0; i < 4; i++) queue.enqueue(message(`m${i}`))
  t.same(b.bodies().sort(), ['m0', 'm1', 'm2', 'm3'], 'every message ends acked by b')
  t.equal(queue.inFlight, 0)
  t.equal(queue.depth, 0)
})

t.test('purge drops what waits and leaves in-flight messages alone', async (t) => {
  const queue = queueWith()
  const consumer = new FakeConsumer('a')
  consumer.capacity = 1
  queue.addConsumer(consumer)
  for (let i = 0; i < 4; i++) queue.enqueue(message(`m${i}`))
  t.equal(queue.purge(), 3)
  t.equal(queue.depth, 0)
  t.equal(queue.inFlight, 1)
  consumer.ack(0)
  t.equal(queue.inFlight, 0)
  t.same(consumer.bodies(), ['m0'])
  queue.enqueue(message('after'))
  t.same(consumer.bodies(), ['m0', 'after'], 'the queue works after a purge')
})

t.test('a consumer that comes back to many waiting messages gets them over several turns, in order, with later ones behind', async (t) => {
  const queue = queueWith()
  const count = 200_000
  for (let i = 0; i < count; i++) queue.enqueue(message(String(i)))
  const consumer = new FakeConsumer('c', 'auto')
  // A consumer that costs something per message, as a session writing frames does.
  consumer.onDeliver = () => { for (let spin = 0; spin < 200; spin++) Math.sqrt(spin) }
  queue.addConsumer(consumer)
  const firstTurn = consumer.received.length
  t.ok(firstTurn > 0 && firstTurn < count, `part in the first turn (${firstTurn.toLocaleString('en-US')}), the rest later`)
  queue.enqueue(message('late'))
  t.equal(consumer.received.length, firstTurn, 'a message published meanwhile waits its turn too')
  while (queue.depth > 0) await new Promise((resolve) => setImmediate(resolve))
  const bodies = consumer.bodies()
  t.equal(bodies.length, count + 1)
  t.ok(bodies.slice(0, count).every((body, i) => body === String(i)), 'every waiting message, in order')
  t.equal(bodies[count], 'late', 'then the later one')
})

t.test('messages given back together under deferDispatch, newest first, reach the next consumer in queue order', async (t) => {
  const queue = queueWith()
  const first = new FakeConsumer('first')
  const binding = queue.addConsumer(first)
  for (let i = 0; i < 5; i++) queue.enqueue(message(`m${i}`))
  const second = new FakeConsumer('second')
  second.isReady = false
  queue.addConsumer(second)
  binding.cancel()
  second.isReady = true
  deferDispatch(() => {
    for (let i = 4; i >= 0; i--) first.requeue(i)
    t.same(second.bodies(), [], 'nothing is dispatched until all are back')
  })
  t.same(second.bodies(), ['m0', 'm1', 'm2', 'm3', 'm4'])
  t.ok(second.received.every((r) => r.redelivered))
})
