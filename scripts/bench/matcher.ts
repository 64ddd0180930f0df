// Micro-benchmark for the topic subscription index (lib/broker/matcher.ts): matches per second
// on hot topics with the cache on and off, through a cache smaller than the hot set, and
// subscribe/unsubscribe churn against a warm cache. Inputs come from a seeded PRNG so runs
// compare like with like. Rates are per CPU-second of this process (process.cpuUsage), not per
// wall-clock second, so other work on a shared machine skews them less.
//
//   npm run bench -- matcher            (through scripts/bench/index.ts)
//   node --import tsx scripts/bench/matcher.ts [--quick]
import { pathToFileURL } from 'node:url'
import { TopicMatcher, type MatcherOptions } from '../../lib/broker/matcher.js'

const SUBSCRIPTIONS = 10_000
const HOT_TOPICS = 1_000
const REGIONS = ['eu', 'us', 'ap', 'sa', 'af', 'me', 'cn', 'au']
const SERVICES = Array.from({ length: 25 }, (_, i) => `svc${i}`)
const ENTITIES = 1_000
const EVENTS = ['created', 'updated', 'deleted', 'shipped', 'paid']

/** mulberry32: a tiny seeded PRNG, so every run benches the same subscriptions and topics. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Workload {
  patterns: string[]
  hot: string[]
  cold: string[]
}

/** Topics `region.service.entity.event`; patterns 70% literal, 20% with one `*`, 10% with a `#`. */
function workload(): Workload {
  const random = prng(42)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
  const topic = (): string[] => [pick(REGIONS), pick(SERVICES), `e${Math.floor(random() * ENTITIES)}`, pick(EVENTS)]
  const patterns: string[] = []
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const segments = topic()
    const kind = random()
    if (kind < 0.7) patterns.push(segments.join('.'))
    else if (kind < 0.9) {
      segments[Math.floor(random() * segments.length)] = '*'
      patterns.push(segments.join('.'))
    } else {
      // Mostly "everything from one service in one region", some narrower cross-region taps.
      const shape = random()
      const [region, service, entity, event] = segments
      patterns.push(shape < 0.7 ? `${region}.${service}.#` : shape < 0.9 ? `${region}.#.${entity}.${event}` : `#.${entity}.${event}`)
    }
  }
  // Hot topics: half are subscribed literal patterns, half random names (most reached only by wildcards).
  const literals = patterns.filter((p) => !p.includes('*') && !p.includes('#'))
  const hot: string[] = []
  for (let i = 0; i < HOT_TOPICS; i++) hot.push(i % 2 === 0 ? literals[i * 3]! : topic().join('.'))
  const cold: string[] = []
  for (let i = 0; i < 5 * HOT_TOPICS; i++) cold.push(topic().join('.'))
  return { patterns, hot, cold }
}

interface Sub { readonly id: number }

function build(w: Workload, options: MatcherOptions): TopicMatcher<Sub> {
  const m = new TopicMatcher<Sub>(options)
  for (let i = 0; i < w.patterns.length; i++) m.add(w.patterns[i]!, { id: i })
  return m
}

interface Rate { perSecond: number, avgResult: number }

/** Milliseconds of CPU this process has used. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Calls match() over `topics` round-robin for about `ms` CPU milliseconds. */
function measureMatches(m: TopicMatcher<Sub>, topics: readonly string[], ms: number): Rate {
  let delivered = 0
  for (let i = 0; i < topics.length; i++) delivered += m.match(topics[i]!).length // warm up
  delivered = 0
  let calls = 0
  const started = cpuMs()
  let elapsed = 0
  do {
    for (let i = 0; i < topics.length; i++) delivered += m.match(topics[i]!).length
    calls += topics.length
    elapsed = cpuMs() - started
  } while (elapsed < ms)
  return { perSecond: (calls * 1000) / elapsed, avgResult: delivered / calls }
}

/** Adds then removes one subscription per pattern in `patterns`, round-robin, for about `ms` CPU milliseconds. */
function measureChurn(m: TopicMatcher<Sub>, patterns: readonly string[], ms: number): number {
  let pairs = 0
  const started = cpuMs()
  let elapsed = 0
  do {
    for (let i = 0; i < patterns.length; i++) {
      const s: Sub = { id: -i }
      m.add(patterns[i]!, s)
      m.remove(patterns[i]!, s)
    }
    pairs += patterns.length
    elapsed = cpuMs() - started
  } while (elapsed < ms)
  return (pairs * 1000) / elapsed
}

const rate = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(12)

export async function run(opts: { quick: boolean }): Promise<void> {
  const ms = opts.quick ? 200 : 1500
  const w = workload()
  const literal = w.patterns.filter((p) => !p.includes('*') && !p.includes('#'))
  const wildcard = w.patterns.filter((p) => p.includes('*') || p.includes('#'))
  console.log(`matcher: ${SUBSCRIPTIONS} subscriptions (${literal.length} literal, ${wildcard.length} wildcard), ${HOT_TOPICS} hot topics, ${ms} CPU ms per case`)

  const print = (label: string, r: Rate): void => {
    console.log(`  ${label.padEnd(46)} ${rate(r.perSecond)} matches/s   (avg ${r.avgResult.toFixed(2)} subs/match)`)
  }
  print('(a) hot topics, cache on (hits)', measureMatches(build(w, {}), w.hot, ms))
  print('(b) hot topics, cache off', measureMatches(build(w, { cacheSize: 0 }), w.hot, ms))
  print('    5000 topics through a 1024-entry cache', measureMatches(build(w, {}), w.cold, ms))

  // Churn against a matcher already holding the 10k subscriptions, with its cache warm on the hot topics.
  for (const [label, options] of [['cache on', {}], ['cache off', { cacheSize: 0 }]] as const) {
    const m = build(w, options)
    let before = 0
    for (const topic of w.hot) before += m.match(topic).length // also warms the cache
    const hotLiterals = w.hot.filter((_, i) => i % 2 === 0) // subscribed literal topics, so each is cached
    const churn = (what: string, patterns: readonly string[]): void => {
      console.log(`  ${`(c) churn, ${what}, ${label}`.padEnd(46)} ${rate(measureChurn(m, patterns, ms))} subscribe+unsubscribe/s`)
    }
    churn('hot literal topics', hotLiterals)
    churn('wildcard patterns', wildcard.slice(0, 1000))
    let after = 0
    for (const topic of w.hot) after += m.match(topic).length
    // Churn removes exactly what it adds; anything else means the patched cache went wrong.
    if (after !== before || m.size !== SUBSCRIPTIONS) throw new Error(`churn changed the results: ${before} → ${after} deliveries`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') })
}
