// A connection's publish rate (--max-publish-rate): a token bucket of one second's worth of
// SENDs. Past it the session stops reading from the socket until tokens come back: the client
// is slowed by TCP's own backpressure, nothing is dropped and no ERROR is sent.

export class PublishRate {
  private readonly perSecond: number
  private tokens: number
  private refilledAt = Date.now()

  constructor(perSecond: number) {
    this.perSecond = perSecond
    this.tokens = perSecond
  }

  /** Takes a token for one SEND; returns 0 while there are tokens, else ms until the next one. */
  take(now: number): number {
    if (this.tokens < 1) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000)
      this.refilledAt = now
    }
    this.tokens--
    if (this.tokens >= 0) return 0
    return Math.ceil((-this.tokens * 1000) / this.perSecond)
  }
}
