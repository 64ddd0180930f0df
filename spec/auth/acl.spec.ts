// Specs for authorization rules (lib/auth/acl.ts): the wildcards over whole destinations, {user}
// and the user names that must not widen it, role and everyone rules, first match wins with deny,
// anonymous clients, wildcard subscriptions, the per-session decision cache, file errors — then
// fast-check properties against a naive reference walk written here.
// Property seeds are fixed; FC_SEED=<n> replays one, FC_SEED=random explores.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { Acl, AclDecisions, ACL_DECISION_CACHE_SIZE, readAclFile, type AclAction } from '../../lib/auth/acl.js'
import type { Principal } from '../../lib/auth/authenticator.js'

const who = (user: string, ...roles: string[]): Principal => ({ user, roles, expiresAt: 0 })
const alice = who('alice')
const bob = who('bob')

function acl(rules: unknown[]): Acl {
  return Acl.parse({ rules }, 'test')
}

/** Asks both Acl.allows and a fresh AclDecisions (twice, so the second is a cache hit); they must agree. */
function allows(a: Acl, principal: Principal | null, action: AclAction, destination: string): boolean {
  const direct = a.allows(principal, action, destination)
  const decisions = new AclDecisions(a, principal)
  assert.equal(decisions.allows(action, destination), direct, `AclDecisions on a miss, ${action} ${destination}`)
  assert.equal(decisions.allows(action, destination), direct, `AclDecisions on a hit, ${action} ${destination}`)
  return direct
}

function check(t: Test, a: Acl, principal: Principal | null, action: AclAction, yes: readonly string[], no: readonly string[]): void {
  const name = principal === null ? 'anonymous' : principal.user
  for (const d of yes) t.ok(allows(a, principal, action, d), `${name} may ${action} ${d}`)
  for (const d of no) t.notOk(allows(a, principal, action, d), `${name} may not ${action} ${d}`)
}

// ---------------------------------------------------------------------------------------------
// Wildcards over whole destinations

t.test('* matches exactly one segment, split on dots or slashes', async (t) => {
  const a = acl([{ subscribe: ['/topic/chat.*'] }])
  check(t, a, alice, 'subscribe',
    ['/topic/chat.room1', '/topic/chat/room1', '/topic/chat.', '/topic.chat.x'],
    ['/topic/chat', '/topic/chat.a.b', '/topic/chatx.a', '/queue/chat.a', 'topic/chat.a'])
  check(t, a, alice, 'publish', [], ['/topic/chat.room1'])
})

t.test('# and ** match zero or more segments', async (t) => {
  for (const wildcard of ['#', '**']) {
    const a = acl([{ publish: [`/topic/prices.${wildcard}`, `/temp-queue/${wildcard}`, `/exchange/amq.topic/${wildcard}`] }])
    check(t, a, alice, 'publish',
      ['/topic/prices', '/topic/prices.acme', '/topic/prices.a.b/c', '/temp-queue/r1', '/exchange/amq.topic/x.y'],
      ['/topic/pricesx', '/topic/other.prices', '/queue/prices', '/exchange/amq.fanout'])
  }
  const mid = acl([{ publish: ['/topic/a.#.z', '/queue/orders'] }])
  check(t, mid, alice, 'publish',
    ['/topic/a.z', '/topic/a.b.z', '/topic/a.b.c.z', '/queue/orders'],
    ['/topic/a.z.y', '/topic/a', '/queue/orders.x', '/queue/order'])
  const all = acl([{ subscribe: ['/#'] }])
  check(t, all, alice, 'subscribe', ['/topic/a', '/queue/b.c', '/temp-queue/x'], [])
})

t.test('a segment that only contains * or # is literal', async (t) => {
  const a = acl([{ publish: ['/topic/a*', '/topic/#b'] }])
  check(t, a, alice, 'publish', ['/topic/a*', '/topic/#b'], ['/topic/ab', '/topic/a', '/topic/xb'])
})

// ---------------------------------------------------------------------------------------------
// {user}

