// Assertions the server specs share: "this client got an ERROR and was closed", "the broker
// still serves a fresh client", and a bounded wait for any promise.
import { isUtf8 } from 'node:buffer'
import type { Test } from 'tap'
import { errorMessage, type ErrorCode } from '../../lib/errors.js'
import type { Frame } from '../../lib/frame/frame.js'
import { getHeader, RawClient, type Closed } from './raw.js'
import type { ListenAddresses } from '../../lib/server.js'

export type TransportName = 'tcp' | 'ws'
export const TRANSPORTS: readonly TransportName[] = ['tcp', 'ws']

/** Resolves with `promise`'s value, or rejects naming `what` once `ms` have passed. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits until `condition` holds (looked at every 10 ms: it may span several clients), or rejects naming `what`. */
export async function eventually(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A raw client over the named transport. */
export function rawClient(t: Test, addresses: ListenAddresses, transport: TransportName, protocols?: string[]): Promise<RawClient> {
  return transport === 'tcp' ? RawClient.tcp(t, addresses.tcp!) : RawClient.ws(t, addresses.ws, protocols)
}

export interface ExpectedError {
  /** `receipt-id` the ERROR must carry; null = must carry none; undefined = not checked. */
  receiptId?: string | null
  /** ms to wait for the ERROR and for the close. */
  timeoutMs?: number
  /** The `message` header, where RabbitMQ words this case differently from the code's usual text. */
  message?: string
}

/**
 * The next frame is an ERROR whose `message` header is errorMessage(code) with a readable
 * body, it is the last frame, and the server then closes the connection.
 */
export async function expectErrorAndClose(t: Test, client: RawClient, code: ErrorCode, expected: ExpectedError = {}): Promise<{ error: Frame; closed: Closed }> {
  const timeoutMs = expected.timeoutMs ?? 5000
  const error = await client.next(timeoutMs)
  t.equal(error.command, 'ERROR', `an ERROR frame arrives (for ${code})`)
  const message = expected.message ?? errorMessage(code)
  t.equal(getHeader(error, 'message'), message, `its message header is "${message}"`)
  t.ok(error.body.length > 0, 'its body explains the error')
  t.ok(isUtf8(error.body) && !/[\u0000-\u0008\u000e-\u001f]/.test(error.body.toString('utf8')), 'its body is readable text')
  if (expected.receiptId !== undefined) {
    t.equal(getHeader(error, 'receipt-id'), expected.receiptId ?? undefined, expected.receiptId === null ? 'no receipt-id' : `receipt-id is ${expected.receiptId}`)
  }
  const closed = await within(client.closed, timeoutMs, 'the server closes the connection after ERROR')
  t.equal(client.frames[client.frames.length - 1], error, 'nothing follows the ERROR')
  return { error, closed }
}

let roundTrips = 0

/** A fresh client over `transport` connects, subscribes, sends and receives its own message. */
export async function expectRoundTrip(t: Test, addresses: ListenAddresses, transport: TransportName): Promise<void> {
  const client = await rawClient(t, addresses, transport)
  const connected = await client.connect()
  t.equal(connected.command, 'CONNECTED', `a fresh ${transport} client connects`)
  const destination = `/queue/round-trip-${++roundTrips}`
  client.frame('SUBSCRIBE', [['id', 'rt'], ['destination', destination], ['receipt', 'rt-sub']])
  const receipt = await client.next()
  t.equal(receipt.command, 'RECEIPT', 'and subscribes')
  const body = `still serving ${roundTrips}`
  client.frame('SEND', [['destination', destination]], body)
  const message = await client.next()
  t.equal(message.command, 'MESSAGE', 'and gets its message back')
  t.equal(message.body.toString(), body)
  client.destroy()
}

/** A deterministic byte sequence (xorshift32), so a failing run can be replayed. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** Cuts `bytes` into pieces of the given size (the last may be shorter). */
export function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size))
  return out
}
