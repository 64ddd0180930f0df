// Shutting down: server.close() says goodbye to every client with an ERROR, and the `stompd`
// command does the same on SIGTERM and exits 0; a bad flag stops it with a one-line message.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { errorMessage } from '../../lib/errors.js'
import type { ListenAddresses } from '../../lib/server.js'
import { connectStompjs } from '../helpers/clients.js'
import { expectErrorAndClose, expectRoundTrip, within } from '../helpers/expect.js'
import { RawClient, splitAddress } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

t.test('server.close() sends every client ERROR "server shutting down", closes them, and resolves', async (t) => {
  const { server, addresses } = await startServer(t)
  const tcp = await RawClient.tcp(t, addresses.tcp!)
  await tcp.connect()
  const ws = await RawClient.ws(t, addresses.ws)
  await ws.connect()
  const ws10 = await RawClient.ws(t, addresses.ws, ['v10.stomp'])
  await ws10.connect([['accept-version', '1.0']])
  // Subscribed clients too: shutdown must not wait on their subscriptions.
  tcp.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/held'], ['ack', 'client'], ['receipt', 'r']])
  t.equal((await tcp.next()).command, 'RECEIPT')
  const stompjs = await connectStompjs(t, addresses.ws)
  const stompjsError = new Promise<string | undefined>((resolve) => {
    stompjs.onStompError = (frame) => resolve(frame.headers.message)
  })

  const closing = server.close()
  for (const client of [tcp, ws, ws10]) await expectErrorAndClose(t, client, 'server-shutdown')
  t.equal(await within(stompjsError, 5000, 'stompjs gets the ERROR'), errorMessage('server-shutdown'), 'a stompjs client hears it too')
  await within(closing, 10_000, 'server.close() resolves')
  t.pass('close() resolved')
  t.equal(server.sessions.size, 0, 'no session is left open')
})

t.test('a WebSocket client is told "going away" (1001) when the server shuts down', async (t) => {
  const { server, addresses } = await startServer(t)
  const ws = await RawClient.ws(t, addresses.ws)
  await ws.connect()
  const closing = server.close()
  const { closed } = await expectErrorAndClose(t, ws, 'server-shutdown')
  t.equal(closed.code, 1001)
  await within(closing, 10_000, 'server.close() resolves')
})

t.test('a connection that has not sent CONNECT yet also gets the shutdown ERROR', async (t) => {
  const { server, addresses } = await startServer(t)
  const tcp = await RawClient.tcp(t, addresses.tcp!)
  const ws = await RawClient.ws(t, addresses.ws)
  // Let the server register both connections before closing: a frame-less round trip is not
  // possible before CONNECT, so wait until it counts them.
  const deadline = Date.now() + 5000
  while (server.sessions.size < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  const closing = server.close()
  await expectErrorAndClose(t, tcp, 'server-shutdown')
  await expectErrorAndClose(t, ws, 'server-shutdown')
  await within(closing, 10_000, 'server.close() resolves')
})

t.test('after close() resolves, the ports refuse new connections', async (t) => {
  const { server, addresses } = await startServer(t)
  await within(server.close(), 10_000, 'close() with no clients resolves')
  const [host, port] = splitAddress(addresses.tcp!)
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
  t.ok(refused, 'the TCP port is closed')
  await t.rejects(fetch(`${addresses.http}/healthz`), 'the HTTP port is closed')
  await t.resolves(server.close(), 'a second close() is harmless')
})

interface Cli {
  child: ChildProcess
  stdout: string[]
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with the first stdout line that starts with `prefix`; rejects if the process exits first. */
  line(prefix: string, timeoutMs: number): Promise<string>
}

/** Runs `node --import tsx lib/cli.ts ...args` from the project root; killed at teardown if still running. */
function runCli(t: Test, args: string[]): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const waiters = new Set<() => void>()
  let stdoutRest = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (stdoutRest + chunk).split('\n')
    stdoutRest = lines.pop()!
    stdout.push(...lines)
    for (const wake of waiters) wake()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const line = (prefix: string, timeoutMs: number): Promise<string> => within(new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const found = stdout.find((l) => l.startsWith(prefix))
      if (found === undefined) return
      waiters.delete(check)
      resolve(found)
    }
    waiters.add(check)
    void exited.then(({ code }) => reject(new Error(`stompd exited with ${code} before printing "${prefix}": ${stderr}`)))
    check()
  }), timeoutMs, `stompd prints "${prefix}..."`)
  return { child, stdout, stderr: () => stderr, exited, line }
}

t.test('the stompd command prints its listeners, serves both ports, and on SIGTERM says goodbye and exits 0', async (t) => {
  const cli = runCli(t, ['--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--store', 'memory', '--log-level', 'silent'])
  const line = await cli.line('stompd listening ', 15_000)
  const match = /^stompd listening ws=(ws:\/\/127\.0\.0\.1:(\d+)\/ws) tcp=(127\.0\.0\.1:(\d+))$/.exec(line)
  t.ok(match, `the line names both listeners: ${line}`)
  const [, ws, port, tcp, tcpPort] = match!
  const addresses: ListenAddresses = { ws: ws!, tcp: tcp!, http: `http://127.0.0.1:${port}`, port: Number(port), tcpPort: Number(tcpPort), tls: null, tlsPort: null }
  t.not(addresses.port, 0)
  t.not(addresses.tcpPort, 0)
  t.not(addresses.port, addresses.tcpPort)

  await expectRoundTrip(t, addresses, 'tcp')
  await expectRoundTrip(t, addresses, 'ws')
  t.equal((await fetch(`${addresses.http}/healthz`)).status, 200, 'and answers /healthz')

  const tcpClient = await RawClient.tcp(t, addresses.tcp!)
  await tcpClient.connect()
  const wsClient = await RawClient.ws(t, addresses.ws)
  await wsClient.connect()
  cli.child.kill('SIGTERM')
  await expectErrorAndClose(t, tcpClient, 'server-shutdown')
  await expectErrorAndClose(t, wsClient, 'server-shutdown')
  const { code, signal } = await within(cli.exited, 10_000, 'stompd exits after SIGTERM')
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null)
  t.equal(cli.stderr(), '', 'nothing on stderr')
})

t.test('the stompd command with --tcp-port off names only the WebSocket listener', async (t) => {
  const cli = runCli(t, ['--host', '127.0.0.1', '--port', '0', '--tcp-port', 'off', '--store', 'memory', '--log-level', 'silent'])
  const line = await cli.line('stompd listening ', 15_000)
  t.match(line, /^stompd listening ws=ws:\/\/127\.0\.0\.1:\d+\/ws$/)
  cli.child.kill('SIGTERM')
  t.equal((await within(cli.exited, 10_000, 'stompd exits after SIGTERM')).code, 0)
})

t.test('the stompd command with a bad flag exits non-zero with a one-line message on stderr', async (t) => {
  const cases = [['--port', 'abc'], ['--no-such-flag', '1'], ['--log-level', 'chatty']]
  // Started together: each is a separate process, and starting tsx is the slow part.
  const runs = cases.map((args) => ({ args, cli: runCli(t, args) }))
  for (const { args, cli } of runs) {
    const { code } = await within(cli.exited, 15_000, 'stompd exits')
    t.not(code, 0, `${args.join(' ')}: non-zero exit (${code})`)
    const stderr = cli.stderr()
    t.equal(stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line on stderr`)
    t.match(stderr, /^stompd: /, 'the line starts with the command name')
    t.match(stderr, args[0]!, 'and names the flag')
    t.same(cli.stdout, [], 'nothing on stdout')
  }
})
