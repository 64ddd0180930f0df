// The WebSocket listener as seen from outside: which paths upgrade, and what a request that is
// not a STOMP WebSocket gets back.
import net from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { startServer } from '../helpers/server.js'

/** Opens a WebSocket and reports how the handshake ended: 'open' or the HTTP status refused with. */
function handshake(url: string, protocols: string[] = ['v12.stomp']): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols)
    ws.on('open', () => {
      ws.close()
      resolve('open')
    })
    ws.on('unexpected-response', (_request, response) => {
      resolve(String(response.statusCode))
      ws.terminate()
    })
    ws.on('error', (err) => resolve(`error: ${err.message}`))
  })
}

t.test('/ws and /stomp upgrade, with or without a query string', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.ws.replace(/\/ws$/, '')
  t.equal(await handshake(`${base}/ws`), 'open')
  t.equal(await handshake(`${base}/stomp`), 'open')
  t.equal(await handshake(`${base}/ws?token=abc`), 'open')
  t.equal(await handshake(`${base}/ws`, []), 'open', 'a client offering no subprotocol is accepted')
})

t.test('an upgrade to any other path is refused with 404 and nothing else happens', async (t) => {
  const { addresses } = await startServer(t)
  const base = addresses.ws.replace(/\/ws$/, '')
  t.equal(await handshake(`${base}/nope`), '404')
  t.equal(await handshake(`${base}/healthz`), '404')
  // The broker is still serving.
  t.equal(await handshake(`${base}/ws`), 'open')
})

t.test('a plain GET on a WebSocket path answers 426 Upgrade Required with an explanation', async (t) => {
  const { addresses } = await startServer(t)
  const response = await fetch(`${addresses.http}/ws`)
  t.equal(response.status, 426)
  t.equal(response.headers.get('upgrade'), 'websocket')
  const body = await response.json() as { message: string }
  t.match(body.message, /STOMP over WebSocket/)
})

t.test('a bad WebSocket handshake is refused with 400 and the broker keeps serving', async (t) => {
  const { addresses } = await startServer(t)
  const { hostname, port } = new URL(addresses.http)
  const socket = net.connect(Number(port), hostname)
  t.teardown(() => socket.destroy())
  socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not a key\r\n\r\n')
  const reply = await new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (chunk) => { text += chunk.toString() })
    socket.on('close', () => resolve(text))
  })
  t.match(reply, /^HTTP\/1\.1 400 /)
  t.equal(await handshake(addresses.ws), 'open', 'still serving')
})
