// Property tests for the frame codec (fast-check): every frame a version can represent survives
// encodeFrame → FrameDecoder however its bytes are cut, header escaping round-trips, limits hold
// at their exact boundary, and no input — however malformed, however split — makes the decoder
// throw, hang, report twice or depend on where the chunks were cut.
//
// Seeds are fixed so the suite is deterministic; a failure prints the seed and the shrunk
// counterexample. FC_SEED=<n> replays one seed for every property, FC_SEED=random explores, and
// FC_RUNS=<k> multiplies every property's number of runs.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { ERROR_CODES, StompError, type ErrorCode } from '../../lib/errors.js'
import { FrameDecoder, type DecoderLimits, type FrameSink } from '../../lib/frame/decoder.js'
import { DELIVERY_HEADERS, MessageTail, encodeFrame, encodeMessageHead, messageHeadPrefix } from '../../lib/frame/encoder.js'
import {
  CLIENT_COMMANDS, EMPTY_BODY, SERVER_COMMANDS, VERSIONS, escapeHeader, isEscaped, unescapeHeader,
  type Command, type Frame, type Header, type StompVersion,
} from '../../lib/frame/frame.js'

// ---------------------------------------------------------------------------------------------
// Running properties

interface Reporter { pass(message: string): unknown }

function seedFor(fixed: number): number {
  const override = process.env.FC_SEED
  if (override === undefined || override === '') return fixed
  if (override === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  return Number(override)
}

const RUNS_SCALE = Number(process.env.FC_RUNS ?? '') || 1

/** fc.assert with a fixed seed; on failure fast-check's message carries the seed and the counterexample. */
function check<Ts extends [unknown, ...unknown[]]>(t: Reporter, property: fc.IProperty<Ts>, fixedSeed: number, runs: number): void {
  const seed = seedFor(fixedSeed)
  const numRuns = Math.ceil(runs * RUNS_SCALE)
  fc.assert(property, { seed, numRuns })
  t.pass(`${numRuns} generated cases hold (seed ${seed})`)
}

// ---------------------------------------------------------------------------------------------
// Decoding into a list of events

type Event =
  | { kind: 'frame', frame: Frame }
  | { kind: 'heartbeat' }
  | { kind: 'error', code: ErrorCode }

class Recorder implements FrameSink {
  readonly events: Event[] = []
  readonly errors: unknown[] = []

  onFrame(frame: Frame): void {
    // The body may be a view of the chunk, which feed() scribbles over after each push.
    this.events.push({ kind: 'frame', frame: { command: frame.command, headers: frame.headers, body: Buffer.from(frame.body) } })
  }

  onHeartbeat(): void {
    this.events.push({ kind: 'heartbeat' })
  }

  onError(error: StompError): void {
    this.errors.push(error)
    this.events.push({ kind: 'error', code: error.code })
  }
}

/**
 * Pushes `bytes` cut at `cuts` (sorted offsets; repeats make empty chunks). Each chunk is a fresh
 * copy that is overwritten once push() returns: the decoder must have copied whatever it keeps.
 */
function feed(decoder: FrameDecoder, bytes: Buffer, cuts: readonly number[], afterPush?: () => void): void {
  let from = 0
  for (let i = 0; i <= cuts.length; i++) {
    const to = i < cuts.length ? cuts[i]! : bytes.length
    const chunk = Buffer.from(bytes.subarray(from, to))
    decoder.push(chunk)
    chunk.fill(0xee)
    afterPush?.()
    from = to
  }
}

function decode(bytes: Buffer, cuts: readonly number[], version: StompVersion, limits: Partial<DecoderLimits> = {}): Recorder {
  const recorder = new Recorder()
  const decoder = new FrameDecoder(recorder, limits)
  decoder.version = version
  const maxFrameSize = limits.maxFrameSize ?? Infinity
  feed(decoder, bytes, cuts, () => {
    // Design: the decoder never holds more than maxFrameSize bytes, whatever the input.
    assert.ok(decoder.bufferedBytes <= maxFrameSize, `holds ${decoder.bufferedBytes} bytes, limit ${maxFrameSize}`)
  })
  return recorder
}

/** Random cut points, as raw numbers mapped onto a length once it is known. */
const cutsArb = fc.array(fc.nat(), { maxLength: 16 })

function cutsFor(raw: readonly number[], length: number): number[] {
  return raw.map((n) => n % (length + 1)).sort((a, b) => a - b)
}

function everyByte(length: number): number[] {
  return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)
}

