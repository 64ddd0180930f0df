// The bytes queued for one connection during an event-loop turn. Small writes (frames, MESSAGE
// heads, the shared tails of small messages) are packed into one chunk, so a turn's frames
// usually leave as one Buffer without a Buffer.concat; a large tail stays its own part and is
// never copied. The chunk is reused across turns until full: the transport keeps the regions
// already handed to it, and later writes only touch the space after them.
//
// Headroom: a transport that frames what it writes (a WebSocket message header) asks for a few
// free bytes in front of each packed run. When a take()'s first part is a packed run (the usual
// case: frames and small messages), `roomInFront` says those bytes are there, so the transport
// writes its header in them and sends header and payload as one buffer: no header allocation,
// no writev.
//
// Chunks are rented from a ChunkPool and handed back once the transport holds none of their
// bytes (recycle, release); a chunk filled while the transport still held some waits for that.
//
// Messages: a transport may cap how many bytes one write() carries (a WebSocket message: Tomcat's
// client, under Spring's WebSocketStompClient, closes the connection on a text message over
// 8 KiB). The session announces each frame's size before writing it (beginFrame); a frame that
// would take the open message past the cap seals it and starts the next one, and take() hands
// over one sealed message at a time. A frame larger than the cap goes alone. Frames are never
// split, so every message the transport writes holds whole frames.
import { chunkPool, type ChunkPool } from './chunk-pool.js'

/** A tail at least this large is written as its own part instead of being copied. */
const COPY_LIMIT = 16 * 1024
// Chunks start small, so an idle connection holds little, and double while a busy one fills them.
const FIRST_CHUNK = 1024
const MAX_CHUNK = 64 * 1024
/** Full chunks kept for the pool while the transport still holds their bytes (at most 512 KiB). */
const MAX_RETIRED = 8

const EMPTY = Buffer.alloc(0)

/** A message sealed by beginFrame(), waiting for take(): where its parts end, and how to write it. */
interface SealedMessage {
  /** Index in `parts` one past its last part. */
  end: number
  bytes: number
  text: boolean
  leadingRun: boolean
}

export class Outbox {
  /** Bytes queued, in every message. */
  bytes = 0
  /** Free bytes kept in front of every packed run, for the transport's header. */
  readonly headroom: number
  /** Most bytes of frames per message; 0 = no cap (everything queued is one message). */
  readonly maxMessageBytes: number
  /** After take(): the free bytes in front of its first part (`headroom`, or 0 when that part is not packed). */
  roomInFront = 0
  /** After take(): every byte it handed over is valid UTF-8 (a WebSocket may send them as text). */
  takenText = true
  private parts: Buffer[] = []
  /** Parts before this index were handed over by take() already. */
  private taken = 0
  /** The array take() returns, refilled by each take(). */
  private message: Buffer[] = []
  /** Messages closed by beginFrame(), oldest first; those parts are at the front of `parts`. */
  private sealed: SealedMessage[] = []
  /** Bytes of the sealed messages. */
  private sealedBytes = 0
  /** The open message: its bytes, whether all are UTF-8, whether its first part is a packed run. */
  private openBytes = 0
  private openText = true
  private chunk: Buffer = EMPTY
  /** Chunks filled up while the transport still held their bytes: given back at the next recycle. */
  private retired: Buffer[] = []
  private readonly pool: ChunkPool
  private nextChunkSize = FIRST_CHUNK
  /** Where the open run of packed bytes in `chunk` starts (after its headroom), and where it ends. */
  private start = 0
  private end = 0
  /** The open message's first part is a packed run, with headroom in front of it. */
  private leadingRun = false
  /** Index in `parts` where the open message starts. */
  private openStart = 0

  constructor(headroom = 0, pool: ChunkPool = chunkPool, maxMessageBytes = 0) {
    this.headroom = headroom
    this.pool = pool
    this.maxMessageBytes = maxMessageBytes
    // No chunk yet: `end` past the empty chunk makes the first write allocate one.
    this.start = this.end = headroom
  }

  get isEmpty(): boolean {
    return this.bytes === 0
  }

  /** More than one message is queued: take() will have to be called again. */
  get hasSealed(): boolean {
    return this.sealed.length > 0
  }

  /**
   * A frame of `size` bytes is about to be written. When it would take the open message past
   * the cap, that message is sealed first: the frame starts the next one (alone if it is larger
   * than the cap). Without a cap this does nothing.
   */
  beginFrame(size: number): void {
    if (this.maxMessageBytes === 0) return
    if (this.openBytes > 0 && this.openBytes + size > this.maxMessageBytes) this.seal()
    this.openBytes += size
  }

  private seal(): void {
    this.cut()
    // The bytes actually written, not the sizes announced.
    const bytes = this.bytes - this.sealedBytes
    this.sealedBytes += bytes
    this.sealed.push({ end: this.parts.length, bytes, text: this.openText, leadingRun: this.leadingRun })
    this.openStart = this.parts.length
    this.openBytes = 0
    this.openText = true
    this.leadingRun = false
  }

  /** Queues text (a frame's head) encoded as UTF-8. */
  writeString(text: string): void {
    // Worst case for UTF-8 is 3 bytes per UTF-16 unit.
    const room = this.room(text.length * 3)
    const written = this.chunk.utf8Write(text, this.end, room)
    this.end += written
    this.bytes += written
  }

  /** Queues a short text the caller knows is ASCII (ids stompd makes), byte by byte. */
  writeAscii(text: string): void {
    this.room(text.length)
    const chunk = this.chunk
    let end = this.end
    for (let i = 0; i < text.length; i++) chunk[end++] = text.charCodeAt(i)
    this.end = end
    this.bytes += text.length
  }

