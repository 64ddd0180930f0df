// The housekeeping timer: it ticks until stopped, once however often it is started, and a
// process with nothing else to do exits with it running.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { UnrefInterval } from '../lib/unref-interval.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('ticks until stopped, once per interval however often it is started', async (t) => {
  let ticks = 0
  const interval = new UnrefInterval(() => { ticks++ }, 20)
  const started = performance.now()
  interval.start()
  interval.start()
  const deadline = Date.now() + 5000
  while (ticks < 3 && Date.now() < deadline) await sleep(5)
  interval.stop()
  interval.stop()
  const elapsed = performance.now() - started
  const stoppedAt = ticks
  t.ok(stoppedAt >= 3, 'it ticks')
  // One timer ticks at most once per 20 ms; a second one started alongside would double that.
  t.ok(stoppedAt <= Math.floor(elapsed / 20) + 1, `${stoppedAt} ticks in ${Math.round(elapsed)} ms at 20 ms`)
  await sleep(60)
  t.equal(ticks, stoppedAt, 'no tick after stop')
})

t.test('does not keep the process alive', async (t) => {
  const module = fileURLToPath(new URL('../lib/unref-interval.ts', import.meta.url))
  const script = `import { UnrefInterval } from ${JSON.stringify(module)}; new UnrefInterval(() => {}, 10).start()`
  const exited = await new Promise<number | null>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 })
    child.on('exit', (code) => resolve(code))
  })
  t.equal(exited, 0)
})
