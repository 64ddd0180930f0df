// A topic message on its way between nodes: who sent it (node and sequence number, so a node can
// skip its own and a copy it already has), where to, and the message itself. One JSON line with
// everything but the body, then the body's bytes as they are.
import { Message, type Header } from '../broker/message.js'
import type { TopicKind } from '../broker/backplane.js'
import { StompError } from '../errors.js'

export interface Envelope {
  origin: string
  seq: number
  kind: TopicKind
  name: string
  message: Message
}

interface Head {
  o: string
  s: number
  k: TopicKind
  n: string
  d: string
  i: string
  h: Header[]
  p: boolean
  e: number
}

const NEWLINE = 0x0a

export function encodeEnvelope(origin: string, seq: number, kind: TopicKind, name: string, message: Message): Buffer {
  const head: Head = { o: origin, s: seq, k: kind, n: name, d: message.destination, i: message.id, h: message.headers, p: message.persistent, e: message.expires }
  // JSON never writes a raw newline (it escapes those in strings): the first one ends the head.
  return Buffer.concat([Buffer.from(JSON.stringify(head) + '\n'), message.body])
}

/**
 * What a node hears, sorted: another node's message once. A node hears its own too, and a
 * message once per subscription it matches (Redis sends those copies one after another).
 */
export class Arrivals {
  private readonly nodeId: string
  private last = ''

  constructor(nodeId: string) {
    this.nodeId = nodeId
  }

  /** The envelope to deliver, or null for one of ours, a copy just seen, or bytes that are no envelope. */
  sort(bytes: Buffer): Envelope | null {
    const envelope = decodeEnvelope(bytes)
    if (envelope === null || envelope.origin === this.nodeId) return null
    const id = `${envelope.origin}:${envelope.seq}`
    if (id === this.last) return null
    this.last = id
    return envelope
  }
}

/** The envelope in `bytes`; null when they are not one (another program writing to our channels). */
export function decodeEnvelope(bytes: Buffer): Envelope | null {
  const end = bytes.indexOf(NEWLINE)
  if (end < 0) return null
  let head: Head
  try {
    head = JSON.parse(bytes.toString('utf8', 0, end)) as Head
  } catch {
    return null
  }
  if (typeof head.o !== 'string' || typeof head.n !== 'string' || !Array.isArray(head.h)) return null
  // A copy: the subscriber connection's buffer is not ours to keep.
  const body = Buffer.from(bytes.subarray(end + 1))
  const retain = head.h.find(([name]) => name === 'retain')?.[1] === 'true'
  const message = new Message({ id: head.i, destination: head.d, headers: head.h, body, persistent: head.p, expires: head.e, retain })
  return { origin: head.o, seq: head.s, kind: head.k, name: head.n, message }
}

/** A topic message that could not be handed to the other nodes: the SEND is refused. */
export function unreachable(detail: string): StompError {
  return new StompError('cluster-unavailable', `the message could not reach the other nodes (${detail}); it was not accepted`)
}
