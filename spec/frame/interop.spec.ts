// Interop between our codec and @stomp/stompjs's: frames stompjs's encoder writes decode with
// FrameDecoder, and frames we encode (whole, or fanned-out head + shared tail) parse with
// stompjs's Parser — text and binary bodies, NUL bytes, escaped headers, several frames per chunk.
import { FrameImpl, Parser, type IRawFrameType, type StompHeaders } from '@stomp/stompjs'
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import type { StompError } from '../../lib/errors.js'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { MessageTail, encodeFrame, encodeMessageHead, messageHeadPrefix } from '../../lib/frame/encoder.js'
import { escapeHeader, unescapeHeader, type Frame, type Header, type StompVersion } from '../../lib/frame/frame.js'

// ---------------------------------------------------------------------------------------------
// Helpers

interface Decoded { frames: Frame[], heartbeats: number, errors: StompError[] }

/** Decodes `chunks` in order with a fresh FrameDecoder set to `version`. */
function decode(chunks: readonly Buffer[], version: StompVersion): Decoded {
  const out: Decoded = { frames: [], heartbeats: 0, errors: [] }
  const decoder = new FrameDecoder({
    onFrame: (frame) => { out.frames.push({ ...frame, body: Buffer.from(frame.body) }) },
    onHeartbeat: () => { out.heartbeats++ },
    onError: (error) => { out.errors.push(error) },
  })
  decoder.version = version
  for (const chunk of chunks) decoder.push(chunk)
  return out
}

/** What stompjs's FrameImpl.serialize() returns, as the bytes a WebSocket would carry. */
function bytesOf(serialized: string | ArrayBuffer): Buffer {
  return typeof serialized === 'string' ? Buffer.from(serialized, 'utf8') : Buffer.from(serialized)
}

/** A Buffer's bytes as a standalone ArrayBuffer, which is what a browser WebSocket hands stompjs. */
function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return new Uint8Array(bytes).buffer
}

interface Parsed { frames: IRawFrameType[], pings: number }

function parseWithStompjs(chunks: ReadonlyArray<string | ArrayBuffer>): Parsed {
  const out: Parsed = { frames: [], pings: 0 }
  const parser = new Parser((frame) => { out.frames.push(frame) }, () => { out.pings++ })
  for (const chunk of chunks) parser.parseChunk(chunk)
  return out
}

/** Every way to cut `bytes` in two, plus one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]]
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)])
  out.push(Array.from(bytes, (b) => Buffer.from([b])))
  return out
}

/** stompjs's view of a header list: a plain object where the first of repeated names wins. */
function asStompHeaders(headers: readonly Header[]): StompHeaders {
  const out: StompHeaders = {}
  for (const [name, value] of headers) if (!(name in out)) out[name] = value
  return out
}

// ---------------------------------------------------------------------------------------------
// stompjs writes, we read

t.test('a SEND that stompjs writes for STOMP 1.2 decodes with its escaped header values restored', (t) => {
  const body = 'héllo 😀 wörld'
  const headers = {
    destination: '/queue/orders',
    'x-path': 'C:\\new\\dir',
    'x-lines': 'one\ntwo\r\nthree',
    'x-colon': 'a:b:c',
  }
  const bytes = bytesOf(new FrameImpl({ command: 'SEND', headers, body, escapeHeaderValues: true }).serialize())
  const { frames, errors } = decode([bytes], '1.2')
  t.same(errors, [])
  t.same(frames, [{
    command: 'SEND',
    headers: [...Object.entries(headers), ['content-length', String(Buffer.byteLength(body))]],
    body: Buffer.from(body, 'utf8'),
  }])
  t.end()
})

