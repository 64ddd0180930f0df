// Backplanes for nodes in one process, joined by a LocalHub: what the Redis backplane does, with
// no engine, for specs (the Backplane contract runs against both) and for embedding several
// brokers in one program. Messages travel through the same envelope and channel rules as over
// Redis, asynchronously and in order.
import { randomBytes } from 'node:crypto'
import { StompError } from '../errors.js'
import type { Message } from '../broker/message.js'
import type { Backplane, RemoteDelivery, TopicKind } from '../broker/backplane.js'
import { channelOf, subscriptionOf } from './channels.js'
import { Arrivals, encodeEnvelope } from './envelope.js'
import { ListenCounts } from './listen-counts.js'

/** Redis's glob, for the subset channels.ts writes: `*` any run of characters, `\x` a literal x. */
function globMatches(glob: string, text: string): boolean {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '\\') source += '\\' + (glob[++i] ?? '')
    else if (c === '*') source += '[\\s\\S]*'
    else source += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')
  }
  return new RegExp(`^${source}$`).test(text)
}

export class LocalHub {
  readonly members = new Set<LocalBackplane>()
  /** While false, every member reports the engine unreachable (to try `cluster unavailable`). */
  up = true

  join(): LocalBackplane {
    const backplane = new LocalBackplane(this)
    this.members.add(backplane)
    return backplane
  }

  /** Hands `bytes` sent to `channel` to every member that hears it, each copy once per matching subscription (as Redis does). */
  deliver(channel: string, bytes: Buffer): void {
    for (const member of this.members) {
      for (const subscription of member.listening.subscriptions()) {
        if (subscription.isPattern ? globMatches(subscription.channel, channel) : subscription.channel === channel) member.receive(bytes)
      }
    }
  }
}

export class LocalBackplane implements Backplane {
  readonly nodeId = randomBytes(6).toString('base64url')
  onMessage: RemoteDelivery = () => {}
  readonly listening = new ListenCounts()
  private readonly hub: LocalHub
  private seq = 0
  private readonly arrivals: Arrivals

  constructor(hub: LocalHub) {
    this.hub = hub
    this.arrivals = new Arrivals(this.nodeId)
  }

  get problem(): string | null {
    return this.hub.up ? null : 'the hub is down'
  }

  publish(kind: TopicKind, name: string, message: Message): Promise<void> {
    if (!this.hub.up) return Promise.reject(new StompError('cluster-unavailable', 'the local hub is down'))
    const bytes = encodeEnvelope(this.nodeId, ++this.seq, kind, name, message)
    const channel = channelOf(kind, name)
    return new Promise((resolve) => setImmediate(() => {
      this.hub.deliver(channel, bytes)
      resolve()
    }))
  }

  listen(kind: TopicKind, pattern: string): void {
    this.listening.add(subscriptionOf(kind, pattern))
  }

  unlisten(kind: TopicKind, pattern: string): void {
    this.listening.remove(subscriptionOf(kind, pattern))
  }

  /** One copy of a message from the hub: skipped if it is ours or the copy just seen. */
  receive(bytes: Buffer): void {
    const envelope = this.arrivals.sort(bytes)
    if (envelope === null) return
    this.onMessage(envelope.kind, envelope.name, envelope.message)
  }

  async close(): Promise<void> {
    this.hub.members.delete(this)
  }
}
