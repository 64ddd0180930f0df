// Authorization: which destinations a principal may publish to and subscribe to, from the ACL
// file — read once at start (and again on reload), then asked per SEND and per SUBSCRIBE.
//
//   { "rules": [
//       { "user": "mallory", "deny": true, "publish": ["/topic/#"] },
//       { "role": "admin", "publish": ["/#"], "subscribe": ["/#"] },
//       { "publish": ["/queue/inbox.{user}"], "subscribe": ["/topic/#", "/queue/inbox.{user}"] } ] }
//
// A rule applies to a principal when its `user` is the principal's user name, or its `role` is
// one of the principal's roles, or it names neither (then it applies to everyone, anonymous
// clients included). A pattern is a whole destination string matched with the topic matcher's
// rules: segments split on `.` or `/`, `*` is exactly one segment, `#` (alias `**`) zero or more.
//
// "First rule whose pattern matches wins": for an action and a destination the rules are walked
// in file order, skipping rules that do not apply to the principal or whose list for the action
// has no pattern matching the destination. The first rule left decides — allowed, or refused when
// it is a `"deny": true` rule. A rule that applies but has no matching pattern does not end the
// walk (so rules for everyone can follow rules for a role). No rule matches → refused.
//
// `{user}` in a pattern is replaced by the principal's user name as one literal segment (or part
// of one: `inbox-{user}`): a user named `#` or `*` matches only those literal characters — never
// as a wildcard — and a user name holding a separator (`.` or `/`), or an empty one, makes the
// pattern match nothing for that user, since no destination segment can hold a separator. That is
// what keeps user `a.b` from reaching `/queue/inbox.a.b` when user `a` is granted
// `/queue/inbox.{user}.#`. Anonymous clients never match a `{user}` pattern.
//
// A SUBSCRIBE destination may itself hold wildcards (`/topic/prices.#`). It is allowed only when
// the deciding grant's pattern covers every destination the subscription can receive, and a deny
// rule refuses it as soon as its pattern can match any of them — so `/topic/*` granted does not
// allow subscribing to `/topic/#`. Coverage is checked segment by segment, which can refuse a
// few exotic subscriptions that are in fact covered (`/topic/#.x` under `/topic/*.#`); it never
// allows one that is not. For a destination without wildcards both tests are plain matching.
//
// Per message the session asks its AclDecisions: a bounded Map per action in front of the walk.
import { readFileSync } from 'node:fs'
import type { Principal } from './authenticator.js'
import { splitTopic } from '../broker/topic-pattern.js'

export type AclAction = 'publish' | 'subscribe'

/** Decisions an AclDecisions keeps per action; the Map is emptied when it reaches this (≈ 1,000 × a destination string). */
export const ACL_DECISION_CACHE_SIZE = 1000

const RULE_KEYS = ['user', 'role', 'publish', 'subscribe', 'deny'] as const
const USER_PLACEHOLDER = '{user}'
const SEPARATOR = /[./]/
const CONTROL = /[\u0000-\u001f\u007f]/

// Token kinds. TEMPLATE is a literal segment holding `{user}`, made LITERAL once expanded.
const LITERAL = 0
const STAR = 1
const HASH = 2
const TEMPLATE = 3

/** A pattern or destination as segments and their kinds (a LITERAL segment may read `#` when it came from `{user}`). */
class Tokens {
  readonly segments: readonly string[]
  readonly kinds: Uint8Array
  /** True if some kind is STAR or HASH. */
  readonly wild: boolean
  /** True if some kind is TEMPLATE. */
  readonly templated: boolean

  constructor(segments: readonly string[], kinds: Uint8Array) {
    this.segments = segments
    this.kinds = kinds
    let wild = false
    let templated = false
    for (let i = 0; i < kinds.length; i++) {
      if (kinds[i] === STAR || kinds[i] === HASH) wild = true
      else if (kinds[i] === TEMPLATE) templated = true
    }
    this.wild = wild
    this.templated = templated
  }
}

