// A selector compiled once, per subscription, into nested closures (no tree is walked per
// message). Header values are strings; one that reads as a number compares as a number with a
// numeric operand, 'true'/'false' as booleans with a boolean one. A header that is missing is
// NULL, and SQL's three-valued logic holds: a comparison with NULL is unknown, NOT unknown is
// unknown, and a message is selected only when the whole is TRUE. Comparisons that can never
// make sense (a string with a number, strings ordered with <) are refused when compiled, as
// JMS does, rather than being silently false for every message.
import { parseSelector, SelectorError, type Node } from './parse.js'

/** Where a selector reads header values: a message (its first header of each name). */
export interface PropertySource {
  property(name: string): string | undefined
}

type Value = string | number | boolean | null
type Eval<V extends Value> = (source: PropertySource) => V

type Compiled =
  | { kind: 'identifier', name: string, eval: Eval<string | null> }
  | { kind: 'string', eval: Eval<string> }
  | { kind: 'number', eval: Eval<number | null> }
  | { kind: 'boolean', eval: Eval<boolean | null> }

/** Subscriptions whose selector requires `name` to be one of `values` can be found by that header. */
export interface IndexTerm {
  name: string
  values: readonly string[]
  /** The term is the whole selector: a message the index finds needs no evaluation. */
  whole: boolean
}

export interface Selector {
  readonly text: string
  /** True when the message is selected (the selector is TRUE for it, not FALSE nor unknown). */
  matches(source: PropertySource): boolean
  /** An equality every selected message satisfies, if the selector has one at its top: for an index. */
  readonly index: IndexTerm | null
}

const NUMERIC = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/

/** The last header text read as a number: a message's header meets every subscriber's selector in turn. */
let lastText: string | null = null
let lastNumber: number | null = null

/** A header value as a number, or null when it does not read as one. */
function toNumber(value: string | null): number | null {
  if (value === null) return null
  if (value !== lastText) {
    lastText = value
    lastNumber = NUMERIC.test(value) ? Number(value) : null
  }
  return lastNumber
}

function toBoolean(value: string | null): boolean | null {
  if (value === null) return null
  const lower = value.toLowerCase()
  return lower === 'true' ? true : lower === 'false' ? false : null
}

const KIND_NAMES = { identifier: 'a header', string: 'a string', number: 'a number', boolean: 'a condition' } as const

function asNumber(node: Node, compiled: Compiled): Eval<number | null> {
  if (compiled.kind === 'number') return compiled.eval
  if (compiled.kind === 'identifier') {
    const read = compiled.eval
    return (source) => toNumber(read(source))
  }
  throw new SelectorError(node.at, `expected a number, found ${KIND_NAMES[compiled.kind]}`)
}

function asBoolean(node: Node, compiled: Compiled): Eval<boolean | null> {
  if (compiled.kind === 'boolean') return compiled.eval
  if (compiled.kind === 'identifier') {
    const read = compiled.eval
    return (source) => toBoolean(read(source))
  }
  throw new SelectorError(node.at, `expected a condition, found ${KIND_NAMES[compiled.kind]}`)
}

function asHeader(node: Node, compiled: Compiled, what: string): Eval<string | null> {
  if (compiled.kind !== 'identifier') throw new SelectorError(node.at, `${what} applies to a header name, not ${KIND_NAMES[compiled.kind]}`)
  return compiled.eval
}

const ORDER: Record<'<' | '>' | '<=' | '>=', (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b, '>': (a, b) => a > b, '<=': (a, b) => a <= b, '>=': (a, b) => a >= b,
}

function compileCompare(node: Extract<Node, { type: 'compare' }>): Compiled {
  const left = compileNode(node.left)
  const right = compileNode(node.right)
  const equality = node.op === '=' || node.op === '<>'
  const negate = node.op === '<>'
  const numeric = left.kind === 'number' || right.kind === 'number' || (!equality && left.kind === 'identifier' && right.kind === 'identifier')
  if (numeric) {
    const a = asNumber(node.left, left)
    const b = asNumber(node.right, right)
    const test = equality ? (x: number, y: number) => (x === y) !== negate : ORDER[node.op as '<']
    return { kind: 'boolean', eval: (source) => {
      const x = a(source)
      if (x === null) return null
      const y = b(source)
      return y === null ? null : test(x, y)
    } }
  }
  if (left.kind === 'boolean' || right.kind === 'boolean') {
    if (!equality) throw new SelectorError(node.at, `conditions compare only with = and <>, not ${node.op}`)
    const a = asBoolean(node.left, left)
    const b = asBoolean(node.right, right)
    return { kind: 'boolean', eval: (source) => {
      const x = a(source)
      if (x === null) return null
      const y = b(source)
      return y === null ? null : (x === y) !== negate
    } }
  }
  // Strings and headers read as strings.
  if (!equality) throw new SelectorError(node.at, `strings compare only with = and <>, not ${node.op}`)
  const a = left.eval as Eval<string | null>
  const b = right.eval as Eval<string | null>
  return { kind: 'boolean', eval: (source) => {
    const x = a(source)
    if (x === null) return null
    const y = b(source)
    return y === null ? null : (x === y) !== negate
  } }
}