// ---------------------------------------------------------------------------------------------
// Generating frames a version can represent

const COMMANDS: readonly Command[] = [...CLIENT_COMMANDS, ...SERVER_COMMANDS]
const NUL = Buffer.from([0])

// Characters that matter to STOMP framing and escaping, next to ordinary and multi-byte text.
const SPECIAL_UNITS = [':', '\n', '\r', '\\', 'c', 'n', 'r', '\\n', '\\c', ' ', 'é', '€', '😀', '𝄞', '\u{10FFFF}']
const unitArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_UNITS) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
)

function textArb(forbidden: RegExp | undefined, minLength: number): fc.Arbitrary<string> {
  const unit = forbidden === undefined ? unitArb : unitArb.filter((u) => !forbidden.test(u))
  return fc.string({ unit, minLength, maxLength: 20 })
}

/** What header text a frame can carry: 1.2 anything; 1.1 no CR ending a value (it would read as the EOL's); unescaped no CR/LF, and no colon in names. */
function headerArb(command: Command, version: StompVersion): fc.Arbitrary<Header> {
  const escaped = isEscaped(command, version)
  const name = escaped ? textArb(undefined, 1) : textArb(/[\r\n:]/, 1)
  let value = escaped ? textArb(undefined, 0) : textArb(/[\r\n]/, 0)
  // STOMP 1.1 has no `\r` escape, so a value's final CR is lost as part of the line ending.
  if (escaped && version === '1.1') value = value.map((v) => (v.endsWith('\r') ? v + '.' : v))
  return fc.tuple(
    fc.oneof({ weight: 3, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('destination', 'content-length', 'content-type', 'receipt', 'id') }),
    fc.oneof({ weight: 3, arbitrary: value }, { weight: 1, arbitrary: fc.constantFrom('', '0', '17', 'text/plain;charset=utf-8') }),
  )
}

const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(EMPTY_BODY) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  // Bytes that mean something to a STOMP parser: NUL, EOLs, colon, backslash.
  { weight: 2, arbitrary: fc.array(fc.constantFrom(0x00, 0x0a, 0x0d, 0x3a, 0x5c, 0x41), { maxLength: 64 }).map((a) => Buffer.from(a)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }).map((s) => Buffer.from(s, 'utf8')) },
)

interface FrameCase {
  command: Command
  headers: Header[]
  body: Buffer
  /** false: written without content-length, as stompjs (skipContentLengthHeader) and 1.0 clients do; the body then has no NUL. */
  withLength: boolean
}

function frameCaseArb(version: StompVersion, body: fc.Arbitrary<Buffer> = bodyArb): fc.Arbitrary<FrameCase> {
  return fc.constantFrom(...COMMANDS).chain((command) => fc.record({
    command: fc.constant(command),
    headers: fc.array(headerArb(command, version), { maxLength: 8 }),
    body,
    withLength: fc.boolean(),
  })).map((c) => (c.withLength ? c : { ...c, body: Buffer.from(c.body.filter((b) => b !== 0)) }))
}

function wire(c: FrameCase, version: StompVersion): Buffer {
  if (c.withLength) return encodeFrame(c.command, c.headers, c.body, version)
  const head = encodeFrame(c.command, c.headers, EMPTY_BODY, version)
  return Buffer.concat([head.subarray(0, head.length - 1), c.body, NUL])
}

/** The frame a decoder must produce: the encoder drops any content-length given and appends the true one to a non-empty body. */
function expected(c: FrameCase): Frame {
  const headers: Header[] = c.headers.filter(([name]) => name !== 'content-length')
  if (c.withLength && c.body.length > 0) headers.push(['content-length', String(c.body.length)])
  return { command: c.command, headers, body: c.body }
}

interface StreamCase { items: Array<{ eols: string[], frame: FrameCase }>, trailing: string[] }

const eolsArb = fc.array(fc.constantFrom('\n', '\r\n'), { maxLength: 3 })

