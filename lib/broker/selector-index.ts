// Topic subscriptions whose selector pins a header to values (`symbol = 'ACME'`,
// `region IN ('eu','us')`), indexed by that header: a message reaches only the subscriptions
// whose values include its own, and only their selectors are evaluated. Ten thousand
// subscribers each selecting one symbol then cost a publish one lookup and one evaluation,
// not ten thousand.
import type { IndexTerm } from '../selector/compile.js'
import type { Message } from './message.js'

/** What the index hands a message to: a subscription, which still applies its whole selector. */
export interface IndexedTarget {
  offer(message: Message): unknown
}

export class SelectorIndex<T extends IndexedTarget> {
  /** Header name → value → targets that require it. */
  private readonly byHeader = new Map<string, Map<string, Set<T>>>()
  private readonly terms = new Map<T, IndexTerm>()

  get size(): number {
    return this.terms.size
  }

  add(target: T, term: IndexTerm): void {
    this.terms.set(target, term)
    let byValue = this.byHeader.get(term.name)
    if (byValue === undefined) {
      byValue = new Map()
      this.byHeader.set(term.name, byValue)
    }
    for (const value of term.values) {
      let targets = byValue.get(value)
      if (targets === undefined) {
        targets = new Set()
        byValue.set(value, targets)
      }
      targets.add(target)
    }
  }

  /** True when it was there. */
  remove(target: T): boolean {
    const term = this.terms.get(target)
    if (term === undefined) return false
    this.terms.delete(target)
    const byValue = this.byHeader.get(term.name)!
    for (const value of term.values) {
      const targets = byValue.get(value)
      if (targets === undefined) continue
      targets.delete(target)
      if (targets.size === 0) byValue.delete(value)
    }
    if (byValue.size === 0) this.byHeader.delete(term.name)
    return true
  }

  /** Offers `message` to the targets its header values can satisfy; how many. */
  offer(message: Message): number {
    let offered = 0
    for (const [name, byValue] of this.byHeader) {
      const value = message.property(name)
      if (value === undefined) continue
      const targets = byValue.get(value)
      if (targets === undefined) continue
      for (const target of targets) {
        target.offer(message)
        offered++
      }
    }
    return offered
  }
}
