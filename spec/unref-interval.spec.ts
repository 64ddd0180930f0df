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
  interval.start()
  interval.start()
  await sleep(110)
  interval.stop()
  interval.stop()
  const stoppedAt = ticks
  t.ok(stoppedAt >= 2 && stoppedAt <= 6, `${stoppedAt} ticks in 110 ms at 20 ms`)
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