  /** Queues bytes; `isText` says they are valid UTF-8. */
  writeBytes(bytes: Buffer, isText: boolean): void {
    if (!isText) this.openText = false
    this.bytes += bytes.length
    if (bytes.length >= COPY_LIMIT) {
      this.cut()
      this.parts.push(bytes)
      return
    }
    this.room(bytes.length)
    // TypedArray#set, not Buffer#copy: a plain memcpy without a call into Node's C++ side,
    // which for the small copies made here (a head prefix, a short tail) costs more than the copy.
    this.chunk.set(bytes, this.end)
    this.end += bytes.length
  }

  /** Queues bytes that never change (a heart-beat EOL) as they are: no chunk needed for them. */
  writeConstant(bytes: Buffer, isText: boolean): void {
    if (!isText) this.openText = false
    this.bytes += bytes.length
    this.cut()
    this.parts.push(bytes)
  }

  /**
   * Hands over the oldest message queued (without a cap: everything queued), in order, and says
   * how to write it (`roomInFront`, `takenText`). The array is the outbox's own and valid until
   * the next take(): a flush per turn per connection would otherwise allocate one.
   */
  take(): readonly Buffer[] {
    this.cut()
    const message = this.message
    message.length = 0
    const parts = this.parts
    const sealed = this.sealed.length > 0 ? this.sealed.shift()! : null
    const end = sealed === null ? parts.length : sealed.end
    for (let i = this.taken; i < end; i++) message.push(parts[i]!)
    if (sealed === null) {
      this.roomInFront = this.leadingRun ? this.headroom : 0
      this.takenText = this.openText
      this.openBytes = 0
      this.openText = true
      this.leadingRun = false
      this.bytes = 0
    } else {
      this.roomInFront = sealed.leadingRun ? this.headroom : 0
      this.takenText = sealed.text
      this.bytes -= sealed.bytes
      this.sealedBytes -= sealed.bytes
    }
    this.taken = end
    if (end === parts.length) {
      // Everything handed over: the part list starts afresh.
      parts.length = 0
      this.taken = 0
      this.openStart = 0
    }
    return message
  }

  /**
   * Call when everything take() handed out has left the process (the transport reports nothing
   * buffered): the chunk's bytes are free again, so the next write starts at its beginning, and
   * chunks filled earlier go back to the pool. Without this a busy connection fills chunk after
   * chunk, each garbage once written — hundreds of MB/s of ArrayBuffers under fan-out.
   */
  recycle(): void {
    if (this.bytes > 0) return
    // The last take's array still names views into the chunks; the transport is done with them.
    this.message.length = 0
    this.giveBackRetired()
    this.start = this.end = this.headroom
  }

  /**
   * Gives the chunk back while nothing is queued; the next write starts a small one. Like
   * recycle(), only once the transport holds none of the bytes handed to it.
   */
  release(): void {
    if (this.bytes > 0) return
    this.message.length = 0
    this.giveBackRetired()
    if (this.chunk !== EMPTY) this.pool.giveBack(this.chunk)
    this.chunk = EMPTY
    this.nextChunkSize = FIRST_CHUNK
    this.start = this.end = this.headroom // past the empty chunk: the next write allocates one
  }

  /**
   * Drops everything queued (the connection is gone). Its chunks may still be named by writes
   * the transport never finished: the pool counts them out but never hands them out again.
   */
  clear(): void {
    this.parts.length = 0
    this.taken = 0
    this.message.length = 0
    this.sealed.length = 0
    this.sealedBytes = 0
    this.openStart = 0
    this.openBytes = 0
    this.openText = true
    for (let i = 0; i < this.retired.length; i++) this.pool.forget(this.retired[i]!)
    this.retired.length = 0
    if (this.chunk !== EMPTY) this.pool.forget(this.chunk)
    this.chunk = EMPTY
    this.nextChunkSize = FIRST_CHUNK
    this.leadingRun = false
    this.start = this.end = this.headroom
    this.bytes = 0
  }

  /**
   * Keeps a full chunk until the transport is done with it. A connection that is never seen
   * with nothing buffered (a steady consumer just behind) would keep them all: past a few, the
   * oldest is left to the collector instead.
   */
  private retire(chunk: Buffer): void {
    if (this.retired.length === MAX_RETIRED) this.pool.forget(this.retired.shift()!)
    this.retired.push(chunk)
  }

  private giveBackRetired(): void {
    for (let i = 0; i < this.retired.length; i++) this.pool.giveBack(this.retired[i]!)
    this.retired.length = 0
  }

  /** Ends the current run of packed bytes as a part; the next run starts past its own headroom. */
  private cut(): void {
    if (this.end === this.start) return
    if (this.parts.length === this.openStart) this.leadingRun = true
    this.parts.push(this.chunk.subarray(this.start, this.end))
    this.start = this.end = this.end + this.headroom
  }

  /** Makes sure `size` bytes fit after `end` (and, for a new chunk, headroom before); returns the room there is. */
  private room(size: number): number {
    // `end` may lie past the chunk's length when a cut left no room for the next run's headroom.
    if (this.chunk.length - this.end < size || this.chunk.length < this.end) {
      this.cut()
      if (this.chunk !== EMPTY) this.retire(this.chunk)
      this.chunk = this.pool.rent(Math.max(this.nextChunkSize, size + this.headroom))
      this.nextChunkSize = Math.min(MAX_CHUNK, this.nextChunkSize * 2)
      this.start = this.end = this.headroom
    }
    return this.chunk.length - this.end
  }
}
