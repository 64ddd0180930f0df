// Protocol violations, from raw TCP and raw WebSocket clients: each is answered with an ERROR
// frame (the `message` header from lib/errors.ts, a readable body), the connection is closed,
// and the broker goes on serving everyone else.
import t from 'tap'
import type { ErrorCode } from '../../lib/errors.js'
import type { ServerOptions } from '../../lib/server.js'
import {
  expectErrorAndClose, expectRoundTrip, pieces, pseudoRandomBytes, rawClient, TRANSPORTS, within,
} from '../helpers/expect.js'
import { getHeader, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

interface Violation {
  /** The test's name: what the client does wrong. */
  name: string
  code: ErrorCode
  /** Send CONNECT (STOMP 1.2) first; default true. */
  connect?: boolean
  options?: ServerOptions
  /** `receipt-id` the ERROR must carry; none when not given. */
  receiptId?: string | null
  /** The ERROR's `message` when not the code's usual text. */
  message?: string
  act(client: RawClient): void
}

const SEND_HEAD = 'SEND\ndestination:/queue/a\n'

const violations: Violation[] = [
  {
    name: 'a SEND before CONNECT',
    code: 'not-connected',
    connect: false,
    act: (c) => c.frame('SEND', [['destination', '/queue/a']], 'too early'),
  },
  {
    name: 'a SUBSCRIBE before CONNECT',
    code: 'not-connected',
    connect: false,
    act: (c) => c.frame('SUBSCRIBE', [['id', '1'], ['destination', '/topic/a']]),
  },
  {
    name: 'an unknown command',
    code: 'unknown-command',
    act: (c) => c.send('PUBLISH\ndestination:/queue/a\n\nhello\0'),
  },
  {
    name: 'an unknown command in place of CONNECT',
    code: 'unknown-command',
    connect: false,
    act: (c) => c.send('HELLO\n\n\0'),
  },
  {
    name: 'a MESSAGE frame, which only a server may send',
    code: 'unknown-command',
    act: (c) => c.frame('MESSAGE', [['destination', '/queue/a'], ['message-id', '1'], ['subscription', '1']], 'forged'),
  },
  {
    name: 'a CONNECTED frame from a client',
    code: 'unknown-command',
    act: (c) => c.frame('CONNECTED', [['version', '1.2']]),
  },
  {
    name: 'a SEND without destination',
    code: 'missing-header',
    message: 'Missing destination',
    act: (c) => c.frame('SEND', [['content-type', 'text/plain']], 'nowhere'),
  },
  {
    name: 'a SUBSCRIBE without id in STOMP 1.2',
    code: 'missing-header',
    act: (c) => c.frame('SUBSCRIBE', [['destination', '/topic/a']]),
  },
  {
    name: 'a SUBSCRIBE without destination',
    code: 'missing-header',
    message: 'Missing destination',
    act: (c) => c.frame('SUBSCRIBE', [['id', '1']]),
  },
  {
    name: 'a SUBSCRIBE with an id already in use',
    code: 'duplicate-subscription',
    act: (c) => {
      c.frame('SUBSCRIBE', [['id', 'same'], ['destination', '/topic/a']])
      c.frame('SUBSCRIBE', [['id', 'same'], ['destination', '/topic/b']])
    },
  },
  {
    name: 'an ACK of an unknown id',
    code: 'unknown-ack',
    act: (c) => c.frame('ACK', [['id', 'no-such-ack']]),
  },
  {
    name: 'a NACK of an unknown id',
    code: 'unknown-ack',
    act: (c) => c.frame('NACK', [['id', 'no-such-ack']]),
  },
  {
    name: 'an UNSUBSCRIBE of an unknown subscription',
    code: 'unknown-subscription',
    act: (c) => c.frame('UNSUBSCRIBE', [['id', 'never-subscribed']]),
  },
  {
    name: 'a SEND to an unknown destination prefix (/exchange/x)',
    code: 'unknown-destination',
    act: (c) => c.frame('SEND', [['destination', '/exchange/x']], 'hello'),
  },
  {
    name: 'a SUBSCRIBE to an unknown destination prefix (/exchange/x)',
    code: 'unknown-destination',
    act: (c) => c.frame('SUBSCRIBE', [['id', '1'], ['destination', '/exchange/x']]),
  },
  {
    name: 'a SUBSCRIBE with an invalid ack mode',
    code: 'invalid-header',
    act: (c) => c.frame('SUBSCRIBE', [['id', '1'], ['destination', '/queue/a'], ['ack', 'sometimes']]),
  },
  {
    name: 'a second CONNECT',
    code: 'already-connected',
    act: (c) => c.frame('CONNECT', [['accept-version', '1.2'], ['host', 'localhost']]),
  },
  {
    name: 'a STOMP frame after CONNECT',
    code: 'already-connected',
    act: (c) => c.frame('STOMP', [['accept-version', '1.2'], ['host', 'localhost']]),
  },
  {
    name: 'a frame larger than maxFrameSize (no content-length)',
    code: 'frame-too-large',
    options: { maxFrameSize: 4096 },
    act: (c) => c.send(SEND_HEAD + '\n' + 'x'.repeat(5000) + '\0'),
  },
  {
    name: 'a frame whose content-length is larger than maxFrameSize',
    code: 'frame-too-large',
    options: { maxFrameSize: 4096 },
    // Refused on the declared size, before the body is even sent.
    act: (c) => c.send(SEND_HEAD + 'content-length:100000\n\n' + 'x'.repeat(100)),
  },
  {
    name: 'a frame with too many headers',
    code: 'too-many-headers',
    act: (c) => c.send(SEND_HEAD + Array.from({ length: 120 }, (_, i) => `h${i}:${i}\n`).join('') + '\n\0'),
  },
  {
    name: 'a header line that is too long',
    code: 'header-too-long',
    act: (c) => c.send(SEND_HEAD + 'x-long:' + 'y'.repeat(9000) + '\n\n\0'),
  },
  {
    name: 'a content-length that is not a number',
    code: 'invalid-content-length',
    act: (c) => c.send(SEND_HEAD + 'content-length:ten\n\n0123456789\0'),
  },
  {
    name: 'a negative content-length',
    code: 'invalid-content-length',
    act: (c) => c.send(SEND_HEAD + 'content-length:-1\n\n\0'),
  },
  {
    name: 'a body longer than its content-length',
    code: 'content-length-mismatch',
    act: (c) => c.send(SEND_HEAD + 'content-length:3\n\nabcdef\0'),
  },
  {
    name: 'an undefined escape (\\t) in a STOMP 1.2 header',
    code: 'invalid-escape',
    act: (c) => c.send(SEND_HEAD + 'x-tab:a\\tb\n\nhello\0'),
  },
  {
    name: 'a header line without a colon',
    code: 'malformed-header',
    act: (c) => c.send(SEND_HEAD + 'no-colon-here\n\nhello\0'),
  },
  {
    name: 'a bad SEND that asked for a receipt',
    code: 'unknown-destination',
    receiptId: 'r-42',
    act: (c) => c.frame('SEND', [['destination', '/exchange/x'], ['receipt', 'r-42']], 'hello'),
  },
  {
    name: 'a SUBSCRIBE without id that asked for a receipt',
    code: 'missing-header',
    receiptId: 'sub-7',
    act: (c) => c.frame('SUBSCRIBE', [['destination', '/topic/a'], ['receipt', 'sub-7']]),
  },
  {
    name: 'a frame before CONNECT that asked for a receipt',
    code: 'not-connected',
    connect: false,
    receiptId: 'early-1',
    act: (c) => c.frame('SUBSCRIBE', [['id', '1'], ['destination', '/topic/a'], ['receipt', 'early-1']]),
  },
  {
    name: 'an ACK of an unknown id that asked for a receipt',
    code: 'unknown-ack',
    receiptId: 'ack-1',
    act: (c) => c.frame('ACK', [['id', 'nope'], ['receipt', 'ack-1']]),
  },
]

for (const violation of violations) {
  t.test(`${violation.name} is answered with ERROR and a close, and the broker keeps serving`, async (t) => {
    const { addresses } = await startServer(t, violation.options)
    for (const transport of TRANSPORTS) {
      await t.test(`over ${transport === 'tcp' ? 'TCP' : 'WebSocket'}`, async (t) => {
        const client = await rawClient(t, addresses, transport)
        if (violation.connect !== false) {
          const connected = await client.connect()
          t.equal(connected.command, 'CONNECTED')
        }
        violation.act(client)
        const { closed } = await expectErrorAndClose(t, client, violation.code, { receiptId: violation.receiptId ?? null, message: violation.message })
        if (transport === 'ws') t.not(closed.code, 1006, 'the WebSocket is closed with a close frame')
        await expectRoundTrip(t, addresses, transport)
      })
    }
  })
}

t.test('a frame split across WebSocket messages, byte by byte, is decoded', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.ws(t, addresses.ws)
  for (const byte of Buffer.from('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0')) client.send(Buffer.from([byte]))
  const connected = await client.next()
  t.equal(connected.command, 'CONNECTED')
  const frames = Buffer.from(
    'SUBSCRIBE\nid:s\ndestination:/queue/split\nreceipt:subscribed\n\n\0' +
    'SEND\ndestination:/queue/split\ncontent-type:text/plain\n\nbyte by byte ✓\0' +
    'SEND\ndestination:/queue/split\ncontent-length:9\n\nwith\0NULs\0',
  )
  for (const byte of frames) client.send(Buffer.from([byte]))
  const receipt = await client.next()
  t.equal(receipt.command, 'RECEIPT')
  t.equal(getHeader(receipt, 'receipt-id'), 'subscribed')
  const first = await client.next()
  t.equal(first.command, 'MESSAGE')
  t.equal(first.body.toString('utf8'), 'byte by byte ✓')
  const second = await client.next()
  t.same(second.body, Buffer.from('with\0NULs'))
})

