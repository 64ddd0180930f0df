// Destination names: which kind a name is, and whether it is valid where it is used.
import { StompError } from '../errors.js'

export type DestinationKind = 'topic' | 'queue' | 'temp-queue' | 'reply-queue' | 'fanout'

export interface Destination {
  kind: DestinationKind
  /** The name after the prefix: `a.b` in `/topic/a.b`; `amq.fanout` for the fan-out exchange. */
  name: string
  /**
   * Named with RabbitMQ's `/amq/queue/<name>`, which only reaches a queue that exists already
   * (RabbitMQ answers `not_found` otherwise); `/queue/<name>` creates it on first use.
   */
  mustExist?: true
}

const PREFIXES: ReadonlyArray<[prefix: string, kind: DestinationKind]> = [
  ['/topic/', 'topic'],
  ['/queue/', 'queue'],
  ['/temp-queue/', 'temp-queue'],
  ['/reply-queue/', 'reply-queue'],
  // RabbitMQ's names for the same things: the topic exchange's routing key is our topic name,
  // and /amq/queue/ is a queue by its own name.
  ['/exchange/amq.topic/', 'topic'],
  ['/amq/queue/', 'queue'],
]

/** RabbitMQ's fan-out exchange, with or without a routing key (which it ignores). */
const FANOUT = '/exchange/amq.fanout'
const EXCHANGE_PREFIX = '/exchange/'

/** What an unknown destination's ERROR lists. */
const KNOWN_FORMS = '/topic/<name>, /queue/<name>, /temp-queue/<name>, /exchange/amq.topic/<key>, /exchange/amq.fanout, /amq/queue/<name>'

const MAX_NAME_LENGTH = 255
// Control characters have no place in a name and would make logs and metric labels unreadable.
const CONTROL = /[\u0000-\u001f\u007f]/
const WILDCARD_SEGMENT = /(^|[./])(\*|#|\*\*)($|[./])/

export type DestinationUse = 'send' | 'subscribe'

/** Parses a destination header; a StompError says why it cannot be used. Error texts follow RabbitMQ's. */
export function parseDestination(value: string, use: DestinationUse): Destination | StompError {
  if (value === FANOUT || value.startsWith(FANOUT + '/')) return { kind: 'fanout', name: 'amq.fanout' }
  for (const [prefix, kind] of PREFIXES) {
    if (!value.startsWith(prefix)) continue
    const name = value.slice(prefix.length)
    if (name.length === 0) return new StompError('invalid-destination', `'' is not a valid ${kind === 'topic' ? 'topic' : 'queue'} destination\n`)
    if (name.length > MAX_NAME_LENGTH) return new StompError('invalid-destination', `destination names are at most ${MAX_NAME_LENGTH} characters\n`)
    if (CONTROL.test(name)) return new StompError('invalid-destination', `${JSON.stringify(value)} contains control characters\n`)
    if (kind === 'topic' && use === 'send' && WILDCARD_SEGMENT.test(name)) {
      return new StompError('invalid-destination', `cannot send to ${JSON.stringify(value)}: wildcards are for SUBSCRIBE\n`)
    }
    if (kind === 'reply-queue' && use === 'subscribe') {
      return new StompError('invalid-destination', `${JSON.stringify(value)} belongs to another connection; subscribe to your /temp-queue/ instead\n`)
    }
    return prefix === '/amq/queue/' ? { kind, name, mustExist: true } : { kind, name }
  }
  if (value.startsWith(EXCHANGE_PREFIX)) {
    return new StompError('unknown-destination', `'${value}' is not an exchange stompd has: it serves /exchange/amq.topic/<key> (the same as /topic/<key>) and /exchange/amq.fanout; other exchanges do not exist here.\nValid destination types are: ${KNOWN_FORMS}.\n`)
  }
  return new StompError('unknown-destination', `'${value}' is not a valid destination.\nValid destination types are: ${KNOWN_FORMS}.\n`)
}

/** The destination's own name, as a MESSAGE carries it: RabbitMQ's aliases come out as /topic/ and /queue/ names. */
export function formatDestination(destination: Destination): string {
  return destination.kind === 'fanout' ? FANOUT : `/${destination.kind}/${destination.name}`
}
