// Redis channel names for topic messages, and the subscriptions that hear a topic pattern.
// A message goes to the channel of its canonical name; a node listens on that exact channel for a
// plain name, or with a glob (PSUBSCRIBE) that matches every name the pattern does — and some it
// does not (Redis's `*` crosses dots): the node's own matcher then delivers only exact matches.
import { canonicalName, isWildcardPattern, normalizePattern } from '../broker/topic-pattern.js'
import type { TopicKind } from '../broker/backplane.js'

const PREFIX: Record<TopicKind, string> = { topic: 'stompd:topic:', fanout: 'stompd:fanout:', reply: 'stompd:reply:' }

/** A reply queue's channel is its session's: a node listens once per connection with temporary queues. */
const sessionOf = (name: string): string => {
  const dot = name.indexOf('.')
  return dot < 0 ? name : name.slice(0, dot)
}

export function channelOf(kind: TopicKind, name: string): string {
  if (kind === 'reply') return PREFIX.reply + sessionOf(name)
  return PREFIX[kind] + (kind === 'topic' ? canonicalName(name) : name)
}

export interface ChannelSubscription {
  channel: string
  /** A glob for PSUBSCRIBE, not a channel name for SUBSCRIBE. */
  isPattern: boolean
}

/** Glob-special characters a literal segment may hold. */
const GLOB_SPECIAL = /[*?[\]\\]/g

export function subscriptionOf(kind: TopicKind, pattern: string): ChannelSubscription {
  if (kind !== 'topic' || !isWildcardPattern(pattern)) return { channel: channelOf(kind, pattern), isPattern: false }
  let glob = ''
  // A `#` may match no segment at all, so it swallows the separators beside it: `a.#.b` → `a*b`.
  let separatorPending = false
  for (const segment of normalizePattern(pattern)) {
    if (segment === '#') {
      glob += '*'
      separatorPending = false
      continue
    }
    if (separatorPending) glob += '.'
    glob += segment === '*' ? '*' : segment.replace(GLOB_SPECIAL, '\\$&')
    separatorPending = true
  }
  return { channel: PREFIX[kind] + glob, isPattern: true }
}
