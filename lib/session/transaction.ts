// A STOMP transaction: SEND, ACK and NACK frames held until COMMIT, dropped on ABORT
// or when the connection closes. The receipts those frames ask for are held with them and sent
// at COMMIT, once their effect is done, or at ABORT (the frames were received; nothing happens).
import type { Destination } from '../broker/destination.js'
import type { Settlement } from '../broker/consumer.js'
import type { Message } from '../broker/message.js'

export type TransactionAction =
  | { kind: 'send'; destination: Destination; message: Message }
  | { kind: 'settle'; ackId: string; how: Settlement }

export class Transaction {
  readonly id: string
  readonly actions: TransactionAction[] = []
  /** Receipt ids of the frames held, in frame order. */
  readonly receipts: string[] = []

  constructor(id: string) {
    this.id = id
  }

  holdReceipt(receipt: string | undefined): void {
    if (receipt !== undefined) this.receipts.push(receipt)
  }
}
