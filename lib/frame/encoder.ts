// STOMP frame encoder: frames to Buffers, headers escaped per version, `content-length`
// on every frame with a body.
//
// A MESSAGE that fans out to many subscriptions is encoded in two parts: a shared tail
// (every header common to all deliveries, the blank line, the body and the NUL), built
// once per message and version, and a small per-delivery head (`MESSAGE`, `subscription`,
// `message-id`, `ack`, `redelivered`). The transport writes [head, tail] without copying
// the tail: on TCP as one writev, over WebSocket inside one message.
import { isUtf8 } from 'node:buffer'
import { escapeHeader, isEscaped, type Command, type Header, type StompVersion } from './frame.js'

const SPECIAL = /[\\\r\n:]/
const NEEDS_SANITIZING = /[\r\n]/
const NEEDS_SANITIZING_NAME = /[\r\n:]/

/**
 * Where a version defines no escaping (1.0, and CONNECT/CONNECTED in every version), a CR or LF
 * would end the header line and let a value forge headers or end the frame early, so they become
 * spaces (and a colon in a name an underscore). Values produced by stompd never contain them.
 */
function sanitize(value: string, isName: boolean): string {
  if (isName) return NEEDS_SANITIZING_NAME.test(value) ? value.replace(/[\r\n]/g, ' ').replace(/:/g, '_') : value
  return NEEDS_SANITIZING.test(value) ? value.replace(/[\r\n]/g, ' ') : value
}

/** One header line, EOL included, in the version's escaping. */
function headerLine(name: string, value: string, escape: boolean, version: StompVersion): string {
  return escape
    ? escapeHeader(name, version) + ':' + escapeHeader(value, version) + '\n'
    : sanitize(name, true) + ':' + sanitize(value, false) + '\n'
}

/** Header lines for `headers`, skipping content-length (the encoder writes the true one) and `skip`. */
function headerLines(headers: readonly Header[], escape: boolean, version: StompVersion, skip?: ReadonlySet<string>): string {
  let out = ''
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!
    if (name === 'content-length' || (skip !== undefined && skip.has(name))) continue
    out += headerLine(name, value, escape, version)
  }
  return out
}

function assemble(head: string, body: Buffer): Buffer {
  const headLength = Buffer.byteLength(head)
  const out = Buffer.allocUnsafe(headLength + body.length + 1)
  out.write(head, 0, headLength, 'utf8')
  body.copy(out, headLength)
  out[out.length - 1] = 0
  return out
}

/** Encodes a whole frame into one Buffer. */
export function encodeFrame(command: Command, headers: readonly Header[], body: Buffer, version: StompVersion): Buffer {
  const escape = isEscaped(command, version)
  let head = command + '\n' + headerLines(headers, escape, version)
  if (body.length > 0) head += 'content-length:' + body.length + '\n'
  return assemble(head + '\n', body)
}

/** Headers the per-delivery head carries; a sender's copies of them are never forwarded. */
export const DELIVERY_HEADERS: ReadonlySet<string> = new Set(['subscription', 'message-id', 'ack', 'redelivered'])

/**
 * The shared part of a MESSAGE: header lines common to every delivery, the blank line, the body
 * and the NUL. Encoded lazily once per version actually used; when no header needs escaping all
 * versions share one Buffer.
 */
export class MessageTail {
  readonly headers: readonly Header[]
  readonly body: Buffer
  /** The body is valid UTF-8, so a WebSocket may carry the frame as a text message. */
  readonly isText: boolean
  private readonly byVersion: Array<Buffer | undefined> = [undefined, undefined, undefined]
  private plain: Buffer | undefined = undefined
  /** No header needs escaping or sanitizing, so every version encodes to the same bytes. */
  private readonly versionFree: boolean

  constructor(headers: readonly Header[], body: Buffer) {
    this.headers = headers
    this.body = body
    this.isText = isUtf8(body)
    this.versionFree = !headers.some(([name, value]) => SPECIAL.test(name) || SPECIAL.test(value))
  }

  encode(version: StompVersion): Buffer {
    if (this.plain !== undefined) return this.plain
    const index = version === '1.2' ? 2 : version === '1.1' ? 1 : 0
    const cached = this.byVersion[index]
    if (cached !== undefined) return cached
    let lines = headerLines(this.headers, version !== '1.0', version, DELIVERY_HEADERS)
    if (this.body.length > 0) lines += 'content-length:' + this.body.length + '\n'
    const encoded = assemble(lines + '\n', this.body)
    if (this.versionFree) this.plain = encoded
    else this.byVersion[index] = encoded
    return encoded
  }

  /** Bytes held by the encodings made so far. */
  get encodedBytes(): number {
    if (this.plain !== undefined) return this.plain.length
    let total = 0
    for (const b of this.byVersion) if (b !== undefined) total += b.length
    return total
  }
}

/**
 * The start of every MESSAGE head for one subscription: `MESSAGE`, `subscription:<id>` and the
 * name of the `message-id` header, escaped for the subscriber's version. Computed once per SUBSCRIBE.
 */
export function messageHeadPrefix(subscription: string, version: StompVersion): string {
  return 'MESSAGE\n' + headerLine('subscription', subscription, version !== '1.0', version) + 'message-id:'
}

/**
 * The per-delivery head of a MESSAGE. `messageId` and `ack` are ids stompd generates
 * (no characters that need escaping); `ack` is omitted for auto-acked subscriptions.
 */
export function encodeMessageHead(prefix: string, messageId: string, ack: string | undefined, redelivered: boolean): Buffer {
  let head = prefix + messageId + '\n'
  if (ack !== undefined) head += 'ack:' + ack + '\n'
  if (redelivered) head += 'redelivered:true\n'
  return Buffer.from(head, 'utf8')
}
