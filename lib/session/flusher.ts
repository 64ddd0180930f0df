// Coalesces writes: every frame for one connection in an event-loop turn goes out in one
// write (one WebSocket message, one writev on TCP). One setImmediate per turn for all
// connections, not one per connection or per frame.

export interface Flushable {
  flush(): void
}

export class Flusher {
  private pending: Flushable[] = []
  private scheduled = false

  /** Flushes `item` at the end of this turn. The caller guards against scheduling twice. */
  schedule(item: Flushable): void {
    this.pending.push(item)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.run)
    }
  }

  private readonly run = (): void => {
    this.scheduled = false
    const items = this.pending
    this.pending = []
    for (let i = 0; i < items.length; i++) items[i]!.flush()
  }
}
