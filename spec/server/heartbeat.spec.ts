// Heart-beats end to end: what CONNECTED agrees to, EOLs the server sends, silent clients
// closed with an ERROR, busy ones left alone, and the time a connection has to send CONNECT.
import t from 'tap'
import { errorMessage } from '../../lib/errors.js'
import { connectStompjs, subscribeStompjs } from '../helpers/clients.js'
import { expectErrorAndClose, expectRoundTrip, rawClient, TRANSPORTS } from '../helpers/expect.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const transportName = (transport: string): string => (transport === 'tcp' ? 'TCP' : 'WebSocket')

t.test('a client asking for no heart-beats gets heart-beat:0,0', async (t) => {
  const { addresses } = await startServer(t)
  for (const transport of TRANSPORTS) {
    const client = await rawClient(t, addresses, transport)
    const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '0,0']])
    t.equal(getHeader(connected, 'heart-beat'), '0,0', `over ${transportName(transport)}`)
  }
})

t.test('heart-beats are negotiated against the server configuration', async (t) => {
  const { addresses } = await startServer(t, { heartBeat: [100, 100] })
  const cases: Array<[client: string, agreed: string]> = [
    ['100,100', '100,100'],
    ['0,0', '0,0'],
    ['50,50', '100,100'], // each direction runs at the slower side's pace
    ['300,0', '0,300'],   // the client sends, the server only listens
    ['0,300', '300,0'],   // the server sends, the client only listens
  ]
  for (const [offered, agreed] of cases) {
    const client = await RawClient.tcp(t, addresses.tcp!)
    const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', offered]])
    t.equal(getHeader(connected, 'heart-beat'), agreed, `client ${offered} → CONNECTED ${agreed}`)
    client.destroy()
  }
})

t.test('a malformed heart-beat header is an ERROR', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  client.frame('CONNECT', [['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', 'often']])
  await expectErrorAndClose(t, client, 'invalid-header')
})

