import t from 'tap'
import { FrameDecoder, type DecoderLimits } from '../../lib/frame/decoder.js'
import { getHeader, type Frame, type StompVersion } from '../../lib/frame/frame.js'
import type { StompError } from '../../lib/errors.js'

interface Decoded {
  frames: Frame[]
  heartbeats: number
  errors: StompError[]
}

/** Feeds `input` cut into the given chunk sizes (default: one chunk) and collects what comes out. */
function decode(input: Buffer | string, opts: { version?: StompVersion; limits?: Partial<DecoderLimits>; cuts?: number[] } = {}): Decoded {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input
  const out: Decoded = { frames: [], heartbeats: 0, errors: [] }
  const decoder = new FrameDecoder({
    // Copy bodies: the decoder hands out views of the chunk it was fed.
    onFrame: (f) => out.frames.push({ ...f, body: Buffer.from(f.body) }),
    onHeartbeat: () => out.heartbeats++,
    onError: (e) => out.errors.push(e),
  }, opts.limits)
  if (opts.version !== undefined) decoder.version = opts.version
  let at = 0
  for (const cut of opts.cuts ?? []) {
    decoder.push(bytes.subarray(at, cut))
    at = cut
  }
  decoder.push(bytes.subarray(at))
  return out
}

/** The test object a t.test callback receives (the last overload of t.test takes only the callback). */
type TestCase = Parameters<Parameters<typeof t.test>[0]>[0]

/** Decodes `input` whole, one byte at a time, and split in two at every offset; all must agree. */
function decodeEveryWay(t: TestCase, input: Buffer | string, opts: { version?: StompVersion; limits?: Partial<DecoderLimits> } = {}): Decoded {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input
  const whole = decode(bytes, opts)
  const summary = (d: Decoded) => JSON.stringify({
    frames: d.frames.map((f) => [f.command, f.headers, f.body.toString('base64')]),
    heartbeats: d.heartbeats,
    errors: d.errors.map((e) => e.code),
  })
  const expected = summary(whole)
  const oneByOne = decode(bytes, { ...opts, cuts: Array.from({ length: bytes.length }, (_, i) => i) })
  t.equal(summary(oneByOne), expected, 'one byte at a time gives the same result')
  let splitsAgree = true
  for (let at = 1; at < bytes.length; at++) {
    if (summary(decode(bytes, { ...opts, cuts: [at] })) !== expected) {
      splitsAgree = false
      t.fail(`split at offset ${at} gives a different result`)
      break
    }
  }
  if (splitsAgree) t.pass('a split at every offset gives the same result')
  return whole
}


t.test('decodes the SEND example of the STOMP 1.2 spec', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\0')
  t.same(errors, [])
  t.equal(frames.length, 1)
  const f = frames[0]!
  t.equal(f.command, 'SEND')
  t.same(f.headers, [['destination', '/queue/a'], ['content-type', 'text/plain']])
  t.equal(f.body.toString(), 'hello queue a\n')
})

t.test('decodes the CONNECT and MESSAGE examples of the STOMP 1.2 spec', async (t) => {
  const { frames } = decodeEveryWay(t,
    'CONNECT\naccept-version:1.0,1.1,2.0\nhost:stomp.github.org\n\n\0' +
    'MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\0')
  t.same(frames.map((f) => f.command), ['CONNECT', 'MESSAGE'])
  t.equal(getHeader(frames[0]!, 'accept-version'), '1.0,1.1,2.0')
  t.equal(getHeader(frames[1]!, 'message-id'), '007')
  t.equal(frames[1]!.body.toString(), 'hello queue a')
})

t.test('accepts CR LF line ends', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'SEND\r\ndestination:/queue/a\r\nx:1\r\n\r\nbody\0')
  t.same(errors, [])
  t.same(frames[0]!.headers, [['destination', '/queue/a'], ['x', '1']])
  t.equal(frames[0]!.body.toString(), 'body')
})

t.test('a head whose blank line is CR LF ends there, even when LF LF comes later in the body', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'SEND\r\ndestination:/queue/a\r\n\r\nline one\n\nline two\0SEND\ndestination:/queue/b\n\nc\0')
  t.same(errors, [])
  t.same(frames.map((f) => [getHeader(f, 'destination'), f.body.toString()]), [['/queue/a', 'line one\n\nline two'], ['/queue/b', 'c']])
})

t.test('a head mixing LF and CR LF line ends decodes like one with either', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'SEND\ndestination:/queue/a\r\nx:1\n\r\nbody\0')
  t.same(errors, [])
  t.same(frames[0]!.headers, [['destination', '/queue/a'], ['x', '1']])
  t.equal(frames[0]!.body.toString(), 'body')
})