function streamArb(version: StompVersion, maxFrames = 5, body?: fc.Arbitrary<Buffer>): fc.Arbitrary<StreamCase> {
  return fc.record({
    items: fc.array(fc.record({ eols: eolsArb, frame: frameCaseArb(version, body) }), { minLength: 1, maxLength: maxFrames }),
    trailing: eolsArb,
  })
}

function streamBytes(s: StreamCase, version: StompVersion): Buffer {
  const parts: Buffer[] = []
  for (const item of s.items) {
    for (const eol of item.eols) parts.push(Buffer.from(eol))
    parts.push(wire(item.frame, version))
  }
  for (const eol of s.trailing) parts.push(Buffer.from(eol))
  return Buffer.concat(parts)
}

function streamEvents(s: StreamCase): Event[] {
  const events: Event[] = []
  for (const item of s.items) {
    for (let i = 0; i < item.eols.length; i++) events.push({ kind: 'heartbeat' })
    events.push({ kind: 'frame', frame: expected(item.frame) })
  }
  for (let i = 0; i < s.trailing.length; i++) events.push({ kind: 'heartbeat' })
  return events
}

// ---------------------------------------------------------------------------------------------
// Round trips

for (const [index, version] of VERSIONS.entries()) {
  t.test(`frames a STOMP ${version} peer sends arrive unchanged however the bytes are cut`, (t) => {
    check(t, fc.property(streamArb(version), cutsArb, (stream, rawCuts) => {
      const bytes = streamBytes(stream, version)
      const want = streamEvents(stream)
      assert.deepStrictEqual(decode(bytes, [], version).events, want, 'all frames in one chunk')
      assert.deepStrictEqual(decode(bytes, cutsFor(rawCuts, bytes.length), version).events, want, 'random cuts')
      assert.deepStrictEqual(decode(bytes, everyByte(bytes.length), version).events, want, 'one byte at a time')
    }), 0x5701 + index, 250)
    t.end()
  })
}

t.test('a 64 KiB body survives any cutting, with and without content-length', (t) => {
  const bigBody = fc.tuple(fc.integer({ min: 60 * 1024, max: 70 * 1024 }), fc.integer({ min: 0, max: 255 }))
    .map(([length, seed]) => {
      const body = Buffer.allocUnsafe(length)
      for (let i = 0; i < length; i++) body[i] = (seed + i * 31) & 0xff
      return body
    })
  check(t, fc.property(streamArb('1.2', 2, bigBody), fc.array(fc.nat(), { maxLength: 40 }), (stream, rawCuts) => {
    const bytes = streamBytes(stream, '1.2')
    const want = streamEvents(stream)
    assert.deepStrictEqual(decode(bytes, [], '1.2').events, want, 'in one chunk')
    assert.deepStrictEqual(decode(bytes, cutsFor(rawCuts, bytes.length), '1.2').events, want, 'random cuts')
  }), 0x64, 40)
  t.end()
})

const idArb = fc.stringMatching(/^[A-Za-z0-9@._-]{1,24}$/)

for (const [index, version] of VERSIONS.entries()) {
  t.test(`a STOMP ${version} subscriber receives a fanned-out MESSAGE (shared tail, own head) exactly as sent`, (t) => {
    const messageArb = fc.record({
      subscription: headerArb('MESSAGE', version).map(([, value]) => value || 'sub-0'),
      messageId: idArb,
      ack: fc.option(idArb, { nil: undefined }),
      redelivered: fc.boolean(),
      headers: fc.array(headerArb('MESSAGE', version), { maxLength: 8 }),
      body: bodyArb,
    })
    check(t, fc.property(messageArb, eolsArb, cutsArb, (m, eols, rawCuts) => {
      const tail = new MessageTail(m.messageId, m.headers, m.body)
      const head = encodeMessageHead(messageHeadPrefix(m.subscription, version), m.ack, m.redelivered)
      const frameBytes = Buffer.concat([head, tail.encode(version)])
      const bytes = Buffer.concat([frameBytes, Buffer.from(eols.join('')), frameBytes])
      const headers: Header[] = [['subscription', m.subscription]]
      if (m.ack !== undefined) headers.push(['ack', m.ack])
      if (m.redelivered) headers.push(['redelivered', 'true'])
      headers.push(['message-id', m.messageId])
      for (const h of m.headers) if (h[0] !== 'content-length' && !DELIVERY_HEADERS.has(h[0])) headers.push(h)
      if (m.body.length > 0) headers.push(['content-length', String(m.body.length)])
      const frame: Event = { kind: 'frame', frame: { command: 'MESSAGE', headers, body: m.body } }
      const want: Event[] = [frame, ...eols.map((): Event => ({ kind: 'heartbeat' })), frame]
      assert.deepStrictEqual(decode(bytes, cutsFor(rawCuts, bytes.length), version).events, want)
      assert.equal(tail.isText, Buffer.from(m.body.toString('utf8'), 'utf8').equals(m.body), 'isText iff the body is valid UTF-8')
    }), 0x3e55 + index, 200)
    t.end()
  })
}

