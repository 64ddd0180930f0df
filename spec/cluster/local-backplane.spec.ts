// The in-process backplane keeps the Backplane contract.
import t from 'tap'
import { LocalHub } from '../../lib/cluster/local-backplane.js'
import { backplaneContract } from './contract.js'

backplaneContract(t, async () => {
  const hub = new LocalHub()
  return {
    join: async () => hub.join(),
    outage: { down: async () => { hub.up = false }, up: async () => { hub.up = true } },
  }
})