for (const transport of TRANSPORTS) {
  t.test(`the server sends heart-beat EOLs to a client that asked for them, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { heartBeat: [100, 100] })
    const client = await rawClient(t, addresses, transport)
    const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '0,100']])
    t.equal(getHeader(connected, 'heart-beat'), '100,0')
    await client.until(() => client.heartbeats >= 3, 5000)
    t.pass(`got ${client.heartbeats} heart-beats`)
    t.equal(client.frames.length, 1, 'and no frame but CONNECTED')
  })

  t.test(`heart-beats and frames to one client arrive whole and in order, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { heartBeat: [20, 20] })
    const subscriber = await rawClient(t, addresses, transport)
    await subscriber.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '0,20']])
    subscriber.frame('SUBSCRIBE', [['id', '0'], ['destination', '/topic/beats'], ['receipt', 'r']])
    t.equal((await subscriber.next()).command, 'RECEIPT')
    const publisher = await rawClient(t, addresses, 'tcp')
    await publisher.connect()
    // Messages now and then, so that beats fall between them (and, at times, in the same turn).
    for (let i = 0; i < 20; i++) {
      publisher.frame('SEND', [['destination', '/topic/beats']], `m${i}`)
      await new Promise((resolve) => setTimeout(resolve, 7))
    }
    const beatsAlone = (): number => (transport === 'ws' ? subscriber.eolMessages : subscriber.heartbeats)
    await subscriber.until(() => subscriber.received === 20 && beatsAlone() >= 3, 5000)
    t.same(subscriber.frames.slice(2).map((f) => f.body.toString()), Array.from({ length: 20 }, (_, i) => `m${i}`))
    if (transport === 'ws') {
      t.ok(subscriber.messageKinds.every((kind) => kind === 'text'), 'every WebSocket message is text')
      t.pass(`${subscriber.eolMessages} heart-beats came as WebSocket messages of their own`)
    }
  })

  t.test(`a client that promised heart-beats and then stays silent is closed with an ERROR, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { heartBeat: [100, 100] })
    const client = await rawClient(t, addresses, transport)
    const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '100,0']])
    const since = Date.now()
    t.equal(getHeader(connected, 'heart-beat'), '0,100', 'the server expects one every 100 ms')
    await expectErrorAndClose(t, client, 'heartbeat-timeout', { timeoutMs: 5000 })
    const elapsed = Date.now() - since
    t.ok(elapsed >= 150, `not closed within the first 150 ms (${elapsed} ms)`)
    t.ok(elapsed < 5000, `closed within 5 s (${elapsed} ms)`)
    t.equal(getHeader(client.frames[1]!, 'message'), errorMessage('heartbeat-timeout'))
    await expectRoundTrip(t, addresses, transport)
  })

  t.test(`a client that keeps sending EOLs is not closed, over ${transportName(transport)}`, async (t) => {
    // The server wants one every 200 ms (closes after 400 ms of silence); the client sends one every 40 ms.
    const { addresses } = await startServer(t, { heartBeat: [0, 200] })
    const client = await rawClient(t, addresses, transport)
    const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '200,0']])
    t.equal(getHeader(connected, 'heart-beat'), '0,200')
    const beat = setInterval(() => client.send('\n'), 40)
    t.teardown(() => clearInterval(beat))
    const closed = await Promise.race([client.closed.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 1000))])
    t.equal(closed, false, 'still open after 1 s, over twice the allowed silence')
    client.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/alive'], ['receipt', 'alive']])
    const receipt = await client.next()
    t.equal(receipt.command, 'RECEIPT', 'and still answers')
    clearInterval(beat)
  })

  t.test(`a client that sends frames instead of EOLs is not closed, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { heartBeat: [0, 200] })
    const client = await rawClient(t, addresses, transport)
    await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '200,0']])
    client.frame('SUBSCRIBE', [['id', 's'], ['destination', '/topic/busy']])
    let sent = 0
    const busy = setInterval(() => client.frame('SEND', [['destination', '/topic/busy']], `n${++sent}`), 40)
    t.teardown(() => clearInterval(busy))
    await client.until(() => client.frames.length > 15, 5000)
    clearInterval(busy)
    t.notOk(client.frames.some((f) => f.command === 'ERROR'), 'no ERROR while frames keep coming')
  })

  t.test(`a connection that never sends CONNECT is closed after connectTimeout, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { connectTimeout: 300 })
    const since = Date.now()
    const client = await rawClient(t, addresses, transport)
    await expectErrorAndClose(t, client, 'connect-timeout', { timeoutMs: 5000 })
    const elapsed = Date.now() - since
    t.ok(elapsed >= 250, `not before the timeout (${elapsed} ms)`)
    await expectRoundTrip(t, addresses, transport)
  })

  t.test(`heart-beat EOLs alone do not count as CONNECT, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t, { connectTimeout: 300 })
    const client = await rawClient(t, addresses, transport)
    const beat = setInterval(() => client.send('\n'), 40)
    t.teardown(() => clearInterval(beat))
    await expectErrorAndClose(t, client, 'connect-timeout', { timeoutMs: 5000 })
    clearInterval(beat)
  })
}

t.test('a @stomp/stompjs client with 200 ms heart-beats both ways stays connected', async (t) => {
  const { addresses } = await startServer(t, { heartBeat: [200, 200] })
  let lost = 0
  let closed = 0
  let received = 0
  const client = await connectStompjs(t, addresses.ws, {
    heartbeatIncoming: 200,
    heartbeatOutgoing: 200,
    onHeartbeatLost: () => lost++,
    onHeartbeatReceived: () => received++,
    onWebSocketClose: () => closed++,
    onStompError: () => closed++,
  })
  const inbox = subscribeStompjs(client, '/topic/heartbeat-check')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(lost, 0, 'stompjs never missed the server\'s heart-beats')
  t.equal(closed, 0, 'the connection was never closed')
  t.ok(client.connected, 'still connected after 1.5 s')
  t.ok(received > 0, `stompjs received server heart-beats (${received})`)
  client.publish({ destination: '/topic/heartbeat-check', body: 'alive' })
  const [message] = await inbox.waitFor(1)
  t.equal(message!.body, 'alive')
})

t.test('the heart-beat timeout ERROR closes the WebSocket with a close frame', async (t) => {
  const { addresses } = await startServer(t, { heartBeat: [100, 100] })
  const client = await RawClient.ws(t, addresses.ws)
  await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['heart-beat', '100,0']])
  const { closed } = await expectErrorAndClose(t, client, 'heartbeat-timeout')
  t.not(closed.code, 1006, 'not an abnormal closure')
})
