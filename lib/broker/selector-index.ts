// Topic subscriptions whose selector pins a header to values (`symbol = 'ACME'`,
// `region IN ('eu','us')`), indexed by that header: a message reaches only the subscriptions
// whose values include its own, and only their selectors are evaluated. Ten thousand
// subscribers each selecting one symbol then cost a publish one lookup and one evaluation,
// not ten thousand.
import type { IndexTerm } from '../selector/compile.js'
import type { Message } from './message.js'

/** What the index hands a message to: a subscription, which applies its selector unless told it holds. */
export interface IndexedTarget {
  offer(message: Message): unknown
  /** The message is known to be selected (the index term was the whole selector). */
  offerSelected(message: Message): unknown
}

interface Entry<T> {
  target: T
  whole: boolean
}

export class SelectorIndex<T extends IndexedTarget> {
  /**
   * Per header name, value → targets that require it. Plain arrays, replaced (never changed) when
   * a target comes or goes: a publish iterates them without iterator objects, and a delivery that
   * cancels a subscription does not disturb the iteration it happens in.
   */
  private headers: Array<{ name: string, byValue: Map<string, ReadonlyArray<Entry<T>>> }> = []
  private readonly terms = new Map<T, IndexTerm>()

  get size(): number {
    return this.terms.size
  }

  targets(): IterableIterator<T> {
    return this.terms.keys()
  }

  add(target: T, term: IndexTerm): void {
    this.terms.set(target, term)
    let header = this.headers.find((h) => h.name === term.name)
    if (header === undefined) {
      header = { name: term.name, byValue: new Map() }
      this.headers = [...this.headers, header]
    }
    for (const value of term.values) header.byValue.set(value, [...(header.byValue.get(value) ?? []), { target, whole: term.whole }])
  }

  /** True when it was there. */
  remove(target: T): boolean {
    const term = this.terms.get(target)
    if (term === undefined) return false
    this.terms.delete(target)
    const header = this.headers.find((h) => h.name === term.name)!
    for (const value of term.values) {
      const targets = header.byValue.get(value)
      if (targets === undefined) continue
      const rest = targets.filter((entry) => entry.target !== target)
      if (rest.length === 0) header.byValue.delete(value)
      else header.byValue.set(value, rest)
    }
    if (header.byValue.size === 0) this.headers = this.headers.filter((h) => h !== header)
    return true
  }

  /** Offers `message` to the targets its header values can satisfy; how many. */
  offer(message: Message): number {
    const headers = this.headers
    let offered = 0
    for (let h = 0; h < headers.length; h++) {
      const header = headers[h]!
      const value = message.property(header.name)
      if (value === undefined) continue
      const targets = header.byValue.get(value)
      if (targets === undefined) continue
      for (let i = 0; i < targets.length; i++) {
        const entry = targets[i]!
        if (entry.whole) entry.target.offerSelected(message)
        else entry.target.offer(message)
      }
      offered += targets.length
    }
    return offered
  }
}
