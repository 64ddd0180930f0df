// Specs for the topic subscription index (lib/broker/matcher.ts): the wildcard rules one by one,
// removal, duplicates, result order and immutability, then a fast-check property comparing
// match() against a naive recursive matcher over random add/remove/match sequences.
//
// Every matching spec runs three times: with the default cache, with the cache off (cacheSize: 0)
// and with a two-entry cache, so cache hits, misses, patching and eviction all face the same rules.
// Property seeds are fixed; FC_SEED=<n> replays one, FC_SEED=random explores.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { TopicMatcher, isWildcardPattern, splitTopic, type MatcherOptions } from '../../lib/broker/matcher.js'

const CONFIGS: ReadonlyArray<[string, MatcherOptions | undefined]> = [
  ['the default cache', undefined],
  ['the cache off', { cacheSize: 0 }],
  ['a two-entry cache', { cacheSize: 2 }],
]

interface Sub { readonly id: string }
const sub = (id: string): Sub => ({ id })
const ids = (subs: readonly Sub[]): string[] => subs.map((s) => s.id)

/** Topics `pattern` reaches among `topics`, asked twice so the second ask is a cache hit when the cache is on. */
function reached(options: MatcherOptions | undefined, pattern: string, topics: readonly string[]): string[] {
  const m = new TopicMatcher<Sub>(options)
  m.add(pattern, sub('s'))
  const out: string[] = []
  for (let pass = 0; pass < 2; pass++) {
    for (const topic of topics) {
      const hit = m.match(topic).length === 1
      if (pass === 0) { if (hit) out.push(topic) } else assert.equal(hit, out.includes(topic), `second match of ${topic}`)
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The helpers

t.test('a destination name splits on dots and slashes, keeping empty segments', async (t) => {
  t.same(splitTopic('a.b/c'), ['a', 'b', 'c'])
  t.same(splitTopic('orders'), ['orders'])
  t.same(splitTopic('a..b'), ['a', '', 'b'])
  t.same(splitTopic('/a/'), ['', 'a', ''])
  t.same(splitTopic(''), [''])
})

t.test('a pattern is a wildcard pattern only when a whole segment is *, # or **', async (t) => {
  for (const p of ['*', '#', '**', 'a.*', 'a/#', '#.z', 'a.**.z']) t.ok(isWildcardPattern(p), p)
  for (const p of ['a', 'a.b', 'a*', '#a', 'a.b*', '***', 'a.##', '']) t.notOk(isWildcardPattern(p), p)
})

t.test('a cache size that is negative or not an integer is refused', async (t) => {
  t.throws(() => new TopicMatcher({ cacheSize: -1 }), RangeError)
  t.throws(() => new TopicMatcher({ cacheSize: 1.5 }), RangeError)
  t.throws(() => new TopicMatcher({ cacheSize: Infinity }), RangeError)
})

// ---------------------------------------------------------------------------------------------
// The rules, with each cache setting

for (const [label, options] of CONFIGS) {
  t.test(`with ${label}`, async (t) => {
    const topics = ['a', 'b', 'a.b', 'a.c', 'b.b', 'a.b.c', 'a.z', 'a.b.z', 'a.b.c.z', 'a.z.b', 'z', 'b.z', 'ab', '', 'a.']

    t.test('a literal pattern matches only the same topic', async (t) => {
      t.same(reached(options, 'a.b', topics), ['a.b'])
      t.same(reached(options, 'a*', ['a*', 'a', 'ab', 'a.b']), ['a*'])
      t.same(reached(options, '#a', ['#a', 'a', 'b.a']), ['#a'])
    })

    t.test('* matches exactly one segment', async (t) => {
      t.same(reached(options, 'a.*', topics), ['a.b', 'a.c', 'a.z', 'a.'])
      t.same(reached(options, '*', topics), ['a', 'b', 'z', 'ab', ''])
      t.same(reached(options, '*.b', topics), ['a.b', 'b.b'])
      t.same(reached(options, 'a.*.z', topics), ['a.b.z'])
    })

    t.test('# after a prefix matches zero or more segments', async (t) => {
      t.same(reached(options, 'a.#', topics), ['a', 'a.b', 'a.c', 'a.b.c', 'a.z', 'a.b.z', 'a.b.c.z', 'a.z.b', 'a.'])
    })

    t.test('# alone matches every topic', async (t) => {
      t.same(reached(options, '#', topics), topics)
    })

    t.test('** is the same wildcard as #', async (t) => {
      for (const [hash, stars] of [['#', '**'], ['a.#', 'a.**'], ['a.#.z', 'a.**.z'], ['#.z', '**.z']] as const) {
        t.same(reached(options, stars, topics), reached(options, hash, topics), stars)
      }
    })

    t.test('# in the middle or at the start matches zero or more segments there', async (t) => {
      t.same(reached(options, 'a.#.z', topics), ['a.z', 'a.b.z', 'a.b.c.z'])
      t.same(reached(options, '#.z', topics), ['a.z', 'a.b.z', 'a.b.c.z', 'z', 'b.z'])
      t.same(reached(options, '#.b.#', topics), ['b', 'a.b', 'b.b', 'a.b.c', 'a.b.z', 'a.b.c.z', 'a.z.b', 'b.z'])
      t.same(reached(options, 'a.#.#.z', topics), reached(options, 'a.#.z', topics))
    })

    t.test('several # in one pattern stay fast and report each subscription once', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const s = sub('s')
      m.add('#.a.#.a.#.a.#.a.#', s)
      const long = Array(40).fill('a').join('.')
      const started = performance.now()
      t.same(m.match(long), [s])
      t.same(m.match(long), [s])
      t.same(m.match('a.a.a'), [])
      t.ok(performance.now() - started < 500, 'no exponential walk')
    })

    t.test('dots and slashes are interchangeable separators, in patterns and topics', async (t) => {
      t.same(reached(options, 'a/b', ['a.b', 'a/b', 'ab', 'a']), ['a.b', 'a/b'])
      t.same(reached(options, 'a.*.c', ['a.b/c', 'a/b/c', 'a/b.c', 'a.b']), ['a.b/c', 'a/b/c', 'a/b.c'])
      t.same(reached(options, 'a/#', ['a', 'a/b/c', 'a.b', 'b/a']), ['a', 'a/b/c', 'a.b'])
      t.same(reached(options, '*.b', ['/b', '.b', 'b']), ['/b', '.b'], 'a leading separator is an empty first segment')
      t.same(reached(options, 'a.*.b', ['a..b', 'a//b', 'a.b']), ['a..b', 'a//b'], 'an empty segment is one segment')
    })

    t.test('a pattern subscribed after its topics were published reaches them', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const seen = ['a', 'a.b', 'a.b.c', 'b', '', 'x.a', 'a.']
      for (const topic of seen) t.same(m.match(topic), [], `nothing yet on ${JSON.stringify(topic)}`)
      const patterns = ['a.#', '*', 'a.*', '#.c', 'a.b', '', 'a.#.c', '*.#', '#']
      patterns.forEach((p, i) => m.add(p, sub(String(i))))
      for (const topic of seen) {
        const expected = patterns.flatMap((p, i) => (reached(options, p, [topic]).length > 0 ? [String(i)] : []))
        t.same(ids(m.match(topic)), expected, JSON.stringify(topic))
      }
    })

    t.test('a subscription reaches a topic already published under the other separator', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const [s1, s2] = [sub('1'), sub('2')]
      t.same(m.match('a/b'), [])
      t.same(m.match('a.b'), [])
      m.add('a.b', s1)
      m.add('a/*', s2)
      t.same(ids(m.match('a/b')), ['1', '2'])
      t.same(ids(m.match('a.b')), ['1', '2'])
      m.remove('a/b', s1)
      t.same(ids(m.match('a/b')), ['2'])
      t.same(ids(m.match('a.b')), ['2'])
    })

    t.test('a removed subscription is no longer matched and a second remove returns false', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const [s1, s2] = [sub('1'), sub('2')]
      m.add('a.*', s1)
      m.add('a.*', s2)
      m.add('a.b', s1)
      t.same(ids(m.match('a.b')), ['1', '2'])
      t.equal(m.remove('a.*', s1), true)
      t.same(ids(m.match('a.b')), ['2', '1'], 's1 is still there through a.b, now after s2')
      t.same(ids(m.match('a.c')), ['2'])
      t.equal(m.remove('a.*', s1), false)
      t.equal(m.remove('a.b', s2), false, 'a sub on another pattern')
      t.equal(m.remove('x.y', s1), false, 'a pattern nobody subscribed to')
      t.equal(m.remove('a.b', s1), true)
      t.equal(m.remove('a/*', s2), true, 'the same pattern spelled with a slash')
      t.same(m.match('a.b'), [])
      t.equal(m.size, 0)
    })

    t.test('adding the same subscription to the same pattern twice is one entry', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const s = sub('s')
      m.match('a.b')
      m.add('a.#', s)
      m.add('a.#', s)
      m.add('a.**', s)
      m.add('a/#', s)
      m.add('a.#.#', s)
      t.equal(m.size, 1)
      t.same(ids(m.match('a.b')), ['s'])
      t.equal(m.remove('a.**', s), true)
      t.equal(m.size, 0)
      t.same(m.match('a.b'), [])
    })

    t.test('a subscription matching through several patterns is returned once, at its first add', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const [s1, s2, s3] = [sub('1'), sub('2'), sub('3')]
      m.match('a.b')
      m.add('a.b', s2)
      m.add('#', s1)
      m.add('a.*', s3)
      m.add('a.*', s1)
      m.add('*.b', s1)
      m.add('a.#', s2)
      t.equal(m.size, 6)
      t.same(ids(m.match('a.b')), ['2', '1', '3'])
      t.same(ids(m.match('a.c')), ['1', '3', '2'])
      t.same(ids(m.match('a.b')), ['2', '1', '3'])
      m.remove('#', s1)
      t.same(ids(m.match('a.b')), ['2', '3', '1'], 's1 moves to its next-earliest live add')
    })

    t.test('results come in the order subscriptions were added', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const patterns = ['a.b', '#', 'a.*', '*.b', 'a.#', 'a.b', '*.*', '#.b']
      m.match('a.b')
      patterns.forEach((p, i) => m.add(p, sub(String(i))))
      t.same(ids(m.match('a.b')), patterns.map((_, i) => String(i)))
    })

    t.test('a returned array never changes when subscriptions are later added or removed', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const subs = ['1', '2', '3'].map(sub)
      for (const s of subs) m.add('a.*', s)
      const first = m.match('a.b')
      const again = m.match('a.b')
      m.add('a.b', sub('4'))
      m.add('#', sub('5'))
      m.remove('a.*', subs[1]!)
      t.same(ids(first), ['1', '2', '3'])
      t.same(ids(again), ['1', '2', '3'])
      t.same(ids(m.match('a.b')), ['1', '3', '4', '5'])
    })

    t.test('delivery may unsubscribe every receiver while iterating the result', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      for (let i = 0; i < 5; i++) m.add(i % 2 === 0 ? 'news.*' : 'news.#', sub(String(i)))
      m.match('news.today')
      const delivered: string[] = []
      for (const s of m.match('news.today')) {
        delivered.push(s.id)
        m.remove(Number(s.id) % 2 === 0 ? 'news.*' : 'news.#', s)
      }
      t.same(delivered, ['0', '1', '2', '3', '4'])
      t.same(m.match('news.today'), [])
      t.equal(m.size, 0)
    })

    t.test('subscribe and unsubscribe churn leaves no empty index nodes behind', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      const keep = sub('keep')
      m.add('a.b', keep)
      m.add('a.*', keep)
      let unmatched = 0
      for (let i = 0; i < 200; i++) {
        const s = sub(String(i))
        const pattern = `a.${i}.${i % 3 === 0 ? '#' : i % 3 === 1 ? '*' : 'x'}.${i}` // two wildcard shapes, one literal
        m.add(pattern, s)
        if (m.match(`a.${i}.x.${i}`).length !== 1) unmatched++
        if (!m.remove(pattern, s)) unmatched++
      }
      t.equal(unmatched, 0, 'each churned subscription was matched, then removed')
      t.same(indexSize(m), { trieNodes: 3, literalPatterns: 1 }, 'trie root, a, a.*; literal a.b')
      m.remove('a.b', keep)
      m.remove('a.*', keep)
      t.same(indexSize(m), { trieNodes: 1, literalPatterns: 0 }, 'only the trie root')
      t.same(m.match('a.b'), [])
    })

    t.test('the cache holds at most cacheSize topics', async (t) => {
      const m = new TopicMatcher<Sub>(options)
      m.add('t.#', sub('s'))
      let wrong = 0
      for (let i = 0; i < 3000; i++) if (m.match(`t.${i}`).length !== 1) wrong++
      t.equal(wrong, 0, 'every topic still matched while the cache evicts')
      const bound = options?.cacheSize ?? 1024
      t.equal(cachedTopics(m), bound)
    })
  })
}