t.test('a frame split into uneven WebSocket messages is decoded', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.ws(t, addresses.ws)
  await client.connect()
  const body = 'z'.repeat(20_000)
  const bytes = Buffer.from(`SUBSCRIBE\nid:s\ndestination:/queue/uneven\n\n\0SEND\ndestination:/queue/uneven\n\n${body}\0`)
  let at = 0
  for (const size of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181]) {
    client.send(bytes.subarray(at, at + size))
    at += size
  }
  client.send(bytes.subarray(at))
  const message = await client.next()
  t.equal(message.command, 'MESSAGE')
  t.equal(message.body.toString(), body)
})

t.test('an error in the middle of frames split across WebSocket messages is still reported', async (t) => {
  const { addresses } = await startServer(t)
  const watcher = await RawClient.tcp(t, addresses.tcp!)
  await watcher.connect()
  watcher.frame('SUBSCRIBE', [['id', 'w'], ['destination', '/topic/split-error'], ['receipt', 'ready']])
  t.equal((await watcher.next()).command, 'RECEIPT')

  for (const size of [1, 7]) {
    await t.test(`in ${size}-byte pieces`, async (t) => {
      const client = await RawClient.ws(t, addresses.ws)
      await client.connect()
      const bytes = Buffer.from(
        `SEND\ndestination:/topic/split-error\nreceipt:before\n\nbefore the error (${size})\0` +
        'SEND\ndestination:/exchange/nowhere\nreceipt:bad\n\nthe bad one\0' +
        `SEND\ndestination:/topic/split-error\n\nafter the error (${size})\0`,
      )
      for (const piece of pieces(bytes, size)) client.send(piece)
      const receipt = await client.next()
      t.equal(receipt.command, 'RECEIPT', 'the frame before the bad one took effect')
      t.equal(getHeader(receipt, 'receipt-id'), 'before')
      await expectErrorAndClose(t, client, 'unknown-destination', { receiptId: 'bad' })
      const seen = await watcher.next()
      t.equal(seen.body.toString(), `before the error (${size})`)
    })
  }
  // Nothing after the bad frame was acted on: the only messages the watcher saw were the "before" ones.
  watcher.frame('SEND', [['destination', '/topic/split-error']], 'fence')
  const fence = await watcher.next()
  t.equal(fence.body.toString(), 'fence', 'no frame after an error reached the broker')
})

