// A STOMP transaction: SEND, ACK and NACK frames held until COMMIT, dropped on ABORT
// or when the connection closes.
import type { Destination } from '../broker/destination.js'
import type { Message } from '../broker/message.js'

export type TransactionAction =
  | { kind: 'send'; destination: Destination; message: Message }
  | { kind: 'ack' | 'nack'; ackId: string }

export class Transaction {
  readonly id: string
  readonly actions: TransactionAction[] = []

  constructor(id: string) {
    this.id = id
  }
}
