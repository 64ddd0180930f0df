// The chunk pool: blocks of slab memory rented by outboxes, reused only once handed back, and
// slabs let go of once nothing is rented from them.
import t from 'tap'
import { ChunkPool } from '../../lib/session/chunk-pool.js'

/** Whether two views share any byte of memory. */
function overlap(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length
}

t.test('a rented block is the smallest power of two from 1 KiB that holds the request; a larger request gets a Buffer of its own', async (t) => {
  const pool = new ChunkPool()
  t.equal(pool.rent(1).length, 1024)
  t.equal(pool.rent(1024).length, 1024)
  t.equal(pool.rent(1025).length, 2048)
  t.equal(pool.rent(40_000).length, 65536)
  t.equal(pool.rent(65536).length, 65536)
  const own = pool.rent(65537)
  t.equal(own.length, 65537)
  t.same(pool.stats(), { slabBytes: 32 * 1024 * 1024, rentedBytes: 2 * 1024 + 2048 + 2 * 65536 }, 'every size from one slab')
  pool.giveBack(own) // not the pool's: ignored
  t.equal(pool.stats().rentedBytes, 2 * 1024 + 2048 + 2 * 65536)
})

t.test('blocks out at the same time never share memory', async (t) => {
  const pool = new ChunkPool()
  const blocks = Array.from({ length: 200 }, (_, i) => pool.rent(1024 << (i % 7)))
  let shared = 0
  for (let i = 0; i < blocks.length; i++) for (let j = i + 1; j < blocks.length; j++) if (overlap(blocks[i]!, blocks[j]!)) shared++
  t.equal(shared, 0)
})

t.test('a block handed back is rented again; a forgotten one never is', async (t) => {
  const pool = new ChunkPool()
  const kept = pool.rent(4096)
  const returned = pool.rent(4096)
  const forgotten = pool.rent(4096)
  pool.giveBack(returned)
  pool.forget(forgotten)
  t.equal(pool.stats().rentedBytes, 4096)
  const next = pool.rent(4096)
  t.ok(overlap(next, returned), 'the returned block comes back first')
  const later = Array.from({ length: 1000 }, () => pool.rent(4096))
  t.notOk(later.some((block) => overlap(block, forgotten) || overlap(block, kept)))
})

t.test('a slab nothing is rented from is dropped at the second sweep; one with a block out stays', async (t) => {
  const pool = new ChunkPool()
  const small = pool.rent(1024)
  const large = pool.rent(65536)
  t.equal(pool.stats().slabBytes, 32 * 1024 * 1024)
  pool.giveBack(large)
  pool.sweep()
  pool.sweep()
  t.equal(pool.stats().slabBytes, 32 * 1024 * 1024, 'a block still out: kept')
  pool.forget(small)
  pool.sweep()
  t.equal(pool.stats().slabBytes, 32 * 1024 * 1024, 'empty for one sweep: kept')
  pool.sweep()
  t.same(pool.stats(), { slabBytes: 0, rentedBytes: 0 }, 'empty for two: dropped (a forgotten block does not hold it)')
  pool.giveBack(large) // a block of a dropped slab: ignored
  t.same(pool.stats(), { slabBytes: 0, rentedBytes: 0 })
})

t.test('blocks are aligned to their size, and the room skipped to align one is used for smaller ones', async (t) => {
  const pool = new ChunkPool()
  const first = pool.rent(1024)
  const large = pool.rent(65536)
  t.equal(large.byteOffset - first.byteOffset, 65536, 'the 64 KiB block starts at the next 64 KiB boundary')
  const smaller = [pool.rent(1024), pool.rent(2048), pool.rent(4096), pool.rent(8192), pool.rent(16384), pool.rent(32768)]
  t.ok(smaller.every((block) => block.byteOffset - first.byteOffset < 65536), 'every smaller one fits in the gap in front of it')
  t.ok(smaller.every((block) => (block.byteOffset - first.byteOffset) % block.length === 0), 'each aligned to its size')
})

t.test('renting between two sweeps keeps a slab, and a new slab is cut only when the others are full', async (t) => {
  const pool = new ChunkPool()
  pool.giveBack(pool.rent(65536))
  pool.sweep()
  pool.giveBack(pool.rent(65536))
  pool.sweep()
  t.equal(pool.stats().slabBytes, 32 * 1024 * 1024, 'used since the last sweep: kept')
  const blocks = Array.from({ length: 512 }, () => pool.rent(65536))
  t.equal(pool.stats().slabBytes, 32 * 1024 * 1024, '512 blocks of 64 KiB fill one slab')
  blocks.push(pool.rent(65536))
  t.equal(pool.stats().slabBytes, 64 * 1024 * 1024)
  for (const block of blocks) pool.giveBack(block)
  pool.sweep()
  pool.sweep()
  t.same(pool.stats(), { slabBytes: 0, rentedBytes: 0 })
})
