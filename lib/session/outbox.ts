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

/** A tail at least this large is written as its own part instead of being copied. */
const COPY_LIMIT = 16 * 1024
// Chunks start small, so an idle connection holds little, and double while a busy one fills them.
const FIRST_CHUNK = 1024
const MAX_CHUNK = 64 * 1024

const EMPTY = Buffer.alloc(0)

export class Outbox {
  /** Bytes queued. */
  bytes = 0
  /** Every byte queued is valid UTF-8 (a WebSocket may send them as text). */
  text = true
  /** Free bytes kept in front of every packed run, for the transport's header. */
  readonly headroom: number
  /** After take(): the free bytes in front of its first part (`headroom`, or 0 when that part is not packed). */
  roomInFront = 0
  private parts: Buffer[] = []
  /** The array the last take() returned, cleared and reused by the next one. */
  private taken: Buffer[] = []
  private chunk: Buffer = EMPTY
  private nextChunkSize = FIRST_CHUNK
  /** Where the open run of packed bytes in `chunk` starts (after its headroom), and where it ends. */
  private start = 0
  private end = 0
  /** The first queued part is a packed run, with headroom in front of it. */
  private leadingRun = false

  constructor(headroom = 0) {
    this.headroom = headroom
    // No chunk yet: `end` past the empty chunk makes the first write allocate one.
    this.start = this.end = headroom
  }

  get isEmpty(): boolean {
    return this.bytes === 0
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
    if (!isText) this.text = false
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
    if (!isText) this.text = false
    this.bytes += bytes.length
    this.cut()
    this.parts.push(bytes)
  }

  /**
   * Hands over everything queued, in order, and starts afresh. The array is the outbox's own and
   * valid until the next take(): a flush per turn per connection would otherwise allocate one.
   */
  take(): readonly Buffer[] {
    this.cut()
    const parts = this.parts
    this.roomInFront = this.leadingRun ? this.headroom : 0
    this.leadingRun = false
    this.parts = this.taken
    this.parts.length = 0
    this.taken = parts
    this.bytes = 0
    this.text = true
    return parts
  }

  /**
   * Everything take() handed out has left the process (the transport reports nothing buffered),
   * so the chunk's bytes are free again: the next write starts at its beginning. Without this a
   * busy connection fills chunk after chunk, each garbage once written — hundreds of MB/s of
   * ArrayBuffers for the collector under fan-out.
   */
  recycle(): void {
    if (this.bytes > 0) return
    this.start = this.end = this.headroom
  }

  /** Lets go of the chunk while nothing is queued; the next write starts a small one. */
  release(): void {
    if (this.bytes > 0) return
    // The last take's array still names views into the chunk.
    this.taken.length = 0
    this.chunk = EMPTY
    this.nextChunkSize = FIRST_CHUNK
    this.start = this.end = this.headroom // past the empty chunk: the next write allocates one
  }

  /** Drops everything queued (the connection is gone). */
  clear(): void {
    this.parts.length = 0
    this.taken.length = 0
    this.leadingRun = false
    this.start = this.end = this.end + this.headroom
    this.bytes = 0
    this.text = true
  }

  /** Ends the current run of packed bytes as a part; the next run starts past its own headroom. */
  private cut(): void {
    if (this.end === this.start) return
    if (this.parts.length === 0) this.leadingRun = true
    this.parts.push(this.chunk.subarray(this.start, this.end))
    this.start = this.end = this.end + this.headroom
  }

  /** Makes sure `size` bytes fit after `end` (and, for a new chunk, headroom before); returns the room there is. */
  private room(size: number): number {
    // `end` may lie past the chunk's length when a cut left no room for the next run's headroom.
    if (this.chunk.length - this.end < size || this.chunk.length < this.end) {
      this.cut()
      this.chunk = Buffer.allocUnsafe(Math.max(this.nextChunkSize, size + this.headroom))
      this.nextChunkSize = Math.min(MAX_CHUNK, this.nextChunkSize * 2)
      this.start = this.end = this.headroom
    }
    return this.chunk.length - this.end
  }
}
