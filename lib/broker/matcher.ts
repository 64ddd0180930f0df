// Topic subscription index: which subscriptions does a message sent to /topic/<name> reach?
//
// Shape (nats-server's sublist.go): wildcard patterns live in a trie with one node per pattern
// segment. A node has a Map of literal children, one slot for `*` (exactly one segment), one
// slot for `#` (zero or more segments; `**` is stored as `#`) and the subscriptions whose
// pattern ends there. Literal patterns — most STOMP subscriptions — skip the trie: they sit in
// one Map keyed by canonical name (separators as `.`), so subscribing one is a hash lookup, not
// a split and a walk, and a topic nobody subscribes to by wildcard is matched without splitting.
// A match's result is kept in a bounded cache keyed by the topic name, so a hot topic costs one
// Map lookup per message. add() and remove() patch the cached results their pattern matches
// instead of clearing the cache: one client subscribing does not cost every other topic a miss.
// Empty nodes are pruned on remove, so memory follows the live subscriptions, not the churn.
//
// Result order is the order subscriptions were added (one added under several matching patterns
// appears once, at its earliest live add). A patched cache entry and a fresh walk give the same
// array, so eviction never reorders delivery.
//
// Returned arrays are never mutated afterwards: add/remove replace a cached array with a patched
// copy, so a caller may iterate a result while its deliveries unsubscribe.

import {
  canonicalName, normalizePattern, mayHaveWildcard, literalPrefix, literalSuffix, hasWildcard, patternMatches,
} from './topic-pattern.js'

export { splitTopic, isWildcardPattern } from './topic-pattern.js'

export interface MatcherOptions {
  /** Most literal topics whose results are cached; 0 disables the cache. Default 1024. */
  cacheSize?: number
}

/**
 * Default cache bound: 1024 topics. Each entry holds the topic name (twice if it uses `/`), its
 * segments and one result array of references to subscriptions (not copies), so the cache costs
 * roughly 1024 × (a few hundred bytes + 8 bytes per matching subscription).
 */
export const DEFAULT_MATCHER_CACHE_SIZE = 1024

const EMPTY: readonly never[] = Object.freeze([])

class TrieNode<S> {
  /** Children by literal segment; allocated on first use, since most nodes are leaves. */
  literal: Map<string, TrieNode<S>> | null = null
  star: TrieNode<S> | null = null
  hash: TrieNode<S> | null = null
  /** Subscriptions whose pattern ends here → their add sequence number. A Map keeps them in add order and removes in O(1); null when none. */
  subs: Map<S, number> | null = null
  /** Walk memo for `#` nodes: the match (epoch) that last walked it and the lowest start it walked from. */
  hashEpoch = 0
  hashFrom = 0
  readonly parent: TrieNode<S> | null
  /** The segment leading here from the parent: `*`, `#` or a literal (a literal is never `*` or `#`). */
  readonly segment: string

  constructor(parent: TrieNode<S> | null, segment: string) {
    this.parent = parent
    this.segment = segment
  }

  child(segment: string): TrieNode<S> | undefined {
    if (segment === '*') return this.star ?? undefined
    if (segment === '#') return this.hash ?? undefined
    return this.literal === null ? undefined : this.literal.get(segment)
  }

  childOrCreate(segment: string): TrieNode<S> {
    const existing = this.child(segment)
    if (existing !== undefined) return existing
    const node = new TrieNode<S>(this, segment)
    if (segment === '*') this.star = node
    else if (segment === '#') this.hash = node
    else (this.literal ??= new Map()).set(segment, node)
    return node
  }

  detach(child: TrieNode<S>): void {
    if (child.segment === '*') this.star = null
    else if (child.segment === '#') this.hash = null
    else if (this.literal !== null) {
      this.literal.delete(child.segment)
      if (this.literal.size === 0) this.literal = null
    }
  }

  isEmpty(): boolean {
    return this.subs === null && this.literal === null && this.star === null && this.hash === null
  }
}

