// Specs for the ring-buffer deque (lib/broker/fifo.ts): the operations one by one, growth across
// the wrap-around point, then a fast-check property running random operation sequences against
// a plain array model. Seeds are fixed; FC_SEED=<n> replays one, FC_SEED=random explores.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { Fifo } from '../../lib/broker/fifo.js'

const contents = <T>(fifo: Fifo<T>): T[] => [...fifo]

t.test('items come out in the order they were pushed', async (t) => {
  const fifo = new Fifo<number>()
  for (let i = 0; i < 5; i++) fifo.push(i)
  t.equal(fifo.length, 5)
  t.equal(fifo.peek(), 0)
  const out: number[] = []
  while (fifo.length > 0) out.push(fifo.shift()!)
  t.same(out, [0, 1, 2, 3, 4])
  t.equal(fifo.shift(), undefined, 'an empty fifo shifts undefined')
  t.equal(fifo.pop(), undefined, 'and pops undefined')
  t.equal(fifo.peek(), undefined)
})

t.test('unshift puts an item at the front and pop takes from the back', async (t) => {
  const fifo = new Fifo<string>()
  fifo.push('b')
  fifo.unshift('a')
  fifo.push('c')
  t.same(contents(fifo), ['a', 'b', 'c'])
  t.equal(fifo.pop(), 'c')
  t.same(contents(fifo), ['a', 'b'])
})

t.test('at() reads by position from the front and is undefined outside', async (t) => {
  const fifo = new Fifo<number>(2)
  fifo.push(1)
  fifo.push(2)
  fifo.unshift(0)
  t.same([fifo.at(0), fifo.at(1), fifo.at(2)], [0, 1, 2])
  t.equal(fifo.at(-1), undefined)
  t.equal(fifo.at(3), undefined)
})

t.test('the fifo grows past its initial capacity while wrapped around, keeping order', async (t) => {
  const fifo = new Fifo<number>(4)
  for (let i = 0; i < 3; i++) fifo.push(i)
  fifo.shift()
  fifo.shift()
  // The head is now in the middle of the ring: these pushes wrap, then force growth twice.
  for (let i = 3; i < 20; i++) fifo.push(i)
  fifo.unshift(1)
  t.same(contents(fifo), Array.from({ length: 19 }, (_, i) => i + 1))
})

t.test('insertSorted keeps a sorted fifo sorted, before items with an equal key', async (t) => {
  const fifo = new Fifo<{ k: number; tag: string }>()
  const key = (item: { k: number }): number => item.k
  for (const k of [2, 4, 6]) fifo.push({ k, tag: 'old' })
  fifo.insertSorted({ k: 1, tag: 'head' }, key)
  fifo.insertSorted({ k: 7, tag: 'tail' }, key)
  fifo.insertSorted({ k: 5, tag: 'middle' }, key)
  fifo.insertSorted({ k: 4, tag: 'equal' }, key)
  t.same(contents(fifo).map((i) => `${i.k}${i.tag}`), ['1head', '2old', '4equal', '4old', '5middle', '6old', '7tail'])
})

t.test('insertSorted keeps thousands of inserts anywhere in a wrapped ring sorted', async (t) => {
  const fifo = new Fifo<number>(4)
  const model: number[] = []
  // Shift and push first, so the ring's head is not at slot 0 and inserts wrap around its end.
  for (let i = 0; i < 50; i++) fifo.push(i * 1000)
  for (let i = 0; i < 20; i++) fifo.shift()
  model.push(...Array.from({ length: 30 }, (_, i) => (i + 20) * 1000))
  let x = 12345
  for (let i = 0; i < 3000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    const k = x % 60_000
    fifo.insertSorted(k, (n) => n)
    const at = model.findIndex((n) => n >= k)
    model.splice(at < 0 ? model.length : at, 0, k)
  }
  t.same(contents(fifo), model)
})

t.test('removeWhere drops matching items, keeps the rest in order and counts what went', async (t) => {
  const fifo = new Fifo<number>()
  for (let i = 0; i < 10; i++) fifo.push(i)
  t.equal(fifo.removeWhere((n) => n % 3 === 0), 4)
  t.same(contents(fifo), [1, 2, 4, 5, 7, 8])
  t.equal(fifo.removeWhere(() => false), 0)
  t.same(contents(fifo), [1, 2, 4, 5, 7, 8])
})