t.test('a binary body with NUL bytes that stompjs writes arrives whole, delimited by content-length', (t) => {
  const binaryBody = new Uint8Array([0, 1, 0, 0x0a, 0x0d, 0, 0xff, 0xfe, 0])
  const bytes = bytesOf(FrameImpl.marshall({ command: 'SEND', headers: { destination: '/topic/bin' }, binaryBody, escapeHeaderValues: true }))
  for (const chunks of splits(bytes)) {
    const { frames, errors } = decode(chunks, '1.2')
    if (errors.length > 0 || frames.length !== 1 || !frames[0]!.body.equals(binaryBody)) {
      t.fail(`cut into ${chunks.map((c) => c.length).join('+')} bytes: ${JSON.stringify({ frames, errors })}`)
      return t.end()
    }
  }
  t.same(decode([bytes], '1.2').frames, [{
    command: 'SEND',
    headers: [['destination', '/topic/bin'], ['content-length', '9']],
    body: Buffer.from(binaryBody),
  }], 'and so it does cut at every offset')
  t.end()
})

t.test('an empty binary body from stompjs comes with content-length:0 and decodes as empty', (t) => {
  const bytes = bytesOf(FrameImpl.marshall({ command: 'SEND', headers: { destination: '/queue/a' }, binaryBody: new Uint8Array(0) }))
  t.same(decode([bytes], '1.2').frames, [{ command: 'SEND', headers: [['destination', '/queue/a'], ['content-length', '0']], body: Buffer.alloc(0) }])
  t.end()
})

t.test('a text body stompjs sends with skipContentLengthHeader ends at the NUL', (t) => {
  const bytes = bytesOf(FrameImpl.marshall({ command: 'SEND', headers: { destination: '/queue/a' }, body: 'no length: here\n', skipContentLengthHeader: true }))
  t.same(decode([bytes], '1.2').frames, [{ command: 'SEND', headers: [['destination', '/queue/a']], body: Buffer.from('no length: here\n') }])
  t.end()
})

t.test("stompjs's CONNECT is not escaped, and a passcode with a colon and a backslash arrives as typed", (t) => {
  const headers = { 'accept-version': '1.2,1.1,1.0', host: 'broker.example.com', login: 'guest', passcode: 'p:a\\ss', 'heart-beat': '10000,10000' }
  const bytes = bytesOf(FrameImpl.marshall({ command: 'CONNECT', headers, escapeHeaderValues: true }))
  t.match(bytes.toString(), 'passcode:p:a\\ss\n', 'written raw')
  t.same(decode([bytes], '1.2').frames, [{ command: 'CONNECT', headers: Object.entries(headers), body: Buffer.alloc(0) }])
  t.end()
})

for (const version of ['1.0', '1.1'] as const) {
  t.test(`stompjs's unescaped frames for STOMP ${version} decode as written`, (t) => {
    const headers = { destination: '/queue/a', 'x-time': '12:30:00', receipt: 'r-1' }
    const bytes = bytesOf(FrameImpl.marshall({ command: 'SEND', headers, body: 'hi', escapeHeaderValues: false }))
    t.same(decode([bytes], version).frames, [{ command: 'SEND', headers: [...Object.entries(headers), ['content-length', '2']], body: Buffer.from('hi') }])
    t.end()
  })
}