// ---------------------------------------------------------------------------------------------
// Limits hold at their exact boundary

/** The limits a list of frames needs, each at its minimum. */
function limitsNeeded(frames: readonly FrameCase[], version: StompVersion): { perFrame: DecoderLimits[], overall: DecoderLimits } {
  const perFrame = frames.map((c) => {
    const bytes = wire(c, version)
    // Header lines never hold an LF (escaped or sanitized), so the first blank line ends them.
    const head = bytes.subarray(0, bytes.indexOf('\n\n') + 1).toString('latin1').split('\n').slice(1, -1)
    return {
      maxFrameSize: bytes.length,
      maxHeaders: expected(c).headers.length,
      maxHeaderLineLength: Math.max(0, ...head.map((line) => line.length)),
    }
  })
  const overall = {
    maxFrameSize: Math.max(...perFrame.map((l) => l.maxFrameSize)),
    maxHeaders: Math.max(...perFrame.map((l) => l.maxHeaders)),
    maxHeaderLineLength: Math.max(...perFrame.map((l) => l.maxHeaderLineLength)),
  }
  return { perFrame, overall }
}

const LIMIT_ERRORS: ReadonlyArray<[keyof DecoderLimits, ErrorCode]> = [
  ['maxFrameSize', 'frame-too-large'],
  ['maxHeaders', 'too-many-headers'],
  ['maxHeaderLineLength', 'header-too-long'],
]

for (const [index, version] of VERSIONS.entries()) {
  t.test(`STOMP ${version}: a frame exactly at every limit decodes, one unit over is refused with the limit's code`, (t) => {
    check(t, fc.property(streamArb(version, 4), cutsArb, fc.constantFrom(...LIMIT_ERRORS), (stream, rawCuts, [limit, code]) => {
      const bytes = streamBytes(stream, version)
      const cuts = cutsFor(rawCuts, bytes.length)
      const { perFrame, overall } = limitsNeeded(stream.items.map((item) => item.frame), version)
      const want = streamEvents(stream)
      assert.deepStrictEqual(decode(bytes, cuts, version, overall).events, want, 'every limit exactly met')

      if (overall[limit] === 0) return
      const tight = { ...overall, [limit]: overall[limit] - 1 }
      // Expected: everything up to the first frame that breaks the tightened limit, then its error.
      const prefix: Event[] = []
      for (const [i, item] of stream.items.entries()) {
        for (let k = 0; k < item.eols.length; k++) prefix.push({ kind: 'heartbeat' })
        if (perFrame[i]![limit] > tight[limit]) break
        prefix.push({ kind: 'frame', frame: expected(item.frame) })
      }
      prefix.push({ kind: 'error', code })
      assert.deepStrictEqual(decode(bytes, cuts, version, tight).events, prefix, `${limit} one under`)
    }), 0x1313 + index, 150)
    t.end()
  })
}

// ---------------------------------------------------------------------------------------------
// Escaping

// Any UTF-16 string, lone surrogates included: escaping works on code units.
const anyCodeUnitArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_UNITS, '\\r', '\\\\', '\\t', '\\') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
)
const anyStringArb = fc.string({ unit: anyCodeUnitArb, maxLength: 40 })