t.test('{user} is the principal\'s own name: alice has her inbox, not bob\'s', async (t) => {
  const a = acl([{ publish: ['/queue/inbox.{user}'], subscribe: ['/queue/inbox-{user}.#'] }])
  check(t, a, alice, 'publish', ['/queue/inbox.alice', '/queue/inbox/alice'], ['/queue/inbox.bob', '/queue/inbox', '/queue/inbox.alice.x', '/queue/inbox.{user}'])
  check(t, a, bob, 'publish', ['/queue/inbox.bob'], ['/queue/inbox.alice'])
  check(t, a, alice, 'subscribe', ['/queue/inbox-alice', '/queue/inbox-alice.x.y'], ['/queue/inbox-bob', '/queue/inbox-', '/queue/inbox-alicex'])
})

t.test('a user name holding a separator or a wildcard cannot widen a {user} pattern', async (t) => {
  const a = acl([{ publish: ['/queue/inbox.{user}'], subscribe: ['/queue/inbox.{user}', '/topic/home.{user}.#'] }])
  const everyone = ['/queue/inbox.bob', '/queue/inbox.x.y', '/queue/inbox', '/queue/inbox.', '/queue/inbox.#', '/queue/inbox.*']
  // A separator: the name would span two segments, so it matches nothing, not even the name spelled out.
  check(t, a, who('a.b'), 'publish', [], [...everyone, '/queue/inbox.a.b', '/queue/inbox.a', '/queue/inbox.a/b'])
  check(t, a, who('a/b'), 'publish', [], [...everyone, '/queue/inbox.a/b', '/queue/inbox.a.b'])
  check(t, a, who('a.*'), 'publish', [], [...everyone, '/queue/inbox.a.x', '/queue/inbox.a.*'])
  check(t, a, who('a.b'), 'subscribe', [], ['/topic/home.a.b', '/topic/home.a.b.c', '/topic/home.a', '/topic/home.#'])
  // A wildcard as the whole name is only that literal segment, which no destination can hold
  // as a literal, so these match nothing; and it never stands for other users' inboxes.
  for (const name of ['#', '*', '**']) {
    check(t, a, who(name), 'publish', [], [...everyone, `/queue/inbox.${name}`])
    check(t, a, who(name), 'subscribe', [], [...everyone, `/topic/home.${name}`, '/topic/home.bob', '/topic/home.bob.x', '/topic/home.#'])
  }
  // The same characters inside a longer name are an ordinary literal.
  check(t, a, who('a*'), 'publish', ['/queue/inbox.a*'], ['/queue/inbox.ab', '/queue/inbox.bob'])
  // And user `a` under a `.#` pattern does not reach a user `a.b` — who cannot have `inbox.a.b` anyway.
  check(t, a, who('a'), 'subscribe', ['/topic/home.a', '/topic/home.a.b'], ['/topic/home.b'])
})

t.test('an anonymous client, or an empty user name, never matches a {user} pattern', async (t) => {
  const a = acl([{ publish: ['/queue/inbox.{user}', '/queue/x-{user}'] }])
  check(t, a, null, 'publish', [], ['/queue/inbox.', '/queue/inbox', '/queue/x-', '/queue/inbox.{user}'])
  check(t, a, who(''), 'publish', [], ['/queue/inbox.', '/queue/inbox', '/queue/x-'])
})

// ---------------------------------------------------------------------------------------------
// Who a rule applies to, and which rule decides

t.test('a user rule applies to that user only; a role rule to holders of the role', async (t) => {
  const a = acl([
    { user: 'alice', publish: ['/queue/alice-only'] },
    { role: 'admin', publish: ['/#'], subscribe: ['/#'] },
    { role: 'ops', subscribe: ['/topic/metrics.#'] },
  ])
  check(t, a, alice, 'publish', ['/queue/alice-only'], ['/queue/other'])
  check(t, a, bob, 'publish', [], ['/queue/alice-only'])
  check(t, a, who('carol', 'admin'), 'publish', ['/queue/alice-only', '/topic/x'], [])
  check(t, a, who('dave', 'ops', 'dev'), 'subscribe', ['/topic/metrics.cpu'], ['/topic/other'])
  check(t, a, who('dave', 'ops', 'dev'), 'publish', [], ['/topic/metrics.cpu'])
  check(t, a, who('admin'), 'publish', [], ['/topic/x']) // a user named like a role does not hold it
})

t.test('a rule that applies but has no matching pattern passes the decision to the next rule', async (t) => {
  const a = acl([
    { user: 'alice', publish: ['/queue/a'] },
    { publish: ['/queue/b'], subscribe: ['/topic/news'] },
  ])
  check(t, a, alice, 'publish', ['/queue/a', '/queue/b'], ['/queue/c'])
  check(t, a, alice, 'subscribe', ['/topic/news'], ['/queue/a'])
  check(t, a, bob, 'publish', ['/queue/b'], ['/queue/a'])
})