class CacheEntry<S> {
  readonly topic: string
  /** Split on first need: a miss that found no wildcard pattern to walk did not split the topic. */
  segments: readonly string[] | null
  /** Segments joined with `.`: two topics are the same literal pattern iff these are equal. */
  readonly canonical: string
  result: readonly S[]
  /** Next cached topic with the same canonical name (`a.b` and `a/b`); almost always null. */
  nextSame: CacheEntry<S> | null = null

  constructor(topic: string, segments: readonly string[] | null, canonical: string, result: readonly S[]) {
    this.topic = topic
    this.segments = segments
    this.canonical = canonical
    this.result = result
  }
}

export class TopicMatcher<S> {
  /** Wildcard patterns. */
  private readonly root = new TrieNode<S>(null, '')
  /** Literal patterns: canonical name → subscriptions → add sequence number (as in TrieNode.subs). */
  private readonly literals = new Map<string, Map<S, number>>()
  private readonly cacheSize: number
  /** Literal topic → its result. FIFO eviction: a Map iterates in insertion order, so the first key is the oldest. */
  private readonly cache = new Map<string, CacheEntry<S>>()
  /** Canonical topic name → cache entries, so a literal pattern patches its entries without scanning the cache. */
  private readonly cacheByCanonical = new Map<string, CacheEntry<S>>()
  /** Live patterns per subscription: a remove patches results in place only if the sub has no other pattern left. */
  private readonly patternCount = new Map<S, number>()
  private entries = 0
  private seq = 0
  private epoch = 0
  /** Scratch list of the subscription sets a miss reached, reused across misses (match is not re-entrant). */
  private readonly found: Array<Map<S, number>> = []

