// Real STOMP clients for specs: @stomp/stompjs over WebSocket (the browser library, given
// Node's `ws`) and stompit over TCP (a Node service library).
import { Client, type IMessage, type StompConfig, type StompHeaders } from '@stomp/stompjs'
import stompit from 'stompit'
import WebSocket from 'ws'
import { splitAddress } from './raw.js'
import type { Teardown } from './server.js'

/** A connected @stomp/stompjs Client; deactivated at teardown. */
export async function connectStompjs(t: Teardown, url: string, config: StompConfig = {}): Promise<Client> {
  const client = new Client({
    // stompjs offers v10.stomp, v11.stomp, v12.stomp — as in a browser.
    webSocketFactory: () => new WebSocket(url, ['v10.stomp', 'v11.stomp', 'v12.stomp']),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: () => {},
    ...config,
  })
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve()
    client.onStompError = (frame) => reject(new Error(`ERROR ${frame.headers.message}`))
    client.onWebSocketError = () => reject(new Error('websocket error'))
    client.activate()
  })
  t.teardown(() => client.deactivate())
  return client
}

/** Messages received on one subscription, with a way to wait for a count. */
export class Inbox<M> {
  readonly messages: M[] = []
  private waiters: Array<() => void> = []

  push(message: M): void {
    this.messages.push(message)
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  /** Resolves once `count` messages have arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 5000): Promise<M[]> {
    const deadline = Date.now() + timeoutMs
    while (this.messages.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`got ${this.messages.length} of ${count} messages within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.messages
  }
}

export function subscribeStompjs(client: Client, destination: string, headers: StompHeaders = {}): Inbox<IMessage> {
  const inbox = new Inbox<IMessage>()
  client.subscribe(destination, (message) => inbox.push(message), headers)
  return inbox
}

/** A connected stompit client over TCP; disconnected at teardown. */
export async function connectStompit(t: Teardown, address: string, headers: Record<string, string> = {}): Promise<stompit.Client> {
  const [host, port] = splitAddress(address)
  const client = await new Promise<stompit.Client>((resolve, reject) => {
    stompit.connect({ host, port, connectHeaders: { host: 'localhost', ...headers } }, (err, client) => (err ? reject(err) : resolve(client)))
  })
  client.on('error', () => {})
  t.teardown(() => client.destroy(new Error('test finished')))
  return client
}

export interface StompitMessage {
  headers: Record<string, string>
  body: string
}

export function subscribeStompit(client: stompit.Client, headers: Record<string, string>): Inbox<StompitMessage> {
  const inbox = new Inbox<StompitMessage>()
  client.subscribe(headers, (err, message) => {
    if (err) return
    // stompit's type declarations omit the headers its frames carry at run time.
    const received = (message as unknown as { headers: Record<string, string> }).headers
    message.readString('utf8', (readErr, body) => {
      if (!readErr) inbox.push({ headers: received, body: body ?? '' })
      if (headers.ack === 'client' || headers.ack === 'client-individual') client.ack(message)
    })
  })
  return inbox
}

/** Sends one message with stompit; resolves on its RECEIPT. */
export function sendStompit(client: stompit.Client, headers: Record<string, string>, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const frame = client.send(headers, { onReceipt: () => resolve(), onError: reject })
    frame.end(body)
  })
}
