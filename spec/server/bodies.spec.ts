// Message bodies and header values end to end: binary bodies with NULs, text vs binary
// WebSocket messages, header escaping across versions, and 1 MiB bodies on both transports.
import net from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import type { Frame, Header } from '../../lib/frame/frame.js'
import { connectStompjs, subscribeStompjs } from '../helpers/clients.js'
import { pseudoRandomBytes, rawClient, TRANSPORTS, within, type TransportName } from '../helpers/expect.js'
import { getHeader, RawClient, splitAddress } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import type { ListenAddresses } from '../../lib/server.js'
import type { Test } from 'tap'

const transportName = (transport: string): string => (transport === 'tcp' ? 'TCP' : 'WebSocket')

/** A raw client subscribed (with a receipt) to `destination`. */
async function subscriber(t: Test, addresses: ListenAddresses, transport: TransportName, destination: string, version = '1.2'): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  const connected = await client.connect([['accept-version', version], ['host', 'localhost']])
  t.equal(getHeader(connected, 'version'), version)
  client.frame('SUBSCRIBE', [['id', 'sub-1'], ['destination', destination], ['receipt', 'subscribed']])
  const receipt = await client.next()
  t.equal(receipt.command, 'RECEIPT')
  return client
}

async function sender(t: Test, addresses: ListenAddresses, transport: TransportName): Promise<RawClient> {
  const client = await rawClient(t, addresses, transport)
  await client.connect()
  return client
}

/** Every byte value, NULs included, several times over. */
const BINARY = Buffer.concat([Buffer.from([0, 0, 0xff, 0, 0x0a, 0]), Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256)), Buffer.from([0])])

