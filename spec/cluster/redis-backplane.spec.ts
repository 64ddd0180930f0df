// The Redis backplane keeps the Backplane contract, against a private redis-server.
import pino from 'pino'
import t from 'tap'
import { RedisBackplane } from '../../lib/cluster/redis-backplane.js'
import { startRedis } from '../helpers/redis.js'
import { backplaneContract } from './contract.js'

const silent = pino({ level: 'silent' })

backplaneContract(t, async (t) => {
  const redis = await startRedis(t)
  const members: RedisBackplane[] = []
  t.teardown(() => Promise.all(members.map((member) => member.close())))
  return {
    async join() {
      const member = new RedisBackplane(redis.url, silent)
      members.push(member)
      await member.ready(5000)
      return member
    },
    outage: { down: () => redis.stop(), up: () => redis.start() },
  }
})
