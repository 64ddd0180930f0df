// Codec micro-benchmark, in process: decode throughput of MESSAGE frames for our FrameDecoder
// next to @stomp/stompjs's Parser on the same bytes, and the cost of encoding one MESSAGE for
// 100 subscribers — shared tail + per-subscriber head, against re-encoding the whole frame per
// subscriber and against stompjs's FrameImpl. Contenders run in interleaved rounds; medians.
//
//   npm run bench -- codec [--quick] [--json]      (through scripts/bench/index.ts)
//   node --import tsx scripts/bench/codec.ts [--quick]
import { pathToFileURL } from 'node:url'
import { FrameImpl, Parser } from '@stomp/stompjs'
import { FrameDecoder } from '../../lib/frame/decoder.js'
import { MessageTail, deliveryHeaders, encodeFrame, encodeMessageHead, messageHeadPrefix } from '../../lib/frame/encoder.js'
import { Outbox } from '../../lib/session/outbox.js'
import type { Header } from '../../lib/frame/frame.js'
import { caseRows, compare, formatReport, roundOptions, type BenchOptions, type BenchReport, type Contender } from './harness.js'

const FRAMES_PER_CHUNK = 100
const SUBSCRIBERS = 100
const DECODE_256_TARGET = 8 // issue target: decode 256 B frames ≥ 8× stompjs
const FANOUT_TARGET = 5 // encode-for-100 ≥ 5× re-encoding per subscriber

/** A JSON-ish ASCII body of exactly `length` bytes. */
function body(length: number): Buffer {
  const unit = '{"pair":"EUR/USD","bid":1.08421,"ask":1.08433,"ts":1718000000000},'
  return Buffer.from(unit.repeat(Math.ceil(length / unit.length)).slice(0, length), 'latin1')
}

/** The headers a broker puts on a MESSAGE; content-length is written by the encoder. */
function messageHeaders(subscription: string, messageId: string): Header[] {
  return [
    ['destination', '/topic/prices.eur-usd'],
    ['message-id', messageId],
    ['subscription', subscription],
    ['content-type', 'application/json'],
    ['ack', messageId],
  ]
}

function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return new Uint8Array(bytes).buffer
}

// ---------------------------------------------------------------------------------------------
// Decode

interface Counter { frames: number, bodyBytes: number }

function ourDecoder(counter: Counter): FrameDecoder {
  return new FrameDecoder({
    onFrame: (frame) => { counter.frames++; counter.bodyBytes += frame.body.length },
    onHeartbeat: () => {},
    onError: (error) => { throw error },
  })
}

function stompjsParser(counter: Counter): Parser {
  return new Parser((frame) => { counter.frames++; counter.bodyBytes += frame.binaryBody?.length ?? 0 }, () => {})
}

/** Runs `run` once and checks it decoded `frames` frames: a bench of a broken decoder measures nothing. */
function verified(name: string, counter: Counter, frames: number, run: () => void): () => void {
  counter.frames = 0
  run()
  if (counter.frames !== frames) throw new Error(`${name}: decoded ${counter.frames} frames, expected ${frames}`)
  return run
}

function decodeCase(frame: Buffer, framesPerChunk: number, extra: Array<{ name: string, chunkSize: number }> = []): Contender[] {
  const chunk = Buffer.concat(Array.from({ length: framesPerChunk }, () => frame))
  const ours: Counter = { frames: 0, bodyBytes: 0 }
  const theirs: Counter = { frames: 0, bodyBytes: 0 }
  const decoder = ourDecoder(ours)
  const parser = stompjsParser(theirs)
  const buffer = arrayBufferOf(chunk) // what a browser WebSocket hands stompjs
  const contenders: Contender[] = [
    { name: 'stompd', run: verified('stompd', ours, framesPerChunk, () => decoder.push(chunk)), frames: framesPerChunk, bytes: chunk.length },
    { name: 'stompjs', run: verified('stompjs', theirs, framesPerChunk, () => parser.parseChunk(buffer)), frames: framesPerChunk, bytes: chunk.length },
  ]
  for (const { name, chunkSize } of extra) {
    const pieces: Buffer[] = []
    for (let i = 0; i < chunk.length; i += chunkSize) pieces.push(chunk.subarray(i, i + chunkSize))
    const counter: Counter = { frames: 0, bodyBytes: 0 }
    const d = ourDecoder(counter)
    const run = (): void => { for (let i = 0; i < pieces.length; i++) d.push(pieces[i]!) }
    contenders.push({ name, run: verified(name, counter, framesPerChunk, run), frames: framesPerChunk, bytes: chunk.length })
  }
  return contenders
}

// ---------------------------------------------------------------------------------------------
// Encode for 100 subscribers

/**
 * One message to 100 subscribers, as the broker writes it: the subscription's head prefix and the
 * shared tail into each subscriber connection's outbox (taken every 16 messages, as a turn's flush
 * would, then recycled, as the session does when the socket took all of it), plus an `ack` line for
 * subscribers that acknowledge — against encoding the whole frame per subscriber, and stompjs's
 * FrameImpl doing the same.
 */
