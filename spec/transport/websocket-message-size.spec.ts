// How many frames share one WebSocket message. Frames of one turn are coalesced (that is what
// makes fan-out fast), but never past --ws-max-message-bytes (8 KiB by default): Tomcat's
// JSR-356 client, under Spring's WebSocketStompClient, closes the connection with 1009 when a
// text message is larger. These subscribers refuse anything over 8 KiB the same way (ws's
// maxPayload), so a message one byte too large would close them.
import t, { type Test } from 'tap'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { connectStompit, connectStompjs, sendStompit, subscribeStompit, subscribeStompjs } from '../helpers/clients.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const TOMCAT_LIMIT = 8192
const BURST = 1000
const BODY = 'x'.repeat(256)

/** `count` SENDs to `destination` as one TCP write: the broker takes them in one turn. */
function burst(destination: string, count: number, body = BODY, first = 0): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) =>
    encodeFrame('SEND', [['destination', destination], ['n', String(first + i)]], Buffer.from(body), '1.2')))
}

async function subscriber(t: Test, url: string, destination: string, maxPayload = TOMCAT_LIMIT): Promise<RawClient> {
  const client = await RawClient.ws(t, url, ['v12.stomp'], { keepFrames: true, maxPayload })
  await client.connect()
  client.frame('SUBSCRIBE', [['id', 's'], ['destination', destination], ['receipt', 'ready']])
  t.equal((await client.next()).command, 'RECEIPT')
  return client
}

for (const destination of ['/topic/burst', '/queue/burst']) {
  t.test(`a subscriber that refuses WebSocket messages over 8 KiB gets a ${BURST}-message burst to ${destination} whole`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await subscriber(t, addresses.ws, destination)
    const publisher = await RawClient.tcp(t, addresses.tcp!)
    await publisher.connect()
    publisher.send(burst(destination, BURST))
    await client.until(() => client.received >= BURST, 10_000)
    const numbers = client.frames.filter((frame) => frame.command === 'MESSAGE').map((frame) => Number(frame.headers.find(([name]) => name === 'n')![1]))
    t.same(numbers, Array.from({ length: BURST }, (_, i) => i), 'every message, in order')
    t.ok(Math.max(...client.messageSizes) <= TOMCAT_LIMIT, `no WebSocket message over 8 KiB (largest ${Math.max(...client.messageSizes)})`)
    t.ok(client.messageSizes.length < BURST / 10, `still coalesced: ${client.messageSizes.length} WebSocket messages for ${BURST} frames`)
    t.ok(await client.quiet(100), 'and the connection stays open')
  })
}

t.test('a frame larger than the cap goes alone, in one WebSocket message, between coalesced small ones', async (t) => {
  const { addresses } = await startServer(t)
  const client = await subscriber(t, addresses.ws, '/topic/mixed', 0)
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  const large = 'L'.repeat(20_000)
  publisher.send(Buffer.concat([burst('/topic/mixed', 50), burst('/topic/mixed', 1, large, 50), burst('/topic/mixed', 50, BODY, 51)]))
  await client.until(() => client.received >= 101, 10_000)
  const messages = client.frames.filter((frame) => frame.command === 'MESSAGE')
  t.equal(messages[50]!.body.toString(), large, 'the large body arrives whole')
  const over = client.messageSizes.filter((size) => size > TOMCAT_LIMIT)
  t.equal(over.length, 1, 'one WebSocket message is over the cap')
  t.ok(over[0]! > 20_000 && over[0]! < 20_300, `and it holds the large frame alone (${over[0]} bytes)`)
  t.ok(client.messageSizes.length < 30, 'the small ones around it are still coalesced')
})

t.test('--ws-max-message-bytes 0 sends every frame in a WebSocket message of its own', async (t) => {
  const { addresses } = await startServer(t, { wsMaxMessageBytes: 0 })
  const client = await subscriber(t, addresses.ws, '/topic/single')
  const messagesBefore = client.messageSizes.length
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  publisher.send(burst('/topic/single', 200))
  await client.until(() => client.received >= 200, 10_000)
  t.equal(client.messageSizes.length - messagesBefore, 200, 'one WebSocket message per MESSAGE frame')
})

t.test('a smaller cap is kept too, and a text frame and a binary one never share a binary message', async (t) => {
  const { addresses } = await startServer(t, { wsMaxMessageBytes: 1024 })
  const client = await subscriber(t, addresses.ws, '/topic/small', 1024)
  const messagesBefore = client.messageSizes.length
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  publisher.send(Buffer.concat([
    burst('/topic/small', 40),
    encodeFrame('SEND', [['destination', '/topic/small'], ['n', 'binary']], Buffer.from([0xff, 0xfe, 0x00, 0x01]), '1.2'),
    burst('/topic/small', 40, BODY, 40),
  ]))
  await client.until(() => client.received >= 81, 10_000)
  const sizes = client.messageSizes.slice(messagesBefore)
  const kinds = client.messageKinds.slice(messagesBefore)
  t.ok(Math.max(...sizes) <= 1024, `no message over 1 KiB (largest ${Math.max(...sizes)})`)
  t.ok(sizes.length < 81, 'frames still share messages')
  t.equal(kinds.filter((kind) => kind === 'binary').length, 1, 'only the message holding the binary body goes as binary')
})

t.test('@stomp/stompjs, with and without splitLargeFrames, gets bursts of small and large messages whole', async (t) => {
  const { addresses } = await startServer(t)
  for (const splitLargeFrames of [false, true]) {
    const destination = `/queue/stompjs-${splitLargeFrames}`
    const client = await connectStompjs(t, addresses.ws, { splitLargeFrames, maxWebSocketChunkSize: 8 * 1024 })
    const inbox = subscribeStompjs(client, destination)
    const publisher = await RawClient.tcp(t, addresses.tcp!)
    await publisher.connect()
    const large = 'y'.repeat(100_000)
    publisher.send(Buffer.concat([burst(destination, BURST), burst(destination, 5, large, BURST)]))
    const messages = await inbox.waitFor(BURST + 5, 10_000)
    t.same(messages.map((m) => Number(m.headers.n)), Array.from({ length: BURST + 5 }, (_, i) => i), `splitLargeFrames ${splitLargeFrames}: all, in order`)
    t.ok(messages.slice(BURST).every((m) => m.body === large), 'large bodies whole')
    // And it can publish a large message itself (split into 8 KiB pieces when asked to).
    const echo = subscribeStompjs(client, `${destination}.echo`)
    client.publish({ destination: `${destination}.echo`, body: large })
    t.equal((await echo.waitFor(1, 10_000))[0]!.body, large, 'its own large SEND arrives whole')
  }
})

t.test('stompit over TCP gets a burst whole (TCP has no message size: frames stay packed)', async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompit(t, addresses.tcp!)
  const inbox = subscribeStompit(client, { destination: '/queue/stompit-burst', ack: 'client-individual' })
  const publisher = await connectStompit(t, addresses.tcp!)
  await sendStompit(publisher, { destination: '/queue/stompit-burst.warm', receipt: 'r' }, 'warm')
  const raw = await RawClient.tcp(t, addresses.tcp!)
  await raw.connect()
  raw.send(burst('/queue/stompit-burst', BURST))
  const messages = await inbox.waitFor(BURST, 10_000)
  t.same(messages.map((m) => Number(m.headers.n)), Array.from({ length: BURST }, (_, i) => i))
})
