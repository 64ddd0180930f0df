// The memory store (`--store memory`) against the Store contract. Nothing it holds outlives
// the process, so it never makes anyone wait for durability.
import t from 'tap'
import { MemoryStore } from '../../lib/store/memory.js'
import { storeContract, storeMessage } from './contract.js'

storeContract(t, 'memory', () => new MemoryStore())

t.test('the memory store never makes a writer wait: durable is undefined', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  t.equal(store.append('/queue/a', storeMessage('/queue/a', 'x'), 0).durable, undefined)
})
