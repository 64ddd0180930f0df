// One way for every cluster component to connect to Redis: a plain `redis://` / `rediss://` URL,
// or `redis-sentinel://host:port[,host:port...]/<master name>`, where ioredis asks the Sentinels
// for the current master and follows a failover by itself.
import { Redis, type RedisOptions } from 'ioredis'

/** How ioredis connects: never queue a command while disconnected (a SEND then gets ERROR instead of waiting). */
function options(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Backoff from 100 ms to 2 s between attempts, forever.
    retryStrategy: (attempt: number) => Math.min(2000, 100 * attempt),
  }
}

const SENTINEL = /^redis-sentinel:\/\/([^/]+)\/([^/?#]+)$/

export function connectRedis(url: string): Redis {
  const sentinel = SENTINEL.exec(url)
  if (sentinel === null) return new Redis(url, options())
  const sentinels = sentinel[1]!.split(',').map((address) => {
    const colon = address.lastIndexOf(':')
    return colon < 0 ? { host: address, port: 26379 } : { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }
  })
  return new Redis({ ...options(), sentinels, name: decodeURIComponent(sentinel[2]!) })
}