  constructor(options?: MatcherOptions) {
    const cacheSize = options?.cacheSize ?? DEFAULT_MATCHER_CACHE_SIZE
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`cacheSize must be a non-negative integer, got ${String(cacheSize)}`)
    }
    this.cacheSize = cacheSize
  }

  /** Number of (pattern, subscription) entries. */
  get size(): number {
    return this.entries
  }

  /** Every subscription held, once each (for listings, not for routing). */
  targets(): IterableIterator<S> {
    return this.patternCount.keys()
  }

  /** Subscribe `sub` to `pattern` (a topic name after `/topic/`, wildcards allowed). A repeated (pattern, sub) is a no-op. */
  add(pattern: string, sub: S): void {
    let subs: Map<S, number> | undefined
    let segments: string[] | null = null // null: a literal pattern, `canonical` says it all
    let canonical = ''
    if (mayHaveWildcard(pattern) && hasWildcard(segments = normalizePattern(pattern))) {
      let node = this.root
      for (let i = 0; i < segments.length; i++) node = node.childOrCreate(segments[i]!)
      subs = (node.subs ??= new Map())
    } else {
      canonical = segments === null ? canonicalName(pattern) : segments.join('.')
      segments = null
      subs = this.literals.get(canonical)
      if (subs === undefined) this.literals.set(canonical, (subs = new Map()))
    }
    if (subs.has(sub)) return
    subs.set(sub, ++this.seq)
    this.entries++
    this.patternCount.set(sub, (this.patternCount.get(sub) ?? 0) + 1)
    if (this.cache.size > 0) this.patchCache(segments, canonical, sub, true, false)
  }

  /** Unsubscribe `sub` from `pattern`; false if that pair was not subscribed. */
  remove(pattern: string, sub: S): boolean {
    let segments: string[] | null = null
    let canonical = ''
    if (mayHaveWildcard(pattern) && hasWildcard(segments = normalizePattern(pattern))) {
      let node: TrieNode<S> | undefined = this.root
      for (let i = 0; i < segments.length && node !== undefined; i++) node = node.child(segments[i]!)
      if (node === undefined || node.subs === null || !node.subs.delete(sub)) return false
      if (node.subs.size === 0) node.subs = null
      // Prune the branch that no longer leads to a subscription.
      while (node.parent !== null && node.isEmpty()) {
        node.parent.detach(node)
        node = node.parent
      }
    } else {
      canonical = segments === null ? canonicalName(pattern) : segments.join('.')
      segments = null
      const subs = this.literals.get(canonical)
      if (subs === undefined || !subs.delete(sub)) return false
      if (subs.size === 0) this.literals.delete(canonical)
    }
    this.entries--
    const left = this.patternCount.get(sub)! - 1
    if (left === 0) this.patternCount.delete(sub)
    else this.patternCount.set(sub, left)
    if (this.cache.size > 0) this.patchCache(segments, canonical, sub, false, left > 0)
    return true
  }

  /** Every subscription whose pattern matches the literal `topic`, each once, in add order. Do not mutate the result. */
  match(topic: string): readonly S[] {
    const hit = this.cache.get(topic)
    if (hit !== undefined) return hit.result
    const canonical = canonicalName(topic)
    const literal = this.literals.get(canonical)
    if (literal !== undefined) this.found.push(literal)
    // Split and walk only when some wildcard pattern exists.
    const segments = this.root.isEmpty() ? null : canonical.split('.')
    if (segments !== null) {
      this.epoch++
      this.visit(this.root, segments, 0)
    }
    const result = this.collect()
    if (this.cacheSize > 0) this.remember(topic, segments, canonical, result)
    return result
  }

  // -------------------------------------------------------------------------------------------
  // Walking the trie (cache misses)

  /** The subscriptions of the nodes a match reached (`found`), in add order; empties `found`. */
  private collect(): readonly S[] {
    const found = this.found
    let result: readonly S[]
    if (found.length === 0) result = EMPTY
    else if (found.length === 1) result = Array.from(found[0]!.keys())
    else result = mergeInAddOrder(found)
    found.length = 0 // do not pin removed subscriptions until the next miss
    return result
  }

  /** `node` has been reached with segments[i..] still to match. */
  private visit(node: TrieNode<S>, segments: readonly string[], i: number): void {
    if (i === segments.length) {
      if (node.subs !== null) this.found.push(node.subs)
    } else {
      if (node.literal !== null) {
        const next = node.literal.get(segments[i]!)
        if (next !== undefined) this.visit(next, segments, i + 1)
      }
      if (node.star !== null) this.visit(node.star, segments, i + 1)
    }
    if (node.hash !== null) this.visitHash(node.hash, segments, i)
  }

  /** A `#` reached with segments[from..] left: it may absorb any number of them, including none. */
  private visitHash(hash: TrieNode<S>, segments: readonly string[], from: number): void {
    // With several `#`s on one path, different splits reach the same (node, position) (`#.a.#`
    // against a.a.a). Walking each `#` once per start position, per match, keeps the walk at
    // O(nodes × segments) instead of exponential, and reports no node twice.
    let end = segments.length + 1
    if (hash.hashEpoch === this.epoch) {
      if (from >= hash.hashFrom) return
      end = hash.hashFrom
    }
    hash.hashEpoch = this.epoch
    hash.hashFrom = from
    for (let k = from; k < end; k++) this.visit(hash, segments, k)
  }

  // -------------------------------------------------------------------------------------------
  // The cache

  private remember(topic: string, segments: readonly string[] | null, canonical: string, result: readonly S[]): void {
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.values().next().value!
      this.forget(oldest)
    }
    const entry = new CacheEntry(topic, segments, canonical, result)
    this.cache.set(topic, entry)
    const same = this.cacheByCanonical.get(canonical)
    if (same !== undefined) entry.nextSame = same
    this.cacheByCanonical.set(canonical, entry)
  }

  private forget(entry: CacheEntry<S>): void {
    this.cache.delete(entry.topic)
    const head = this.cacheByCanonical.get(entry.canonical)
    if (head === entry) {
      if (entry.nextSame === null) this.cacheByCanonical.delete(entry.canonical)
      else this.cacheByCanonical.set(entry.canonical, entry.nextSame)
      return
    }
    for (let prev = head ?? null; prev !== null; prev = prev.nextSame) {
      if (prev.nextSame === entry) {
        prev.nextSame = entry.nextSame
        return
      }
    }
  }

  /**
   * Bring the cached results that `pattern` matches up to date after `sub` was added to it or
   * removed from it. A literal pattern finds its entries through the canonical index; a wildcard
   * pattern tests every entry (at most cacheSize), as nats-server does.
   */
  private patchCache(pattern: readonly string[] | null, canonical: string, sub: S, added: boolean, stillSubscribed: boolean): void {
    if (pattern === null) {
      let entry = this.cacheByCanonical.get(canonical) ?? null
      while (entry !== null) {
        const next = entry.nextSame // read first: patchEntry may forget the entry
        this.patchEntry(entry, sub, added, stillSubscribed)
        entry = next
      }
      return
    }
    // Only topics with the pattern's literal prefix and suffix can match: native startsWith and
    // endsWith reject most entries before the segment-by-segment test.
    const prefix = literalPrefix(pattern)
    const suffix = literalSuffix(pattern)
    // Deleting from a Map while iterating it is safe: the deleted entry is simply not visited.
    for (const entry of this.cache.values()) {
      if (!entry.canonical.startsWith(prefix) || !entry.canonical.endsWith(suffix)) continue
      if (patternMatches(pattern, (entry.segments ??= entry.canonical.split('.')))) this.patchEntry(entry, sub, added, stillSubscribed)
    }
  }

  private patchEntry(entry: CacheEntry<S>, sub: S, added: boolean, stillSubscribed: boolean): void {
    const result = entry.result
    if (added) {
      // Already there through an earlier pattern: its place (earliest add) does not change.
      if (result.includes(sub)) return
      const next = result.slice()
      next.push(sub) // the newest add goes last
      entry.result = next
      return
    }
    if (stillSubscribed) {
      // `sub` may still match this topic through another pattern, possibly at a later place;
      // rare (one subscription, several overlapping patterns), so recompute on the next match.
      this.forget(entry)
      return
    }
    const at = result.indexOf(sub)
    if (at === -1) return
    if (result.length === 1) {
      entry.result = EMPTY
      return
    }
    const next = result.slice(0, at)
    for (let i = at + 1; i < result.length; i++) next.push(result[i]!)
    entry.result = next
  }
}