// White-box views for the memory checks: the spec reads private fields by name.
interface NodeView { literal: Map<string, NodeView> | null, star: NodeView | null, hash: NodeView | null }
function indexSize(m: TopicMatcher<Sub>): { trieNodes: number, literalPatterns: number } {
  const count = (n: NodeView | null): number => {
    if (n === null) return 0
    let total = 1 + count(n.star) + count(n.hash)
    if (n.literal !== null) for (const c of n.literal.values()) total += count(c)
    return total
  }
  const view = m as unknown as { root: NodeView, literals: Map<string, unknown> }
  return { trieNodes: count(view.root), literalPatterns: view.literals.size }
}
function cachedTopics(m: TopicMatcher<Sub>): number {
  return (m as unknown as { cache: Map<string, unknown> }).cache.size
}
/** The index from canonical name to cache entries holds exactly the cached entries (no evicted one lingers). */
function assertCacheIndexed(m: TopicMatcher<Sub>): void {
  interface EntryView { topic: string, canonical: string, nextSame: EntryView | null }
  const view = m as unknown as { cache: Map<string, EntryView>, cacheByCanonical: Map<string, EntryView> }
  let chained = 0
  for (const [canonical, head] of view.cacheByCanonical) {
    for (let e: EntryView | null = head; e !== null; e = e.nextSame) {
      chained++
      assert.equal(e.canonical, canonical)
      assert.equal(view.cache.get(e.topic), e, `indexed entry ${e.topic} is cached`)
    }
  }
  assert.equal(chained, view.cache.size, 'every cached entry is indexed once')
}