t.test('the first matching rule wins, so a deny rule refuses only before a grant', async (t) => {
  const denyFirst = acl([
    { user: 'mallory', deny: true, publish: ['/topic/#'] },
    { role: 'guest', deny: true, subscribe: ['/topic/secret.#'] },
    { publish: ['/topic/#'], subscribe: ['/topic/#'] },
  ])
  check(t, denyFirst, who('mallory'), 'publish', [], ['/topic/a', '/topic/secret.x'])
  check(t, denyFirst, who('mallory'), 'subscribe', ['/topic/a'], []) // her deny rule lists publish only
  check(t, denyFirst, alice, 'publish', ['/topic/a'], [])
  check(t, denyFirst, who('gus', 'guest'), 'subscribe', ['/topic/news', '/topic/secretary'], ['/topic/secret', '/topic/secret.plans'])
  const grantFirst = acl([
    { publish: ['/topic/#'] },
    { user: 'mallory', deny: true, publish: ['/topic/#'] },
  ])
  check(t, grantFirst, who('mallory'), 'publish', ['/topic/a'], [])
  const narrowGrantFirst = acl([
    { user: 'mallory', publish: ['/topic/public.#'] },
    { user: 'mallory', deny: true, publish: ['/topic/#'] },
    { publish: ['/topic/#'] },
  ])
  check(t, narrowGrantFirst, who('mallory'), 'publish', ['/topic/public.x'], ['/topic/private.x'])
  check(t, narrowGrantFirst, alice, 'publish', ['/topic/private.x'], [])
})

t.test('with no matching rule, or no rules at all, everything is denied', async (t) => {
  check(t, acl([]), alice, 'publish', [], ['/topic/a', '/queue/a'])
  check(t, acl([]), null, 'subscribe', [], ['/topic/a'])
  check(t, acl([{ user: 'bob', publish: ['/#'] }]), alice, 'publish', [], ['/topic/a'])
  // A deny rule alone only refuses; nothing is granted around it.
  check(t, acl([{ deny: true, publish: ['/topic/x'] }]), alice, 'publish', [], ['/topic/x', '/topic/y'])
})

t.test('an anonymous client gets the rules that name neither user nor role', async (t) => {
  const a = acl([
    { role: 'admin', publish: ['/#'] },
    { user: 'alice', publish: ['/#'] },
    { publish: ['/topic/public.#'], subscribe: ['/topic/#'] },
  ])
  check(t, a, null, 'publish', ['/topic/public.x'], ['/topic/private', '/queue/a'])
  check(t, a, null, 'subscribe', ['/topic/anything'], ['/queue/a'])
})

// ---------------------------------------------------------------------------------------------
// Subscriptions that hold wildcards

t.test('a wildcard subscription is allowed only when the grant covers all it can receive', async (t) => {
  const a = acl([{ subscribe: ['/topic/*', '/topic/news.#', '/topic/x.*.z'] }])
  check(t, a, alice, 'subscribe',
    ['/topic/*', '/topic/news.#', '/topic/news.*', '/topic/news.*.#', '/topic/news.**', '/topic/x.*.z'],
    ['/topic/#', '/topic/**', '/topic/*.a', '/topic/*.#', '/topic/x.#.z', '/topic/x.*.#', '/#'])
})

t.test('a deny rule refuses a wildcard subscription that could receive anything it names', async (t) => {
  const a = acl([
    { deny: true, subscribe: ['/topic/secret.#', '/topic/*.private'] },
    { subscribe: ['/topic/#'] },
  ])
  check(t, a, alice, 'subscribe',
    ['/topic/public.*.x', '/topic/public.x.#', '/topic/a.*.x', '/topic/a.public'],
    // public.private, secret.public, secret.x, … are refused, so these are too
    ['/topic/#', '/topic/*', '/topic/public.*', '/topic/public.#', '/topic/*.public', '/topic/*.x', '/topic/secret.*', '/topic/#.private', '/topic/*.#'])
})