t.test('several stompjs frames with heart-beats between them, in one chunk or cut anywhere, decode in order', (t) => {
  const parts: Buffer[] = [
    bytesOf(FrameImpl.marshall({ command: 'SUBSCRIBE', headers: { id: 'sub-0', destination: '/topic/a.b', ack: 'client-individual' }, escapeHeaderValues: true })),
    Buffer.from('\n'), // stompjs's heart-beat
    bytesOf(FrameImpl.marshall({ command: 'SEND', headers: { destination: '/topic/a.b', 'x-k': 'v:1' }, body: 'text é', escapeHeaderValues: true })),
    bytesOf(FrameImpl.marshall({ command: 'SEND', headers: { destination: '/topic/a.b' }, binaryBody: new Uint8Array([0, 0, 7]), escapeHeaderValues: true })),
    Buffer.from('\r\n\n'),
    bytesOf(FrameImpl.marshall({ command: 'ACK', headers: { id: 'ack-1' }, escapeHeaderValues: true })),
    bytesOf(FrameImpl.marshall({ command: 'DISCONNECT', headers: { receipt: 'close-1' }, escapeHeaderValues: true })),
  ]
  const bytes = Buffer.concat(parts)
  const want: Decoded = {
    frames: [
      { command: 'SUBSCRIBE', headers: [['id', 'sub-0'], ['destination', '/topic/a.b'], ['ack', 'client-individual']], body: Buffer.alloc(0) },
      { command: 'SEND', headers: [['destination', '/topic/a.b'], ['x-k', 'v:1'], ['content-length', '7']], body: Buffer.from('text é') },
      { command: 'SEND', headers: [['destination', '/topic/a.b'], ['content-length', '3']], body: Buffer.from([0, 0, 7]) },
      { command: 'ACK', headers: [['id', 'ack-1']], body: Buffer.alloc(0) },
      { command: 'DISCONNECT', headers: [['receipt', 'close-1']], body: Buffer.alloc(0) },
    ],
    heartbeats: 3,
    errors: [],
  }
  t.same(decode([bytes], '1.2'), want, 'in one chunk')
  const bad = splits(bytes).filter((chunks) => !isDeepStrictEqual(decode(chunks, '1.2'), want))
  t.equal(bad.length, 0, 'cut at every offset and byte by byte')
  t.end()
})

t.test('a large text frame that stompjs splits into 8 KiB WebSocket messages (splitLargeFrames) reassembles', (t) => {
  // stompjs cuts the serialized string every 8192 UTF-16 units and sends each piece as its own
  // text message. (A surrogate pair cut in two would be mangled by stompjs itself, so BMP text here.)
  const body = 'é€x'.repeat(15_000)
  const serialized = FrameImpl.marshall({ command: 'SEND', headers: { destination: '/queue/big' }, body, escapeHeaderValues: true })
  t.type(serialized, 'string')
  const text = serialized as string
  const messages: Buffer[] = []
  for (let i = 0; i < text.length; i += 8192) messages.push(Buffer.from(text.substring(i, i + 8192), 'utf8'))
  t.ok(messages.length > 5, `${messages.length} WebSocket messages`)
  const { frames, errors } = decode(messages, '1.2')
  t.same(errors, [])
  t.equal(frames.length, 1)
  t.equal(frames[0]?.body.toString('utf8'), body)
  t.end()
})

// ---------------------------------------------------------------------------------------------
// We write, stompjs reads

// Header values stompjs's own unescaping (chained `replace` calls) gets right, and one it does not:
// a literal backslash followed by `n` comes back from FrameImpl.fromRawFrame as a newline. For that
// one we check the raw value stompjs hands over, which is what the spec says the wire carries.
const SAFE_VALUES: Header[] = [
  ['destination', '/topic/prices.eur'],
  ['content-type', 'application/json;charset=utf-8'],
  ['x-colon', 'a:b'],
  ['x-lines', 'one\ntwo'],
  ['x-cr', 'carriage\rreturn'],
  ['x-backslash', 'back\\slash'],
  ['x-unicode', 'naïve 😀'],
]
const TRICKY_VALUE: Header = ['x-path', 'C:\\new\\table']