// ---------------------------------------------------------------------------------------------
// Property: match() agrees with a naive matcher, whatever the sequence of adds and removes

/** The rules as written: `*` takes one segment, `#`/`**` any number, anything else itself. */
function refMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  if (pattern.length === 0) return topic.length === 0
  const [head, ...rest] = pattern
  if (head === '#' || head === '**') return refMatches(rest, topic) || (topic.length > 0 && refMatches(pattern, topic.slice(1)))
  return topic.length > 0 && (head === '*' || head === topic[0]) && refMatches(rest, topic.slice(1))
}

/** Patterns that match the same topics by construction are one pattern: separators, `**` = `#`, `#.#` = `#`. */
function refKey(pattern: string): string {
  return pattern.split(/[./]/).map((s) => (s === '**' ? '#' : s)).filter((s, i, all) => !(s === '#' && all[i - 1] === '#')).join('\u0000')
}

class Reference {
  private entries: Array<{ key: string, pattern: string[], sub: Sub }> = []
  get size(): number { return this.entries.length }
  add(pattern: string, s: Sub): void {
    const key = refKey(pattern)
    if (!this.entries.some((e) => e.key === key && e.sub === s)) this.entries.push({ key, pattern: pattern.split(/[./]/), sub: s })
  }
  remove(pattern: string, s: Sub): boolean {
    const key = refKey(pattern)
    const before = this.entries.length
    this.entries = this.entries.filter((e) => !(e.key === key && e.sub === s))
    return this.entries.length < before
  }
  match(topic: string): Sub[] {
    const segments = topic.split(/[./]/)
    const out: Sub[] = []
    for (const e of this.entries) if (!out.includes(e.sub) && refMatches(e.pattern, segments)) out.push(e.sub)
    return out
  }
}

