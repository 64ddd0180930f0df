// The WebSocket listener as seen from outside: which paths upgrade, and what a request that is
// not a STOMP WebSocket gets back.
import net from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { RawClient } from '../helpers/raw.js'
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

t.test('a client that resets the connection as its upgrade is refused does not take the broker down', async (t) => {
  const { addresses } = await startServer(t, { allowedOrigins: 'https://app.example', maxConnectionsPerIp: 1 })
  const base = addresses.ws.replace(/\/ws$/, '')
  const { hostname, port } = new URL(addresses.http)
  const holder = new WebSocket(`${base}/ws`, ['v12.stomp'])
  await new Promise((resolve) => holder.once('open', resolve))
  t.teardown(() => holder.terminate())
  const refused = [
    'GET /nope HTTP/1.1\r\n', // 404
    'GET /ws HTTP/1.1\r\nOrigin: https://evil.example\r\n', // 403
    'GET /ws HTTP/1.1\r\n', // 503: the one connection this address may have is open
  ]
  for (let round = 0; round < 30; round++) {
    for (const head of refused) {
      const socket = net.connect(Number(port), hostname)
      socket.on('error', () => {})
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write(`${head}Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
      // Reset (RST, not FIN) at once or a moment later, while the refusal is on its way.
      if (round % 2 === 1) await new Promise((resolve) => setImmediate(resolve))
      socket.resetAndDestroy()
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  const response = await fetch(`${addresses.http}/healthz`)
  t.equal(response.status, 200, 'still serving')
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

// stompd writes its WebSocket frames itself (the header in front of the outbox's bytes, one
// write), so a client must see well-formed frames for every length encoding: 7-bit, 16-bit and
// 64-bit payload lengths, a turn of many frames spanning several buffers, a large body queued
// as its own part. ws (the client) rejects a malformed frame by closing with 1002.
t.test('server WebSocket frames are well formed for every payload length, one message per turn', async (t) => {
  const { addresses } = await startServer(t)
  const subscriber = await RawClient.ws(t, addresses.ws, ['v12.stomp'], { keepFrames: true })
  await subscriber.connect()
  subscriber.frame('SUBSCRIBE', [['id', 's'], ['destination', '/topic/sizes'], ['receipt', 'ready']])
  t.equal((await subscriber.next()).command, 'RECEIPT')
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()

  // Body sizes around the 125/126 and 65535/65536 boundaries of the whole MESSAGE frame (its
  // headers add about a hundred bytes), each in a turn of its own; then a burst written in one
  // go, which the broker sends in one turn spanning several buffers.
  const sizes = [
    ...Array.from({ length: 160 }, (_, i) => i),
    ...Array.from({ length: 140 }, (_, i) => 65_380 + i),
    ...Array.from({ length: 400 }, () => 300),
  ]
  const body = (i: number, size: number): Buffer => Buffer.alloc(size, 0x41 + (i % 26))
  const send = (i: number): Buffer => encodeFrame('SEND', [['destination', '/topic/sizes']], body(i, sizes[i]!), '1.2')
  for (let i = 0; i < 300; i++) {
    publisher.send(send(i))
    await subscriber.until(() => subscriber.received > i, 10_000)
  }
  const messagesBefore = subscriber.messageKinds.length
  publisher.send(Buffer.concat(sizes.slice(300).map((_, i) => send(300 + i))))
  await subscriber.until(() => subscriber.received >= sizes.length, 10_000)

  const messages = subscriber.frames.filter((frame) => frame.command === 'MESSAGE')
  t.same(messages.map((frame) => frame.body.length), sizes, 'every body arrives whole, in order')
  t.ok(messages.every((frame, i) => frame.body.equals(body(i, sizes[i]!))), 'with its own bytes')
  t.ok(subscriber.messageKinds.length - messagesBefore < 400, 'the burst was coalesced into fewer WebSocket messages than frames')
  t.ok(await subscriber.quiet(100), 'nothing else, and the connection is still open')
})
