// The selector language (JMS / ActiveMQ's SQL-92 subset over message headers), read into a
// tree. What each node means is compile.ts's business; this file only knows the grammar:
//
//   or         := and (OR and)*
//   and        := not (AND not)*
//   not        := NOT not | predicate
//   predicate  := sum [ (= | <> | < | > | <= | >=) sum
//                     | [NOT] BETWEEN sum AND sum
//                     | [NOT] IN ( string (, string)* )
//                     | [NOT] LIKE string [ESCAPE string]
//                     | IS [NOT] NULL ]
//   sum        := product ((+ | -) product)*
//   product    := unary ((* | /) unary)*
//   unary      := (+ | -) unary | ( or ) | string | number | TRUE | FALSE | identifier
//
// Keywords are case-insensitive; identifiers (header names) are not. Strings are in single
// quotes, a quote inside doubled ('it''s').

export type Comparison = '=' | '<>' | '<' | '>' | '<=' | '>='
export type Arithmetic = '+' | '-' | '*' | '/'

export type Node =
  | { type: 'identifier', name: string, at: number }
  | { type: 'string', value: string, at: number }
  | { type: 'number', value: number, at: number }
  | { type: 'boolean', value: boolean, at: number }
  | { type: 'compare', op: Comparison, left: Node, right: Node, at: number }
  | { type: 'arithmetic', op: Arithmetic, left: Node, right: Node, at: number }
  | { type: 'negate', operand: Node, at: number }
  | { type: 'and' | 'or', left: Node, right: Node, at: number }
  | { type: 'not', operand: Node, at: number }
  | { type: 'between', operand: Node, low: Node, high: Node, negated: boolean, at: number }
  | { type: 'in', operand: Node, values: string[], negated: boolean, at: number }
  | { type: 'like', operand: Node, pattern: string, escape: string | null, negated: boolean, at: number }
  | { type: 'null', operand: Node, negated: boolean, at: number }

/** A selector that cannot be used: where (1-based character position) and what is wrong. */
export class SelectorError extends Error {
  readonly position: number
  readonly problem: string

  constructor(position: number, problem: string) {
    super(`at character ${position}: ${problem}`)
    this.name = 'SelectorError'
    this.position = position
    this.problem = problem
  }
}

type Token =
  | { kind: 'word', text: string, upper: string, at: number }
  | { kind: 'string', value: string, at: number }
  | { kind: 'number', value: number, text: string, at: number }
  | { kind: 'symbol', text: string, at: number }
  | { kind: 'end', at: number }

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'LIKE', 'ESCAPE', 'IS', 'NULL', 'TRUE', 'FALSE'])
const IDENTIFIER_START = /[A-Za-z_$]/
const IDENTIFIER_PART = /[A-Za-z0-9_$.]/
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/
const SYMBOLS = ['<>', '<=', '>=', '=', '<', '>', '(', ')', ',', '+', '-', '*', '/']

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const char = text[i]!
    if (/\s/.test(char)) {
      i++
      continue
    }
    const at = i + 1
    if (char === "'") {
      let value = ''
      let j = i + 1
      for (;;) {
        if (j >= text.length) throw new SelectorError(at, 'a string is not closed (a quote inside one is written twice)')
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'"
            j += 2
            continue
          }
          break
        }
        value += text[j]
        j++
      }
      tokens.push({ kind: 'string', value, at })
      i = j + 1
      continue
    }
    const number = NUMBER.exec(text.slice(i))
    if (number !== null) {
      const end = i + number[0].length
      if (end < text.length && IDENTIFIER_START.test(text[end]!)) throw new SelectorError(end + 1, `unexpected ${JSON.stringify(text[end])} after the number ${number[0]}`)
      tokens.push({ kind: 'number', value: Number(number[0]), text: number[0], at })
      i = end
      continue
    }
    if (IDENTIFIER_START.test(char)) {
      let j = i + 1
      while (j < text.length && IDENTIFIER_PART.test(text[j]!)) j++
      const word = text.slice(i, j)
      tokens.push({ kind: 'word', text: word, upper: word.toUpperCase(), at })
      i = j
      continue
    }
    const symbol = SYMBOLS.find((s) => text.startsWith(s, i))
    if (symbol === undefined) throw new SelectorError(at, `unexpected character ${JSON.stringify(char)}`)
    tokens.push({ kind: 'symbol', text: symbol, at })
    i += symbol.length
  }
  tokens.push({ kind: 'end', at: text.length + 1 })
  return tokens
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end': return 'the end of the selector'
    case 'string': return `the string '${token.value}'`
    case 'number': return `the number ${token.text}`
    case 'word': return KEYWORDS.has(token.upper) ? token.upper : `'${token.text}'`
    case 'symbol': return `'${token.text}'`
  }
}

class Parser {
  private readonly tokens: Token[]
  private index = 0

  constructor(text: string) {
    this.tokens = tokenize(text)
  }

  parse(): Node {
    if (this.peek().kind === 'end') throw new SelectorError(1, 'the selector is empty')
    const node = this.or()
    const next = this.peek()
    if (next.kind !== 'end') throw new SelectorError(next.at, `unexpected ${describe(next)}`)
    return node
  }

  private peek(): Token {
    return this.tokens[this.index]!
  }

