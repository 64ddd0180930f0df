// Collecting a burst's garbage once the broker goes quiet: the rule over numbers the spec sets,
// then this process's own collector, where what a user sees is memory held going back down.
import pino from 'pino'
import t from 'tap'
import { IdleCollector, processProbe, type CollectorProbe } from '../lib/idle-collect.js'

const MiB = 1024 * 1024
const quiet = pino({ level: 'silent' })
const options = { growthBytes: 16 * MiB, idleBelow: 0.05, intervalMs: 1000 }

/** Held bytes and loop busyness the spec sets; a collection drops held bytes to `live`. */
class ScriptedProbe implements CollectorProbe {
  held = 20 * MiB
  live = 20 * MiB
  busy = 0
  collections = 0
  heldBytes(): number { return this.held }
  busyFraction(): number { return this.busy }
  collect(): void {
    this.collections++
    this.held = this.live
  }
}

t.test('a busy loop is never paused, however much it holds', async (t) => {
  const probe = new ScriptedProbe()
  const collector = new IdleCollector(probe, options, quiet)
  probe.held = 300 * MiB
  for (const busy of [0.9, 0.3, 0.05]) {
    probe.busy = busy
    t.equal(collector.check(), false, `busy ${busy * 100} %`)
  }
  t.equal(probe.collections, 0)
})

t.test('an idle loop holding less than the threshold above its low point is left alone', async (t) => {
  const probe = new ScriptedProbe()
  const collector = new IdleCollector(probe, options, quiet)
  for (const held of [30, 35, 10, 25]) {
    probe.held = held * MiB
    t.equal(collector.check(), false, `${held} MiB held`)
  }
  t.equal(probe.collections, 0)
})

t.test('after a burst the idle loop collects once, and again only after new growth', async (t) => {
  const probe = new ScriptedProbe()
  let afterCollect = 0
  const collector = new IdleCollector(probe, options, quiet, () => { afterCollect++ })
  probe.busy = 0.8
  probe.held = 300 * MiB
  t.equal(collector.check(), false, 'while the burst runs')
  probe.busy = 0.01
  t.equal(collector.check(), true, 'once the loop is idle')
  t.equal(afterCollect, 1, 'and what follows a collection ran')
  // Live memory is not garbage: holding 100 MiB of it does not collect again and again.
  probe.live = 100 * MiB
  probe.held = 110 * MiB
  t.equal(collector.check(), true, 'growth from the new low point')
  t.equal(collector.check(), false)
  probe.held = 112 * MiB
  t.equal(collector.check(), false, 'live memory held is kept without collecting again')
  probe.held = 120 * MiB
  t.equal(collector.check(), true, 'new growth past the threshold')
  t.equal(probe.collections, 3)
})

t.test('the timer looks on its own', async (t) => {
  const probe = new ScriptedProbe()
  const collector = new IdleCollector(probe, { ...options, intervalMs: 20 }, quiet)
  probe.held = 100 * MiB
  collector.start()
  t.teardown(() => collector.stop())
  const deadline = Date.now() + 2000
  while (probe.collections === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(probe.collections, 1)
})

t.test("this process: unreachable buffers held by promoted objects are freed once it is idle", async (t) => {
  const probe = processProbe()
  const collector = new IdleCollector(probe, options, quiet)
  // 64 MiB of array buffers behind objects that survive young-generation collections, as a
  // subscriber's outbox does after a few seconds of load; then they become unreachable.
  let outboxes: Buffer[][] | null = Array.from({ length: 64 }, () => Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024, 1)))
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const heldWithBurst = probe.heldBytes()
  t.ok(outboxes.length > 0)
  outboxes = null
  // An idle interval: nothing runs between the two looks but this timer.
  probe.busyFraction()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(collector.check(), true, 'collected')
  const deadline = Date.now() + 5000
  while (probe.heldBytes() > heldWithBurst - 48 * MiB && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  const heldAfter = probe.heldBytes()
  t.ok(heldWithBurst - heldAfter >= 48 * MiB, `held went from ${Math.round(heldWithBurst / MiB)} MiB to ${Math.round(heldAfter / MiB)} MiB`)
})
