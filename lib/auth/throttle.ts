// Slows down guessing: every failed CONNECT from an address makes the next attempt from it wait
// longer (doubling from BASE_MS up to MAX_MS), and a success forgets the address. The table is
// bounded, so a flood from many addresses cannot make it grow without end. The same throttle,
// fed by protocol errors and limits, holds back repeat offenders' connections (--offender-delay).

const BASE_MS = 100
const MAX_MS = 5000
/** A failure older than this no longer counts. */
const FORGET_AFTER_MS = 10 * 60_000
/** Addresses remembered at most; past it the oldest entry goes. */
const MAX_ADDRESSES = 10_000

interface Failures {
  count: number
  last: number
}

export class FailureThrottle {
  private readonly byAddress = new Map<string, Failures>()
  private readonly maxMs: number

  /** `maxMs`: the longest delay. */
  constructor(maxMs = MAX_MS) {
    this.maxMs = maxMs
  }

  /** ms an attempt from `address` waits before its credentials are checked. */
  delayFor(address: string, now = Date.now()): number {
    const failures = this.byAddress.get(address)
    if (failures === undefined) return 0
    if (now - failures.last > FORGET_AFTER_MS) {
      this.byAddress.delete(address)
      return 0
    }
    return Math.min(this.maxMs, BASE_MS * 2 ** (failures.count - 1))
  }

  failed(address: string, now = Date.now()): void {
    const failures = this.byAddress.get(address)
    // Re-inserted, so the Map's order stays oldest first.
    this.byAddress.delete(address)
    this.byAddress.set(address, { count: Math.min(32, (failures?.count ?? 0) + 1), last: now })
    if (this.byAddress.size > MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value!)
  }

  succeeded(address: string): void {
    this.byAddress.delete(address)
  }
}
