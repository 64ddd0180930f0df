// ERROR frames worded as RabbitMQ's STOMP plugin words them, `message` header and body alike:
// clients and their test suites written against RabbitMQ compare those texts. Each is the last
// frame before the connection closes, and carries `receipt-id` when the bad frame asked for a
// receipt. Raw clients over TCP and WebSocket see the exact frames; stompit shows what a Node
// service gets: the `message` header as its error's message.
import t, { type Test } from 'tap'
import stompit from 'stompit'
import type { ErrorCode } from '../../lib/errors.js'
import type { Frame, Header, StompVersion } from '../../lib/frame/frame.js'
import { connectStompit } from '../helpers/clients.js'
import { expectErrorAndClose, rawClient, TRANSPORTS, type TransportName } from '../helpers/expect.js'
import { getHeader, splitAddress, type RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { open } from '../helpers/stomp.js'

const NAMES: Record<TransportName, string> = { tcp: 'TCP', ws: 'WebSocket' }

interface Case {
  /** What the client does wrong, as the test's name says it. */
  name: string
  code: ErrorCode
  /** The ERROR's `message` header. */
  message: string
  /** The ERROR's body exactly, or (`startsWith`) how it begins. */
  body: string
  startsWith?: boolean
  /** Connect speaking this version first (default 1.2); null = send no CONNECT. */
  version?: StompVersion | null
  /** Sends the bad frame, carrying `receipt` when given. */
  act(client: RawClient, receipt: Header[]): void
  /** Check more of the ERROR. */
  also?(t: Test, error: Frame): void
}

const CASES: Case[] = [
  {
    name: 'a SEND without destination',
    code: 'missing-header',
    message: 'Missing destination',
    body: '\'SEND\' must include a \'destination\' header\n',
    act: (c, receipt) => c.frame('SEND', [['content-type', 'text/plain'], ...receipt], 'nowhere'),
  },
  {
    name: 'a SUBSCRIBE without destination',
    code: 'missing-header',
    message: 'Missing destination',
    body: '\'SUBSCRIBE\' must include a \'destination\' header\n',
    act: (c, receipt) => c.frame('SUBSCRIBE', [['id', 'no-destination'], ...receipt]),
  },
  {
    name: 'a SEND to an unknown destination prefix (/foo/bar)',
    code: 'unknown-destination',
    message: 'Unknown destination',
    body: '\'/foo/bar\' is not a valid destination.\nValid destination types are: ',
    startsWith: true,
    act: (c, receipt) => c.frame('SEND', [['destination', '/foo/bar'], ...receipt], 'lost'),
  },
  {
    name: 'a SUBSCRIBE to an unknown destination prefix (/foo/bar)',
    code: 'unknown-destination',
    message: 'Unknown destination',
    body: '\'/foo/bar\' is not a valid destination.\nValid destination types are: ',
    startsWith: true,
    act: (c, receipt) => c.frame('SUBSCRIBE', [['id', 'foo'], ['destination', '/foo/bar'], ...receipt]),
  },
  {
    name: 'a SEND to /queue/ with an empty name',
    code: 'invalid-destination',
    message: 'Invalid destination',
    body: '\'\' is not a valid queue destination\n',
    act: (c, receipt) => c.frame('SEND', [['destination', '/queue/'], ...receipt], 'lost'),
  },
  {
    name: 'a SUBSCRIBE to /queue/ with an empty name',
    code: 'invalid-destination',
    message: 'Invalid destination',
    body: '\'\' is not a valid queue destination\n',
    act: (c, receipt) => c.frame('SUBSCRIBE', [['id', 'empty'], ['destination', '/queue/'], ...receipt]),
  },
  {
    name: 'a SEND to /topic/ with an empty name',
    code: 'invalid-destination',
    message: 'Invalid destination',
    body: '\'\' is not a valid topic destination\n',
    act: (c, receipt) => c.frame('SEND', [['destination', '/topic/'], ...receipt], 'lost'),
  },
  {
    name: 'a SUBSCRIBE to /topic/ with an empty name',
    code: 'invalid-destination',
    message: 'Invalid destination',
    body: '\'\' is not a valid topic destination\n',
    act: (c, receipt) => c.frame('SUBSCRIBE', [['id', 'empty'], ['destination', '/topic/'], ...receipt]),
  },
  {
    name: 'a SUBSCRIBE reusing a subscription id',
    code: 'duplicate-subscription',
    message: 'Duplicated subscription identifier',
    body: 'A subscription identified by \'prices\' already exists.',
    act: (c, receipt) => {
      c.frame('SUBSCRIBE', [['id', 'prices'], ['destination', '/topic/prices']])
      c.frame('SUBSCRIBE', [['id', 'prices'], ['destination', '/queue/other'], ...receipt])
    },
  },
  {
    name: 'a SEND carrying a message-id header',
    code: 'invalid-header',
    message: 'Invalid header',
    body: '\'message-id\' is not allowed on \'SEND\'.\n',
    act: (c, receipt) => c.frame('SEND', [['destination', '/queue/a'], ['message-id', 'mine-1'], ...receipt], 'forged id'),
  },
  {
    name: 'a STOMP 1.2 ACK without id',
    code: 'missing-header',
    message: 'Missing header',
    body: '\'ACK\' must include the \'id\' header\n',
    act: (c, receipt) => c.frame('ACK', [['message-id', 'm-1'], ...receipt]),
  },
  {
    name: 'a STOMP 1.2 NACK without id',
    code: 'missing-header',
    message: 'Missing header',
    body: '\'NACK\' must include the \'id\' header\n',
    act: (c, receipt) => c.frame('NACK', [['message-id', 'm-1'], ...receipt]),
  },
  {
    name: 'a STOMP 1.1 ACK without message-id',
    code: 'missing-header',
    message: 'Missing header',
    body: '\'ACK\' must include the \'message-id\' header\n',
    version: '1.1',
    act: (c, receipt) => c.frame('ACK', [['subscription', 's-1'], ...receipt]),
  },
  {
    name: 'a STOMP 1.1 NACK without message-id',
    code: 'missing-header',
    message: 'Missing header',
    body: '\'NACK\' must include the \'message-id\' header\n',
    version: '1.1',
    act: (c, receipt) => c.frame('NACK', [['subscription', 's-1'], ...receipt]),
  },
  {
    // CONNECT takes no receipt (STOMP 1.2: any client frame other than CONNECT may ask for one).
    name: 'a CONNECT offering only accept-version:2.0',
    code: 'unsupported-version',
    message: 'Version mismatch',
    body: 'Supported versions are 1.0,1.1,1.2\n',
    version: null,
    act: (c) => c.frame('CONNECT', [['accept-version', '2.0'], ['host', 'localhost']]),
    also: (t, error) => t.equal(getHeader(error, 'version'), '1.0,1.1,1.2', 'its version header lists the versions served'),
  },
]

for (const transport of TRANSPORTS) {
  const name = NAMES[transport]
  for (const c of CASES) {
    const receipts = c.version === null ? [false] : [true, false]
    for (const withReceipt of receipts) {
      const asked = c.version === null ? '' : withReceipt ? ', with receipt-id' : ', no receipt asked'
      t.test(`${c.name} gets ERROR "${c.message}" worded as RabbitMQ's, then the connection closes (${name}${asked})`, async (t) => {
        const { addresses } = await startServer(t)
        const client = c.version === null ? await rawClient(t, addresses, transport) : await open(t, addresses, transport, c.version ?? '1.2')
        const receiptId = withReceipt ? `bad-${c.code}` : null
        await c.act(client, receiptId === null ? [] : [['receipt', receiptId]])
        const { error } = await expectErrorAndClose(t, client, c.code, { message: c.message, receiptId })
        const body = error.body.toString('utf8')
        if (c.startsWith === true) t.ok(body.startsWith(c.body), `its body begins ${JSON.stringify(c.body)} (got ${JSON.stringify(body)})`)
        else t.equal(body, c.body, 'its body is RabbitMQ\'s, word for word')
        c.also?.(t, error)
      })
    }
  }
}

/**
 * The error a stompit client emits next: an Error whose message is the ERROR's `message` header.
 *
 * stompit 1.0.0 reads the body only of an ERROR typed exactly `text/plain` (RabbitMQ's), and
 * then calls `this.destroy(error)` inside a plain `function` listener on the frame's 'end'
 * (lib/Client.js onError): the error is raised on the frame stream, uncaught, and takes the
 * app's process down. stompd types ERROR bodies `text/plain;charset=utf-8`, so stompit takes its
 * other path and reports the message on the client (without the body as `longMessage`).
 */
function nextStompitError(client: stompit.Client): Promise<Error & { longMessage?: string }> {
  return new Promise((resolve) => client.once('error', resolve))
}

for (const [what, headers, message] of [
  ['a SEND without destination', {}, 'Missing destination'],
  ['a SEND to /foo/bar', { destination: '/foo/bar' }, 'Unknown destination'],
  ['a SEND to /queue/', { destination: '/queue/' }, 'Invalid destination'],
  ['a SEND carrying message-id', { destination: '/queue/a', 'message-id': 'mine' }, 'Invalid header'],
] as const) {
  t.test(`stompit reports ${what} with the ERROR's message "${message}" as its error's message, and the app keeps running`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await connectStompit(t, addresses.tcp!)
    const failed = nextStompitError(client)
    client.send({ ...headers }).end('body')
    const error = await failed
    t.equal(error.message, message, `error.message is "${message}"`)
  })
}

t.test('stompit offering only STOMP 2.0 fails to connect with "Version mismatch"', async (t) => {
  const { addresses } = await startServer(t)
  const [host, port] = splitAddress(addresses.tcp!)
  const error = await new Promise<Error & { longMessage?: string }>((resolve, reject) => {
    stompit.connect({ host, port, connectHeaders: { host: 'localhost', 'accept-version': '2.0' } }, (err, client) => {
      if (err) return resolve(err)
      client.destroy(new Error('test finished'))
      reject(new Error('stompit connected'))
    })
  })
  t.equal(error.message, 'Version mismatch', 'the connect callback\'s error.message is "Version mismatch"')
})