for (const transport of TRANSPORTS) {
  const carrier = transport === 'tcp' ? 'one TCP write' : 'one WebSocket message'
  t.test(`several frames in ${carrier} are each handled, in order`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await rawClient(t, addresses, transport)
    client.send(
      'CONNECT\naccept-version:1.2\nhost:localhost\n\n\0' +
      'SUBSCRIBE\nid:s\ndestination:/queue/batch\nreceipt:sub\n\n\0' +
      '\n' + // a heart-beat between frames
      'SEND\ndestination:/queue/batch\n\none\0' +
      'SEND\ndestination:/queue/batch\ncontent-length:3\n\ntwo\0\r\n' +
      'SEND\r\ndestination:/queue/batch\r\n\r\nthree\0' +
      'DISCONNECT\nreceipt:bye\n\n\0',
    )
    const commands: string[] = []
    const bodies: string[] = []
    for (let i = 0; i < 6; i++) {
      const frame = await client.next()
      commands.push(frame.command)
      if (frame.command === 'MESSAGE') bodies.push(frame.body.toString())
    }
    t.same(commands, ['CONNECTED', 'RECEIPT', 'MESSAGE', 'MESSAGE', 'MESSAGE', 'RECEIPT'])
    t.same(bodies, ['one', 'two', 'three'])
    t.equal(getHeader(client.frames[5]!, 'receipt-id'), 'bye')
    await within(client.closed, 5000, 'DISCONNECT closes the connection')
  })
}

