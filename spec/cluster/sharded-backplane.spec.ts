// The Redis Cluster backplane (node inboxes on sharded pub/sub) keeps the Backplane contract,
// against a private three-shard Redis Cluster.
import pino from 'pino'
import t from 'tap'
import { ShardedBackplane } from '../../lib/cluster/sharded-backplane.js'
import { startRedisCluster } from '../helpers/redis.js'
import { backplaneContract } from './contract.js'

const silent = pino({ level: 'silent' })

// One Redis Cluster for the file (three servers and a `--cluster create` take seconds): each
// test's members are new nodes with ids of their own, closed (their interest deleted) at its end.
const redis = await startRedisCluster(t)

backplaneContract(t, async (t) => {
  const members: ShardedBackplane[] = []
  t.teardown(() => Promise.all(members.map((member) => member.close())))
  return {
    async join() {
      const member = new ShardedBackplane(redis.url, silent)
      members.push(member)
      await member.ready(10_000)
      return member
    },
    outage: { down: () => redis.stop(), up: () => redis.start() },
  }
})
