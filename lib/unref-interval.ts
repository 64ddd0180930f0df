// A repeating timer for background housekeeping: it never keeps the process alive on its own,
// and starting or stopping it twice is harmless.
export class UnrefInterval {
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly tick: () => void,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer !== null) return
    this.timer = setInterval(this.tick, this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