t.test('an HTTP request sent to the STOMP TCP port gets ERROR and a close', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.tcp(t, addresses.tcp!)
  client.send('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  await expectErrorAndClose(t, client, 'unknown-command')
  await expectRoundTrip(t, addresses, 'tcp')
  await expectRoundTrip(t, addresses, 'ws')
})

for (const transport of TRANSPORTS) {
  t.test(`random bytes over ${transport === 'tcp' ? 'TCP' : 'WebSocket'} get ERROR and a close, and the broker keeps serving`, async (t) => {
    const { addresses } = await startServer(t)
    for (const seed of [1, 2, 3, 0xdeadbeef]) {
      const garbage = pseudoRandomBytes(2048, seed)
      // A leading EOL would be a heart-beat; start with a byte that begins no frame.
      garbage[0] = 0xff
      const client = await rawClient(t, addresses, transport)
      client.send(garbage)
      t.comment(`seed ${seed}`)
      await expectErrorAndClose(t, client, 'unknown-command')
    }
    const afterConnect = await rawClient(t, addresses, transport)
    await afterConnect.connect()
    const garbage = pseudoRandomBytes(4096, 42)
    garbage[0] = 0xff
    afterConnect.send(garbage)
    await expectErrorAndClose(t, afterConnect, 'unknown-command')
    await expectRoundTrip(t, addresses, transport)
  })
}

t.test('a frame too large for the limit over WebSocket yields an ERROR frame, not a bare 1009 close', async (t) => {
  await t.test('in one WebSocket message', async (t) => {
    const { addresses } = await startServer(t, { maxFrameSize: 4096 })
    const client = await RawClient.ws(t, addresses.ws)
    await client.connect()
    client.send(SEND_HEAD + '\n' + 'x'.repeat(64 * 1024) + '\0')
    const { closed } = await expectErrorAndClose(t, client, 'frame-too-large')
    t.not(closed.code, 1009, 'not closed as "message too big"')
    await expectRoundTrip(t, addresses, 'ws')
  })
  await t.test('split across 8 KiB WebSocket messages, as stompjs splits large frames', async (t) => {
    const { addresses } = await startServer(t, { maxFrameSize: 4096 })
    const client = await RawClient.ws(t, addresses.ws)
    await client.connect()
    for (const piece of pieces(Buffer.from(SEND_HEAD + '\n' + 'x'.repeat(64 * 1024) + '\0'), 8192)) client.send(piece)
    const { closed } = await expectErrorAndClose(t, client, 'frame-too-large')
    t.not(closed.code, 1009, 'not closed as "message too big"')
  })
  await t.test('with the default 16 MiB limit', async (t) => {
    const { addresses } = await startServer(t)
    const client = await RawClient.ws(t, addresses.ws)
    await client.connect()
    client.send(Buffer.concat([Buffer.from(SEND_HEAD + '\n'), Buffer.alloc(17 * 1024 * 1024, 0x61), Buffer.from([0])]))
    const { closed } = await expectErrorAndClose(t, client, 'frame-too-large', { timeoutMs: 10_000 })
    t.not(closed.code, 1009, 'not closed as "message too big"')
    await expectRoundTrip(t, addresses, 'ws')
  })
})

t.test('a client that makes an error does not disturb other connected clients', async (t) => {
  const { addresses } = await startServer(t)
  const bystanderTcp = await RawClient.tcp(t, addresses.tcp!)
  const bystanderWs = await RawClient.ws(t, addresses.ws)
  for (const bystander of [bystanderTcp, bystanderWs]) {
    await bystander.connect()
    bystander.frame('SUBSCRIBE', [['id', 'b'], ['destination', '/topic/news'], ['receipt', 'r']])
    t.equal((await bystander.next()).command, 'RECEIPT')
  }
  for (const transport of TRANSPORTS) {
    const offender = await rawClient(t, addresses, transport)
    await offender.connect()
    offender.send('BOGUS\n\n\0')
    await expectErrorAndClose(t, offender, 'unknown-command')
  }
  const publisher = await RawClient.tcp(t, addresses.tcp!)
  await publisher.connect()
  publisher.frame('SEND', [['destination', '/topic/news']], 'still here')
  for (const bystander of [bystanderTcp, bystanderWs]) {
    const message = await bystander.next()
    t.equal(message.command, 'MESSAGE')
    t.equal(message.body.toString(), 'still here')
  }
})

