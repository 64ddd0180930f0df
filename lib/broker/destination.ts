// Destination names: which kind a name is, and whether it is valid where it is used.
import { StompError } from '../errors.js'

export type DestinationKind = 'topic' | 'queue' | 'temp-queue' | 'reply-queue'

export interface Destination {
  kind: DestinationKind
  /** The name after the prefix: `a.b` in `/topic/a.b`. */
  name: string
}

const PREFIXES: ReadonlyArray<[prefix: string, kind: DestinationKind]> = [
  ['/topic/', 'topic'],
  ['/queue/', 'queue'],
  ['/temp-queue/', 'temp-queue'],
  ['/reply-queue/', 'reply-queue'],
]

const MAX_NAME_LENGTH = 255
// Control characters have no place in a name and would make logs and metric labels unreadable.
const CONTROL = /[\u0000-\u001f\u007f]/
const WILDCARD_SEGMENT = /(^|[./])(\*|#|\*\*)($|[./])/

export type DestinationUse = 'send' | 'subscribe'

/** Parses a destination header; a StompError says why it cannot be used. */
export function parseDestination(value: string, use: DestinationUse): Destination | StompError {
  for (const [prefix, kind] of PREFIXES) {
    if (!value.startsWith(prefix)) continue
    const name = value.slice(prefix.length)
    if (name.length === 0) return new StompError('invalid-destination', `${JSON.stringify(value)} has no name after ${prefix}`)
    if (name.length > MAX_NAME_LENGTH) return new StompError('invalid-destination', `destination names are at most ${MAX_NAME_LENGTH} characters`)
    if (CONTROL.test(name)) return new StompError('invalid-destination', `${JSON.stringify(value)} contains control characters`)
    if (kind === 'topic' && use === 'send' && WILDCARD_SEGMENT.test(name)) {
      return new StompError('invalid-destination', `cannot send to ${JSON.stringify(value)}: wildcards are for SUBSCRIBE`)
    }
    if (kind === 'reply-queue' && use === 'subscribe') {
      return new StompError('invalid-destination', `${JSON.stringify(value)} belongs to another connection; subscribe to your /temp-queue/ instead`)
    }
    return { kind, name }
  }
  return new StompError('unknown-destination', `${JSON.stringify(value)} is not a known destination: use /topic/, /queue/ or /temp-queue/`)
}

export function formatDestination(destination: Destination): string {
  return `/${destination.kind}/${destination.name}`
}