/**
 * Below this many (node, subscription) pairs a miss merges by insertion sort and dedupes by
 * scanning — no comparator closure, no Set; above it, a sort and a Set keep it O(n log n).
 */
const SMALL_MERGE = 32

/** The subscriptions of several sets (each in add order), each once, ordered by their earliest add. */
function mergeInAddOrder<S>(sets: ReadonlyArray<Map<S, number>>): S[] {
  let total = 0
  for (let n = 0; n < sets.length; n++) total += sets[n]!.size
  if (total > SMALL_MERGE) return sortAndDedupe(sets)
  const subs: S[] = []
  const seqs: number[] = []
  for (let n = 0; n < sets.length; n++) {
    for (const [sub, seq] of sets[n]!) {
      let i = subs.length
      subs.push(sub)
      seqs.push(seq)
      for (; i > 0 && seqs[i - 1]! > seq; i--) {
        subs[i] = subs[i - 1]!
        seqs[i] = seqs[i - 1]!
      }
      subs[i] = sub
      seqs[i] = seq
    }
  }
  // Duplicates only come from one subscription under several patterns; keep the first (earliest).
  let kept = 0
  for (let i = 0; i < subs.length; i++) {
    const sub = subs[i]!
    let seen = false
    for (let j = 0; j < kept && !seen; j++) seen = subs[j] === sub
    if (!seen) subs[kept++] = sub
  }
  subs.length = kept
  return subs
}

function sortAndDedupe<S>(sets: ReadonlyArray<Map<S, number>>): S[] {
  const subs: S[] = []
  const seqs: number[] = []
  for (let n = 0; n < sets.length; n++) {
    for (const [sub, seq] of sets[n]!) {
      subs.push(sub)
      seqs.push(seq)
    }
  }
  const order = new Array<number>(subs.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  order.sort((a, b) => seqs[a]! - seqs[b]!)
  const seen = new Set<S>()
  const result: S[] = []
  for (let i = 0; i < order.length; i++) {
    const sub = subs[order[i]!]!
    if (seen.has(sub)) continue
    seen.add(sub)
    result.push(sub)
  }
  return result
}
