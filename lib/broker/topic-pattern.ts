// Topic patterns and names: splitting on `.` or `/`, recognising `*`, `#` and `**`, and matching
// one pattern against one topic. Pure functions over strings, shared by the matcher's trie and
// its cache patching.

const SEPARATORS = /[./]/

/** A destination name's segments, split on `.` or `/`; empty segments are kept (`a..b` is [a, '', b]). */
export function splitTopic(name: string): string[] {
  // Most deployments use one separator; split on a string when we can, it is cheaper than a regexp.
  return name.indexOf('/') === -1 ? name.split('.') : name.split(SEPARATORS)
}

/** True if any segment of the pattern is `*`, `#` or `**` (a segment like `a*` is literal). */
export function isWildcardPattern(pattern: string): boolean {
  const segments = splitTopic(pattern)
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (segment === '*' || segment === '#' || segment === '**') return true
  }
  return false
}

/** `a/b.c` → `a.b.c`: two names are the same segments iff their canonical names are equal (segments never hold `.`). */
export function canonicalName(name: string): string {
  return name.indexOf('/') === -1 ? name : name.replaceAll('/', '.')
}

/**
 * A pattern's segments in the form the trie stores: `**` becomes `#`, and a run of `#`s becomes
 * one — `#.#` matches exactly what `#` matches, and the walk stays linear with no run to expand.
 * Patterns that normalize alike are the same pattern (`a/#` = `a.**`).
 */
export function normalizePattern(pattern: string): string[] {
  const raw = splitTopic(pattern)
  const segments: string[] = []
  for (let i = 0; i < raw.length; i++) {
    const segment = raw[i] === '**' ? '#' : raw[i]!
    if (segment === '#' && segments.length > 0 && segments[segments.length - 1] === '#') continue
    segments.push(segment)
  }
  return segments
}

/** Cheap test before splitting: a pattern with no `*` or `#` character is certainly literal. */
export function mayHaveWildcard(pattern: string): boolean {
  return pattern.indexOf('*') !== -1 || pattern.indexOf('#') !== -1
}

/**
 * What every canonical topic the pattern matches starts with: the literal segments before the
 * first wildcard, plus the `.` that a `*` needs after them (`a.b.*` → `a.b.`) — but not a `#`,
 * which may match nothing (`a.b.#` → `a.b`, matching the topic `a.b`).
 */
export function literalPrefix(pattern: readonly string[]): string {
  let prefix = ''
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!
    if (segment === '#') return i === 0 ? '' : prefix.slice(0, -1)
    if (segment === '*') return prefix
    prefix += segment + '.'
  }
  return prefix // not reached: only wildcard patterns are scanned
}

/** The same from the end: `#.a.b` → `a.b`, `*.a.b` → `.a.b`. */
export function literalSuffix(pattern: readonly string[]): string {
  let suffix = ''
  for (let i = pattern.length - 1; i >= 0; i--) {
    const segment = pattern[i]!
    if (segment === '#') return i === pattern.length - 1 ? '' : suffix.slice(1)
    if (segment === '*') return suffix
    suffix = '.' + segment + suffix
  }
  return suffix
}

export function hasWildcard(segments: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] === '*' || segments[i] === '#') return true
  }
  return false
}

/**
 * Does one normalized pattern match a topic's segments? Used to find the cache entries an
 * add/remove must patch. Greedy with backtracking to the last `#` (the classic glob algorithm):
 * O(pattern × topic) at worst, no recursion, no allocation.
 */
export function patternMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  let p = 0
  let t = 0
  let hashAt = -1 // pattern index of the last `#` seen
  let resumeAt = 0 // topic index that `#` absorbs up to, on the next backtrack
  while (t < topic.length) {
    const segment = p < pattern.length ? pattern[p] : undefined
    if (segment === '#') {
      hashAt = p++
      resumeAt = t
    } else if (segment !== undefined && (segment === '*' || segment === topic[t])) {
      p++
      t++
    } else if (hashAt >= 0) {
      // Let the last `#` absorb one more segment and retry what follows it.
      p = hashAt + 1
      t = ++resumeAt
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '#') p++
  return p === pattern.length
}