t.test('clear empties the fifo, which then works as new', async (t) => {
  const fifo = new Fifo<number>()
  for (let i = 0; i < 40; i++) fifo.push(i)
  fifo.clear()
  t.equal(fifo.length, 0)
  t.same(contents(fifo), [])
  fifo.push(7)
  t.same(contents(fifo), [7])
})

// ---------------------------------------------------------------------------------------------
// Property: any sequence of operations does to a Fifo what it does to an array.

type Op =
  | { op: 'push' | 'unshift' | 'insertSorted'; value: number }
  | { op: 'shift' | 'pop' | 'peek' | 'clear' }
  | { op: 'at'; index: number }
  | { op: 'removeWhere'; modulus: number; remainder: number }

const value = fc.integer({ min: 0, max: 50 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constantFrom('push' as const, 'unshift' as const, 'insertSorted' as const), value }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('shift' as const, 'pop' as const, 'peek' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('at' as const), index: fc.integer({ min: -2, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeWhere' as const), modulus: fc.integer({ min: 1, max: 5 }), remainder: fc.integer({ min: 0, max: 4 }) }) },
)

/** Applies `op` to the array model; returns what the Fifo method should return. */
function applyToModel(model: number[], op: Op): unknown {
  switch (op.op) {
    case 'push': model.push(op.value); return undefined
    case 'unshift': model.unshift(op.value); return undefined
    case 'insertSorted': {
      // Before the first item whose key is not smaller.
      let index = model.findIndex((item) => !(item < op.value))
      if (index < 0) index = model.length
      model.splice(index, 0, op.value)
      return undefined
    }
    case 'shift': return model.shift()
    case 'pop': return model.pop()
    case 'peek': return model[0]
    case 'clear': model.length = 0; return undefined
    case 'at': return op.index >= 0 && op.index < model.length ? model[op.index] : undefined
    case 'removeWhere': {
      const kept = model.filter((n) => n % op.modulus !== op.remainder)
      const removed = model.length - kept.length
      model.splice(0, model.length, ...kept)
      return removed
    }
  }
}

function applyToFifo(fifo: Fifo<number>, op: Op): unknown {
  switch (op.op) {
    case 'push': return fifo.push(op.value)
    case 'unshift': return fifo.unshift(op.value)
    case 'insertSorted': return fifo.insertSorted(op.value, (n) => n)
    case 'shift': return fifo.shift()
    case 'pop': return fifo.pop()
    case 'peek': return fifo.peek()
    case 'clear': return fifo.clear()
    case 'at': return fifo.at(op.index)
    case 'removeWhere': return fifo.removeWhere((n) => n % op.modulus === op.remainder)
  }
}

function seedFor(fixed: number): number {
  const override = process.env.FC_SEED
  if (override === undefined || override === '') return fixed
  if (override === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  return Number(override)
}

for (const capacity of [1, 4, 16]) {
  t.test(`any sequence of operations does to a Fifo (initial capacity ${capacity}) what it does to an array`, async (t) => {
    const seed = seedFor(20240612 + capacity)
    const numRuns = 500
    fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
      const fifo = new Fifo<number>(capacity)
      const model: number[] = []
      for (const [step, op] of ops.entries()) {
        // insertSorted is for a sorted queue (a queue's waiting messages, by sequence number).
        if (op.op === 'insertSorted' && !model.every((n, i) => i === 0 || model[i - 1]! <= n)) continue
        const expected = applyToModel(model, op)
        const actual = applyToFifo(fifo, op)
        assert.equal(actual, expected, `step ${step}: ${JSON.stringify(op)} returned`)
        assert.equal(fifo.length, model.length, `step ${step}: length`)
        assert.deepEqual([...fifo], model, `step ${step}: contents after ${JSON.stringify(op)}`)
      }
    }), { seed, numRuns })
    t.pass(`${numRuns} generated sequences hold (seed ${seed})`)
  })
}

t.test('insertSorted into a sorted fifo always leaves it sorted', async (t) => {
  const seed = seedFor(7031)
  const numRuns = 300
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }), fc.integer({ min: 0, max: 20 }), (values, shifts) => {
    const fifo = new Fifo<number>(2)
    // Move the head off index 0 first, so inserts cross the wrap-around point.
    for (let i = 0; i < shifts; i++) fifo.push(-1)
    for (let i = 0; i < shifts; i++) fifo.shift()
    for (const v of values) fifo.insertSorted(v, (n) => n)
    assert.deepEqual([...fifo], [...values].sort((a, b) => a - b))
  }), { seed, numRuns })
  t.pass(`${numRuns} generated cases hold (seed ${seed})`)
})