  private take(): Token {
    return this.tokens[this.index++]!
  }

  private isKeyword(word: string, token = this.peek()): boolean {
    return token.kind === 'word' && token.upper === word
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false
    this.index++
    return true
  }

  private isSymbol(text: string): boolean {
    const token = this.peek()
    return token.kind === 'symbol' && token.text === text
  }

  private expectSymbol(text: string, what: string): void {
    const token = this.peek()
    if (token.kind !== 'symbol' || token.text !== text) throw new SelectorError(token.at, `expected '${text}' ${what}, found ${describe(token)}`)
    this.index++
  }

  private or(): Node {
    let left = this.and()
    while (this.isKeyword('OR')) {
      const at = this.take().at
      left = { type: 'or', left, right: this.and(), at }
    }
    return left
  }

  private and(): Node {
    let left = this.not()
    while (this.isKeyword('AND')) {
      const at = this.take().at
      left = { type: 'and', left, right: this.not(), at }
    }
    return left
  }

  private not(): Node {
    if (this.isKeyword('NOT')) {
      const at = this.take().at
      return { type: 'not', operand: this.not(), at }
    }
    return this.predicate()
  }

  private predicate(): Node {
    const left = this.sum()
    const token = this.peek()
    if (token.kind === 'symbol' && ['=', '<>', '<', '>', '<=', '>='].includes(token.text)) {
      this.index++
      return { type: 'compare', op: token.text as Comparison, left, right: this.sum(), at: token.at }
    }
    if (this.isKeyword('IS')) {
      const at = this.take().at
      const negated = this.acceptKeyword('NOT')
      if (!this.acceptKeyword('NULL')) throw new SelectorError(this.peek().at, `expected NULL after IS${negated ? ' NOT' : ''}, found ${describe(this.peek())}`)
      return { type: 'null', operand: left, negated, at }
    }
    // [NOT] BETWEEN / IN / LIKE: NOT here belongs to the predicate, not to what follows.
    const negated = this.isKeyword('NOT') && ['BETWEEN', 'IN', 'LIKE'].some((word) => this.isKeyword(word, this.tokens[this.index + 1]))
    if (negated) this.index++
    const at = this.peek().at
    if (this.acceptKeyword('BETWEEN')) {
      const low = this.sum()
      if (!this.acceptKeyword('AND')) throw new SelectorError(this.peek().at, `expected AND in BETWEEN, found ${describe(this.peek())}`)
      return { type: 'between', operand: left, low, high: this.sum(), negated, at }
    }
    if (this.acceptKeyword('IN')) {
      this.expectSymbol('(', 'after IN')
      const values = [this.string('in the IN list')]
      while (this.isSymbol(',')) {
        this.index++
        values.push(this.string('in the IN list'))
      }
      this.expectSymbol(')', 'to close the IN list')
      return { type: 'in', operand: left, values, negated, at }
    }
    if (this.acceptKeyword('LIKE')) {
      const pattern = this.string('after LIKE')
      let escape: string | null = null
      if (this.isKeyword('ESCAPE')) {
        const escapeAt = this.take().at
        escape = this.string('after ESCAPE')
        if (escape.length !== 1) throw new SelectorError(escapeAt, `ESCAPE takes one character, not '${escape}'`)
      }
      return { type: 'like', operand: left, pattern, escape, negated, at }
    }
    return left
  }

  private string(where: string): string {
    const token = this.take()
    if (token.kind !== 'string') throw new SelectorError(token.at, `expected a string ${where}, found ${describe(token)}`)
    return token.value
  }

  private sum(): Node {
    let left = this.product()
    while (this.isSymbol('+') || this.isSymbol('-')) {
      const token = this.take() as { text: '+' | '-', at: number }
      left = { type: 'arithmetic', op: token.text, left, right: this.product(), at: token.at }
    }
    return left
  }

  private product(): Node {
    let left = this.unary()
    while (this.isSymbol('*') || this.isSymbol('/')) {
      const token = this.take() as { text: '*' | '/', at: number }
      left = { type: 'arithmetic', op: token.text, left, right: this.unary(), at: token.at }
    }
    return left
  }

  private unary(): Node {
    const token = this.take()
    switch (token.kind) {
      case 'symbol':
        if (token.text === '-') return { type: 'negate', operand: this.unary(), at: token.at }
        if (token.text === '+') return this.unary()
        if (token.text === '(') {
          const inner = this.or()
          this.expectSymbol(')', `to close the '(' at character ${token.at}`)
          return inner
        }
        break
      case 'string': return { type: 'string', value: token.value, at: token.at }
      case 'number': return { type: 'number', value: token.value, at: token.at }
      case 'word':
        if (token.upper === 'TRUE' || token.upper === 'FALSE') return { type: 'boolean', value: token.upper === 'TRUE', at: token.at }
        if (!KEYWORDS.has(token.upper)) return { type: 'identifier', name: token.text, at: token.at }
        break
      case 'end':
        throw new SelectorError(token.at, 'the selector ends where a value was expected')
    }
    throw new SelectorError(token.at, `expected a value, found ${describe(token)}`)
  }
}

/** The selector's tree; a SelectorError says where and why it cannot be read. */
export function parseSelector(text: string): Node {
  return new Parser(text).parse()
}
