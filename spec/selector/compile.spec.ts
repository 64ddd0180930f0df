// The selector language: each operator, SQL's three-valued logic over missing headers, numbers
// read from header strings, errors naming the position and the problem, the index term; and a
// property test of the compiled closures against a small tree-walking interpreter written here.
import fc from 'fast-check'
import t from 'tap'
import { compileSelector, SelectorError, type PropertySource } from '../../lib/selector/compile.js'

const headers = (values: Record<string, string>): PropertySource => ({ property: (name) => values[name] })
const selects = (selector: string, values: Record<string, string>): boolean => compileSelector(selector).matches(headers(values))

t.test('comparisons: strings with = and <>, numbers read from header text, booleans', async (t) => {
  const m = { symbol: 'ACME', price: '12.5', qty: '3', flag: 'true', other: 'ACME', text: 'abc' }
  const cases: Array<[string, boolean]> = [
    ["symbol = 'ACME'", true], ["symbol <> 'ACME'", false], ["symbol = 'acme'", false], ["'ACME' = symbol", true],
    ['price > 12', true], ['price >= 12.5', true], ['price < 12.5', false], ['price <= 1.25e1', true], ['price = 12.50', true], ['price <> 12.5', false],
    ['qty * 2 + 1 = 7', true], ['qty / 2 = 1.5', true], ['-qty = -3', true], ['qty - 4 < 0', true], ['+qty = 3', true],
    ['flag', true], ['flag = TRUE', true], ['flag <> FALSE', true], ['NOT flag', false], ['TRUE', true], ['FALSE', false],
    ['symbol = other', true], ['qty < price', true],
    ["text > 1", false], // a header that does not read as a number compares as unknown
  ]
  for (const [selector, expected] of cases) t.equal(selects(selector, m), expected, selector)
})

t.test('IN, NOT IN, LIKE with ESCAPE, BETWEEN, IS [NOT] NULL; keywords in any case', async (t) => {
  const m = { region: 'eu', name: 'stock_100%', n: '5' }
  const cases: Array<[string, boolean]> = [
    ["region IN ('eu', 'us')", true], ["region NOT IN ('eu', 'us')", false], ["region in ('asia')", false],
    ["name LIKE 'stock%'", true], ["name LIKE 'st_ck%'", true], ["name LIKE 'stock'", false], ["name NOT LIKE 'x%'", true],
    ["name LIKE 'stock!_100!%' ESCAPE '!'", true], ["name LIKE 'stock!_1' ESCAPE '!'", false], ["name like '%.%'", false],
    ['n BETWEEN 1 AND 5', true], ['n BETWEEN 6 AND 9', false], ['n NOT BETWEEN 6 AND 9', true],
    ['missing IS NULL', true], ['n IS NULL', false], ['n IS NOT NULL', true], ['missing is not null', false],
    ["(region = 'eu' OR region = 'us') AND n > 4", true], ["region = 'eu' and not (n > 4)", false],
  ]
  for (const [selector, expected] of cases) t.equal(selects(selector, m), expected, selector)
})

t.test('three-valued logic: a missing header makes a comparison unknown, and unknown is not selected', async (t) => {
  const m = { a: '1' }
  const cases: Array<[string, boolean]> = [
    ['missing = 1', false], ['NOT (missing = 1)', false], ["missing <> 'x'", false],
    ['missing = 1 OR a = 1', true], ['missing = 1 AND a = 1', false], ['NOT (missing = 1 AND a = 2)', true],
    ['NOT (missing = 1 OR a = 2)', false], ["missing IN ('x')", false], ["missing NOT IN ('x')", false],
    ["missing LIKE '%'", false], ['missing BETWEEN 1 AND 2', false], ['a / 0 = 1', false], ['NOT (a / 0 = 1)', false],
  ]
  for (const [selector, expected] of cases) t.equal(selects(selector, m), expected, selector)
})

t.test('a quote inside a string is written twice; header names are case-sensitive', async (t) => {
  t.equal(selects("note = 'it''s'", { note: "it's" }), true)
  t.equal(selects("Symbol = 'A'", { symbol: 'A' }), false)
})