t.test('unescapeHeader(escapeHeader(v)) gives back any STOMP 1.2 header value', (t) => {
  check(t, fc.property(anyStringArb, (v) => {
    const escaped = escapeHeader(v, '1.2')
    assert.equal(unescapeHeader(escaped, '1.2'), v)
    assert.doesNotMatch(escaped, /[\r\n:]/, 'an escaped value fits on one header line')
  }), 0xe12, 2000)
  t.end()
})

t.test('unescapeHeader(escapeHeader(v)) gives back any STOMP 1.1 header value without a CR', (t) => {
  check(t, fc.property(anyStringArb.filter((v) => !v.includes('\r')), (v) => {
    const escaped = escapeHeader(v, '1.1')
    assert.equal(unescapeHeader(escaped, '1.1'), v)
    assert.doesNotMatch(escaped, /[\n:]/, 'an escaped value fits on one header line')
  }), 0xe11, 2000)
  t.end()
})

t.test('STOMP 1.0 header values are neither escaped nor unescaped', (t) => {
  check(t, fc.property(anyStringArb, (v) => {
    assert.equal(escapeHeader(v, '1.0'), v)
    assert.equal(unescapeHeader(v, '1.0'), v)
  }), 0xe10, 500)
  t.end()
})

t.test('unescaping any text either succeeds or fails with invalid-escape, never another error', (t) => {
  check(t, fc.property(anyStringArb, fc.constantFrom<StompVersion>('1.1', '1.2'), (v, version) => {
    try {
      const plain = unescapeHeader(v, version)
      // Text with no raw character that needs escaping, once unescaped, escapes back to itself.
      if (!(version === '1.2' ? /[\r\n:]/ : /[\n:]/).test(v)) assert.equal(escapeHeader(plain, version), v)
    } catch (err) {
      assert.ok(err instanceof StompError, `threw ${String(err)}`)
      assert.equal(err.code, 'invalid-escape')
    }
  }), 0xe00, 2000)
  t.end()
})

// ---------------------------------------------------------------------------------------------
// Garbage in

const CODES: ReadonlySet<string> = new Set(ERROR_CODES)
// The codec's own codes in lib/errors.ts; the others belong to the session and the broker.
const CODEC_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'frame-too-large', 'too-many-headers', 'header-too-long', 'unknown-command',
  'malformed-header', 'invalid-escape', 'invalid-content-length', 'content-length-mismatch',
])

/** Byte soup biased towards STOMP's own tokens, so some of it parses and the rest fails in varied ways. */
const tokenArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('\n', '\r\n', '\r', ':', '\\', '\\c', '\\n', '\\r', '\\t', '\0', ' ', 'x', 'é') },
  { weight: 2, arbitrary: fc.constantFrom('SEND\n', 'MESSAGE\r\n', 'CONNECT\n', 'UNSUBSCRIBE\n', 'destination:/q\n', 'content-length:', 'content-length:3\n', '99999999999999999', 'a:b\n', '\n\n', 'x\0') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 4 }) },
)
const soupArb = fc.array(tokenArb, { maxLength: 60 }).map((tokens) => Buffer.from(tokens.join(''), 'latin1'))
const garbageArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  soupArb,
  // Garbage after a valid command line, to get past the first check.
  fc.tuple(fc.constantFrom(...COMMANDS), fc.constantFrom('\n', '\r\n'), soupArb)
    .map(([command, eol, rest]) => Buffer.concat([Buffer.from(command + eol), rest])),
)
const limitsArb: fc.Arbitrary<Partial<DecoderLimits>> = fc.oneof(
  fc.constant({}),
  fc.record({
    maxFrameSize: fc.integer({ min: 1, max: 400 }),
    maxHeaders: fc.integer({ min: 0, max: 6 }),
    maxHeaderLineLength: fc.integer({ min: 0, max: 40 }),
  }),
)

function describeEvents(events: readonly Event[]): string[] {
  return events.map((e) => (e.kind === 'frame' ? `frame ${e.frame.command} ${JSON.stringify(e.frame.headers)} ${e.frame.body.toString('hex')}` : e.kind === 'error' ? `error ${e.code}` : e.kind))
}