t.test('stompjs parses a MESSAGE we encode for 1.2, its NUL-bearing body delimited by content-length', (t) => {
  const body = Buffer.from([0x7b, 0, 0x0a, 0, 0x7d, 0])
  const headers: Header[] = [['subscription', 'sub-0'], ['message-id', 'm-1'], ...SAFE_VALUES, TRICKY_VALUE]
  const bytes = encodeFrame('MESSAGE', headers, body, '1.2')
  const { frames, pings } = parseWithStompjs([arrayBufferOf(bytes)])
  t.equal(pings, 0)
  t.equal(frames.length, 1)
  const raw = frames[0]!
  t.equal(raw.command, 'MESSAGE')
  t.same(Buffer.from(raw.binaryBody ?? []), body, 'body, NUL bytes included')
  const wantRaw = [...headers.map(([n, v]): Header => [n, escapeHeader(v, '1.2')]), ['content-length', '6']]
  t.same(raw.headers, wantRaw, 'raw header values escaped per STOMP 1.2')
  t.same(raw.headers.map(([n, v]) => [n, unescapeHeader(v, '1.2')]), [...headers, ['content-length', '6']], 'and they unescape to what we sent')
  const frame = FrameImpl.fromRawFrame(raw, true)
  const { [TRICKY_VALUE[0]]: _tricky, ...rest } = frame.headers
  t.same(rest, asStompHeaders([['subscription', 'sub-0'], ['message-id', 'm-1'], ...SAFE_VALUES, ['content-length', '6']]), 'FrameImpl.fromRawFrame reads the same headers')
  t.same(Buffer.from(frame.binaryBody), body)
  t.end()
})

t.test('stompjs reads a fanned-out MESSAGE (our per-subscriber head + shared tail) as the whole frame', (t) => {
  const body = Buffer.from('{"price":1.0842,"pair":"EUR/USD"}\0trailing', 'utf8')
  for (const version of ['1.2', '1.1'] as const) {
    // STOMP 1.1 has no `\r` escape, and stompjs drops every CR in a header line: no CR for 1.1.
    const values = version === '1.2' ? SAFE_VALUES : SAFE_VALUES.filter(([name]) => name !== 'x-cr')
    // The sender's own subscription and content-length are never forwarded.
    const tail = new MessageTail('T_1@@session-1@@7', [...values, ['subscription', 'sender-copy'], ['content-length', '999']], body)
    const head = encodeMessageHead(messageHeadPrefix('sub:0', version), 'ack-7', true)
    const whole = Buffer.concat([head, tail.encode(version)])
    const expectedHeaders: Header[] = [
      ['subscription', 'sub:0'], ['ack', 'ack-7'], ['redelivered', 'true'], ['message-id', 'T_1@@session-1@@7'],
      ...values, ['content-length', String(body.length)],
    ]
    // As written: head and tail in one WebSocket message, or as two TCP segments.
    for (const chunks of [[arrayBufferOf(whole)], [arrayBufferOf(head), arrayBufferOf(tail.encode(version))]]) {
      const { frames } = parseWithStompjs(chunks)
      t.equal(frames.length, 1, `${version}, ${chunks.length} chunk(s)`)
      const raw = frames[0]!
      t.same(Buffer.from(raw.binaryBody ?? []), body)
      if (version === '1.2') {
        t.same(FrameImpl.fromRawFrame(raw, true).headers, asStompHeaders(expectedHeaders), 'headers, unescaped by stompjs')
      } else {
        // stompjs unescapes only after negotiating 1.2; a 1.1 client sees the 1.1 escapes raw.
        t.same(raw.headers.map(([n, v]) => [unescapeHeader(n, '1.1'), unescapeHeader(v, '1.1')]), expectedHeaders, 'headers, unescaped per 1.1')
      }
    }
    // Same bytes as encoding the whole frame at once.
    const reference = encodeFrame('MESSAGE', expectedHeaders.filter(([n]) => n !== 'content-length'), body, version)
    t.same(parseWithStompjs([arrayBufferOf(whole)]), parseWithStompjs([arrayBufferOf(reference)]), `${version}: same as encodeFrame`)
  }
  t.end()
})

t.test('stompjs parses our frames sent as WebSocket text the same as sent as binary', (t) => {
  const tail = new MessageTail('m-9', [['destination', '/topic/chat'], ['content-type', 'text/plain']], Buffer.from('hello, wörld 😀'))
  t.ok(tail.isText, 'a UTF-8 body may go out as a text message')
  const bytes = Buffer.concat([encodeMessageHead(messageHeadPrefix('s-1', '1.2'), undefined, false), tail.encode('1.2')])
  const asText = parseWithStompjs([bytes.toString('utf8')])
  t.same(asText, parseWithStompjs([arrayBufferOf(bytes)]))
  t.equal(new TextDecoder().decode(asText.frames[0]?.binaryBody), 'hello, wörld 😀')
  t.end()
})