/** Splits a pattern or destination; `templates` marks segments holding `{user}` (patterns only). */
function tokenize(text: string, templates: boolean): Tokens {
  const raw = splitTopic(text)
  const segments: string[] = []
  const kinds: number[] = []
  // A run of wildcards matches "at least (number of `*`) segments" when it holds a `#`, whatever
  // its order: rewrite it as the `*`s then one `#`, so `#.*` and `*.#` compare alike below.
  let stars = 0
  let hash = false
  const flush = (): void => {
    for (; stars > 0; stars--) {
      segments.push('*')
      kinds.push(STAR)
    }
    if (hash) {
      segments.push('#')
      kinds.push(HASH)
      hash = false
    }
  }
  for (let i = 0; i < raw.length; i++) {
    const segment = raw[i]!
    if (segment === '*') stars++
    else if (segment === '#' || segment === '**') hash = true
    else {
      flush()
      segments.push(segment)
      kinds.push(templates && segment.includes(USER_PLACEHOLDER) ? TEMPLATE : LITERAL)
    }
  }
  flush()
  return new Tokens(segments, Uint8Array.from(kinds))
}

/** The pattern with `{user}` filled in, or null when it can match nothing for this user (see the header). */
function expand(pattern: Tokens, user: string | null): Tokens | null {
  if (!pattern.templated) return pattern
  if (user === null || user === '' || SEPARATOR.test(user)) return null
  const segments = pattern.segments.slice()
  const kinds = pattern.kinds.slice()
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] !== TEMPLATE) continue
    segments[i] = segments[i]!.replaceAll(USER_PLACEHOLDER, user)
    kinds[i] = LITERAL
  }
  return new Tokens(segments, kinds)
}

/** Does the pattern match a destination without wildcards? The glob algorithm: backtrack to the last `#`, no recursion. */
function matchesName(pattern: Tokens, name: readonly string[]): boolean {
  const { segments, kinds } = pattern
  let p = 0
  let t = 0
  let hashAt = -1
  let resumeAt = 0
  while (t < name.length) {
    const kind = p < kinds.length ? kinds[p] : -1
    if (kind === HASH) {
      hashAt = p++
      resumeAt = t
    } else if (kind === STAR || (kind === LITERAL && segments[p] === name[t])) {
      p++
      t++
    } else if (hashAt >= 0) {
      p = hashAt + 1
      t = ++resumeAt
    } else {
      return false
    }
  }
  while (p < kinds.length && kinds[p] === HASH) p++
  return p === kinds.length
}

/**
 * Does every destination the subscription `dest` can receive match `pattern`? Token by token: a
 * pattern `#` absorbs any run of the subscription's tokens, a `*` stands for one literal or `*`,
 * a literal only for the same literal. Memoized over (pattern index, dest index): O(m × n).
 */
function covers(pattern: Tokens, dest: Tokens): boolean {
  const m = pattern.kinds.length
  const n = dest.kinds.length
  const memo = new Uint8Array((m + 1) * (n + 1)) // 0 unknown, 1 yes, 2 no
  const at = (i: number, j: number): boolean => {
    const key = i * (n + 1) + j
    if (memo[key] !== 0) return memo[key] === 1
    let yes: boolean
    if (j === n) {
      yes = true
      for (let k = i; k < m && yes; k++) yes = pattern.kinds[k] === HASH
    } else if (i === m) {
      yes = false
    } else {
      const pk = pattern.kinds[i]
      const dk = dest.kinds[j]
      if (pk === HASH) yes = at(i + 1, j) || at(i, j + 1)
      else if (pk === STAR) yes = dk !== HASH && at(i + 1, j + 1)
      else yes = dk === LITERAL && pattern.segments[i] === dest.segments[j] && at(i + 1, j + 1)
    }
    memo[key] = yes ? 1 : 2
    return yes
  }
  return at(0, 0)
}

/** Is there a destination that both `pattern` and the subscription `dest` match? Exact: a search over (i, j). */
function overlaps(pattern: Tokens, dest: Tokens): boolean {
  const m = pattern.kinds.length
  const n = dest.kinds.length
  const seen = new Uint8Array((m + 1) * (n + 1))
  const stack = [0, 0]
  while (stack.length > 0) {
    const j = stack.pop()!
    const i = stack.pop()!
    const key = i * (n + 1) + j
    if (seen[key] === 1) continue
    seen[key] = 1
    if (i === m && j === n) return true
    const pk = i < m ? pattern.kinds[i] : -1
    const dk = j < n ? dest.kinds[j] : -1
    // A `#` on either side may match nothing.
    if (pk === HASH) stack.push(i + 1, j)
    if (dk === HASH) stack.push(i, j + 1)
    // Or both sides take the next segment, when some segment suits both tokens.
    if (pk === -1 || dk === -1 || (pk === HASH && dk === HASH)) continue
    if (pk === LITERAL && dk === LITERAL && pattern.segments[i] !== dest.segments[j]) continue
    stack.push(pk === HASH ? i : i + 1, dk === HASH ? j : j + 1)
  }
  return false
}