t.test('even a WebSocket message far beyond the WebSocket payload cap yields an ERROR frame, not a bare 1009 close', async (t) => {
  // maxFrameSize 4096 puts ws's own payload cap at 16 MiB; this message is past both.
  const { addresses } = await startServer(t, { maxFrameSize: 4096 })
  const client = await RawClient.ws(t, addresses.ws)
  await client.connect()
  client.send(Buffer.concat([Buffer.from(SEND_HEAD + '\n'), Buffer.alloc(17 * 1024 * 1024, 0x61), Buffer.from([0])]))
  const { closed } = await expectErrorAndClose(t, client, 'frame-too-large', { timeoutMs: 10_000 })
  t.not(closed.code, 1009, 'not closed as "message too big"')
  await expectRoundTrip(t, addresses, 'ws')
})

t.test('an ERROR for a frame the decoder rejects after reading its receipt header carries receipt-id', async (t) => {
  const { addresses } = await startServer(t, { maxFrameSize: 4096 })
  const cases: Array<[name: string, code: ErrorCode, bytes: string]> = [
    ['a body longer than its content-length', 'content-length-mismatch', 'SEND\ndestination:/queue/a\nreceipt:r-mismatch\ncontent-length:3\n\nabcdef\0'],
    ['a declared content-length over the frame limit', 'frame-too-large', 'SEND\ndestination:/queue/a\nreceipt:r-large\ncontent-length:100000\n\n'],
    ['an undefined escape after the receipt header', 'invalid-escape', 'SEND\ndestination:/queue/a\nreceipt:r-escape\nx:a\\tb\n\n\0'],
    ['a bad content-length after the receipt header', 'invalid-content-length', 'SEND\ndestination:/queue/a\nreceipt:r-length\ncontent-length:ten\n\n\0'],
  ]
  for (const [name, code, bytes] of cases) {
    await t.test(name, async (t) => {
      for (const transport of TRANSPORTS) {
        const client = await rawClient(t, addresses, transport)
        await client.connect()
        client.send(bytes)
        await expectErrorAndClose(t, client, code, { receiptId: /receipt:([^\n]+)/.exec(bytes)![1]! })
      }
    })
  }
})

for (const transport of TRANSPORTS) {
  t.test(`over ${transport}, frames with CR LF line ends and bodies with blank lines, after LF frames in one write, arrive whole`, async (t) => {
    const { addresses } = await startServer(t)
    const client = await rawClient(t, addresses, transport)
    client.send(
      'CONNECT\naccept-version:1.2\nhost:localhost\n\n\0' +
      'SUBSCRIBE\nid:s\ndestination:/queue/blank-lines\n\n\0' +
      // Header lines ending in CR LF, then an LF blank line: the CRs are not part of the values.
      'SEND\ndestination:/queue/blank-lines\r\nx-n:1\r\n\nfirst\n\nparagraph\0' +
      // A CR LF blank line: the LF LF in the body is not where the headers end.
      'SEND\r\ndestination:/queue/blank-lines\r\nx-n:2\r\n\r\nsecond\n\nparagraph\0' +
      'SEND\ndestination:/queue/blank-lines\nx-n:3\n\nthird\0',
    )
    t.equal((await client.next()).command, 'CONNECTED')
    const messages = [await client.next(), await client.next(), await client.next()]
    t.same(messages.map((m) => [m.command, getHeader(m, 'x-n'), m.body.toString()]),
      [['MESSAGE', '1', 'first\n\nparagraph'], ['MESSAGE', '2', 'second\n\nparagraph'], ['MESSAGE', '3', 'third']])
  })
}

