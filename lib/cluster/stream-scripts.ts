// The Lua scripts cluster queues run in Redis, and how they are run: loaded (SCRIPT LOAD, on every
// shard of a Redis Cluster) each time the connection is ready, then called by hash (EVALSHA), so a
// SEND carries its message and not the script. A script Redis has lost (a restart we did not see,
// a new shard) fails that call with the queue unavailable and is loaded again: retrying it after
// loading, as ioredis's own scripts do, would put those messages behind later ones.
import { createHash } from 'node:crypto'
import { Cluster } from 'ioredis'
import type { Logger } from 'pino'
import type { RedisClient } from './redis-connection.js'

export interface Script {
  readonly lua: string
  readonly sha: string
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/**
 * SENDs to a queue, several at once: KEYS[1] the stream, KEYS[2] the limits declared for it
 * cluster-wide, which win over this node's defaults (ARGV[1] max length, ARGV[2] overflow);
 * then message and delivery count pairs. reject-publish stops adding once the stream holds the
 * limit; drop-head trims the oldest. Returns how many of the messages, from the first, were added.
 */
export const ENQUEUE = script(`
local maxLength = tonumber(ARGV[1])
local overflow = ARGV[2]
local declared = redis.call('GET', KEYS[2])
if declared then
  local limits = cjson.decode(declared)
  maxLength = tonumber(limits.maxLength) or 0
  overflow = limits.overflow
end
local added = 0
for i = 3, #ARGV, 2 do
  if maxLength > 0 and overflow == 'reject-publish' then
    if redis.call('XLEN', KEYS[1]) >= maxLength then return added end
    redis.call('XADD', KEYS[1], '*', 'm', ARGV[i], 'd', ARGV[i + 1])
  elseif maxLength > 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', maxLength, '*', 'm', ARGV[i], 'd', ARGV[i + 1])
  else
    redis.call('XADD', KEYS[1], '*', 'm', ARGV[i], 'd', ARGV[i + 1])
  end
  added = added + 1
end
return added`)

/**
 * A topic message for a durable subscription: every node that hears it (the publisher's, and each
 * node that knows the subscription) offers it; the first adds it, the others find it seen.
 */
export const ADD_ONCE = script(`
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then redis.call('XADD', KEYS[1], '*', 'm', ARGV[1], 'd', ARGV[2]) end
return 1`)

const ALL = [ENQUEUE, ADD_ONCE]

export class ScriptRunner {
  private readonly connection: RedisClient
  private readonly logger: Logger
  private loaded = false

  constructor(connection: RedisClient, logger: Logger) {
    this.connection = connection
    this.logger = logger
    connection.on('ready', () => void this.load())
    connection.on('close', () => {
      this.loaded = false
    })
  }

  /** Null once the scripts are in Redis; otherwise why not yet. */
  get problem(): string | null {
    return this.loaded ? null : 'loading scripts'
  }

  async run(script: Script, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
    try {
      return await this.connection.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if ((err as Error).message.includes('NOSCRIPT') && this.loaded) {
        this.loaded = false
        void this.load()
      }
      throw err
    }
  }

  private async load(): Promise<void> {
    if (this.connection.status === 'end') return // closed for good
    const shards = this.connection instanceof Cluster ? this.connection.nodes('master') : [this.connection]
    try {
      await Promise.all(shards.flatMap((shard) => ALL.map((each) => shard.script('LOAD', each.lua))))
      this.loaded = true
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'redis: queue scripts not loaded; retried')
      setTimeout(() => void this.load(), 500).unref()
    }
  }
}
