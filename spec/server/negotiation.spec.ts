// CONNECT negotiation as clients see it: protocol versions, the CONNECTED headers, the
// `host` header, WebSocket subprotocols and paths, and header escaping per version.
import t, { type Test } from 'tap'
import type { Header } from '../../lib/frame/frame.js'
import { VERSION } from '../../lib/version.js'
import { expectErrorAndClose, rawClient, TRANSPORTS } from '../helpers/expect.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const transportName = (transport: string): string => (transport === 'tcp' ? 'TCP' : 'WebSocket')

const versionCases: Array<[acceptVersion: string | undefined, expected: string]> = [
  ['1.0', '1.0'],
  ['1.1', '1.1'],
  ['1.2', '1.2'],
  ['1.1,1.2', '1.2'],
  ['1.0,1.1', '1.1'],
  ['1.2,1.0', '1.2'],
  ['1.0,1.1,1.2', '1.2'],
  [undefined, '1.0'],
]

for (const transport of TRANSPORTS) {
  t.test(`the highest common version is chosen over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    for (const [acceptVersion, expected] of versionCases) {
      const client = await rawClient(t, addresses, transport)
      const headers: Header[] = [['host', 'localhost']]
      if (acceptVersion !== undefined) headers.unshift(['accept-version', acceptVersion])
      const connected = await client.connect(headers)
      t.equal(connected.command, 'CONNECTED')
      t.equal(getHeader(connected, 'version'), expected, `accept-version ${acceptVersion ?? '(absent)'} → ${expected}`)
      client.destroy()
    }
  })

  t.test(`a client offering only an unsupported version gets ERROR listing ours, over ${transportName(transport)}`, async (t) => {
    const { addresses } = await startServer(t)
    for (const acceptVersion of ['2.0', '0.9,2.0']) {
      const client = await rawClient(t, addresses, transport)
      client.frame('CONNECT', [['accept-version', acceptVersion], ['host', 'localhost']])
      const { error } = await expectErrorAndClose(t, client, 'unsupported-version')
      t.equal(getHeader(error, 'version'), '1.0,1.1,1.2', 'the version header lists 1.0,1.1,1.2')
    }
  })
}

t.test('the STOMP command connects just like CONNECT', async (t) => {
  const { addresses } = await startServer(t)
  for (const transport of TRANSPORTS) {
    const client = await rawClient(t, addresses, transport)
    client.frame('STOMP', [['accept-version', '1.2'], ['host', 'localhost']])
    const connected = await client.next()
    t.equal(connected.command, 'CONNECTED', `over ${transportName(transport)}`)
    t.equal(getHeader(connected, 'version'), '1.2')
    client.frame('SUBSCRIBE', [['id', 's'], ['destination', '/queue/stomp-cmd'], ['receipt', 'r']])
    t.equal((await client.next()).command, 'RECEIPT', 'and the session works afterwards')
  }
})

t.test('CONNECTED carries version, session, server and heart-beat', async (t) => {
  const { addresses } = await startServer(t)
  const sessions = new Set<string>()
  for (const transport of TRANSPORTS) {
    for (const version of ['1.1', '1.2']) {
      const client = await rawClient(t, addresses, transport)
      const connected = await client.connect([['accept-version', version], ['host', 'localhost']])
      t.equal(getHeader(connected, 'version'), version)
      const server = getHeader(connected, 'server')
      t.ok(server?.startsWith('stompd/'), `server starts with stompd/ (${server})`)
      t.equal(server, `stompd/${VERSION}`)
      const session = getHeader(connected, 'session')
      t.ok(session !== undefined && session.length > 0, 'has a session id')
      sessions.add(session!)
      t.equal(getHeader(connected, 'heart-beat'), '0,0', 'no heart-beats asked for, none agreed')
    }
  }
  t.equal(sessions.size, 4, 'every connection has its own session id')
})

t.test('a STOMP 1.0 CONNECTED still carries version, session and server', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  const connected = await client.connect([])
  t.equal(getHeader(connected, 'version'), '1.0')
  t.ok(getHeader(connected, 'server')?.startsWith('stompd/'))
  t.ok(getHeader(connected, 'session'))
})

t.test('the CONNECT host header may be missing or hold any value', async (t) => {
  const { addresses } = await startServer(t)
  const hosts: Array<string | undefined> = [undefined, '/', 'broker.example.com', '127.0.0.1', 'localhost', 'vhost-that-does-not-exist']
  for (const transport of TRANSPORTS) {
    for (const version of ['1.0', '1.1', '1.2']) {
      for (const host of hosts) {
        const client = await rawClient(t, addresses, transport)
        const headers: Header[] = [['accept-version', version]]
        if (host !== undefined) headers.push(['host', host])
        const connected = await client.connect(headers)
        t.equal(connected.command, 'CONNECTED', `${transport}, STOMP ${version}, host ${host ?? '(missing)'}`)
        client.destroy()
      }
    }
  }
})

t.test('over WebSocket, the highest STOMP subprotocol offered is chosen', async (t) => {
  const { addresses } = await startServer(t)
  const cases: Array<[offered: string[], chosen: string]> = [
    [['v10.stomp', 'v11.stomp', 'v12.stomp'], 'v12.stomp'],
    [['v12.stomp', 'v11.stomp', 'v10.stomp'], 'v12.stomp'],
    [['v11.stomp'], 'v11.stomp'],
    [['v10.stomp', 'v11.stomp'], 'v11.stomp'],
    [['v10.stomp'], 'v10.stomp'],
    [['mqtt', 'v11.stomp'], 'v11.stomp'],
  ]
  for (const [offered, chosen] of cases) {
    const client = await RawClient.ws(t, addresses.ws, offered)
    t.equal(client.protocol, chosen, `offering ${offered.join(', ')} picks ${chosen}`)
    t.equal((await client.connect()).command, 'CONNECTED')
    client.destroy()
  }
})

t.test('a WebSocket client offering no subprotocol is accepted', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.ws(t, addresses.ws, [])
  t.equal(client.protocol, '', 'no subprotocol is chosen')
  // Spring's WebSocketStompClient offers none and sends no host header.
  const connected = await client.connect([['accept-version', '1.1,1.2'], ['heart-beat', '0,0']])
  t.equal(connected.command, 'CONNECTED')
  t.equal(getHeader(connected, 'version'), '1.2')
})

t.test('both the /ws and the /stomp WebSocket paths serve STOMP', async (t) => {
  const { addresses } = await startServer(t)
  const viaWs = await RawClient.ws(t, addresses.ws)
  const viaStomp = await RawClient.ws(t, addresses.ws.replace(/\/ws$/, '/stomp'))
  await viaWs.connect()
  await viaStomp.connect()
  viaStomp.frame('SUBSCRIBE', [['id', 's'], ['destination', '/topic/paths'], ['receipt', 'r']])
  t.equal((await viaStomp.next()).command, 'RECEIPT')
  viaWs.frame('SEND', [['destination', '/topic/paths']], 'from /ws to /stomp')
  const message = await viaStomp.next()
  t.equal(message.body.toString(), 'from /ws to /stomp')
})

t.test('a STOMP 1.0 client may SUBSCRIBE without an id', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  await client.connect([])
  client.frame('SUBSCRIBE', [['destination', '/queue/ten'], ['receipt', 'r']])
  t.equal((await client.next()).command, 'RECEIPT')
  client.frame('SEND', [['destination', '/queue/ten']], 'hi')
  const message = await client.next()
  t.equal(message.command, 'MESSAGE')
  t.equal(message.body.toString(), 'hi')
})

/** A 1.2 subscriber on `destination` that has its subscription in place. */
async function subscriber12(t: Test, tcp: string, destination: string): Promise<RawClient> {
  const client = await RawClient.tcp(t, tcp)
  await client.connect()
  client.frame('SUBSCRIBE', [['id', 's'], ['destination', destination], ['receipt', 'r']])
  t.equal((await client.next()).command, 'RECEIPT')
  return client
}

t.test('STOMP 1.0 header values are taken literally, while 1.2 values are unescaped', async (t) => {
  const { addresses } = await startServer(t)
  const receiver = await subscriber12(t, addresses.tcp!, '/queue/escaping')

  const sender10 = await RawClient.tcp(t, addresses.tcp!)
  t.equal(getHeader(await sender10.connect([['host', 'localhost']]), 'version'), '1.0')
  // In 1.0 a backslash is an ordinary character, even before a letter no version defines (\t).
  sender10.send('SEND\ndestination:/queue/escaping\nx-raw:a\\nb\\cc\\\\d\\te\n\nfrom 1.0\0')
  const from10 = await receiver.next()
  t.equal(from10.body.toString(), 'from 1.0')
  t.equal(getHeader(from10, 'x-raw'), 'a\\nb\\cc\\\\d\\te', '1.0 value arrives with its backslashes')

  const sender12 = await RawClient.tcp(t, addresses.tcp!)
  await sender12.connect()
  sender12.send('SEND\ndestination:/queue/escaping\nx-raw:a\\nb\\cc\\\\d\\re\n\nfrom 1.2\0')
  const from12 = await receiver.next()
  t.equal(from12.body.toString(), 'from 1.2')
  t.equal(getHeader(from12, 'x-raw'), 'a\nb:c\\d\re', '1.2 escapes are decoded')

  const sender11 = await RawClient.tcp(t, addresses.tcp!)
  await sender11.connect([['accept-version', '1.1'], ['host', 'localhost']])
  sender11.send('SEND\ndestination:/queue/escaping\nx-raw:a\\nb\\cc\\\\d\n\nfrom 1.1\0')
  const from11 = await receiver.next()
  t.equal(getHeader(from11, 'x-raw'), 'a\nb:c\\d', '1.1 escapes are decoded')
})

t.test('a STOMP 1.1 client using the 1.2-only \\r escape gets ERROR', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  await client.connect([['accept-version', '1.1'], ['host', 'localhost']])
  client.send('SEND\ndestination:/queue/a\nx:a\\rb\n\nhello\0')
  await expectErrorAndClose(t, client, 'invalid-escape')
})

t.test('CONNECT headers are never unescaped, so a backslash in them is no error', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  const connected = await client.connect([['accept-version', '1.2'], ['host', 'localhost'], ['login', 'dom\\tuser'], ['passcode', 'p\\ass']])
  t.equal(connected.command, 'CONNECTED')
})
