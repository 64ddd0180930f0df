// A double-ended queue on a growable ring buffer: O(1) push, shift and unshift, no
// per-item allocation, and no O(n) Array#shift on a long queue. The ring is allocated on the
// first push: a connection or a queue that never holds anything costs no array.

/** The ring of every empty Fifo; it has no slots, so nothing is ever written to it. */
const NO_ITEMS: never[] = []

export class Fifo<T> {
  private items: (T | undefined)[] = NO_ITEMS
  private head = 0
  private count = 0
  private readonly firstCapacity: number

  constructor(initialCapacity = 16) {
    let capacity = 1
    while (capacity < initialCapacity) capacity <<= 1
    this.firstCapacity = capacity
  }

  get length(): number {
    return this.count
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow()
    this.items[(this.head + this.count) & (this.items.length - 1)] = item
    this.count++
  }

  unshift(item: T): void {
    if (this.count === this.items.length) this.grow()
    this.head = (this.head - 1) & (this.items.length - 1)
    this.items[this.head] = item
    this.count++
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.count--
    return item
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined
    return this.items[(this.head + index) & (this.items.length - 1)]
  }

  /**
   * Inserts into a queue sorted by `key` ascending, keeping it sorted: the place is found by
   * binary search, and the shorter side moves over by one. (A consumer leaving with thousands of
   * unacked messages returns them one by one, each into the middle: scanning from the head and
   * moving the whole tail made that quadratic.)
   */
  insertSorted(item: T, key: (item: T) => number): void {
    const k = key(item)
    let low = 0
    let high = this.count
    while (low < high) {
      const middle = (low + high) >>> 1
      if (key(this.at(middle)!) < k) low = middle + 1
      else high = middle
    }
    const index = low
    if (index === 0) return this.unshift(item)
    if (index === this.count) return this.push(item)
    if (this.count === this.items.length) this.grow()
    const mask = this.items.length - 1
    if (index < this.count - index) {
      // Move the head side one slot toward the front.
      this.head = (this.head - 1) & mask
      for (let i = 0; i < index; i++) this.items[(this.head + i) & mask] = this.items[(this.head + i + 1) & mask]
    } else {
      for (let i = this.count; i > index; i--) this.items[(this.head + i) & mask] = this.items[(this.head + i - 1) & mask]
    }
    this.items[(this.head + index) & mask] = item
    this.count++
  }

  pop(): T | undefined {
    if (this.count === 0) return undefined
    const index = (this.head + this.count - 1) & (this.items.length - 1)
    const item = this.items[index]
    this.items[index] = undefined
    this.count--
    return item
  }

  /** Removes and returns the item at `index` (0 = head), closing the gap. */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined
    if (index === 0) return this.shift()
    const mask = this.items.length - 1
    const item = this.items[(this.head + index) & mask]
    for (let i = index; i < this.count - 1; i++) {
      this.items[(this.head + i) & mask] = this.items[(this.head + i + 1) & mask]
    }
    this.items[(this.head + this.count - 1) & mask] = undefined
    this.count--
    return item
  }

  /** Removes every item for which `drop` returns true, keeping order; returns how many went. */
  removeWhere(drop: (item: T) => boolean): number {
    const kept: T[] = []
    let removed = 0
    while (this.count > 0) {
      const item = this.shift()!
      if (drop(item)) removed++
      else kept.push(item)
    }
    for (const item of kept) this.push(item)
    return removed
  }

  clear(): void {
    this.items = NO_ITEMS
    this.head = 0
    this.count = 0
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)]!
  }

  private grow(): void {
    const old = this.items
    const next = new Array<T | undefined>(old.length === 0 ? this.firstCapacity : old.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)]
    this.items = next
    this.head = 0
  }
}