t.test('garbage never throws, reports at most one StompError, and is silent afterwards', (t) => {
  check(t, fc.property(garbageArb, cutsArb, limitsArb, fc.constantFrom(...VERSIONS), garbageArb, (bytes, rawCuts, limits, version, more) => {
    const recorder = new Recorder()
    const decoder = new FrameDecoder(recorder, limits)
    decoder.version = version
    feed(decoder, bytes, cutsFor(rawCuts, bytes.length))
    assert.ok(recorder.errors.length <= 1, `${recorder.errors.length} errors reported`)
    for (const error of recorder.errors) {
      assert.ok(error instanceof StompError, `reported ${String(error)}`)
      assert.ok(CODES.has(error.code), `unknown code ${error.code}`)
      assert.ok(CODEC_CODES.has(error.code), `${error.code} is not a codec error`)
    }
    if (recorder.errors.length === 0) decoder.stop()
    // After an error (or stop) the decoder ignores everything.
    const seen = recorder.events.length
    feed(decoder, more, everyByte(Math.min(more.length, 64)))
    feed(decoder, Buffer.from('SEND\n\n\0\n'), [])
    assert.equal(recorder.events.length, seen, 'events after the decoder stopped')
    assert.equal(decoder.bufferedBytes, 0, 'a stopped decoder holds no bytes')
  }), 0x9a5b, 600)
  t.end()
})

// A size limit is checked where a chunk ends as well as where a line ends, so a frame that is both
// too large and malformed may be refused for either reason depending on the cuts. Any other
// difference — a frame, a heart-beat, whether there is an error at all — is a bug.
const SIZE_CODES: ReadonlySet<string> = new Set<ErrorCode>(['frame-too-large', 'header-too-long'])

function assertSameEvents(actual: readonly Event[], whole: readonly Event[], how: string): void {
  const last = actual.at(-1)
  const wholeLast = whole.at(-1)
  if (last?.kind === 'error' && wholeLast?.kind === 'error' && last.code !== wholeLast.code) {
    assert.ok(SIZE_CODES.has(last.code) || SIZE_CODES.has(wholeLast.code), `${how}: ${last.code} where one chunk gives ${wholeLast.code}`)
    assert.deepStrictEqual(describeEvents(actual.slice(0, -1)), describeEvents(whole.slice(0, -1)), how)
    return
  }
  assert.deepStrictEqual(describeEvents(actual), describeEvents(whole), how)
}

t.test('how garbage is cut into chunks never changes what the decoder reports', (t) => {
  check(t, fc.property(garbageArb, cutsArb, limitsArb, fc.constantFrom(...VERSIONS), (bytes, rawCuts, limits, version) => {
    const whole = decode(bytes, [], version, limits).events
    assertSameEvents(decode(bytes, cutsFor(rawCuts, bytes.length), version, limits).events, whole, 'random cuts')
    assertSameEvents(decode(bytes, everyByte(bytes.length), version, limits).events, whole, 'one byte at a time')
  }), 0xc075, 600)
  t.end()
})

// ---------------------------------------------------------------------------------------------
// Regressions found by the properties above

t.test('a command line longer than maxHeaderLineLength is not refused as a header line, however it is cut', (t) => {
  // Was: split mid-command, `UNSUBSCRIBE` counted against the header-line limit (header-too-long),
  // while the same bytes in one chunk decoded.
  const bytes = Buffer.from('UNSUBSCRIBE\nid:1\n\n\0')
  const want: Event[] = [{ kind: 'frame', frame: { command: 'UNSUBSCRIBE', headers: [['id', '1']], body: EMPTY_BODY } }]
  for (const cuts of [[], [4], everyByte(bytes.length)]) {
    t.same(decode(bytes, cuts, '1.2', { maxHeaderLineLength: 4 }).events, want, `cut at ${cuts.length} places`)
  }
  t.end()
})

t.test('a frame without content-length that reaches maxFrameSize before its NUL is refused at once', (t) => {
  // Was: in one chunk, the decoder waited for one more byte before refusing; cut, it refused at once.
  const bytes = Buffer.from('NACK\n\n\n')
  const want: Event[] = [{ kind: 'error', code: 'frame-too-large' }]
  for (const cuts of [[], [6], everyByte(bytes.length)]) {
    t.same(decode(bytes, cuts, '1.2', { maxFrameSize: 7 }).events, want, `cut at ${cuts.length} places`)
  }
  t.end()
})