t.test('errors name the character where the selector goes wrong and what is wrong', async (t) => {
  const cases: Array<[string, number, RegExp]> = [
    ['', 1, /empty/],
    ["symbol = 'ACME", 10, /string is not closed/],
    ['price >', 8, /ends where a value was expected/],
    ['(a = 1', 7, /expected '\)' to close the '\(' at character 1/],
    ['a = 1 b', 7, /unexpected 'b'/],
    ["a IN 'x'", 6, /expected '\(' after IN/],
    ['a IN (1)', 7, /expected a string in the IN list, found the number 1/],
    ["a LIKE 'x' ESCAPE 'ab'", 12, /ESCAPE takes one character/],
    ["symbol = 1 + 'a'", 14, /expected a number, found a string/],
    ["a < 'x'", 3, /strings compare only with = and <>/],
    ["'x' AND a = 1", 1, /expected a condition, found a string/],
    ['a IS 5', 6, /expected NULL after IS/],
    ['a # 1', 3, /unexpected character "#"/],
    ['3abc = 1', 2, /unexpected "a" after the number 3/],
    ["1 LIKE 'x'", 1, /LIKE applies to a header name/],
  ]
  for (const [selector, position, problem] of cases) {
    try {
      compileSelector(selector)
      t.fail(`${JSON.stringify(selector)} should be refused`)
    } catch (err) {
      t.ok(err instanceof SelectorError, `${JSON.stringify(selector)} gives a SelectorError`)
      t.equal((err as SelectorError).position, position, `${JSON.stringify(selector)}: at character ${position}`)
      t.match((err as SelectorError).problem, problem)
    }
  }
})

t.test('the index term: an equality or IN on a header at the top of the selector, or of an AND', async (t) => {
  t.same(compileSelector("symbol = 'ACME'").index, { name: 'symbol', values: ['ACME'], whole: true })
  t.same(compileSelector("'ACME' = symbol AND price > 3").index, { name: 'symbol', values: ['ACME'], whole: false })
  t.same(compileSelector("price > 3 AND region IN ('eu', 'us')").index, { name: 'region', values: ['eu', 'us'], whole: false })
  t.same(compileSelector("region IN ('eu', 'us')").index, { name: 'region', values: ['eu', 'us'], whole: true })
  t.equal(compileSelector("symbol = 'A' OR symbol = 'B'").index, null, 'OR: no single term every match has')
  t.equal(compileSelector("NOT symbol = 'A'").index, null)
  t.equal(compileSelector("region NOT IN ('eu')").index, null)
  t.equal(compileSelector('id = 5').index, null, 'a number matches several spellings (5, 5.0): not indexed')
})

// ---- A reference interpreter: walks a tree, in the most obvious way, for the property test. ----

type Expr =
  | { t: 'header', name: string }
  | { t: 'num', v: number }
  | { t: 'str', v: string }
  | { t: 'arith', op: '+' | '-' | '*' | '/', a: Expr, b: Expr }
type Cond =
  | { t: 'cmp', op: '=' | '<>' | '<' | '>' | '<=' | '>=', a: Expr, b: Expr }
  | { t: 'and' | 'or', a: Cond, b: Cond }
  | { t: 'not', a: Cond }
  | { t: 'between', x: Expr, lo: Expr, hi: Expr, neg: boolean }
  | { t: 'in', name: string, values: string[], neg: boolean }
  | { t: 'like', name: string, pattern: string, neg: boolean }
  | { t: 'isnull', name: string, neg: boolean }

const NAMES = ['a', 'b', 'c']
const numberText = (v: string | null): number | null => (v !== null && /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) ? Number(v) : null)

function evalNum(e: Expr, m: Record<string, string>): number | null {
  switch (e.t) {
    case 'header': return numberText(m[e.name] ?? null)
    case 'num': return e.v
    case 'str': throw new Error('not generated')
    case 'arith': {
      const a = evalNum(e.a, m)
      const b = evalNum(e.b, m)
      if (a === null || b === null) return null
      if (e.op === '/') return b === 0 ? null : a / b
      return e.op === '+' ? a + b : e.op === '-' ? a - b : a * b
    }
  }
}

function likeMatches(value: string, pattern: string): boolean {
  // Recursive, character by character: nothing shared with the RegExp the broker builds.
  const go = (i: number, j: number): boolean => {
    if (j === pattern.length) return i === value.length
    if (pattern[j] === '%') return go(i, j + 1) || (i < value.length && go(i + 1, j))
    if (i === value.length) return false
    return (pattern[j] === '_' || pattern[j] === value[i]) && go(i + 1, j + 1)
  }
  return go(0, 0)
}

