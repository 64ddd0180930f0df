// Stream replay (issue 22): a new reader of a stream holding 1,000,000 entries (offset:first),
// messages/s delivered, as a ratio to what one topic subscriber gets live from a publisher
// (fan-out ×1) on the same broker build — target ≥ 0.9×. One stompd over TCP, --store memory,
// 64-byte bodies; medians of 3 runs (--quick: 200,000 entries, one run).
//
//   npm run bench -- streams [--quick]
import type { BenchOptions } from './harness.js'
import { startChild, stompdCommand, stopChild } from './load/brokers.js'
import { CountingClient } from './selectors.js'

const BODY = 'x'.repeat(64)
const BATCH = 1000
const WINDOW_BATCHES = 8

/** Sends `count` SENDs to `destination`, a RECEIPT per BATCH, at most WINDOW_BATCHES unreceipted. */
async function publish(publisher: CountingClient, destination: string, count: number): Promise<void> {
  const base = publisher.frames
  const frame = `SEND\ndestination:${destination}\n\n${BODY}\0`
  const last = `SEND\ndestination:${destination}\nreceipt:r\n\n${BODY}\0`
  const batch = frame.repeat(BATCH - 1) + last
  let sent = 0
  while (sent < count) {
    while (sent < count && sent / BATCH - (publisher.frames - base) < WINDOW_BATCHES) {
      publisher.socket.write(batch)
      sent += BATCH
    }
    await publisher.until(publisher.frames + 1)
  }
  await publisher.until(base + count / BATCH)
}

async function broker(): Promise<{ port: number, stop: () => Promise<void> }> {
  const started = await startChild('stompd', [...stompdCommand(), '--host', '127.0.0.1', '--port', '0', '--tcp-port', '0', '--store', 'memory', '--log-level', 'warn'], /tcp=127\.0\.0\.1:(\d+)/)
  return { port: Number(started.match[1]), stop: () => stopChild(started.child) }
}

/** Messages/s a new reader of a stream of `count` entries gets, replaying from the first. */
async function replay(count: number): Promise<number> {
  const { port, stop } = await broker()
  try {
    const publisher = await CountingClient.open(port)
    await publish(publisher, '/stream/replay', count)
    const reader = await CountingClient.open(port)
    const base = reader.frames
    const started = performance.now()
    reader.socket.write('SUBSCRIBE\nid:r\ndestination:/stream/replay\noffset:first\n\n\0')
    await reader.until(base + count)
    const rate = count / ((performance.now() - started) / 1000)
    publisher.socket.destroy()
    reader.socket.destroy()
    return rate
  } finally {
    await stop()
  }
}

/** Messages/s one topic subscriber gets while a publisher sends `count` messages. */
async function fanoutOne(count: number): Promise<number> {
  const { port, stop } = await broker()
  try {
    const subscriber = await CountingClient.open(port)
    subscriber.socket.write('SUBSCRIBE\nid:s\ndestination:/topic/live\nreceipt:sub\n\n\0')
    await subscriber.until(2)
    const base = subscriber.frames
    const publisher = await CountingClient.open(port)
    const started = performance.now()
    await publish(publisher, '/topic/live', count)
    await subscriber.until(base + count)
    const rate = count / ((performance.now() - started) / 1000)
    publisher.socket.destroy()
    subscriber.socket.destroy()
    return rate
  } finally {
    await stop()
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

export async function run(options: BenchOptions): Promise<void> {
  const count = options.quick ? 200_000 : 1_000_000
  const rounds = options.quick ? 1 : 3
  const replays: number[] = []
  const live: number[] = []
  for (let round = 0; round < rounds; round++) {
    replays.push(await replay(count))
    live.push(await fanoutOne(count))
  }
  const n = (value: number): string => Math.round(value).toLocaleString('en-US')
  const ratio = median(replays) / median(live)
  console.log(`streams: one stompd over TCP (--store memory), 64-byte bodies, ${n(count)} messages; median of ${rounds} run(s)`)
  console.log(`  replay of ${n(count)} stream entries to a new reader (offset:first)  ${n(median(replays)).padStart(10)} messages/s`)
  console.log(`  fan-out ×1, a topic subscriber while a publisher sends           ${n(median(live)).padStart(10)} messages/s`)
  console.log(`  replay / fan-out ×1: ${ratio.toFixed(2)}× (target ≥ 0.9×: ${ratio >= 0.9 ? 'met' : 'MISSED'})`)
}
