// Last values: a SEND with `retain:true` to a topic is kept as that topic's last value, and a new
// subscriber gets it first, marked `retained:true` (as MQTT brokers do); a retained SEND with an
// empty body clears it. A persistent one is written to the store (as the single message of the
// store queue `retained:<topic>`), so it survives a restart.
import type { Store } from '../store/store.js'
import type { Message } from './message.js'
import { canonicalName, isWildcardPattern, normalizePattern, patternMatches, splitTopic } from './topic-pattern.js'

export const RETAINED_STORE_PREFIX = 'retained:'

interface Retained {
  message: Message
  /** Its store key when it is persistent. */
  key: number | null
}

export class RetainedValues {
  private readonly store: Store
  /** By canonical topic name. */
  private readonly values = new Map<string, Retained>()

  constructor(store: Store) {
    this.store = store
  }

  get size(): number {
    return this.values.size
  }

  /** `message` (a SEND with retain:true) becomes the last value of topic `name`, or clears it. */
  keep(name: string, message: Message): Promise<void> | undefined {
    const topic = canonicalName(name)
    const previous = this.values.get(topic)
    if (previous?.key != null) this.store.remove(previous.key)
    if (message.body.length === 0) {
      this.values.delete(topic)
      return undefined
    }
    if (!message.persistent) {
      this.values.set(topic, { message, key: null })
      return undefined
    }
    const written = this.store.append(RETAINED_STORE_PREFIX + topic, message, 0)
    this.values.set(topic, { message, key: written.key })
    return written.durable
  }

  /** A stored last value, at start-up. */
  restore(topic: string, message: Message, key: number): void {
    const previous = this.values.get(topic)
    if (previous?.key != null) this.store.remove(previous.key)
    this.values.set(topic, { message, key })
  }

  /** The last values a new subscription to `pattern` gets first, marked `retained:true`. */
  matching(pattern: string): Message[] {
    if (this.values.size === 0) return []
    const now = Date.now()
    if (!isWildcardPattern(pattern)) {
      const retained = this.values.get(canonicalName(pattern))
      return retained === undefined || retained.message.isExpired(now) ? [] : [marked(retained.message)]
    }
    const segments = normalizePattern(pattern)
    const found: Message[] = []
    for (const [topic, retained] of this.values) {
      if (!retained.message.isExpired(now) && patternMatches(segments, splitTopic(topic))) found.push(marked(retained.message))
    }
    return found
  }
}

function marked(message: Message): Message {
  return message.with(message.destination, [...message.headers.filter(([name]) => name !== 'retained'), ['retained', 'true']])
}
