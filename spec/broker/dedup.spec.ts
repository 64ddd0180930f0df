// The duplicate-detection window on its own: persistent ids go to the store and leave it when
// their window passes or they are evicted; a refused publish is not remembered; a duplicate of a
// publish still pending gets the same promise (its RECEIPT waits for the first one's durability).
import t from 'tap'
import { DedupWindow } from '../../lib/broker/dedup.js'
import { StompError } from '../../lib/errors.js'
import { MemoryStore } from '../../lib/store/memory.js'

async function storedIds(store: MemoryStore): Promise<string[]> {
  const ids: string[] = []
  for await (const stored of store.recover()) ids.push(`${stored.queue} ${stored.id}`)
  return ids
}

t.test('persistent ids are stored, and removed when swept or evicted', async (t) => {
  const store = new MemoryStore()
  const window = new DedupWindow(store, { windowMs: 1000, maxIds: 2 })
  let published = 0
  const publish = (): undefined => {
    published++
    return undefined
  }
  window.once('/queue/a', 'x', true, publish)
  window.once('/queue/a', 'x', true, publish)
  window.once('/queue/a', 'y', false, publish)
  t.equal(published, 2)
  t.same(await storedIds(store), ['dedup:/queue/a x'], 'only the persistent id is stored')
  window.once('/queue/a', 'z', true, publish)
  t.same(await storedIds(store), ['dedup:/queue/a z'], 'x evicted (two ids at most), y was never stored')
  window.sweep(Date.now() + 2000)
  t.same(await storedIds(store), [], 'swept after the window')
  window.once('/queue/a', 'z', true, publish)
  t.equal(published, 4, 'new again')
})

t.test('a refused publish is not remembered; a duplicate of a pending one shares its promise', async (t) => {
  const window = new DedupWindow(new MemoryStore(), { windowMs: 60_000, maxIds: 10 })
  const refused = window.once('/queue/a', 'r', false, () => new StompError('queue-full', 'full'))
  t.ok(refused instanceof StompError)
  let published = 0
  window.once('/queue/a', 'r', false, () => {
    published++
    return undefined
  })
  t.equal(published, 1, 'the retry after a refusal is published')
  let resolve!: () => void
  const pending = new Promise<void>((r) => { resolve = r })
  const first = window.once('/queue/a', 'p', true, () => pending)
  const twice = (): undefined => {
    t.fail('not published twice')
    return undefined
  }
  const retry = window.once('/queue/a', 'p', true, twice)
  t.equal(retry, first, 'the same pending promise')
  resolve()
  await pending
  await new Promise((r) => setImmediate(r))
  t.equal(window.once('/queue/a', 'p', true, twice), undefined, 'once done, a duplicate is done at once')
})