interface Rule {
  readonly user: string | null
  readonly role: string | null
  readonly deny: boolean
  readonly publish: readonly Tokens[]
  readonly subscribe: readonly Tokens[]
}

/** The rules that apply to one principal, `{user}` filled in: what AclDecisions walks on a miss. */
class PrincipalRules {
  private readonly deny: readonly boolean[]
  private readonly publish: ReadonlyArray<readonly Tokens[]>
  private readonly subscribe: ReadonlyArray<readonly Tokens[]>

  constructor(rules: readonly Rule[], principal: Principal | null) {
    const deny: boolean[] = []
    const publish: Tokens[][] = []
    const subscribe: Tokens[][] = []
    const user = principal === null ? null : principal.user
    for (const rule of rules) {
      if (rule.user !== null && rule.user !== user) continue
      if (rule.role !== null && (principal === null || !principal.roles.includes(rule.role))) continue
      deny.push(rule.deny)
      publish.push(expandAll(rule.publish, user))
      subscribe.push(expandAll(rule.subscribe, user))
    }
    this.deny = deny
    this.publish = publish
    this.subscribe = subscribe
  }

  allows(action: AclAction, destination: string): boolean {
    const lists = action === 'publish' ? this.publish : this.subscribe
    // Most destinations hold no wildcard: match their segments directly.
    const dest = destination.includes('*') || destination.includes('#') ? tokenize(destination, false) : null
    const name = dest === null || !dest.wild ? splitTopic(destination) : null
    for (let r = 0; r < lists.length; r++) {
      const patterns = lists[r]!
      const deny = this.deny[r]!
      for (let k = 0; k < patterns.length; k++) {
        const pattern = patterns[k]!
        const hit = name !== null ? matchesName(pattern, name) : deny ? overlaps(pattern, dest!) : covers(pattern, dest!)
        if (hit) return !deny
      }
    }
    return false
  }
}

function expandAll(patterns: readonly Tokens[], user: string | null): Tokens[] {
  const out: Tokens[] = []
  for (const pattern of patterns) {
    const expanded = expand(pattern, user)
    if (expanded !== null) out.push(expanded)
  }
  return out
}

/** An Acl's rules, for AclDecisions in this module only (set by Acl's static block). */
let rulesOf: (acl: Acl) => readonly Rule[]

/** A parsed, validated ACL. Immutable: a reload makes a new one. */
export class Acl {
  private readonly rules: readonly Rule[]

  static {
    rulesOf = (acl) => acl.rules
  }

  private constructor(rules: readonly Rule[]) {
    this.rules = rules
  }

  /** Number of rules. */
  get size(): number {
    return this.rules.length
  }

  /**
   * Validates parsed JSON (`source` names it in errors, usually the file path). Throws an Error
   * naming the source and the rule index: unknown keys, `user` with `role`, a list that is not an
   * array of strings, a pattern not starting with `/`, a placeholder other than `{user}`.
   */
  static parse(json: unknown, source: string): Acl {
    const fail = (problem: string): never => {
      throw new Error(`acl file ${source}: ${problem}`)
    }
    if (!isPlainObject(json)) return fail('expected a JSON object { "rules": [ ... ] }')
    for (const key of Object.keys(json)) if (key !== 'rules') fail(`unknown key ${JSON.stringify(key)} (expected only "rules")`)
    const list = json.rules
    if (!Array.isArray(list)) return fail('expected "rules" to be a list of rules')
    const rules: Rule[] = []
    for (let index = 0; index < list.length; index++) {
      const entry: unknown = list[index]
      const bad = (problem: string): never => fail(`rules[${index}]: ${problem}`)
      if (!isPlainObject(entry)) return bad('a rule must be an object { "user" | "role", "publish", "subscribe", "deny" }')
      for (const key of Object.keys(entry)) {
        if (!(RULE_KEYS as readonly string[]).includes(key)) bad(`unknown key ${JSON.stringify(key)} (expected ${RULE_KEYS.join(', ')})`)
      }
      const user = optionalName(entry.user, 'user', bad)
      const role = optionalName(entry.role, 'role', bad)
      if (user !== null && role !== null) bad('names both "user" and "role"; write one rule for each')
      if (entry.deny !== undefined && typeof entry.deny !== 'boolean') bad('"deny" must be true or false')
      if (entry.publish === undefined && entry.subscribe === undefined) bad('has neither "publish" nor "subscribe"')
      rules.push({
        user,
        role,
        deny: entry.deny === true,
        publish: patternList(entry.publish, 'publish', bad),
        subscribe: patternList(entry.subscribe, 'subscribe', bad),
      })
    }
    return new Acl(rules)
  }