t.test('a user named # does not cover a # subscription to its inbox', async (t) => {
  const a = acl([{ subscribe: ['/queue/inbox.{user}'] }])
  check(t, a, who('#'), 'subscribe', [], ['/queue/inbox.#', '/queue/inbox.**', '/queue/inbox.*'])
  check(t, a, who('*'), 'subscribe', [], ['/queue/inbox.*', '/queue/inbox.#'])
})

// ---------------------------------------------------------------------------------------------
// The decision cache

t.test('AclDecisions gives the answers Acl.allows gives, and stays bounded', async (t) => {
  const a = acl([
    { deny: true, publish: ['/topic/blocked.#'] },
    { publish: ['/topic/*.{user}', '/queue/q.#'], subscribe: ['/topic/#'] },
  ])
  const decisions = new AclDecisions(a, alice)
  t.equal(decisions.acl, a)
  t.equal(decisions.principal, alice)
  const destinations: string[] = []
  for (let i = 0; i < 5000; i++) {
    destinations.push(i % 4 === 0 ? `/topic/t${i}.alice` : i % 4 === 1 ? `/topic/t${i}.bob` : i % 4 === 2 ? `/queue/q.${i}` : `/topic/blocked.${i}`)
  }
  let allowed = 0
  for (let pass = 0; pass < 2; pass++) {
    for (const d of destinations) {
      for (const action of ['publish', 'subscribe'] as const) {
        const answer = decisions.allows(action, d)
        assert.equal(answer, a.allows(alice, action, d), `${action} ${d}, pass ${pass}`)
        if (answer) allowed++
        assert.ok(decisions.cached(action) <= ACL_DECISION_CACHE_SIZE, `at most ${ACL_DECISION_CACHE_SIZE} ${action} decisions`)
      }
    }
  }
  t.ok(allowed > 0 && allowed < 2 * 2 * destinations.length, 'some allowed, some denied')
  t.ok(decisions.cached('publish') > 0, 'decisions are kept')
  t.equal(ACL_DECISION_CACHE_SIZE, 1000)
})

t.test('a repeated question is answered from the cache', async (t) => {
  const a = acl([{ publish: ['/queue/a'] }])
  const decisions = new AclDecisions(a, alice)
  t.ok(decisions.allows('publish', '/queue/a'))
  t.notOk(decisions.allows('publish', '/queue/b'))
  t.equal(decisions.cached('publish'), 2)
  t.equal(decisions.cached('subscribe'), 0)
  t.ok(decisions.allows('publish', '/queue/a'))
  t.equal(decisions.cached('publish'), 2, 'a hit adds nothing')
  t.notOk(decisions.allows('subscribe', '/queue/a'), 'each action has its own answers')
  t.equal(decisions.cached('subscribe'), 1)
})

// ---------------------------------------------------------------------------------------------
// The file

t.test('readAclFile reads a valid file', async (t) => {
  const file = join(t.testdir(), 'acl.json')
  writeFileSync(file, JSON.stringify({ rules: [{ role: 'admin', publish: ['/#'] }, { subscribe: ['/topic/#'] }] }))
  const a = readAclFile(file)
  t.equal(a.size, 2)
  check(t, a, who('x', 'admin'), 'publish', ['/queue/a'], [])
  check(t, a, null, 'subscribe', ['/topic/a'], ['/queue/a'])
})

