// Destination names: which kind a name is, and whether it is valid where it is used.
import { StompError } from '../errors.js'

export type DestinationKind = 'topic' | 'queue' | 'temp-queue' | 'reply-queue' | 'fanout' | 'user' | 'stream'

export interface Destination {
  kind: DestinationKind
  /** The name after the prefix: `a.b` in `/topic/a.b`; `amq.fanout` for the fan-out exchange. */
  name: string
  /**
   * Named with RabbitMQ's `/amq/queue/<name>`, which only reaches a queue that exists already
   * (RabbitMQ answers `not_found` otherwise); `/queue/<name>` creates it on first use.
   */
  mustExist?: true
  /**
   * A Spring user destination's user: the addressee of a SEND to `/user/<user>/queue/x`; for a
   * SUBSCRIBE to `/user/queue/x` the session fills in its own. `name` is then `queue/x`.
   */
  user?: string
}

const PREFIXES: ReadonlyArray<[prefix: string, kind: DestinationKind]> = [
  ['/topic/', 'topic'],
  ['/queue/', 'queue'],
  ['/temp-queue/', 'temp-queue'],
  ['/reply-queue/', 'reply-queue'],
  ['/stream/', 'stream'],
  // RabbitMQ's names for the same things: the topic exchange's routing key is our topic name,
  // and /amq/queue/ is a queue by its own name.
  ['/exchange/amq.topic/', 'topic'],
  ['/amq/queue/', 'queue'],
]

/** RabbitMQ's fan-out exchange, with or without a routing key (which it ignores). */
const FANOUT = '/exchange/amq.fanout'
/** Spring's user destinations: SUBSCRIBE `/user/queue/x` (one's own), SEND `/user/<user>/queue/x`. */
const USER_PREFIX = '/user/'
const USER_PATH = /^(queue|topic)\/./
const EXCHANGE_PREFIX = '/exchange/'

/** What an unknown destination's ERROR lists. */
const KNOWN_FORMS = '/topic/<name>, /queue/<name>, /stream/<name>, /temp-queue/<name>, /exchange/amq.topic/<key>, /exchange/amq.fanout, /amq/queue/<name>, /user/queue/<name> (SEND: /user/<user>/queue/<name>)'

const MAX_NAME_LENGTH = 255
// Control characters have no place in a name and would make logs and metric labels unreadable.
const CONTROL = /[\u0000-\u001f\u007f]/
const WILDCARD_SEGMENT = /(^|[./])(\*|#|\*\*)($|[./])/

export type DestinationUse = 'send' | 'subscribe'

/** Parses a destination header; a StompError says why it cannot be used. Error texts follow RabbitMQ's. */
export function parseDestination(value: string, use: DestinationUse): Destination | StompError {
  if (value === FANOUT || value.startsWith(FANOUT + '/')) return { kind: 'fanout', name: 'amq.fanout' }
  if (value.startsWith(USER_PREFIX)) return parseUserDestination(value, use)
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

/**
 * `/user/queue/<name>` for SUBSCRIBE; `/user/<user>/queue/<name>` (or `topic`) for SEND, the user
 * with any `/` written `%2F`, as Spring writes it.
 */
function parseUserDestination(value: string, use: DestinationUse): Destination | StompError {
  const rest = value.slice(USER_PREFIX.length)
  let user: string | undefined
  let path = rest
  if (use === 'send') {
    const slash = rest.indexOf('/')
    user = slash <= 0 ? '' : rest.slice(0, slash).replaceAll('%2F', '/').replaceAll('%2f', '/')
    path = slash <= 0 ? '' : rest.slice(slash + 1)
    if (user === '' || !USER_PATH.test(path)) {
      return new StompError('invalid-destination', `cannot send to '${value}': a user destination to send to is /user/<user>/queue/<name> (or /topic/<name>)\n`)
    }
  } else if (!USER_PATH.test(path)) {
    return new StompError('invalid-destination', `cannot subscribe to '${value}': subscribe to your own /user/queue/<name> (or /user/topic/<name>); /user/<user>/... is for SEND\n`)
  }
  if (path.length > MAX_NAME_LENGTH) return new StompError('invalid-destination', `destination names are at most ${MAX_NAME_LENGTH} characters\n`)
  if (CONTROL.test(value)) return new StompError('invalid-destination', `${JSON.stringify(value)} contains control characters\n`)
  return user === undefined ? { kind: 'user', name: path } : { kind: 'user', name: path, user }
}

/**
 * The destination's own name, as a MESSAGE carries it: RabbitMQ's aliases come out as /topic/ and
 * /queue/ names, a user destination as the subscriber subscribed to it (`/user/queue/x`), as
 * Spring's broker writes it.
 */
export function formatDestination(destination: Destination): string {
  if (destination.kind === 'fanout') return FANOUT
  if (destination.kind === 'user') return `${USER_PREFIX}${destination.name}`
  return `/${destination.kind}/${destination.name}`
}

/**
 * Where a user destination is routed: an exact name in the fan-out router (which crosses a
 * cluster like the fan-out exchange), one per user and path. NULs cannot occur in names.
 */
export function userRoute(destination: Destination): string {
  if (destination.user === undefined) throw new Error('a user destination without its user')
  return `\u0000user\u0000${destination.user}\u0000${destination.name}`
}