function fanoutCase(payload: Buffer, acknowledging: boolean): Contender[] {
  // Per subscription, computed once at SUBSCRIBE time.
  const subscriptions = Array.from({ length: SUBSCRIBERS }, (_, i) => `sub-${i}`)
  const prefixes = subscriptions.map((s) => messageHeadPrefix(s, '1.2'))
  const shared: Header[] = [['destination', '/topic/prices.eur-usd'], ['content-type', 'application/json']]
  const outboxes = subscriptions.map(() => new Outbox())
  // Ack ids as a 1.2 session makes them: a per-connection counter in base 36.
  let ackCounter = 1000
  let seq = 0
  let sink = 0

  const headers = (subscription: string, messageId: string, ack: string | undefined): Header[] => {
    const all: Header[] = [['subscription', subscription], ['message-id', messageId], ...shared]
    if (ack !== undefined) all.push(['ack', ack])
    return all
  }
  const fanout = (): void => {
    const messageId = `T_1@@session-ZzDkCw8bUGhVxQ@@${++seq}`
    const tail = new MessageTail(messageId, shared, payload).encode('1.2')
    const ack = acknowledging ? (++ackCounter).toString(36) : undefined
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const outbox = outboxes[i]!
      outbox.writeBytes(prefixes[i]!, true)
      if (ack !== undefined) outbox.writeAscii(deliveryHeaders(ack, false))
      outbox.writeBytes(tail, true)
    }
    if (seq % 16 === 0) {
      for (const outbox of outboxes) {
        sink += outbox.take().length
        outbox.recycle()
      }
    }
  }
  const reencode = (): void => {
    const messageId = `T_1@@session-ZzDkCw8bUGhVxQ@@${++seq}`
    const ack = acknowledging ? (++ackCounter).toString(36) : undefined
    for (let i = 0; i < SUBSCRIBERS; i++) {
      sink += encodeFrame('MESSAGE', headers(subscriptions[i]!, messageId, ack), payload, '1.2').length
    }
  }
  const stompjs = (): void => {
    const messageId = `T_1@@session-ZzDkCw8bUGhVxQ@@${++seq}`
    const ack = acknowledging ? (++ackCounter).toString(36) : undefined
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const out = new FrameImpl({ command: 'MESSAGE', headers: Object.fromEntries(headers(subscriptions[i]!, messageId, ack)), binaryBody: payload, escapeHeaderValues: true }).serialize()
      sink += typeof out === 'string' ? out.length : out.byteLength
    }
  }
  // Bytes handed to the transport per message (the same for all three, give or take header order).
  const sampleId = 'T_1@@session-ZzDkCw8bUGhVxQ@@1'
  const bytes = SUBSCRIBERS * (new MessageTail(sampleId, shared, payload).encode('1.2').length +
    encodeMessageHead(prefixes[0]!, acknowledging ? 'rs' : undefined, false).length)
  return [
    { name: 'stompd prefix + tail', run: fanout, frames: SUBSCRIBERS, bytes },
    { name: 'stompd re-encode', run: reencode, frames: SUBSCRIBERS, bytes },
    { name: 'stompjs FrameImpl', run: stompjs, frames: SUBSCRIBERS, bytes },
  ]
}

// ---------------------------------------------------------------------------------------------

export async function run(options: BenchOptions): Promise<BenchReport> {
  const rounds = roundOptions(options)
  const small = encodeFrame('MESSAGE', messageHeaders('sub-0', 'T_1@@session-ZzDkCw8bUGhVxQ@@4711'), body(256), '1.2')
  const large = encodeFrame('MESSAGE', messageHeaders('sub-0', 'T_1@@session-ZzDkCw8bUGhVxQ@@4711'), body(64 * 1024), '1.2')

  const decodeSmall = compare(decodeCase(small, FRAMES_PER_CHUNK), rounds)
  const decodeLarge = compare(decodeCase(large, 1, [{ name: 'stompd, 16 KiB reads', chunkSize: 16 * 1024 }]), rounds)
  const encodeAuto = compare(fanoutCase(body(256), false), rounds)
  const encodeAcked = compare(fanoutCase(body(256), true), rounds)

  return {
    bench: 'codec',
    quick: options.quick,
    rows: [
      ...caseRows(`decode 256 B MESSAGE (${small.length} B), ${FRAMES_PER_CHUNK}/chunk`, decodeSmall, [{ ours: 'stompd', versus: 'stompjs', target: DECODE_256_TARGET }]),
      ...caseRows(`decode 64 KiB MESSAGE (${large.length} B), 1/chunk`, decodeLarge, [
        { ours: 'stompd', versus: 'stompjs' },
        { ours: 'stompd, 16 KiB reads', versus: 'stompjs' },
      ]),
      ...caseRows(`encode 256 B MESSAGE for ${SUBSCRIBERS} subscribers`, encodeAuto, [
        { ours: 'stompd prefix + tail', versus: 'stompd re-encode', target: FANOUT_TARGET },
        { ours: 'stompd prefix + tail', versus: 'stompjs FrameImpl' },
      ]),
      ...caseRows(`encode 256 B MESSAGE for ${SUBSCRIBERS} acking subscribers`, encodeAcked, [
        { ours: 'stompd prefix + tail', versus: 'stompd re-encode' },
        { ours: 'stompd prefix + tail', versus: 'stompjs FrameImpl' },
      ]),
    ],
    notes: [
      `per CPU-second, medians of ${rounds.rounds} interleaved rounds of ${rounds.roundMs} ms; encode counts deliveries as frames and head + tail bytes as MB`,
      `node ${process.version}, ${process.arch}`,
    ],
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatReport(await run({ quick: process.argv.includes('--quick') })))
}
