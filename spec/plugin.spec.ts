// stompd as a Fastify plugin: registered on an app with a route of its own, it serves STOMP
// over WebSocket on the app's server at the path given (@stomp/stompjs connects there), its
// HTTP routes under /stompd, the app's own route untouched; closing the app with a client
// connected sends that client ERROR `server shutting down` and closes cleanly.
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { stompd } from '../lib/index.js'
import { connectStompjs, subscribeStompjs } from './helpers/clients.js'

t.test('registered on an app with a route of its own: stompjs round trip on the given path, routes under /stompd, a clean close', async (t) => {
  const app = Fastify()
  app.get('/hello', async () => ({ hello: 'world' }))
  await app.register(stompd, { path: '/messaging', store: 'memory', logLevel: 'silent' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  let closed = false
  t.teardown(async () => {
    if (!closed) await app.close()
  })
  const base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`

  t.same(await (await fetch(`http://${base}/hello`)).json(), { hello: 'world' }, 'the app\'s own route')
  t.equal((await fetch(`http://${base}/stompd/healthz`)).status, 200, '/stompd/healthz')
  t.equal((await fetch(`http://${base}/stompd/readyz`)).status, 200, '/stompd/readyz')
  t.match(await (await fetch(`http://${base}/stompd/metrics`)).text(), /stompd_connections/, '/stompd/metrics')
  t.equal(app.stompd.config.tcpPort, 'off', 'no TCP listener unless asked for')

  const client = await connectStompjs(t, `ws://${base}/messaging`)
  const inbox = subscribeStompjs(client, '/queue/jobs')
  client.publish({ destination: '/queue/jobs', body: 'through the plugin' })
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, 'through the plugin')

  // Another path on the app's server is not stompd's: left to the app's own upgrade listener; with none, refused.
  const foreign = new WebSocket(`ws://${base}/other`)
  const foreignOutcome = await new Promise<string>((resolve) => {
    foreign.once('open', () => resolve('open'))
    foreign.once('error', () => resolve('error'))
    setTimeout(() => resolve('no answer'), 1000)
  })
  foreign.terminate()
  t.equal(foreignOutcome, 'error', 'an upgrade to another path (the app has no upgrade listener) is refused, not served')

  const errors: string[] = []
  client.onStompError = (frame) => errors.push(frame.headers.message ?? '')
  const disconnected = new Promise<void>((resolve) => { client.onWebSocketClose = () => resolve() })
  await app.close()
  closed = true
  await disconnected
  t.same(errors, ['server shutting down'], 'the connected client is told why, then closed')
})

t.test('an app that serves WebSockets of its own keeps them: stompd answers only its path', async (t) => {
  const app = Fastify()
  const own = new WebSocketServer({ noServer: true })
  app.server.on('upgrade', (request, socket, head) => {
    if (request.url === '/chat') own.handleUpgrade(request, socket, head, (ws) => ws.send('the app\'s own socket'))
  })
  await app.register(stompd, { store: 'memory', logLevel: 'silent' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const chat = new WebSocket(`ws://${base}/chat`)
  const greeting = await new Promise<string>((resolve, reject) => {
    chat.once('message', (data) => resolve(data.toString()))
    chat.once('error', reject)
  })
  chat.close()
  t.equal(greeting, 'the app\'s own socket')
  const client = await connectStompjs(t, `ws://${base}/ws`)
  t.ok(client.connected, 'STOMP on the default path /ws')
})
