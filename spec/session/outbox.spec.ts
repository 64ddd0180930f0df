// The outbox: a turn's frames packed into one chunk, and the free bytes it keeps in front of
// each packed run for a transport that writes a header there (a WebSocket frame header).
import t from 'tap'
import { ChunkPool } from '../../lib/session/chunk-pool.js'
import { Outbox } from '../../lib/session/outbox.js'

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')

/** The `n` bytes in front of `part` in its memory: where a transport would write its header. */
function front(part: Buffer, n: number): Buffer {
  return Buffer.from(part.buffer, part.byteOffset - n, n)
}

t.test('without headroom the outbox packs a turn into one part and offers no room in front', async (t) => {
  const outbox = new Outbox()
  outbox.writeBytes(bytes('MESSAGE\n'), true)
  outbox.writeAscii('ack:1\n')
  outbox.writeString('\n€\0')
  const parts = outbox.take()
  t.equal(parts.length, 1)
  t.equal(parts[0]!.toString('utf8'), 'MESSAGE\nack:1\n\n€\0')
  t.equal(outbox.roomInFront, 0)
  t.ok(outbox.isEmpty)
})

t.test('with headroom every take whose first part is packed offers that many free bytes in front of it', async (t) => {
  const outbox = new Outbox(10)
  const taken: Buffer[] = []
  for (let turn = 0; turn < 50; turn++) {
    outbox.writeBytes(bytes(`frame ${turn}|`), true)
    const parts = outbox.take()
    t.equal(parts.length, 1)
    t.equal(outbox.roomInFront, 10)
    // A transport fills the room in front; what earlier turns handed over must not change.
    front(parts[0]!, 10).fill(0xff)
    taken.push(parts[0]!)
  }
  t.same(taken.map((part) => part.toString('latin1')), Array.from({ length: 50 }, (_, turn) => `frame ${turn}|`))
})

t.test('the room in front survives a new chunk, and only the first part is offered it', async (t) => {
  const outbox = new Outbox(10)
  // More than the largest chunk in one turn: the packed bytes span several chunks.
  const frame = Buffer.alloc(1000, 0x61)
  for (let i = 0; i < 200; i++) outbox.writeBytes(frame, true)
  // A copy: the array itself is the outbox's, reused by the next take().
  const parts = [...outbox.take()]
  t.ok(parts.length > 1, 'several packed runs')
  t.equal(outbox.roomInFront, 10)
  t.equal(parts.reduce((n, part) => n + part.length, 0), 200 * 1000)
  front(parts[0]!, 10).fill(0)
  // The next turn after a full chunk still gets its room.
  outbox.writeBytes(bytes('next'), true)
  const next = outbox.take()
  t.equal(outbox.roomInFront, 10)
  front(next[0]!, 10).fill(0)
  t.ok(parts.every((part) => part.every((byte) => byte === 0x61)), 'earlier parts untouched')
})

t.test('a take that starts with a constant or a large unpacked body offers no room', async (t) => {
  const outbox = new Outbox(10)
  const eol = bytes('\n')
  outbox.writeConstant(eol, true)
  t.equal(outbox.take()[0], eol)
  t.equal(outbox.roomInFront, 0)

  const large = Buffer.alloc(64 * 1024, 0x62)
  outbox.writeBytes(large, false)
  outbox.writeBytes(bytes('after'), true)
  const parts = outbox.take()
  t.equal(parts[0], large, 'a large body is queued as it is, not copied')
  t.equal(parts[1]!.toString(), 'after')
  t.equal(outbox.roomInFront, 0)

  // Packed bytes first, then a large body: the first part is packed and has its room.
  outbox.writeBytes(bytes('MESSAGE\n\n'), true)
  outbox.writeBytes(large, false)
  const mixed = outbox.take()
  t.equal(mixed.length, 2)
  t.equal(outbox.roomInFront, 10)
})

t.test('after release and clear, the next take still has its room in front', async (t) => {
  const outbox = new Outbox(10)
  outbox.writeBytes(bytes('one'), true)
  outbox.take()
  outbox.release()
  outbox.writeBytes(bytes('two'), true)
  const [two] = outbox.take()
  t.equal(two!.toString(), 'two')
  t.equal(outbox.roomInFront, 10)
  t.ok(two!.byteOffset - 10 >= 0)

  outbox.writeBytes(bytes('dropped'), true)
  outbox.clear()
  t.ok(outbox.isEmpty)
  outbox.writeBytes(bytes('three'), true)
  const [three] = outbox.take()
  t.equal(three!.toString(), 'three')
  t.equal(outbox.roomInFront, 10)
})

t.test('once the transport has written everything, recycle() lets the next turn reuse the chunk from its start', async (t) => {
  const outbox = new Outbox(10)
  outbox.writeBytes(bytes('first'), true)
  const first = outbox.take()[0]!
  outbox.recycle()
  outbox.writeBytes(bytes('again'), true)
  const again = outbox.take()[0]!
  t.equal(again.buffer, first.buffer, 'the same chunk')
  t.equal(again.byteOffset, first.byteOffset, 'from the same place')
  t.equal(outbox.roomInFront, 10, 'with its room in front')
  t.equal(again.toString('latin1'), 'again')

  // Without recycle() the next turn goes after what the transport may still hold.
  outbox.writeBytes(bytes('third'), true)
  const third = outbox.take()[0]!
  t.ok(third.byteOffset > again.byteOffset)
  t.equal(again.toString('latin1'), 'again', 'what was handed out is untouched')

  // Nothing is recycled while bytes are queued.
  outbox.writeBytes(bytes('queued'), true)
  outbox.recycle()
  t.equal(outbox.take()[0]!.toString('latin1'), 'queued')
})