function evalCond(c: Cond, m: Record<string, string>): boolean | null {
  switch (c.t) {
    case 'cmp': {
      // Two headers side by side are equal as text; a string literal makes it a text comparison.
      const bothHeaders = c.a.t === 'header' && c.b.t === 'header' && (c.op === '=' || c.op === '<>')
      if (c.a.t === 'str' || c.b.t === 'str' || bothHeaders) {
        const a = c.a.t === 'str' ? c.a.v : m[(c.a as { name: string }).name] ?? null
        const b = c.b.t === 'str' ? c.b.v : m[(c.b as { name: string }).name] ?? null
        if (a === null || b === null) return null
        return c.op === '=' ? a === b : a !== b
      }
      const a = evalNum(c.a, m)
      const b = evalNum(c.b, m)
      if (a === null || b === null) return null
      return { '=': a === b, '<>': a !== b, '<': a < b, '>': a > b, '<=': a <= b, '>=': a >= b }[c.op]
    }
    case 'and': {
      const a = evalCond(c.a, m)
      const b = evalCond(c.b, m)
      if (a === false || b === false) return false
      return a === null || b === null ? null : true
    }
    case 'or': {
      const a = evalCond(c.a, m)
      const b = evalCond(c.b, m)
      if (a === true || b === true) return true
      return a === null || b === null ? null : false
    }
    case 'not': {
      const a = evalCond(c.a, m)
      return a === null ? null : !a
    }
    case 'between': {
      const [x, lo, hi] = [evalNum(c.x, m), evalNum(c.lo, m), evalNum(c.hi, m)]
      if (x === null || lo === null || hi === null) return null
      return (lo <= x && x <= hi) !== c.neg
    }
    case 'in': {
      const v = m[c.name]
      return v === undefined ? null : c.values.includes(v) !== c.neg
    }
    case 'like': {
      const v = m[c.name]
      return v === undefined ? null : likeMatches(v, c.pattern) !== c.neg
    }
    case 'isnull':
      return (m[c.name] === undefined) !== c.neg
  }
}

const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`
function printExpr(e: Expr): string {
  switch (e.t) {
    case 'header': return e.name
    case 'num': return String(e.v)
    case 'str': return quote(e.v)
    case 'arith': return `(${printExpr(e.a)} ${e.op} ${printExpr(e.b)})`
  }
}
function printCond(c: Cond): string {
  switch (c.t) {
    case 'cmp': return `${printExpr(c.a)} ${c.op} ${printExpr(c.b)}`
    case 'and': return `(${printCond(c.a)}) AND (${printCond(c.b)})`
    case 'or': return `(${printCond(c.a)}) OR (${printCond(c.b)})`
    case 'not': return `NOT (${printCond(c.a)})`
    case 'between': return `${printExpr(c.x)} ${c.neg ? 'NOT ' : ''}BETWEEN ${printExpr(c.lo)} AND ${printExpr(c.hi)}`
    case 'in': return `${c.name} ${c.neg ? 'NOT ' : ''}IN (${c.values.map(quote).join(', ')})`
    case 'like': return `${c.name} ${c.neg ? 'NOT ' : ''}LIKE ${quote(c.pattern)}`
    case 'isnull': return `${c.name} IS ${c.neg ? 'NOT ' : ''}NULL`
  }
}

const words = fc.constantFrom('x', 'y', "it's", '', '1', '2.5', 'ab')
const header = fc.constantFrom(...NAMES).map((name): Expr => ({ t: 'header', name }))
const num: fc.Arbitrary<Expr> = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, 2.5, 10)).map((v) => ({ t: 'num', v }))
const { numeric } = fc.letrec<{ numeric: Expr }>((tie) => ({
  numeric: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    header, num,
    fc.record({ t: fc.constant('arith' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const, '/' as const), a: tie('numeric'), b: tie('numeric') })),
}))
const { cond } = fc.letrec<{ cond: Cond }>((tie) => ({
  cond: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('cmp' as const), op: fc.constantFrom('=' as const, '<>' as const, '<' as const, '>' as const, '<=' as const, '>=' as const), a: numeric, b: numeric }),
    fc.record({ t: fc.constant('cmp' as const), op: fc.constantFrom('=' as const, '<>' as const), a: header, b: words.map((v): Expr => ({ t: 'str', v })) }),
    fc.record({ t: fc.constant('between' as const), x: numeric, lo: numeric, hi: numeric, neg: fc.boolean() }),
    fc.record({ t: fc.constant('in' as const), name: fc.constantFrom(...NAMES), values: fc.array(words, { minLength: 1, maxLength: 3 }), neg: fc.boolean() }),
    fc.record({ t: fc.constant('like' as const), name: fc.constantFrom(...NAMES), pattern: fc.stringMatching(/^[xy1%_.]{0,4}$/), neg: fc.boolean() }),
    fc.record({ t: fc.constant('isnull' as const), name: fc.constantFrom(...NAMES), neg: fc.boolean() }),
    fc.record({ t: fc.constantFrom('and' as const, 'or' as const), a: tie('cond'), b: tie('cond') }),
    fc.record({ t: fc.constant('not' as const), a: tie('cond') })),
}))
const message = fc.record({ a: words, b: fc.constantFrom('1', '-2', '2.5', 'x', '0'), c: fc.constantFrom('xy', '1', '10', '%') }, { requiredKeys: [] })

t.test('property: the compiled selector agrees with a tree-walking reference interpreter', async (t) => {
  fc.assert(fc.property(cond, message, (c, m) => {
    const text = printCond(c)
    const expected = evalCond(c, m as Record<string, string>) === true
    return compileSelector(text).matches(headers(m as Record<string, string>)) === expected
  }), { numRuns: 3000 })
  t.pass('3,000 random selectors and messages agree')
})