t.test('several of our frames with heart-beats between them reach stompjs in order, however they are cut', (t) => {
  const parts = [
    encodeFrame('CONNECTED', [['version', '1.2'], ['server', 'stompd/0.1.0'], ['session', 's:1'], ['heart-beat', '10000,10000']], Buffer.alloc(0), '1.2'),
    Buffer.from('\n'),
    encodeFrame('MESSAGE', [['subscription', '0'], ['message-id', '1'], ['destination', '/queue/a']], Buffer.from([1, 0, 2]), '1.2'),
    Buffer.from('\n\n'),
    encodeFrame('RECEIPT', [['receipt-id', 'r:1']], Buffer.alloc(0), '1.2'),
    encodeFrame('ERROR', [['message', 'malformed header'], ['receipt-id', 'r-2']], Buffer.from('a header line has no colon'), '1.2'),
  ]
  const bytes = Buffer.concat(parts)
  const want = parseWithStompjs([arrayBufferOf(bytes)])
  const bad = splits(bytes).filter((chunks) => !isDeepStrictEqual(parseWithStompjs(chunks.map(arrayBufferOf)), want))
  t.equal(bad.length, 0, 'cut at every offset and byte by byte, stompjs sees the same')
  t.equal(want.pings, 3)
  // (FrameImpl.fromRawFrame reverses the raw header list in place, so this comes last.)
  t.same(want.frames.map((f) => FrameImpl.fromRawFrame(f, true)).map((f) => [f.command, f.headers, f.body]), [
    ['CONNECTED', { version: '1.2', server: 'stompd/0.1.0', session: 's:1', 'heart-beat': '10000,10000' }, ''],
    ['MESSAGE', { subscription: '0', 'message-id': '1', destination: '/queue/a', 'content-length': '3' }, '\u0001\u0000\u0002'],
    ['RECEIPT', { 'receipt-id': 'r:1' }, ''],
    ['ERROR', { message: 'malformed header', 'receipt-id': 'r-2', 'content-length': '26' }, 'a header line has no colon'],
  ])
  t.end()
})

t.test('stompjs reads the unescaped headers of our STOMP 1.0 frames', (t) => {
  const headers: Header[] = [['destination', '/queue/a'], ['x-time', '12:30:00'], ['x-unicode', 'naïve']]
  const { frames } = parseWithStompjs([arrayBufferOf(encodeFrame('MESSAGE', headers, Buffer.from('hi'), '1.0'))])
  t.same(FrameImpl.fromRawFrame(frames[0]!, false).headers, asStompHeaders([...headers, ['content-length', '2']]))
  t.end()
})

t.test('our STOMP 1.1 frames reach stompjs with the 1.1 escapes it leaves for the application', (t) => {
  // STOMP 1.1 escapes `:` `\n` `\\` in MESSAGE headers; stompjs unescapes only after negotiating 1.2,
  // so a 1.1 stompjs client sees `12\c30\c00`. stompjs offers 1.2, which stompd picks, so this is rare.
  const headers: Header[] = [['destination', '/queue/a'], ['x-time', '12:30:00'], ['x-unicode', 'naïve']]
  const { frames } = parseWithStompjs([arrayBufferOf(encodeFrame('MESSAGE', headers, Buffer.from('hi'), '1.1'))])
  const raw = frames[0]!.headers
  t.same(raw, [...headers.map(([n, v]) => [n, escapeHeader(v, '1.1')]), ['content-length', '2']])
  t.same(raw.map(([n, v]) => [n, unescapeHeader(v, '1.1')]), [...headers, ['content-length', '2']])
  t.end()
})
