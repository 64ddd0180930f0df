// Which node listens to which topic channels, for a cluster whose messages go node to node
// (sharded-backplane.ts). Each node writes the channels it needs (as channels.ts names them: exact
// names and globs) to a key of its own, kept alive while it lives, and announces each change on
// one plain pub/sub channel; every node keeps the others' sets and asks them which nodes a
// message must reach. Changes are rare (a first subscriber to a topic, the last one leaving)
// next to publishes, which only read memory here.
import type { Logger } from 'pino'
import type { ChannelSubscription } from './channels.js'
import type { RedisClient } from './redis-connection.js'

const INTEREST_PREFIX = 'stompd:interest:'
/** The ids of nodes that have written what they listen to. */
const NODES = 'stompd:interest-nodes'
/** Plain (not sharded) channel: a node id, each time that node's interest changed. */
export const INTEREST_CHANGED = 'stompd:interest-changed'
/** A node's interest outlives it by this much at most (renewed every RENEW_MS while it lives). */
const TTL_MS = 5000
const RENEW_MS = 1000
/** Every node's interest is read again this often, in case an announcement was missed (a reconnect). */
const REFRESH_MS = 5000
/** Channel → nodes answers kept; cleared on any change, and when there are this many. */
const CACHE_LIMIT = 10_000

const keyOf = (nodeId: string): string => `${INTEREST_PREFIX}{${nodeId}}`

/** A Redis glob, as channels.ts writes them (`*` and backslash escapes only), as a RegExp. */
function globToRegExp(glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === '\\' && i + 1 < glob.length) source += escape(glob[++i]!)
    else if (char === '*') source += '.*'
    else source += escape(char)
  }
  return new RegExp(`^${source}$`, 's')
}

const escape = (char: string): string => char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** One node's channels. */
class NodeInterest {
  private readonly exact = new Set<string>()
  private readonly globs: RegExp[] = []

  constructor(subscriptions: readonly ChannelSubscription[]) {
    for (const { channel, isPattern } of subscriptions) {
      if (isPattern) this.globs.push(globToRegExp(channel))
      else this.exact.add(channel)
    }
  }

  wants(channel: string): boolean {
    return this.exact.has(channel) || this.globs.some((glob) => glob.test(channel))
  }
}

function parse(json: string | null): ChannelSubscription[] | null {
  if (json === null) return null
  try {
    const value: unknown = JSON.parse(json)
    return Array.isArray(value) ? value as ChannelSubscription[] : null
  } catch {
    return null
  }
}

export class InterestRegistry {
  private readonly commands: RedisClient
  private readonly nodeId: string
  private readonly logger: Logger
  private readonly own: () => ChannelSubscription[]
  private readonly others = new Map<string, NodeInterest>()
  private readonly answers = new Map<string, string[]>()
  private writeScheduled = false
  private readonly timers: NodeJS.Timeout[] = []

  /** `own`: what this node listens to now (read when it is written). */
  constructor(commands: RedisClient, nodeId: string, own: () => ChannelSubscription[], logger: Logger) {
    this.commands = commands
    this.nodeId = nodeId
    this.own = own
    this.logger = logger
  }

  start(): void {
    const renew = (): void => {
      if (this.commands.status !== 'ready') return
      this.commands.pexpire(keyOf(this.nodeId), TTL_MS).then((kept) => {
        if (kept === 0) this.changed() // expired while Redis was away: written again
      }, () => {})
    }
    this.timers.push(setInterval(renew, RENEW_MS), setInterval(() => this.refresh(), REFRESH_MS))
    for (const timer of this.timers) timer.unref()
  }

  /** Redis is (back) up: this node's interest is written, everyone else's read. */
  connected(): void {
    this.changed()
    this.refresh()
  }

  /** This node's interest changed: written once for however many changes this turn made. */
  changed(): void {
    if (this.writeScheduled) return
    this.writeScheduled = true
    setImmediate(() => {
      this.writeScheduled = false
      void this.write()
    })
  }

  /** Another node announced a change. */
  heard(nodeId: string): void {
    if (nodeId !== this.nodeId) void this.read(nodeId)
  }

  /** The other nodes that listen to `channel`. */
  nodesFor(channel: string): readonly string[] {
    let nodes = this.answers.get(channel)
    if (nodes === undefined) {
      nodes = []
      for (const [nodeId, interest] of this.others) if (interest.wants(channel)) nodes.push(nodeId)
      if (this.answers.size >= CACHE_LIMIT) this.answers.clear()
      this.answers.set(channel, nodes)
    }
    return nodes
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    if (this.commands.status !== 'ready') return
    await Promise.allSettled([this.commands.del(keyOf(this.nodeId)), this.commands.srem(NODES, this.nodeId), this.commands.publish(INTEREST_CHANGED, this.nodeId)])
  }

  private async write(): Promise<void> {
    if (this.commands.status !== 'ready') return // written again on connecting
    try {
      await this.commands.set(keyOf(this.nodeId), JSON.stringify(this.own()), 'PX', TTL_MS)
      await this.commands.sadd(NODES, this.nodeId)
      await this.commands.publish(INTEREST_CHANGED, this.nodeId)
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'redis: what this node listens to was not recorded; retried')
      setTimeout(() => this.changed(), RENEW_MS).unref()
    }
  }

  private async read(nodeId: string): Promise<void> {
    let json: string | null
    try {
      json = await this.commands.get(keyOf(nodeId))
    } catch {
      return // kept as it was; read again at the next refresh
    }
    const subscriptions = parse(json)
    this.answers.clear()
    if (subscriptions === null) this.others.delete(nodeId)
    else this.others.set(nodeId, new NodeInterest(subscriptions))
  }

  /** Every node's interest again; nodes whose key has expired are gone. */
  private refresh(): void {
    if (this.commands.status !== 'ready') return
    this.commands.smembers(NODES).then(async (nodeIds) => {
      const known = new Set(nodeIds)
      for (const nodeId of this.others.keys()) if (!known.has(nodeId)) this.others.delete(nodeId)
      await Promise.all(nodeIds.filter((nodeId) => nodeId !== this.nodeId).map(async (nodeId) => {
        await this.read(nodeId)
        if (!this.others.has(nodeId)) await this.commands.srem(NODES, nodeId)
      }))
    }).catch((err: Error) => this.logger.debug({ err: err.message }, 'redis: reading other nodes\' interest failed; retried'))
  }
}