/** Whether two views share any byte of memory. */
function overlap(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length
}

/** Another connection's outbox writing `turns` turns of 1000-byte frames into chunks of the same pool. */
function busyNeighbour(pool: ChunkPool, turns: number): Buffer[] {
  const neighbour = new Outbox(10, pool)
  const written: Buffer[] = []
  for (let turn = 0; turn < turns; turn++) {
    for (let i = 0; i < 20; i++) neighbour.writeBytes(Buffer.alloc(1000, 0x7a), true)
    written.push(...neighbour.take())
    neighbour.recycle()
  }
  neighbour.release()
  return written
}

t.test('chunks filled while the transport held their bytes go back to the pool at recycle(), not before', async (t) => {
  const pool = new ChunkPool()
  const outbox = new Outbox(10, pool)
  const frame = Buffer.alloc(1000, 0x61)
  for (let i = 0; i < 20; i++) outbox.writeBytes(frame, true)
  const parts = [...outbox.take()]
  t.ok(parts.length > 1, 'spread over several chunks')
  const rented = pool.stats().rentedBytes
  t.ok(rented >= 20 * 1000)

  // Not yet written out: another outbox of the pool must not get any of it.
  const neighbour = busyNeighbour(pool, 20)
  t.notOk(neighbour.some((n) => parts.some((part) => overlap(n, part))))
  t.ok(parts.every((part) => part.every((byte) => byte === 0x61)), 'what was handed out is untouched')

  outbox.recycle()
  t.ok(pool.stats().rentedBytes < rented, 'the full chunks went back; the open one stays')
  outbox.release()
  t.equal(pool.stats().rentedBytes, 0, 'release() gives back the last one')
})

t.test('a cleared outbox (its connection gone) hands nothing back for reuse: its bytes may still be in a write', async (t) => {
  const pool = new ChunkPool()
  const outbox = new Outbox(10, pool)
  for (let i = 0; i < 20; i++) outbox.writeBytes(Buffer.alloc(1000, 0x62), true)
  const parts = [...outbox.take()]
  outbox.clear()
  t.equal(pool.stats().rentedBytes, 0, 'counted out of the pool')
  const neighbour = busyNeighbour(pool, 100)
  t.notOk(neighbour.some((n) => parts.some((part) => overlap(n, part))), 'never rented again')
  t.ok(parts.every((part) => part.every((byte) => byte === 0x62)))
})

t.test('a connection never seen with nothing buffered holds at most a few full chunks; the rest are left to the collector', async (t) => {
  const pool = new ChunkPool()
  const outbox = new Outbox(10, pool)
  const handedOut: Buffer[] = []
  for (let turn = 0; turn < 100; turn++) {
    // 15 KiB: copied into the chunk (a larger tail would be queued as it is).
    outbox.writeBytes(Buffer.alloc(15 * 1024, turn), true)
    handedOut.push(...outbox.take())
  }
  t.ok(pool.stats().rentedBytes <= 9 * 64 * 1024, `${pool.stats().rentedBytes} bytes rented`)
  busyNeighbour(pool, 100)
  t.ok(handedOut.every((part, turn) => part.every((byte) => byte === turn % 256)), 'nothing handed out was reused')
})

t.test('with a message cap, take() hands over whole frames a message at a time, none past the cap unless a frame alone is', async (t) => {
  const outbox = new Outbox(10, new ChunkPool(), 100)
  const frames = [40, 40, 40, 150, 30, 30, 90, 1].map((size, i) => Buffer.alloc(size, 0x61 + i))
  for (const frame of frames) {
    outbox.beginFrame(frame.length)
    // A frame written in two pieces, as a MESSAGE's head and tail are.
    outbox.writeBytes(frame.subarray(0, 5), true)
    outbox.writeBytes(frame.subarray(5), frame.length !== 150)
  }
  t.ok(outbox.hasSealed, 'several messages queued')
  const messages: string[] = []
  const text: boolean[] = []
  while (!outbox.isEmpty) {
    const parts = outbox.take()
    t.equal(outbox.roomInFront, 10, 'each message starts with a packed run and its room in front')
    front(parts[0]!, 10).fill(0xff)
    messages.push(Buffer.concat(parts).toString('latin1'))
    text.push(outbox.takenText)
  }
  t.same(messages.map((m) => m.length), [80, 40, 150, 60, 91], 'frames grouped up to 100 bytes; the 150-byte frame alone')
  t.same(text, [true, true, false, true, true], 'only the message holding the binary frame is binary')
  t.equal(messages.join(''), frames.map((f) => f.toString('latin1')).join(''), 'every byte, in order, untouched by the headers written in front')
})

t.test('without a cap beginFrame() changes nothing: a turn is one take()', async (t) => {
  const outbox = new Outbox(10)
  for (let i = 0; i < 100; i++) {
    outbox.beginFrame(1000)
    outbox.writeBytes(Buffer.alloc(1000), true)
  }
  t.notOk(outbox.hasSealed)
  t.equal(outbox.take().reduce((n, part) => n + part.length, 0), 100_000)
  t.ok(outbox.isEmpty)
})
