// Conveniences over RawClient for the server specs: connect on either transport and any
// version, frames with a fresh `receipt` awaited, a "sync" round-trip proving nothing more
// is on its way, and MESSAGE lookups.
import type { ListenAddresses } from '../../lib/server.js'
import type { Command, Frame, Header, StompVersion } from '../../lib/frame/frame.js'
import { getHeader, RawClient } from './raw.js'
import type { Teardown } from './server.js'

export type Transport = 'tcp' | 'ws'
export const TRANSPORTS: readonly Transport[] = ['tcp', 'ws']

/** A raw client connected over `transport` speaking `version`; closed at teardown. */
export async function open(t: Teardown, addresses: ListenAddresses, transport: Transport = 'tcp', version: StompVersion = '1.2'): Promise<RawClient> {
  const raw = transport === 'tcp'
    ? await RawClient.tcp(t, addresses.tcp!)
    : await RawClient.ws(t, addresses.ws, [`v${version.replace('.', '')}.stomp`])
  // STOMP 1.0 clients send no accept-version (and usually no host).
  const headers: Header[] = version === '1.0' ? [] : [['accept-version', version], ['host', 'localhost']]
  const connected = await raw.connect(headers)
  if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command} ${getHeader(connected, 'message') ?? ''}`)
  if (getHeader(connected, 'version') !== version) throw new Error(`asked for STOMP ${version}, got ${getHeader(connected, 'version')}`)
  return raw
}

let receiptCounter = 0

/** A receipt id not used before in this process. */
export function nextReceiptId(): string {
  return `r-${++receiptCounter}`
}

/** The first ERROR frame received so far, if any. */
export function firstError(raw: RawClient): Frame | undefined {
  return raw.frames.find((f) => f.command === 'ERROR')
}

/** Waits for the RECEIPT with `receiptId`; throws if an ERROR arrives first. */
export async function receiptFor(raw: RawClient, receiptId: string, timeoutMs = 5000): Promise<Frame> {
  let receipt: Frame | undefined
  await raw.until(() => {
    receipt = raw.frames.find((f) => f.command === 'RECEIPT' && getHeader(f, 'receipt-id') === receiptId)
    return receipt !== undefined || firstError(raw) !== undefined
  }, timeoutMs)
  if (receipt === undefined) {
    const error = firstError(raw)!
    throw new Error(`ERROR instead of RECEIPT ${receiptId}: ${getHeader(error, 'message')} (${error.body.toString()})`)
  }
  return receipt
}

/** Sends one frame carrying a fresh `receipt` header and waits for its RECEIPT. */
export async function request(raw: RawClient, command: Command, headers: Header[] = [], body?: string | Buffer): Promise<Frame> {
  const receiptId = nextReceiptId()
  raw.frame(command, [...headers, ['receipt', receiptId]], body)
  return receiptFor(raw, receiptId)
}

/**
 * Sends a frame that names a transaction, without a receipt (its RECEIPT would only come at
 * COMMIT or ABORT), then round-trips so that it has been taken in when this resolves.
 */
export async function inTransaction(raw: RawClient, command: Command, headers: Header[] = [], body?: string | Buffer): Promise<void> {
  raw.frame(command, headers, body)
  await sync(raw)
}

/**
 * A round-trip on `raw`'s own connection: every frame the server had queued for it before
 * (a MESSAGE delivered by another client's SEND that already got its RECEIPT, say) has
 * arrived once this resolves. The SEND goes to a topic nobody listens to.
 */
export async function sync(raw: RawClient): Promise<void> {
  await request(raw, 'SEND', [['destination', '/topic/spec-sync']])
}

export async function subscribe(raw: RawClient, id: string, destination: string, headers: Header[] = []): Promise<void> {
  await request(raw, 'SUBSCRIBE', [['id', id], ['destination', destination], ...headers])
}

/** SENDs with a receipt, one after another. */
export async function sendAll(raw: RawClient, destination: string, bodies: readonly string[], headers: Header[] = []): Promise<void> {
  for (let i = 0; i < bodies.length; i++) {
    const last = i === bodies.length - 1
    if (last) await request(raw, 'SEND', [['destination', destination], ...headers], bodies[i])
    else raw.frame('SEND', [['destination', destination], ...headers], bodies[i])
  }
}

/** MESSAGE frames received so far, optionally only those of one subscription. */
export function messages(raw: RawClient, subscription?: string): Frame[] {
  return raw.frames.filter((f) => f.command === 'MESSAGE' && (subscription === undefined || getHeader(f, 'subscription') === subscription))
}

/** Waits until at least `count` MESSAGE frames (of `subscription`, if given) have arrived. */
export async function waitMessages(raw: RawClient, count: number, subscription?: string, timeoutMs = 5000): Promise<Frame[]> {
  await raw.until(() => messages(raw, subscription).length >= count || firstError(raw) !== undefined, timeoutMs)
  const error = firstError(raw)
  if (error !== undefined) throw new Error(`ERROR while waiting for messages: ${getHeader(error, 'message')} (${error.body.toString()})`)
  return messages(raw, subscription)
}

/** Waits for an ERROR frame. */
export async function waitError(raw: RawClient, timeoutMs = 5000): Promise<Frame> {
  await raw.until(() => firstError(raw) !== undefined, timeoutMs)
  return firstError(raw)!
}

export function bodies(frames: readonly Frame[]): string[] {
  return frames.map((f) => f.body.toString('utf8'))
}

export function header(frame: Frame, name: string): string | undefined {
  return getHeader(frame, name)
}

/** The ACK/NACK headers that name `message` for a client of `version`. */
export function ackHeaders(message: Frame, version: StompVersion = '1.2'): Header[] {
  if (version === '1.2') return [['id', getHeader(message, 'ack')!]]
  const messageId: Header = ['message-id', getHeader(message, 'message-id')!]
  // STOMP 1.1 ACK carries the subscription too; 1.0 only the message-id.
  return version === '1.1' ? [['subscription', getHeader(message, 'subscription')!], messageId] : [messageId]
}

/** `n` bodies `prefix-0` ... `prefix-(n-1)`. */
export function numbered(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`)
}

/** Sends DISCONNECT with a receipt, waits for the RECEIPT and for the server to close. */
export async function disconnect(raw: RawClient): Promise<void> {
  const receiptId = nextReceiptId()
  raw.frame('DISCONNECT', [['receipt', receiptId]])
  await receiptFor(raw, receiptId)
  await raw.closed
}
