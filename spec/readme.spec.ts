// The README's @stomp/stompjs example runs as written against a live broker.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startServer } from './helpers/server.js'

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('the README example publishes and receives a message', async (t) => {
  const readme = readFileSync(`${root}README.md`, 'utf8')
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
  t.ok(example, 'the README has a js example')
  t.ok(example!.split('\n').filter((line) => line.trim() !== '').length <= 12, 'about ten lines')
  t.match(example!, 'ws://localhost:15674/ws', 'it uses the default URL')
  const { addresses } = await startServer(t)
  // The only change: the port this test's broker got.
  const code = example!.replace('ws://localhost:15674/ws', addresses.ws)
  mkdirSync(`${root}tmp`, { recursive: true })
  // Inside the project, so `@stomp/stompjs` resolves from node_modules as it would in an app.
  const file = `${root}tmp/readme-example-${process.pid}.mjs`
  writeFileSync(file, code)
  t.teardown(() => rmSync(file, { force: true }))
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  t.equal(exitCode, 0, 'it exits by itself')
  t.equal(output.trim(), 'received: hello, stompd', output)
})