  /**
   * May `principal` (null: an anonymous client) publish to / subscribe to `destination`? Walks
   * the rules every call; a session asks through its AclDecisions instead.
   */
  allows(principal: Principal | null, action: AclAction, destination: string): boolean {
    return new PrincipalRules(this.rules, principal).allows(action, destination)
  }
}

/**
 * One session's decisions: the rules that apply to its principal, prepared once, and the answers
 * already given, so a repeated SEND costs one Map lookup. At most ACL_DECISION_CACHE_SIZE entries
 * per action; a full Map is cleared (a client cycling through more destinations than that pays a
 * walk per miss, never memory). Built against one Acl: after a reload, make a new one (`acl`
 * says which it used).
 */
export class AclDecisions {
  readonly acl: Acl
  readonly principal: Principal | null
  private readonly rules: PrincipalRules
  private readonly publish = new Map<string, boolean>()
  private readonly subscribe = new Map<string, boolean>()

  constructor(acl: Acl, principal: Principal | null) {
    this.acl = acl
    this.principal = principal
    this.rules = new PrincipalRules(rulesOf(acl), principal)
  }

  allows(action: AclAction, destination: string): boolean {
    const cache = action === 'publish' ? this.publish : this.subscribe
    const known = cache.get(destination)
    if (known !== undefined) return known
    const allowed = this.rules.allows(action, destination)
    if (cache.size >= ACL_DECISION_CACHE_SIZE) cache.clear()
    cache.set(destination, allowed)
    return allowed
  }

  /** Decisions held for `action` (for specs and metrics). */
  cached(action: AclAction): number {
    return (action === 'publish' ? this.publish : this.subscribe).size
  }
}

/** Reads and validates an ACL file, synchronously: at start and on reload, not per message. */
export function readAclFile(path: string): Acl {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new Error(`acl file ${path}: cannot read it (${(err as Error).message})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new Error(`acl file ${path}: not valid JSON (${(err as Error).message})`)
  }
  return Acl.parse(data, path)
}

function optionalName(value: unknown, key: string, bad: (problem: string) => never): string | null {
  if (value === undefined) return null
  if (typeof value !== 'string' || value === '') return bad(`"${key}" must be a non-empty string`)
  return value
}

function patternList(value: unknown, key: AclAction, bad: (problem: string) => never): Tokens[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) return bad(`"${key}" must be a list of destination patterns`)
  const patterns: Tokens[] = []
  for (let i = 0; i < value.length; i++) {
    const pattern: unknown = value[i]
    const where = `"${key}"[${i}]`
    if (typeof pattern !== 'string') return bad(`${where} must be a string`)
    if (!pattern.startsWith('/')) bad(`${where} ${JSON.stringify(pattern)} must be a whole destination starting with "/" (like "/topic/a.#")`)
    if (CONTROL.test(pattern)) bad(`${where} ${JSON.stringify(pattern)} contains control characters`)
    // A typo like `{users}` would otherwise be a literal that silently never matches.
    if (/[{}]/.test(pattern.replaceAll(USER_PLACEHOLDER, ''))) bad(`${where} ${JSON.stringify(pattern)}: the only placeholder is {user}`)
    patterns.push(tokenize(pattern, true))
  }
  return patterns
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