// Few segments over a tiny alphabet, so the same topics come back and patterns overlap often.
const separator = fc.constantFrom('.', '.', '/')
function name(segment: fc.Arbitrary<string>, maxSegments: number): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.tuple(segment, separator), { minLength: 0, maxLength: maxSegments - 1 }), segment)
    .map(([init, last]) => init.map(([s, sep]) => s + sep).join('') + last)
}
type Command =
  | { op: 'add', pattern: string, sub: number }
  | { op: 'remove', pattern: string, sub: number }
  | { op: 'match', topic: string }
function commands(subs: number, maxSegments: number, maxLength: number): fc.Arbitrary<Command[]> {
  const topic = name(fc.constantFrom('a', 'b', ''), maxSegments)
  // Literal segments weigh double so literal patterns (the canonical-name path) come up often.
  const pattern = name(fc.constantFrom('a', 'b', '', 'a', 'b', '', '*', '#', '**'), maxSegments)
  const s = fc.nat({ max: subs - 1 })
  const command: fc.Arbitrary<Command> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), pattern, sub: s }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), pattern, sub: s }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('match' as const), topic }) },
  )
  return fc.array(command, { minLength: 1, maxLength, size: 'max' })
}

function seedFor(fixed: number): number {
  const override = process.env.FC_SEED
  if (override === undefined || override === '') return fixed
  if (override === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  return Number(override)
}

/** Replays `sequence` on a TopicMatcher and the Reference, comparing every answer. */
function agrees(options: MatcherOptions | undefined, pool: readonly Sub[], sequence: readonly Command[]): void {
  const m = new TopicMatcher<Sub>(options)
  const ref = new Reference()
  const returned: Array<[readonly Sub[], string[]]> = []
  for (const c of sequence) {
    if (c.op === 'add') {
      m.add(c.pattern, pool[c.sub]!)
      ref.add(c.pattern, pool[c.sub]!)
    } else if (c.op === 'remove') {
      assert.equal(m.remove(c.pattern, pool[c.sub]!), ref.remove(c.pattern, pool[c.sub]!), `remove ${c.pattern} ${c.sub}`)
    } else {
      const got = m.match(c.topic)
      assert.deepEqual(ids(got), ids(ref.match(c.topic)), `match ${JSON.stringify(c.topic)}`)
      returned.push([got, ids(got)])
    }
    assert.equal(m.size, ref.size)
    assertCacheIndexed(m)
  }
  for (const [array, snapshot] of returned) assert.deepEqual(ids(array), snapshot, 'an earlier result changed')
}

const FEW = ['0', '1', '2', '3', '4'].map(sub)
// Enough subscriptions on two-segment names that a miss merges more than the 32 pairs the small path takes.
const MANY = Array.from({ length: 60 }, (_, i) => sub(String(i)))

for (const [label, options] of CONFIGS) {
  t.test(`with ${label}, match agrees with a naive matcher over any sequence of adds, removes and matches`, async (t) => {
    const seed = seedFor(20240611)
    const numRuns = 300
    fc.assert(fc.property(commands(FEW.length, 4, 80), (sequence) => agrees(options, FEW, sequence)), { seed, numRuns })
    t.pass(`${numRuns} generated sequences hold (seed ${seed})`)
  })

  t.test(`with ${label}, match agrees with a naive matcher when many subscriptions overlap`, async (t) => {
    const seed = seedFor(20240612)
    const numRuns = 60
    fc.assert(fc.property(commands(MANY.length, 2, 400), (sequence) => agrees(options, MANY, sequence)), { seed, numRuns })
    t.pass(`${numRuns} generated sequences hold (seed ${seed})`)
  })
}