for (const transport of TRANSPORTS) {
  t.test(`a binary body containing NUL bytes round-trips over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    const receiver = await subscriber(t, addresses, transport, '/queue/binary')
    const from = await sender(t, addresses, transport)
    from.frame('SEND', [['destination', '/queue/binary'], ['content-type', 'application/octet-stream']], BINARY)
    const message = await receiver.next()
    t.equal(message.command, 'MESSAGE')
    t.ok(message.body.equals(BINARY), `the ${BINARY.length} bytes arrive unchanged`)
    t.equal(getHeader(message, 'content-length'), String(BINARY.length))
    t.equal(getHeader(message, 'content-type'), 'application/octet-stream')
  })
}

t.test('a binary body sent with stompjs binaryBody round-trips over WebSocket as a binary message', async (t) => {
  const { addresses } = await startServer(t)
  const rawReceiver = await subscriber(t, addresses, 'ws', '/topic/binary')
  const tcpReceiver = await subscriber(t, addresses, 'tcp', '/topic/binary')
  const receiver = await connectStompjs(t, addresses.ws)
  const inbox = subscribeStompjs(receiver, '/topic/binary')
  // A receipt on a later frame proves the stompjs subscription is in place.
  await new Promise<void>((resolve) => {
    receiver.watchForReceipt('ready', () => resolve())
    receiver.publish({ destination: '/queue/warmup', headers: { receipt: 'ready' } })
  })
  const publisher = await connectStompjs(t, addresses.ws)
  publisher.publish({ destination: '/topic/binary', binaryBody: new Uint8Array(BINARY), headers: { 'content-type': 'application/octet-stream' } })

  const [viaStompjs] = await inbox.waitFor(1)
  t.ok(Buffer.from(viaStompjs!.binaryBody).equals(BINARY), 'stompjs receives the exact bytes')
  const viaRaw = await rawReceiver.next()
  t.ok(viaRaw.body.equals(BINARY), 'a raw WebSocket client receives the exact bytes')
  t.equal(rawReceiver.messageKinds[rawReceiver.messageKinds.length - 1], 'binary', 'in a binary WebSocket message')
  const viaTcp = await tcpReceiver.next()
  t.ok(viaTcp.body.equals(BINARY), 'a TCP client receives the exact bytes')
})

t.test('a UTF-8 text body arrives as a text WebSocket message, a non-UTF-8 one as binary', async (t) => {
  const { addresses } = await startServer(t)
  const receiver = await subscriber(t, addresses, 'ws', '/queue/kinds')
  const from = await sender(t, addresses, 'tcp')
  t.same(receiver.messageKinds, ['text', 'text'], 'CONNECTED and RECEIPT came as text')

  from.frame('SEND', [['destination', '/queue/kinds']], 'plain text, accents é, a clef 𝄞')
  const text = await receiver.next()
  t.equal(text.body.toString('utf8'), 'plain text, accents é, a clef 𝄞')
  t.equal(receiver.messageKinds[receiver.messageKinds.length - 1], 'text', 'UTF-8 body → text message')

  const notUtf8 = Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x00, 0xc3])
  from.frame('SEND', [['destination', '/queue/kinds']], notUtf8)
  const binary = await receiver.next()
  t.ok(binary.body.equals(notUtf8))
  t.equal(receiver.messageKinds[receiver.messageKinds.length - 1], 'binary', 'non-UTF-8 body → binary message')

  from.frame('SEND', [['destination', '/queue/kinds']], 'text again ✓')
  await receiver.next()
  t.equal(receiver.messageKinds[receiver.messageKinds.length - 1], 'text', 'and the next text body is text again')
})

const SPECIAL_HEADERS: Header[] = [
  ['x-colon', 'a:b:c'],
  ['x-newline', 'line 1\nline 2'],
  ['x-backslash', 'C:\\path\\n\\'],
  ['x-cr', 'carriage\rreturn'],
  ['x-utf8', 'é ✓ 𝄞'],
  ['x-everything', '\\:\n:é✓𝄞\\c'],
  ['x-name:with\\colon', 'named'],
]

t.test('header values with a colon, newline, backslash, carriage return and non-ASCII characters round-trip from a 1.2 sender to 1.2 and 1.1 receivers', async (t) => {
  const { addresses } = await startServer(t)
  const receivers: Array<[label: string, client: RawClient, version: string]> = []
  for (const transport of TRANSPORTS) {
    for (const version of ['1.2', '1.1']) {
      receivers.push([`${version} over ${transportName(transport)}`, await subscriber(t, addresses, transport, '/topic/headers', version), version])
    }
  }
  const from = await sender(t, addresses, 'tcp')
  from.frame('SEND', [['destination', '/topic/headers'], ...SPECIAL_HEADERS], 'headers')
  for (const [label, client, version] of receivers) {
    const message = await client.next()
    t.equal(message.command, 'MESSAGE')
    for (const [name, value] of SPECIAL_HEADERS) {
      // STOMP 1.1 has no escape for CR.
      if (version === '1.1' && value.includes('\r')) continue
      t.equal(getHeader(message, name), value, `${label}: ${JSON.stringify(name)}`)
    }
    t.equal(message.body.toString(), 'headers')
  }
})

t.test('header values round-trip from a 1.2 WebSocket sender too', async (t) => {
  const { addresses } = await startServer(t)
  const receiver = await subscriber(t, addresses, 'tcp', '/queue/ws-headers')
  const from = await sender(t, addresses, 'ws')
  from.frame('SEND', [['destination', '/queue/ws-headers'], ...SPECIAL_HEADERS], 'headers')
  const message = await receiver.next()
  for (const [name, value] of SPECIAL_HEADERS) t.equal(getHeader(message, name), value, JSON.stringify(name))
})

/** A STOMP 1.0 subscriber over TCP whose frames are decoded with 1.0 rules (no unescaping). */
async function subscriber10(t: Test, tcp: string, destination: string): Promise<{ frames: Frame[]; next(): Promise<Frame> }> {
  const [host, port] = splitAddress(tcp)
  const socket = net.connect({ host, port })
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  const frames: Frame[] = []
  let wake: (() => void) | null = null
  const decoder = new FrameDecoder({
    onFrame: (frame) => {
      frames.push({ ...frame, body: Buffer.from(frame.body) })
      wake?.()
    },
    onHeartbeat: () => {},
    onError: (error) => t.fail(`the 1.0 subscriber could not decode a frame: ${error.detail}`),
  })
  decoder.version = '1.0'
  socket.on('data', (chunk) => decoder.push(chunk))
  let taken = 0
  const next = async (): Promise<Frame> => {
    while (taken >= frames.length) await within(new Promise<void>((resolve) => { wake = resolve }), 3000, 'a frame for the 1.0 subscriber')
    return frames[taken++]!
  }
  socket.write(encodeFrame('CONNECT', [['host', 'localhost']], Buffer.alloc(0), '1.0'))
  const connected = await next()
  t.equal(getHeader(connected, 'version'), '1.0')
  socket.write(encodeFrame('SUBSCRIBE', [['destination', destination], ['receipt', 'r']], Buffer.alloc(0), '1.0'))
  t.equal((await next()).command, 'RECEIPT')
  return { frames, next }
}

t.test('a header with a newline from a 1.2 sender reaches a 1.0 receiver without forging a header', async (t) => {
  const { addresses } = await startServer(t)
  const receiver = await subscriber10(t, addresses.tcp!, '/queue/to-ten')
  const from = await sender(t, addresses, 'tcp')
  from.frame('SEND', [
    ['destination', '/queue/to-ten'],
    ['x-evil', 'harmless\ninjected:yes'],
    ['x-crlf', 'one\r\nforged:too'],
    ['x-plain', 'plain value'],
  ], 'body intact')
  const message = await receiver.next()
  t.equal(message.command, 'MESSAGE')
  const names = message.headers.map(([name]) => name)
  t.notOk(names.includes('injected'), 'no injected header')
  t.notOk(names.includes('forged'), 'no forged header')
  t.notOk(getHeader(message, 'x-evil')?.includes('\n'), 'the value holds no newline')
  t.match(getHeader(message, 'x-evil'), /^harmless.injected:yes$/, 'the value keeps its text on one line')
  t.equal(getHeader(message, 'x-plain'), 'plain value')
  t.equal(getHeader(message, 'destination'), '/queue/to-ten')
  t.equal(message.body.toString(), 'body intact')
})

t.test('a header with a newline from a 1.2 sender reaches a 1.0 WebSocket receiver without forging a header', async (t) => {
  const { addresses } = await startServer(t)
  // RawClient decodes with 1.2 rules; values without backslashes read the same either way.
  const receiver = await subscriber(t, addresses, 'ws', '/queue/to-ten-ws', '1.0')
  const from = await sender(t, addresses, 'tcp')
  from.frame('SEND', [['destination', '/queue/to-ten-ws'], ['x-evil', 'harmless\ninjected:yes']], 'ws body')
  const message = await receiver.next()
  t.notOk(message.headers.some(([name]) => name === 'injected'), 'no injected header')
  t.equal(message.body.toString(), 'ws body')
})

const MiB = 1024 * 1024

for (const transport of TRANSPORTS) {
  t.test(`a 1 MiB body round-trips over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    const receiver = await subscriber(t, addresses, transport, '/queue/large')
    const from = await sender(t, addresses, transport)
    const text = '0123456789abcdef'.repeat(MiB / 16)
    const binary = pseudoRandomBytes(MiB, 7)
    from.frame('SEND', [['destination', '/queue/large']], text)
    from.frame('SEND', [['destination', '/queue/large']], binary)
    const first = await receiver.next(10_000)
    t.equal(first.body.length, MiB)
    t.ok(first.body.equals(Buffer.from(text)), 'the text body arrives whole')
    const second = await receiver.next(10_000)
    t.ok(second.body.equals(binary), 'the binary body arrives whole')
  })
}

