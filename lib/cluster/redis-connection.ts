// One way for every cluster component to connect to Redis (the URL forms: redis-url.ts). With
// Sentinels ioredis asks them for the current master and follows a failover; with a Redis Cluster
// it follows MOVED/ASK and slot changes, and keys, streams and sharded channels spread over the
// shards.
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { parseRedisUrl } from './redis-url.js'

/** A connection to a single Redis (or a Sentinel-managed master), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster

/** Backoff from 100 ms to 2 s between attempts, forever. */
const retry = (attempt: number): number => Math.min(2000, 100 * attempt)

/**
 * How ioredis connects: never queue a command while disconnected (a SEND then gets ERROR instead
 * of waiting); the commands of one turn go out in one write (auto-pipelining), not one write each.
 */
function options(pipelined: boolean): RedisOptions {
  return { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: retry, enableAutoPipelining: pipelined }
}

/**
 * `subscriber`: the connection will SSUBSCRIBE; on a Redis Cluster that takes one subscriber
 * connection per shard (ioredis's sharded subscribers), on a single Redis nothing changes.
 * `pipelined`: auto-pipelining, for a connection that sends many small commands; not with
 * call()/callBuffer(), which it breaks (ioredis 5.11 then sends the command without its name).
 */
export function connectRedis(url: string, { subscriber = false, pipelined = false }: { subscriber?: boolean, pipelined?: boolean } = {}): RedisClient {
  const target = parseRedisUrl(url)
  if (target === null) throw new Error(`not a Redis URL: ${url}`)
  switch (target.kind) {
    case 'cluster':
      return new Cluster(target.seeds, {
        enableOfflineQueue: false, shardedSubscribers: subscriber, enableAutoPipelining: pipelined, redisOptions: { maxRetriesPerRequest: 1 }, clusterRetryStrategy: retry,
      })
    case 'sentinel':
      return new Redis({ ...options(pipelined), sentinels: target.sentinels, name: target.master })
    case 'single':
      return new Redis(target.url, options(pipelined))
  }
}

/** Resolves once `problem()` says nothing is wrong; rejects with what still is after `ms`. */
export async function untilReachable(problem: () => string | null, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  for (let now = problem(); now !== null; now = problem()) {
    if (Date.now() > deadline) throw new Error(`redis: ${now}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