t.test('treats EOLs between frames as heart-beats', async (t) => {
  const { frames, heartbeats } = decodeEveryWay(t, '\n\r\n\nSEND\ndestination:/a\n\n\0\n\nSEND\ndestination:/b\n\n\0\r\n')
  t.equal(frames.length, 2)
  t.equal(heartbeats, 6)
})

t.test('decodes several frames in one chunk', async (t) => {
  const one = 'SEND\ndestination:/queue/a\n\nmessage\0'
  const { frames } = decode(one.repeat(50))
  t.equal(frames.length, 50)
})

t.test('unescapes headers in STOMP 1.2, including \\r', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'MESSAGE\nkey\\cname:a\\nb\\c\\\\c\\rd\n\n\0', { version: '1.2' })
  t.same(errors, [])
  t.same(frames[0]!.headers, [['key:name', 'a\nb:\\c\rd']])
})

t.test('unescapes \\n \\c \\\\ in STOMP 1.1 but refuses \\r, which 1.1 does not define', async (t) => {
  t.same(decode('SEND\nk:a\\nb\\cc\\\\\n\n\0', { version: '1.1' }).frames[0]!.headers, [['k', 'a\nb:c\\']])
  const { frames, errors } = decode('SEND\nk:a\\rb\n\n\0', { version: '1.1' })
  t.equal(frames.length, 0)
  t.equal(errors[0]?.code, 'invalid-escape')
})

t.test('does not unescape in STOMP 1.0', async (t) => {
  t.same(decode('SEND\nk:a\\nb\\t\n\n\0', { version: '1.0' }).frames[0]!.headers, [['k', 'a\\nb\\t']])
})

t.test('never unescapes CONNECT, STOMP or CONNECTED headers', async (t) => {
  for (const command of ['CONNECT', 'STOMP', 'CONNECTED']) {
    const { frames, errors } = decode(`${command}\npasscode:a\\tb\\c\n\n\0`, { version: '1.2' })
    t.same(errors, [], command)
    t.same(frames[0]!.headers, [['passcode', 'a\\tb\\c']], command)
  }
})

t.test('an undefined escape such as \\t is a protocol error in 1.1 and 1.2', async (t) => {
  for (const version of ['1.1', '1.2'] as const) {
    const { errors } = decodeEveryWay(t, 'SEND\ndestination:/a\\tb\n\n\0', { version })
    t.equal(errors[0]?.code, 'invalid-escape', version)
  }
  t.equal(decode('SEND\nk:trailing\\\n\n\0').errors[0]?.code, 'invalid-escape', 'a lone backslash at the end')
})

t.test('keeps repeated headers in order; lookups take the first', async (t) => {
  const { frames } = decode('MESSAGE\nfoo:World\nfoo:I am\n\n\0')
  t.same(frames[0]!.headers, [['foo', 'World'], ['foo', 'I am']])
  t.equal(getHeader(frames[0]!, 'foo'), 'World')
})

t.test('a header value may contain colons; only the first one separates', async (t) => {
  t.same(decode('SEND\nurl:http://x:80/a\n\n\0', { version: '1.0' }).frames[0]!.headers, [['url', 'http://x:80/a']])
  t.same(decode('SEND\nempty:\n\n\0').frames[0]!.headers, [['empty', '']])
})

t.test('decodes UTF-8 header names and values', async (t) => {
  const { frames } = decodeEveryWay(t, 'SEND\nnäme:héllo wörld ✓ 𝄞\n\n\0')
  t.same(frames[0]!.headers, [['näme', 'héllo wörld ✓ 𝄞']])
})

t.test('honours content-length, so a body may hold NUL bytes', async (t) => {
  const body = Buffer.from([0, 1, 2, 0, 0, 255, 0])
  const input = Buffer.concat([Buffer.from(`SEND\ndestination:/a\ncontent-length:${body.length}\n\n`), body, Buffer.from('\0')])
  const { frames, errors } = decodeEveryWay(t, input)
  t.same(errors, [])
  t.same(frames[0]!.body, body)
})

t.test('without content-length the body ends at the first NUL', async (t) => {
  const { frames } = decode('SEND\n\nab\0cd\0')
  t.equal(frames[0]!.body.toString(), 'ab')
  t.equal(frames.length, 1, 'what follows is another frame (here a bad one)')
})

t.test('content-length of zero is an empty body', async (t) => {
  const { frames } = decodeEveryWay(t, 'SEND\ncontent-length:0\n\n\0')
  t.equal(frames[0]!.body.length, 0)
})