/** A LIKE pattern as a RegExp: `%` any characters, `_` one, the escape character making the next literal. */
function likeToRegExp(pattern: string, escape: string | null): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!
    if (escape !== null && char === escape && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!)
    else if (char === '%') source += '.*'
    else if (char === '_') source += '.'
    else source += escapeRegExp(char)
  }
  return new RegExp(`^${source}$`, 's')
}

const escapeRegExp = (char: string): string => char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

function compileNode(node: Node): Compiled {
  switch (node.type) {
    case 'identifier': {
      const name = node.name
      return { kind: 'identifier', name, eval: (source) => source.property(name) ?? null }
    }
    case 'string': {
      const value = node.value
      return { kind: 'string', eval: () => value }
    }
    case 'number': {
      const value = node.value
      return { kind: 'number', eval: () => value }
    }
    case 'boolean': {
      const value = node.value
      return { kind: 'boolean', eval: () => value }
    }
    case 'compare':
      return compileCompare(node)
    case 'arithmetic': {
      const a = asNumber(node.left, compileNode(node.left))
      const b = asNumber(node.right, compileNode(node.right))
      const op = node.op
      return { kind: 'number', eval: (source) => {
        const x = a(source)
        if (x === null) return null
        const y = b(source)
        if (y === null) return null
        switch (op) {
          case '+': return x + y
          case '-': return x - y
          case '*': return x * y
          case '/': return y === 0 ? null : x / y
        }
      } }
    }
    case 'negate': {
      const a = asNumber(node.operand, compileNode(node.operand))
      return { kind: 'number', eval: (source) => {
        const x = a(source)
        return x === null ? null : -x
      } }
    }
    case 'and': {
      const a = asBoolean(node.left, compileNode(node.left))
      const b = asBoolean(node.right, compileNode(node.right))
      return { kind: 'boolean', eval: (source) => {
        const x = a(source)
        if (x === false) return false
        const y = b(source)
        if (y === false) return false
        return x === null || y === null ? null : true
      } }
    }
    case 'or': {
      const a = asBoolean(node.left, compileNode(node.left))
      const b = asBoolean(node.right, compileNode(node.right))
      return { kind: 'boolean', eval: (source) => {
        const x = a(source)
        if (x === true) return true
        const y = b(source)
        if (y === true) return true
        return x === null || y === null ? null : false
      } }
    }
    case 'not': {
      const a = asBoolean(node.operand, compileNode(node.operand))
      return { kind: 'boolean', eval: (source) => {
        const x = a(source)
        return x === null ? null : !x
      } }
    }
    case 'between': {
      const value = asNumber(node.operand, compileNode(node.operand))
      const low = asNumber(node.low, compileNode(node.low))
      const high = asNumber(node.high, compileNode(node.high))
      const negated = node.negated
      return { kind: 'boolean', eval: (source) => {
        const x = value(source)
        const l = low(source)
        const h = high(source)
        if (x === null || l === null || h === null) return null
        return (x >= l && x <= h) !== negated
      } }
    }
    case 'in': {
      const read = asHeader(node.operand, compileNode(node.operand), 'IN')
      const values = new Set(node.values)
      const negated = node.negated
      return { kind: 'boolean', eval: (source) => {
        const x = read(source)
        return x === null ? null : values.has(x) !== negated
      } }
    }
    case 'like': {
      const read = asHeader(node.operand, compileNode(node.operand), 'LIKE')
      const pattern = likeToRegExp(node.pattern, node.escape)
      const negated = node.negated
      return { kind: 'boolean', eval: (source) => {
        const x = read(source)
        return x === null ? null : pattern.test(x) !== negated
      } }
    }
    case 'null': {
      const read = asHeader(node.operand, compileNode(node.operand), 'IS NULL')
      const negated = node.negated
      return { kind: 'boolean', eval: (source) => (read(source) === null) !== negated }
    }
  }
}

/** The first top-level term (of an AND chain) that pins one header to string values. */
function indexTermOf(node: Node, whole = true): IndexTerm | null {
  if (node.type === 'and') return indexTermOf(node.left, false) ?? indexTermOf(node.right, false)
  if (node.type === 'compare' && node.op === '=') {
    if (node.left.type === 'identifier' && node.right.type === 'string') return { name: node.left.name, values: [node.right.value], whole }
    if (node.right.type === 'identifier' && node.left.type === 'string') return { name: node.right.name, values: [node.left.value], whole }
  }
  if (node.type === 'in' && !node.negated && node.operand.type === 'identifier') return { name: node.operand.name, values: node.values, whole }
  return null
}

/** Compiles a selector; a SelectorError says where and why it cannot be used. */
export function compileSelector(text: string): Selector {
  const tree = parseSelector(text)
  const test = asBoolean(tree, compileNode(tree))
  return { text, matches: (source) => test(source) === true, index: indexTermOf(tree) }
}

export { SelectorError } from './parse.js'