t.test('a bad file is refused with an error naming the file and the rule', async (t) => {
  const dir = t.testdir()
  const fails = (content: string, expected: RegExp, label: string): void => {
    const file = join(dir, `acl-${label.replace(/\W+/g, '-')}.json`)
    writeFileSync(file, content)
    t.throws(() => readAclFile(file), { message: expected }, label)
    try {
      readAclFile(file)
    } catch (err) {
      t.ok((err as Error).message.includes(file), `${label}: names the file`)
    }
  }
  const rules = (...r: unknown[]): string => JSON.stringify({ rules: [{ publish: ['/ok'] }, ...r] })
  fails('{ "rules": [', /not valid JSON/, 'broken JSON')
  fails('[]', /expected a JSON object/, 'not an object')
  fails('{ "rulez": [] }', /unknown key "rulez"/, 'unknown top-level key')
  fails('{ "rules": {} }', /"rules" to be a list/, 'rules not a list')
  fails(rules('x'), /rules\[1\]: a rule must be an object/, 'a rule not an object')
  fails(rules({ publsh: ['/a'] }), /rules\[1\]: unknown key "publsh"/, 'unknown rule key')
  fails(rules({ publish: '/a' }), /rules\[1\]: "publish" must be a list/, 'publish not a list')
  fails(rules({ subscribe: { a: 1 } }), /rules\[1\]: "subscribe" must be a list/, 'subscribe not a list')
  fails(rules({ publish: [3] }), /rules\[1\]: "publish"\[0\] must be a string/, 'a pattern not a string')
  fails(rules({ publish: ['/a', 'topic/a'] }), /rules\[1\]: "publish"\[1\] "topic\/a" must be a whole destination starting with "\/"/, 'pattern without /')
  fails(rules({ subscribe: [''] }), /rules\[1\]: "subscribe"\[0\] "" must be a whole destination/, 'empty pattern')
  fails(rules({ publish: ['/queue/{users}'] }), /rules\[1\]: .*the only placeholder is \{user\}/, 'unknown placeholder')
  fails(rules({ publish: ['/queue/a\nb'] }), /rules\[1\]: .*control characters/, 'control characters')
  fails(rules({ user: 'a', role: 'b', publish: ['/a'] }), /rules\[1\]: names both "user" and "role"/, 'user and role')
  fails(rules({ user: '', publish: ['/a'] }), /rules\[1\]: "user" must be a non-empty string/, 'empty user')
  fails(rules({ role: 7, publish: ['/a'] }), /rules\[1\]: "role" must be a non-empty string/, 'role not a string')
  fails(rules({ deny: 'yes', publish: ['/a'] }), /rules\[1\]: "deny" must be true or false/, 'deny not a boolean')
  fails(rules({ user: 'alice' }), /rules\[1\]: has neither "publish" nor "subscribe"/, 'a rule granting nothing')
  t.throws(() => readAclFile(join(dir, 'missing.json')), { message: /acl file .*missing\.json: cannot read it/ }, 'a missing file')
  t.throws(() => Acl.parse(null, 'inline'), { message: /^acl file inline: / }, 'parse names its source')
})

// ---------------------------------------------------------------------------------------------
// Properties against a reference

type Tok = { readonly lit: string } | '*' | '#'

/** Naive recursive matching of tokens against segments. */
function refMatch(p: readonly Tok[], n: readonly string[]): boolean {
  if (p.length === 0) return n.length === 0
  const head = p[0]!
  if (head === '#') return refMatch(p.slice(1), n) || (n.length > 0 && refMatch(p, n.slice(1)))
  if (n.length === 0) return false
  if (head === '*') return refMatch(p.slice(1), n.slice(1))
  return head.lit === n[0] && refMatch(p.slice(1), n.slice(1))
}

/** A pattern's tokens for `user`, or null when its {user} cannot be filled (anonymous, empty, a separator in the name). */
function refPattern(pattern: string, user: string | null): Tok[] | null {
  const out: Tok[] = []
  for (const s of pattern.split(/[./]/)) {
    if (s === '*') out.push('*')
    else if (s === '#' || s === '**') out.push('#')
    else if (!s.includes('{user}')) out.push({ lit: s })
    else if (user === null || user === '' || user.includes('.') || user.includes('/')) return null
    else out.push({ lit: s.split('{user}').join(user) })
  }
  return out
}

interface RefRule { user?: string; role?: string; deny?: boolean; publish?: string[]; subscribe?: string[] }

function refAllows(rules: readonly RefRule[], principal: Principal | null, action: AclAction, destination: string): boolean {
  const name = destination.split(/[./]/)
  for (const rule of rules) {
    if (rule.user !== undefined && rule.user !== principal?.user) continue
    if (rule.role !== undefined && !(principal?.roles.includes(rule.role) ?? false)) continue
    for (const pattern of rule[action] ?? []) {
      const tokens = refPattern(pattern, principal === null ? null : principal.user)
      if (tokens !== null && refMatch(tokens, name)) return rule.deny !== true
    }
  }
  return false
}

function seedFor(fixed: number): number {
  const override = process.env.FC_SEED
  if (override === undefined || override === '') return fixed
  if (override === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  return Number(override)
}

const separator = fc.constantFrom('.', '.', '/')
function path(segment: fc.Arbitrary<string>, maxSegments: number): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.tuple(segment, separator), { maxLength: maxSegments - 1 }), segment)
    .map(([init, last]) => '/' + init.map(([s, sep]) => s + sep).join('') + last)
}