t.test('a 1 MiB body from stompjs split into 8 KiB WebSocket messages round-trips', async (t) => {
  const { addresses } = await startServer(t)
  const tcpReceiver = await subscriber(t, addresses, 'tcp', '/queue/split-large')
  let sends = 0
  const publisher = await connectStompjs(t, addresses.ws, {
    splitLargeFrames: true,
    maxWebSocketChunkSize: 8192,
    webSocketFactory: () => {
      const ws = new WebSocket(addresses.ws, ['v10.stomp', 'v11.stomp', 'v12.stomp'])
      const send = ws.send.bind(ws) as (data: unknown) => void
      // Count the WebSocket messages stompjs sends; it calls send(data) with one argument.
      ;(ws as unknown as { send: (data: unknown) => void }).send = (data) => {
        sends++
        send(data)
      }
      return ws
    },
  })
  const stompjsReceiver = await connectStompjs(t, addresses.ws)
  const inbox = subscribeStompjs(stompjsReceiver, '/topic/split-large')
  await new Promise<void>((resolve) => {
    stompjsReceiver.watchForReceipt('ready', () => resolve())
    stompjsReceiver.publish({ destination: '/queue/warmup', headers: { receipt: 'ready' } })
  })
  const body = 'the quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(MiB / 45)).slice(0, MiB)
  const before = sends
  publisher.publish({ destination: '/queue/split-large', body })
  publisher.publish({ destination: '/topic/split-large', body })
  const message = await tcpReceiver.next(10_000)
  t.ok(sends - before >= 2 * 128, `the frames went out in ${sends - before} WebSocket messages`)
  t.equal(message.body.length, MiB)
  t.equal(message.body.toString(), body, 'a TCP receiver gets the whole body')
  const [viaStompjs] = await inbox.waitFor(1, 10_000)
  t.equal(viaStompjs!.body.length, MiB)
  t.ok(viaStompjs!.body === body, 'a stompjs receiver gets the whole body')
})