t.test('the first content-length wins', async (t) => {
  const { frames, errors } = decode('SEND\ncontent-length:2\ncontent-length:5\n\nab\0')
  t.same(errors, [])
  t.equal(frames[0]!.body.toString(), 'ab')
})

t.test('a wrong content-length (no NUL where it says) is a protocol error', async (t) => {
  const { frames, errors } = decodeEveryWay(t, 'SEND\ncontent-length:2\n\nabc\0')
  t.equal(frames.length, 0)
  t.equal(errors[0]?.code, 'content-length-mismatch')
})

t.test('a content-length that is not a byte count is a protocol error', async (t) => {
  for (const value of ['-1', 'abc', '', '1.5', ' 3']) {
    t.equal(decode(`SEND\ncontent-length:${value}\n\nabc\0`).errors[0]?.code, 'invalid-content-length', JSON.stringify(value))
  }
})

t.test('a command that is not a STOMP command is a protocol error', async (t) => {
  t.equal(decodeEveryWay(t, 'HELLO\n\n\0').errors[0]?.code, 'unknown-command')
  t.equal(decode('send\n\n\0').errors[0]?.code, 'unknown-command', 'commands are case-sensitive')
  t.equal(decode('GET / HTTP/1.1\r\nHost: x\r\n\r\n').errors[0]?.code, 'unknown-command', 'an HTTP request')
})

t.test('a first line longer than any command fails before its end arrives', async (t) => {
  const { errors } = decode('X'.repeat(100))
  t.equal(errors[0]?.code, 'unknown-command')
})

t.test('a header line without a colon, or with an empty name, is a protocol error', async (t) => {
  t.equal(decodeEveryWay(t, 'SEND\nnocolon\n\n\0').errors[0]?.code, 'malformed-header')
  t.equal(decode('SEND\n:value\n\n\0').errors[0]?.code, 'malformed-header')
})

t.test('a lone CR between frames is a protocol error', async (t) => {
  t.equal(decode('\rSEND\n\n\0').errors[0]?.code, 'unknown-command')
})

t.test('limits: more headers than allowed is an error', async (t) => {
  const headers = Array.from({ length: 5 }, (_, i) => `h${i}:v\n`).join('')
  t.same(decode(`SEND\n${headers}\n\0`, { limits: { maxHeaders: 5 } }).errors, [])
  t.equal(decode(`SEND\n${headers}h5:v\n\n\0`, { limits: { maxHeaders: 5 } }).errors[0]?.code, 'too-many-headers')
  const hundredAndOne = Array.from({ length: 101 }, (_, i) => `h${i}:v\n`).join('')
  t.equal(decode(`SEND\n${hundredAndOne}\n\0`).errors[0]?.code, 'too-many-headers', 'the default is 100')
})

t.test('limits: a header line longer than allowed is an error, even before its end arrives', async (t) => {
  t.same(decode(`SEND\nk:${'v'.repeat(6)}\n\n\0`, { limits: { maxHeaderLineLength: 8 } }).errors, [])
  t.same(decode(`SEND\r\nk:${'v'.repeat(6)}\r\n\r\n\0`, { limits: { maxHeaderLineLength: 8 } }).errors, [], 'the CR of CR LF does not count')
  t.equal(decode(`SEND\nk:${'v'.repeat(7)}\n\n\0`, { limits: { maxHeaderLineLength: 8 } }).errors[0]?.code, 'header-too-long')
  const unfinished = decode(`SEND\nk:${'v'.repeat(9000)}`)
  t.equal(unfinished.errors[0]?.code, 'header-too-long', 'the default is 8 KiB; no EOL needed to know')
})

t.test('limits: a frame larger than allowed is an error, whether content-length declares it or not', async (t) => {
  const limits = { maxFrameSize: 64 }
  t.same(decode(`SEND\n\n${'x'.repeat(50)}\0`, { limits }).errors, [])
  t.equal(decode(`SEND\ncontent-length:100\n\n`, { limits }).errors[0]?.code, 'frame-too-large', 'refused on the declared size, before the body arrives')
  t.equal(decode(`SEND\n\n${'x'.repeat(100)}`, { limits }).errors[0]?.code, 'frame-too-large', 'refused without a NUL in sight')
  const split = decode(`SEND\n\n${'x'.repeat(100)}`, { limits, cuts: [10, 20, 30, 40, 50, 60, 70] })
  t.equal(split.errors[0]?.code, 'frame-too-large', 'also when the body arrives in pieces')
})