t.test('CR LF frames and heart-beats split byte by byte across WebSocket messages are decoded', async (t) => {
  const { addresses } = await startServer(t)
  const client = await RawClient.ws(t, addresses.ws)
  const bytes = Buffer.from(
    '\r\n\r\nCONNECT\r\naccept-version:1.2\r\nhost:localhost\r\n\r\n\0\r\n' +
    'SUBSCRIBE\r\nid:s\r\ndestination:/queue/crlf\r\n\r\n\0\r\n\r\n' +
    'SEND\r\ndestination:/queue/crlf\r\nx-utf8:é✓𝄞\r\nx-esc:a\\cb\\nc\r\nreceipt:sent\r\n\r\nCR LF body\0\r\n',
  )
  for (const byte of bytes) client.send(Buffer.from([byte]))
  t.equal((await client.next()).command, 'CONNECTED')
  const frames = [await client.next(), await client.next()]
  const message = frames.find((f) => f.command === 'MESSAGE')
  t.ok(frames.some((f) => f.command === 'RECEIPT' && getHeader(f, 'receipt-id') === 'sent'), 'the SEND got its receipt')
  t.equal(message?.body.toString(), 'CR LF body')
  t.equal(getHeader(message!, 'x-utf8'), 'é✓𝄞', 'a multi-byte header value split byte by byte survives')
  t.equal(getHeader(message!, 'x-esc'), 'a:b\nc')
})

t.test('frames exactly at each limit are accepted, one byte over is an ERROR', async (t) => {
  const maxFrameSize = 4096
  const { addresses } = await startServer(t, { maxFrameSize })
  const head = 'SEND\ndestination:/queue/limits\nreceipt:ok\n'
  /** A SEND with a receipt whose encoding is `size` bytes, NUL included. */
  const sized = (size: number, withLength: boolean): Buffer => {
    let bodyLength = size - Buffer.byteLength(head + '\n') - 1
    if (withLength) bodyLength -= `content-length:${bodyLength}\n`.length
    const lengthHeader = withLength ? `content-length:${bodyLength}\n` : ''
    const frame = Buffer.from(head + lengthHeader + '\n' + 'b'.repeat(bodyLength) + '\0')
    if (frame.length !== size) throw new Error(`built ${frame.length} bytes, wanted ${size}`)
    return frame
  }
  const headerLine = (length: number): string => 'x:' + 'h'.repeat(length - 2)
  const cases: Array<[name: string, ok: Buffer, over: Buffer, code: ErrorCode]> = [
    ['frame size without content-length', sized(maxFrameSize, false), sized(maxFrameSize + 1, false), 'frame-too-large'],
    ['frame size with content-length', sized(maxFrameSize, true), sized(maxFrameSize + 1, true), 'frame-too-large'],
    ['header count',
      Buffer.from(head + Array.from({ length: 98 }, (_, i) => `h${i}:v\n`).join('') + '\n\0'),
      Buffer.from(head + Array.from({ length: 99 }, (_, i) => `h${i}:v\n`).join('') + '\n\0'),
      'too-many-headers'],
  ]
  for (const [name, ok, over, code] of cases) {
    await t.test(name, async (t) => {
      // Whole, and over WebSocket also in 97-byte messages, so the limits hold across pieces too.
      for (const [transport, size] of [['tcp', 0], ['ws', 0], ['ws', 97]] as const) {
        const client = await rawClient(t, addresses, transport)
        const send = (bytes: Buffer): void => {
          for (const piece of size === 0 ? [bytes] : pieces(bytes, size)) client.send(piece)
        }
        await client.connect()
        send(ok)
        const receipt = await client.next()
        t.equal(receipt.command, 'RECEIPT', `at the limit over ${transport}${size === 0 ? '' : ` in ${size}-byte pieces`}: accepted`)
        send(over)
        await expectErrorAndClose(t, client, code)
      }
    })
  }
  await t.test('header line length', async (t) => {
    const { addresses } = await startServer(t, { maxHeaderLineLength: 1024 })
    for (const transport of TRANSPORTS) {
      const client = await rawClient(t, addresses, transport)
      await client.connect()
      client.send(head + headerLine(1024) + '\n\n\0')
      t.equal((await client.next()).command, 'RECEIPT', `a 1024-byte header line over ${transport}: accepted`)
      client.send(head + headerLine(1024) + '\r\n\r\n\0')
      t.equal((await client.next()).command, 'RECEIPT', 'its CR LF does not count')
      client.send(head + headerLine(1025) + '\n\n\0')
      await expectErrorAndClose(t, client, 'header-too-long')
    }
  })
})

t.test('a destination with nothing after its prefix is an ERROR', async (t) => {
  const { addresses } = await startServer(t)
  for (const destination of ['/queue/', '/topic/']) {
    const client = await RawClient.tcp(t, addresses.tcp!)
    await client.connect()
    client.frame('SEND', [['destination', destination]], 'x')
    await expectErrorAndClose(t, client, 'invalid-destination')
  }
})
