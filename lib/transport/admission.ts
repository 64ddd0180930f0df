// Who may open one more connection: --max-connections in all and --max-connections-per-ip per
// remote address, counted from the moment a connection is accepted until it closes. Checked
// before any STOMP is read (a WebSocket upgrade is refused over HTTP), so a flood of
// connections costs the broker a counter, not a session.
import { addressOf } from './connection.js'

export type Refusal = 'too-many-connections' | 'too-many-connections-per-ip'

export class Admission {
  private readonly maxTotal: number
  private readonly maxPerAddress: number
  private total = 0
  /** Open connections per remote address; only kept when there is a per-address limit. */
  private readonly byAddress = new Map<string, number>()

  /** 0 = no limit. */
  constructor(maxTotal: number, maxPerAddress: number) {
    this.maxTotal = maxTotal
    this.maxPerAddress = maxPerAddress
  }

  /** Why one more connection from `remote` (`host:port`) is refused; null if it is not. */
  refusal(remote: string): Refusal | null {
    if (this.maxTotal > 0 && this.total >= this.maxTotal) return 'too-many-connections'
    if (this.maxPerAddress > 0 && (this.byAddress.get(addressOf(remote)) ?? 0) >= this.maxPerAddress) return 'too-many-connections-per-ip'
    return null
  }

  opened(remote: string): void {
    this.total++
    if (this.maxPerAddress === 0) return
    const address = addressOf(remote)
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1)
  }

  closed(remote: string): void {
    this.total--
    if (this.maxPerAddress === 0) return
    const address = addressOf(remote)
    const count = (this.byAddress.get(address) ?? 1) - 1
    if (count === 0) this.byAddress.delete(address)
    else this.byAddress.set(address, count)
  }
}