t.test('never buffers more than the frame-size limit, whatever the input', async (t) => {
  const maxFrameSize = 1024
  let most = 0
  const decoder = new FrameDecoder({ onFrame() {}, onHeartbeat() {}, onError() {} }, { maxFrameSize })
  decoder.push(Buffer.from('SEND\n\n'))
  for (let i = 0; i < 100; i++) {
    decoder.push(Buffer.alloc(100, 0x61))
    most = Math.max(most, decoder.bufferedBytes)
  }
  t.ok(most <= maxFrameSize, `held at most ${most} bytes`)
})

t.test('after an error, input is ignored', async (t) => {
  let frames = 0
  let errors = 0
  const decoder = new FrameDecoder({ onFrame: () => frames++, onHeartbeat() {}, onError: () => errors++ })
  decoder.push(Buffer.from('BOGUS\n\n\0'))
  decoder.push(Buffer.from('SEND\n\n\0'))
  t.equal(errors, 1)
  t.equal(frames, 0)
})

t.test('a version change between frames applies to the next frame', async (t) => {
  const seen: string[] = []
  const decoder: FrameDecoder = new FrameDecoder({
    onFrame: (f) => {
      seen.push(getHeader(f, 'k')!)
      if (f.command === 'CONNECT') decoder.version = '1.0'
    },
    onHeartbeat() {},
    onError: (e) => seen.push(e.code),
  })
  decoder.push(Buffer.from('CONNECT\nk:a\\c\n\n\0SEND\nk:a\\c\n\n\0'))
  t.same(seen, ['a\\c', 'a\\c'], 'CONNECT is never unescaped; the SEND after it is read as 1.0')
})

t.test('a large body split into many chunks is copied once, not re-scanned', async (t) => {
  const body = Buffer.alloc(1024 * 1024, 0x62)
  const input = Buffer.concat([Buffer.from(`SEND\ncontent-length:${body.length}\n\n`), body, Buffer.from('\0SEND\n\nnext\0')])
  const cuts: number[] = []
  for (let at = 7; at < input.length; at += 4096) cuts.push(at)
  const { frames, errors } = decode(input, { cuts })
  t.same(errors, [])
  t.equal(frames.length, 2)
  t.ok(frames[0]!.body.equals(body))
  t.equal(frames[1]!.body.toString(), 'next')
})

t.test('paused from onFrame, the decoder stops after that frame and keeps the rest, and what comes meanwhile, for resume()', async (t) => {
  const seen: string[] = []
  let pauseAt = ''
  const decoder: FrameDecoder = new FrameDecoder({
    onFrame: (f) => {
      const id = getHeader(f, 'id') ?? ''
      seen.push(id)
      if (id === pauseAt) decoder.pause()
    },
    onHeartbeat: () => seen.push('EOL'),
    onError: (e) => t.fail(e.message),
  })
  const frame = (id: string): string => `SUBSCRIBE\nid:${id}\ndestination:/topic/a\n\n\0`
  pauseAt = 'b'
  decoder.push(Buffer.from(frame('a') + frame('b') + '\n' + frame('c') + frame('d').slice(0, 10)))
  t.same(seen, ['a', 'b'], 'nothing after the frame that paused, not even a heart-beat')
  t.ok(decoder.isPaused)
  decoder.push(Buffer.from(frame('d').slice(10) + frame('e')))
  t.same(seen, ['a', 'b'], 'input pushed while paused waits')
  t.ok(decoder.bufferedBytes > 0, 'and counts as buffered')
  pauseAt = 'd'
  decoder.resume()
  t.same(seen, ['a', 'b', 'EOL', 'c', 'd'], 'resumed in order, across the cut, until a frame paused again')
  pauseAt = ''
  decoder.resume()
  t.same(seen, ['a', 'b', 'EOL', 'c', 'd', 'e'])
  t.equal(decoder.bufferedBytes, 0)
  decoder.push(Buffer.from(frame('f')))
  t.same(seen.at(-1), 'f', 'and decodes as it comes once resumed')
})

t.test('a decoder stopped while paused drops what waited', async (t) => {
  const seen: string[] = []
  const decoder: FrameDecoder = new FrameDecoder({
    onFrame: (f) => {
      seen.push(f.command)
      decoder.pause()
    },
    onHeartbeat: () => {},
    onError: (e) => t.fail(e.message),
  })
  decoder.push(Buffer.from('SEND\ndestination:/q\n\n\0SEND\ndestination:/q\n\n\0'))
  decoder.stop()
  decoder.resume()
  t.same(seen, ['SEND'])
  t.equal(decoder.bufferedBytes, 0)
})
