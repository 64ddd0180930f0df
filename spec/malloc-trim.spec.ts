// Handing malloc's freed memory back to the system after a burst: the trimming rule over a
// heap whose numbers the spec sets, then glibc's real malloc on this machine, where what a user
// sees is the process's RSS going back down.
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import pino from 'pino'
import t from 'tap'
import { loadGlibcHeap, MallocTrimmer, type MallocHeap } from '../lib/malloc-trim.js'

const MiB = 1024 * 1024
const quiet = pino({ level: 'silent' })

/** A heap whose bytes in use the spec sets, counting the trims asked of it. */
class ScriptedHeap implements MallocHeap {
  bytes = 10 * MiB
  trims = 0
  inUse(): number { return this.bytes }
  trim(): void { this.trims++ }
}

t.test('a heap that only grows, or shrinks by less than the threshold, is left alone', async (t) => {
  const heap = new ScriptedHeap()
  const trimmer = new MallocTrimmer(heap, { shrinkBytes: 16 * MiB, intervalMs: 1000 }, quiet)
  for (const bytes of [20, 40, 60, 45, 50, 60]) {
    heap.bytes = bytes * MiB
    t.equal(trimmer.check(), false, `${bytes} MiB in use`)
  }
  t.equal(heap.trims, 0)
})

t.test('a burst that grows the heap and then frees it is trimmed once, and the next burst again', async (t) => {
  const heap = new ScriptedHeap()
  const trimmer = new MallocTrimmer(heap, { shrinkBytes: 16 * MiB, intervalMs: 1000 }, quiet)
  heap.bytes = 50 * MiB
  t.equal(trimmer.check(), false, 'while the burst holds its memory')
  heap.bytes = 12 * MiB
  t.equal(trimmer.check(), true, 'once it is freed')
  // The pages it released still count as free in malloc's lists: no trim again for them.
  t.equal(trimmer.check(), false)
  heap.bytes = 11 * MiB
  t.equal(trimmer.check(), false)
  heap.bytes = 40 * MiB
  trimmer.check()
  heap.bytes = 11 * MiB
  t.equal(trimmer.check(), true, 'a second burst')
  t.equal(heap.trims, 2)
})

t.test('the timer looks at the heap on its own', async (t) => {
  const heap = new ScriptedHeap()
  const trimmer = new MallocTrimmer(heap, { shrinkBytes: 16 * MiB, intervalMs: 20 }, quiet)
  heap.bytes = 50 * MiB
  trimmer.start()
  t.teardown(() => trimmer.stop())
  await new Promise((resolve) => setTimeout(resolve, 60))
  heap.bytes = 10 * MiB
  const deadline = Date.now() + 2000
  while (heap.trims === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(heap.trims, 1)
})

const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime

t.test('memory freed below a live allocation goes back to the system (glibc; elsewhere there is nothing to trim)', async (t) => {
  const heap = await loadGlibcHeap()
  if (glibc === undefined) {
    t.ok('unavailable' in heap, 'no glibc malloc, so the CLI starts no trimmer')
    return
  }
  if ('unavailable' in heap) return t.fail(heap.unavailable)
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void

  const trimmer = new MallocTrimmer(heap, { shrinkBytes: 16 * MiB, intervalMs: 60_000 }, quiet)
  // 48 MiB in 64 KiB buffers (under glibc's mmap threshold, so they come from its heap),
  // written so their pages are resident, then one more kept alive above them: freeing the
  // rest leaves a hole glibc's free() cannot give back, as closed connections do.
  const held = { burst: Array.from({ length: 768 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1)) }
  const pin = Buffer.allocUnsafeSlow(64 * 1024).fill(2)
  t.equal(trimmer.check(), false, 'nothing to trim while the burst is alive')
  const inUseWithBurst = heap.inUse()

  held.burst = []
  const deadline = Date.now() + 5000
  // V8 frees array buffers' memory after a collection, possibly on another thread.
  while (heap.inUse() > inUseWithBurst - 40 * MiB && Date.now() < deadline) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(heap.inUse() <= inUseWithBurst - 40 * MiB, 'the burst was freed')
  const rssFreed = process.memoryUsage.rss()
  t.equal(trimmer.check(), true, 'trimmed')
  const rssTrimmed = process.memoryUsage.rss()
  t.ok(rssFreed - rssTrimmed >= 32 * MiB, `RSS went from ${Math.round(rssFreed / MiB)} MiB to ${Math.round(rssTrimmed / MiB)} MiB`)
  t.equal(pin[0], 2, 'what was still in use is untouched')
})
