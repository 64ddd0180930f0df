// The forms of --redis: `redis://` / `rediss://` (one Redis), `redis-sentinel://host:port[,...]/<master>`
// (a Sentinel-managed master) and `redis-cluster://host:port[,...]` (a Redis Cluster's seed nodes).
// No connection here: the config check reads these too.

export type RedisTarget =
  | { kind: 'single', url: string }
  | { kind: 'sentinel', sentinels: Address[], master: string }
  | { kind: 'cluster', seeds: Address[] }

export interface Address { host: string, port: number }

const SENTINEL = /^redis-sentinel:\/\/([^/]+)\/([^/?#]+)$/
const CLUSTER = /^redis-cluster:\/\/([^/?#]+)\/?$/
const SINGLE = /^rediss?:\/\/./

function addresses(list: string, defaultPort: number): Address[] {
  return list.split(',').map((address) => {
    const colon = address.lastIndexOf(':')
    return colon < 0 ? { host: address, port: defaultPort } : { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }
  })
}

/** What the URL names; null when it is none of the forms. */
export function parseRedisUrl(url: string): RedisTarget | null {
  const cluster = CLUSTER.exec(url)
  if (cluster !== null) return { kind: 'cluster', seeds: addresses(cluster[1]!, 6379) }
  const sentinel = SENTINEL.exec(url)
  if (sentinel !== null) return { kind: 'sentinel', sentinels: addresses(sentinel[1]!, 26379), master: decodeURIComponent(sentinel[2]!) }
  return SINGLE.test(url) ? { kind: 'single', url } : null
}

export const REDIS_URL_FORMS = 'a redis://, rediss://, redis-sentinel://host:port,.../<master> or redis-cluster://host:port,... URL'