const USERS = ['alice', 'a', 'a.b', 'a/b', '#', '*', '**', 'xa', '']
const principals: fc.Arbitrary<Principal | null> = fc.oneof(
  fc.constant(null),
  fc.record({ user: fc.constantFrom(...USERS), roles: fc.subarray(['admin', 'ops']), expiresAt: fc.constant(0) }),
)
const patternSegment = fc.constantFrom('a', 'b', 'alice', '', 'a', 'b', '*', '#', '**', '{user}', 'x{user}')
function ruleLists(segment: fc.Arbitrary<string>): fc.Arbitrary<RefRule[]> {
  const patterns = fc.array(path(segment, 4), { maxLength: 3 })
  return fc.array(fc.record({
    user: fc.constantFrom(...USERS.filter((u) => u !== '')),
    role: fc.constantFrom('admin', 'ops'),
    deny: fc.boolean(),
    publish: patterns,
    subscribe: patterns,
  }, { requiredKeys: [] }).filter((r) => !(r.user !== undefined && r.role !== undefined) && (r.publish !== undefined || r.subscribe !== undefined)),
  { maxLength: 5 })
}
const rules = ruleLists(patternSegment)
// More wildcards, so that more wildcard subscriptions are granted and the property has work to do.
const wideRules = ruleLists(fc.constantFrom('a', 'alice', '', '*', '#', '#', '**', '{user}'))
const actions = fc.constantFrom<AclAction>('publish', 'subscribe')

t.test('for any rules and any destination without wildcards, allows agrees with a naive walk', async (t) => {
  const seed = seedFor(20250301)
  const numRuns = 3000
  const literalSegment = fc.constantFrom('a', 'b', 'alice', 'xa', 'xalice', '', 'a*', '#b')
  fc.assert(fc.property(rules, principals, actions, fc.array(path(literalSegment, 5), { minLength: 1, maxLength: 5 }), (r, principal, action, destinations) => {
    const a = Acl.parse({ rules: r }, 'property')
    const decisions = new AclDecisions(a, principal)
    for (const d of destinations) {
      const expected = refAllows(r, principal, action, d)
      assert.equal(a.allows(principal, action, d), expected, `Acl.allows ${action} ${d}`)
      assert.equal(decisions.allows(action, d), expected, `AclDecisions ${action} ${d}`)
    }
  }), { seed, numRuns })
  t.pass(`${numRuns} generated cases hold (seed ${seed})`)
})

t.test('a wildcard subscription is allowed only if every destination it can receive is allowed', async (t) => {
  const seed = seedFor(20250302)
  const numRuns = 3000
  const subscriptionSegment = fc.constantFrom('a', 'b', 'alice', '', '*', '#', '**', '*', '#')
  // Each wildcard of the subscription is filled from this list in turn: `*` takes one segment
  // (from the fill, or `zz`), `#` takes the whole fill (zero to three segments).
  const fills = fc.array(fc.array(fc.constantFrom('a', 'b', 'alice', '', 'zz'), { maxLength: 3 }), { minLength: 8, maxLength: 8 })
  let allowedWild = 0
  fc.assert(fc.property(wideRules, principals, path(subscriptionSegment, 5), fc.array(fills, { minLength: 1, maxLength: 4 }), (r, principal, subscription, instances) => {
    const a = Acl.parse({ rules: r }, 'property')
    if (!a.allows(principal, 'subscribe', subscription)) return
    if (/(^|[./])(\*|#|\*\*)($|[./])/.test(subscription)) allowedWild++
    for (const fill of instances) {
      let w = 0
      const parts: string[] = []
      for (const s of subscription.split(/[./]/)) {
        if (s === '*') parts.push(fill[w++ % fill.length]![0] ?? 'zz')
        else if (s === '#' || s === '**') parts.push(...fill[w++ % fill.length]!)
        else parts.push(s)
      }
      const name = parts.join('.')
      assert.ok(refAllows(r, principal, 'subscribe', name), `${subscription} allowed, but not ${name}`)
    }
  }), { seed, numRuns })
  t.ok(allowedWild > 60, `the property is not vacuous: ${allowedWild} wildcard subscriptions were allowed`)
  t.pass(`${numRuns} generated cases hold (seed ${seed})`)
})
