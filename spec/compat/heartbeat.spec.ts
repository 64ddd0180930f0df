// Heart-beats as RabbitMQ-written clients expect them: CONNECTED always names the agreed
// heart-beat (`0,0` when none, 1.0 included), and a client gets the rate it asks for, down to one
// a second — @stomp/stompjs's own broker specs (spec/unit/heart-beat*.spec.ts in its repository)
// ask for 1,000 ms and expect either side to notice lost pings within about two seconds.
import t from 'tap'
import { Client } from '@stomp/stompjs'
import WebSocket from 'ws'
import { connectStompit } from '../helpers/clients.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

for (const transport of ['tcp', 'ws'] as const) {
  t.test(`CONNECTED carries heart-beat whatever version is agreed, 0,0 when none (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const open = (): Promise<RawClient> => (transport === 'tcp' ? RawClient.tcp(t, addresses.tcp!) : RawClient.ws(t, addresses.ws, ['v10.stomp']))
    for (const [accept, heartBeat, expected] of [
      [undefined, undefined, '0,0'], // a STOMP 1.0 client: no accept-version
      ['1.0', '5000,5000', '0,0'], // 1.0 has no heart-beats, whatever the client says
      ['1.1', undefined, '0,0'],
      ['1.2', '0,0', '0,0'],
      ['1.2', '2000,3000', '3000,2000'],
    ] as const) {
      const client = await open()
      const headers: Array<[string, string]> = [['host', '/']]
      if (accept !== undefined) headers.push(['accept-version', accept])
      if (heartBeat !== undefined) headers.push(['heart-beat', heartBeat])
      const connected = await client.connect(headers)
      t.equal(getHeader(connected, 'heart-beat'), expected, `accept-version ${accept ?? '(none)'}, heart-beat ${heartBeat ?? '(none)'}`)
      client.destroy()
    }
  })
}

t.test('stompit reads the heart-beat of a 1.0 CONNECTED', async (t) => {
  const { addresses } = await startServer(t)
  const client = await connectStompit(t, addresses.tcp!, { 'accept-version': '1.0' })
  // stompit keeps the CONNECTED headers it was answered with.
  const headers = (client as unknown as { headers: Record<string, string> }).headers
  t.equal(headers['heart-beat'], '0,0')
})

/** The length a STOMP client gives a WebSocket payload: a heart-beat is one byte. */
function length(data: unknown): number {
  return typeof data === 'string' ? data.length : data instanceof ArrayBuffer ? data.byteLength : (data as Buffer).length
}

type Tamper = 'drop-incoming-pings' | 'drop-outgoing-pings' | 'none'

/** A ws WebSocket for @stomp/stompjs that loses heart-beats one way, as stompjs's WrapperWS does in its specs. */
function tamperedSocket(url: string, tamper: Tamper): WebSocket {
  const ws = new WebSocket(url, ['v10.stomp', 'v11.stomp', 'v12.stomp'])
  if (tamper === 'drop-incoming-pings') {
    const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
    Object.defineProperty(ws, 'onmessage', {
      get: () => onmessage.get!.call(ws),
      set: (handler: (event: { data: unknown }) => void) => onmessage.set!.call(ws, (event: { data: unknown }) => {
        if (length(event.data) !== 1) handler(event)
      }),
    })
  } else if (tamper === 'drop-outgoing-pings') {
    const send = ws.send.bind(ws)
    ws.send = ((data: string) => {
      if (length(data) !== 1) send(data)
    }) as typeof ws.send
  }
  return ws
}

interface Closed {
  /** ms from CONNECTED to the socket's close. */
  ms: number
  /** The `message` of an ERROR frame received before, if any. */
  error: string | undefined
}

/** Activates a stompjs client with the given heart-beats; resolves when its socket closes. */
function closesAfter(t: Tap, url: string, incoming: number, outgoing: number, tamper: Tamper, extra: Partial<Client> = {}): Promise<Closed> {
  return new Promise((resolve) => {
    let connectedAt = 0
    let error: string | undefined
    const client = new Client({
      webSocketFactory: () => tamperedSocket(url, tamper),
      reconnectDelay: 0,
      heartbeatIncoming: incoming,
      heartbeatOutgoing: outgoing,
      debug: () => {},
      onConnect: () => { connectedAt = Date.now() },
      onWebSocketClose: () => resolve({ ms: Date.now() - connectedAt, error }),
      onStompError: (frame) => { error = frame.headers.message },
    })
    Object.assign(client, extra)
    t.teardown(() => client.deactivate())
    client.activate()
  })
}

interface Tap {
  teardown(fn: () => unknown): void
}

t.test('@stomp/stompjs closes within about two seconds when the broker\'s pings stop reaching it (heartbeatIncoming 1000)', async (t) => {
  const { addresses } = await startServer(t)
  const { ms } = await closesAfter(t, addresses.ws, 1000, 0, 'drop-incoming-pings')
  t.ok(ms < 4000, `closed ${ms} ms after CONNECTED`)
})

t.test('... also with discardWebsocketOnCommFailure', async (t) => {
  const { addresses } = await startServer(t)
  const { ms } = await closesAfter(t, addresses.ws, 1000, 0, 'drop-incoming-pings', { discardWebsocketOnCommFailure: true } as Partial<Client>)
  t.ok(ms < 4000, `closed ${ms} ms after CONNECTED`)
})

t.test('the broker closes a @stomp/stompjs client whose pings stop within about two seconds (heartbeatOutgoing 1000)', async (t) => {
  const { addresses } = await startServer(t)
  const { ms, error } = await closesAfter(t, addresses.ws, 0, 1000, 'drop-outgoing-pings')
  t.ok(ms < 4000, `closed ${ms} ms after CONNECTED`)
  t.equal(error, 'heart-beat timeout', 'with an ERROR saying why')
})

t.test('@stomp/stompjs asking for 1,000 ms heart-beats both ways stays connected, and hears one within 1.5 s', async (t) => {
  const { addresses } = await startServer(t)
  let lost = false
  let firstBeat = 0
  const connected = Date.now()
  const client = new Client({
    webSocketFactory: () => tamperedSocket(addresses.ws, 'none'),
    reconnectDelay: 0,
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    debug: () => {},
    onHeartbeatReceived: () => { firstBeat ||= Date.now() - connected },
    onHeartbeatLost: () => { lost = true },
  })
  t.teardown(() => client.deactivate())
  await new Promise<void>((resolve) => {
    client.onConnect = () => resolve()
    client.activate()
  })
  await new Promise((resolve) => setTimeout(resolve, 3500))
  t.ok(client.connected, 'still connected after 3.5 s')
  t.notOk(lost, 'no heart-beat lost')
  t.ok(firstBeat > 0 && firstBeat < 1500, `first heart-beat after ${firstBeat} ms`)
})
