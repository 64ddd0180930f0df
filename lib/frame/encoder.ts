// STOMP frame encoder: frames to Buffers, headers escaped per version, `content-length`
// on every frame with a body.
//
// A MESSAGE that fans out to many subscriptions is encoded in parts: a shared tail (`message-id`
// and every other header common to all deliveries, the blank line, the body and the NUL), built
// once per message and version; a head prefix per subscription (`MESSAGE`, `subscription`),
// built once per SUBSCRIBE; and, only where a delivery has them, its own `ack` and
// `redelivered` lines. A delivery is then two or three small copies, no encoding.
import { isUtf8 } from 'node:buffer'
import { escapeHeader, isEscaped, type Command, type Header, type StompVersion } from './frame.js'

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
 * and the NUL. Encoded once per version actually used; when no header needs escaping every version
 * shares one Buffer. After the first encoding `body` is a view into it, so a body that arrived as
 * a view of a socket chunk is copied exactly once, and the chunk is not kept alive. Once that one
 * Buffer exists the header pairs are let go: readHeaders() decodes them from it when asked.
 */
export class MessageTail {
  /** Null once `plain` holds them. */
  private headerList: readonly Header[] | null
  /** The body is valid UTF-8, so a WebSocket may carry the frame as a text message. */
  readonly isText: boolean
  private bodyBytes: Buffer
  /** Per-version encodings, made only when some header needs escaping (rare). */
  private byVersion: Array<Buffer | undefined> | null = null
  private plain: Buffer | undefined = undefined
  /** `bodyBytes` is a view into an encoding of ours, no longer the caller's buffer. */
  private bodyEncoded = false

  readonly messageId: string

  constructor(messageId: string, headers: readonly Header[], body: Buffer) {
    this.messageId = messageId
    this.headerList = headers
    this.bodyBytes = body
    this.isText = isUtf8(body)
  }

  get body(): Buffer {
    return this.bodyBytes
  }

  encode(version: StompVersion): Buffer {
    if (this.plain !== undefined) return this.plain
    const index = version === '1.2' ? 2 : version === '1.1' ? 1 : 0
    const cached = this.byVersion?.[index]
    if (cached !== undefined) return cached
    const body = this.bodyBytes
    const headers = this.headerList!
    const lines = headerLine('message-id', this.messageId, version !== '1.0', version) + headerLines(headers, version !== '1.0', version, DELIVERY_HEADERS)
    const encoded = assemble(body.length > 0 ? lines + 'content-length:' + body.length + '\n\n' : lines + '\n', body)
    // STOMP 1.2 escaping lengthens whatever it touches, and it touches a superset of what 1.1
    // escapes and 1.0 sanitizes: unchanged in 1.2 means the same bytes in every version.
    if (version === '1.2' && lines.length === rawLength(this.messageId, headers)) {
      this.plain = encoded
      this.headerList = null
    } else {
      this.byVersion ??= [undefined, undefined, undefined]
      this.byVersion[index] = encoded
    }
    if (!this.bodyEncoded) {
      this.bodyBytes = encoded.subarray(encoded.length - 1 - body.length, encoded.length - 1)
      this.bodyEncoded = true
    }
    return encoded
  }

  /**
   * The headers every delivery carries after `message-id`, `content-length` left out: as given
   * (minus the delivery headers), or decoded from `plain`, whose lines need no unescaping.
   */
  readHeaders(): Header[] {
    const given = this.headerList
    if (given !== null) return given.filter(([name]) => name !== 'content-length' && !DELIVERY_HEADERS.has(name))
    const plain = this.plain!
    const headEnd = plain.length - 1 - this.bodyBytes.length
    const lines = plain.toString('utf8', 0, headEnd - 2).split('\n')
    const headers: Header[] = []
    // Line 0 is message-id; a content-length line is the encoder's own.
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      const colon = line.indexOf(':')
      const name = line.slice(0, colon)
      if (name !== 'content-length') headers.push([name, line.slice(colon + 1)])
    }
    return headers
  }

  /** Bytes held by the encodings made so far. */
  get encodedBytes(): number {
    if (this.plain !== undefined) return this.plain.length
    let total = 0
    for (const b of this.byVersion ?? []) if (b !== undefined) total += b.length
    return total
  }
}

/** Length of the header lines a MESSAGE tail would hold were nothing escaped. */
function rawLength(messageId: string, headers: readonly Header[]): number {
  let length = 'message-id'.length + messageId.length + 2
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!
    if (name === 'content-length' || DELIVERY_HEADERS.has(name)) continue
    length += name.length + value.length + 2
  }
  return length
}

/**
 * The start of every MESSAGE for one subscription: `MESSAGE` and `subscription:<id>`, escaped for
 * the subscriber's version, and `redelivered:<true|false>` when given (a subscription to a queue
 * carries it on every delivery, as RabbitMQ's does). Encoded once per SUBSCRIBE.
 */
export function messageHeadPrefix(subscription: string, version: StompVersion, redelivered?: boolean): Buffer {
  const lines = 'MESSAGE\n' + headerLine('subscription', subscription, version !== '1.0', version)
  return Buffer.from(redelivered === undefined ? lines : lines + 'redelivered:' + redelivered + '\n', 'utf8')
}

/**
 * The header lines only some deliveries carry, between the prefix and the tail: `ack` (ids stompd
 * generates, nothing to escape) for a subscription that must acknowledge, and `redelivered`.
 */
export function deliveryHeaders(ack: string | undefined, redelivered: boolean): string {
  let lines = ack === undefined ? '' : 'ack:' + ack + '\n'
  if (redelivered) lines += 'redelivered:true\n'
  return lines
}

/** A delivery's head as one Buffer: the subscription's prefix and the delivery's own lines. */
export function encodeMessageHead(prefix: Buffer, ack: string | undefined, redelivered: boolean): Buffer {
  const own = deliveryHeaders(ack, redelivered)
  return own === '' ? prefix : Buffer.concat([prefix, Buffer.from(own, 'utf8')])
}
