// Incremental STOMP frame decoder: Buffers cut anywhere in, frames and heart-beats out.
//
// Fast path: a frame that lies whole in one chunk is decoded in place — headers are
// scanned in one pass, the body is a view (subarray) of the chunk, nothing is copied. The
// usual head (LF line ends, one byte per character, no escapes) is not scanned byte by byte in
// JavaScript: a native search finds its blank line, and its lines are cut from one string.
// Slow path: a frame that spans chunks is copied, once, into `pending`; scanning resumes
// where it stopped, so feeding one byte at a time stays linear. Limits are checked on
// declared sizes and on the line being scanned before anything is buffered, so the
// decoder never holds more than `maxFrameSize` bytes whatever the input.
//
// Frame bodies may be views of the caller's chunk: copy one before keeping it.
//
// The sink may pause the decoder from onFrame: it stops at that frame's end and keeps the
// rest of the chunk, and whatever is pushed meanwhile, until resume().
import { StompError, type ErrorCode } from '../errors.js'
import {
  CLIENT_COMMANDS, SERVER_COMMANDS, isEscaped, unescapeHeader,
  type Command, type Frame, type Header, type StompVersion,
} from './frame.js'

export interface DecoderLimits {
  /** Bytes in a whole frame: command, headers, body and the NUL. */
  maxFrameSize: number
  /** Header lines in one frame. */
  maxHeaders: number
  /** Bytes in one header line, EOL excluded. */
  maxHeaderLineLength: number
}

export const DEFAULT_DECODER_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxFrameSize: 8 * 1024 * 1024,
  maxHeaders: 100,
  maxHeaderLineLength: 8 * 1024,
})

export interface FrameSink {
  onFrame(frame: Frame): void
  /** A bare EOL between frames (STOMP 1.1+ heart-beat). */
  onHeartbeat(): void
  /**
   * Called once; the decoder ignores all input afterwards. `receipt` is the bad frame's
   * `receipt` header when it was read before the problem, so the ERROR can carry `receipt-id`.
   */
  onError(error: StompError, receipt: string | undefined): void
}

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const BACKSLASH = 0x5c

// The longest command, UNSUBSCRIBE, plus a CR: a first line longer than this is not STOMP,
// and saying so at once beats waiting for 8 KiB of someone's HTTP request.
const MAX_COMMAND_LINE = 12

const COMMANDS = new Map<string, Command>(
  [...CLIENT_COMMANDS, ...SERVER_COMMANDS].map((c) => [c, c] as [string, Command]),
)

const enum Phase { Idle, Headers, Body }

/** The end of a head whose lines all end in LF: the last line's LF and the blank line's. */
const LF_LF = Buffer.from('\n\n')

// What the header scanner must notice about a byte; one table lookup per byte keeps its loop tight.
const ORDINARY = 0
const KIND_LF = 1
const KIND_COLON = 2
const KIND_BACKSLASH = 3
const KIND_NON_ASCII = 4
/** Limits with their defaults filled in, once per options object: thousands of decoders share one. */
const resolvedLimits = new WeakMap<Partial<DecoderLimits>, DecoderLimits>()

function resolveLimits(limits: Partial<DecoderLimits>): DecoderLimits {
  let resolved = resolvedLimits.get(limits)
  if (resolved === undefined) {
    resolved = { ...DEFAULT_DECODER_LIMITS, ...limits }
    resolvedLimits.set(limits, resolved)
  }
  return resolved
}

/** Header lines a decoder has room for before it first grows (most frames have a handful). */
const FIRST_MARK_LINES = 16

const BYTE_KIND = new Uint8Array(256)
BYTE_KIND[LF] = KIND_LF
BYTE_KIND[COLON] = KIND_COLON
BYTE_KIND[BACKSLASH] = KIND_BACKSLASH
BYTE_KIND.fill(KIND_NON_ASCII, 0x80)

export class FrameDecoder {
  /** Header escaping rules to apply; the session sets it once CONNECT has negotiated a version. */
  version: StompVersion = '1.2'

  private readonly sink: FrameSink
  private readonly limits: DecoderLimits
  private failed = false
  private paused = false
  /** Input not decoded yet while paused, in order: the rest of the chunk it paused in, then later pushes. */
  private waiting: Buffer[] = []

  // The current frame, when it spans chunks: its bytes from the first one on.
  private pending: Buffer | null = null
  private pendingLength = 0
  private crPending = false // a CR ended the last chunk where a heart-beat EOL may be

  // Header scan state. Positions are relative to the frame's first byte.
  private phase: Phase = Phase.Idle
  private lineStart = 0
  private lineCount = 0
  private colon = -1
  private prev = 0
  private sawBackslash = false
  private sawNonAscii = false
  /** Per line k: marks[2k] = first colon, marks[2k+1] = the LF ending it. Grows with the lines seen. */
  private marks: Int32Array<ArrayBuffer> = new Int32Array(2 * FIRST_MARK_LINES)

  /** A head from this client had a CR: its blank line is not LF LF, so skip the search for one. */
  private crlfClient = false

  // Parsed once the blank line is found.
  private command: Command = 'SEND'
  private headers: Header[] = []
  private bodyStart = 0
  private contentLength = -1

  constructor(sink: FrameSink, limits: Partial<DecoderLimits> = {}) {
    this.sink = sink
    this.limits = resolveLimits(limits)
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    let waiting = 0
    for (const chunk of this.waiting) waiting += chunk.length
    return this.pendingLength + waiting
  }

  /** Stops decoding: later input is ignored and the partial frame is released. */
  stop(): void {
    this.failed = true
    this.pending = null
    this.pendingLength = 0
    this.waiting = []
  }

  /** Emits no frame after the one being emitted (if any) until resume(); input is kept meanwhile. */
  pause(): void {
    this.paused = true
  }

  /** Decodes what waited, unless a frame from it pauses again. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    while (this.waiting.length > 0 && !this.paused && !this.failed) this.push(this.waiting.shift()!)
  }

  get isPaused(): boolean {
    return this.paused
  }

  push(chunk: Buffer): void {
    if (this.failed) return
    if (this.paused) {
      this.waiting.push(chunk)
      return
    }
    let pos = 0
    if (this.crPending) {
      this.crPending = false
      if (chunk.length === 0) { this.crPending = true; return }
      if (chunk[0] !== LF) {
        this.fail('unknown-command', 'a CR between frames must be followed by LF')
        return
      }
      pos = 1
      this.sink.onHeartbeat()
    } else if (this.phase !== Phase.Idle) {
      pos = this.continuePending(chunk)
      if (pos < 0) return
    }
    this.decodeChunk(chunk, pos)
  }

  private decodeChunk(buf: Buffer, pos: number): void {
    const end = buf.length
    while (pos < end && !this.failed) {
      if (this.paused) {
        // First in line: resume() decodes it before anything pushed later.
        this.waiting.unshift(buf.subarray(pos, end))
        return
      }
      const c = buf[pos]
      if (c === LF) {
        pos++
        this.sink.onHeartbeat()
        continue
      }
      if (c === CR) {
        if (pos + 1 === end) { this.crPending = true; return }
        if (buf[pos + 1] !== LF) {
          this.fail('unknown-command', 'a CR between frames must be followed by LF')
          return
        }
        pos += 2
        this.sink.onHeartbeat()
        continue
      }
      this.beginFrame()
      const next = this.decodeInPlace(buf, pos, end)
      if (next < 0) {
        if (!this.failed) this.stash(buf, pos, end)
        return
      }
      pos = next
    }
  }

  /** Decodes a frame starting at `start`; returns the position after it, or -1 if incomplete or failed. */
  private decodeInPlace(buf: Buffer, start: number, end: number): number {
    let blankLf = this.crlfClient ? -1 : this.readUsualHead(buf, start, end)
    if (blankLf < 0) {
      blankLf = this.scanHeaders(buf, start, end, -start)
      if (blankLf < 0) return -1
      this.bodyStart = blankLf + 1 - start
      if (!this.parseHeaders(buf, start)) return -1
    }
    this.phase = Phase.Body
    const bodyStart = blankLf + 1
    const { maxFrameSize } = this.limits
    if (this.contentLength >= 0) {
      const nul = bodyStart + this.contentLength
      if (nul >= end) return -1
      if (buf[nul] !== 0) return this.mismatch()
      this.emit(buf.subarray(bodyStart, nul))
      return nul + 1
    }
    const nul = buf.indexOf(0, bodyStart)
    if (nul < 0) {
      // +1: the NUL is still to come (as in continuePending).
      if (end - start + 1 > maxFrameSize) return this.tooLarge()
      return -1
    }
    if (nul + 1 - start > maxFrameSize) return this.tooLarge()
    this.emit(buf.subarray(bodyStart, nul))
    return nul + 1
  }

  /** Feeds a chunk to the frame held in `pending`; returns where the rest of the chunk starts, or -1. */
  private continuePending(chunk: Buffer): number {
    let pos = 0
    if (this.phase === Phase.Headers) {
      const blankLf = this.scanHeaders(chunk, 0, chunk.length, this.pendingLength)
      if (this.failed) return -1
      if (blankLf < 0) {
        this.append(chunk, 0, chunk.length)
        return -1
      }
      pos = blankLf + 1
      this.append(chunk, 0, pos)
      this.bodyStart = this.pendingLength
      if (!this.parseHeaders(this.pending!, 0)) return -1
      this.phase = Phase.Body
      if (this.contentLength >= 0) this.reserve(this.bodyStart + this.contentLength + 1)
    }
    const { maxFrameSize } = this.limits
    if (this.contentLength >= 0) {
      const total = this.bodyStart + this.contentLength + 1
      const need = total - this.pendingLength
      if (chunk.length - pos < need) {
        this.append(chunk, pos, chunk.length)
        return -1
      }
      this.append(chunk, pos, pos + need)
      const frameBytes = this.pending!
      if (frameBytes[total - 1] !== 0) return this.mismatch()
      this.emit(frameBytes.subarray(this.bodyStart, total - 1))
      return pos + need
    }
    // No content-length: `pending` holds no NUL after the headers, so only the new chunk is searched.
    const nul = chunk.indexOf(0, pos)
    const upTo = nul < 0 ? chunk.length : nul
    if (this.pendingLength + (upTo - pos) + 1 > maxFrameSize) return this.tooLarge()
    this.append(chunk, pos, upTo)
    if (nul < 0) return -1
    this.emit(this.pending!.subarray(this.bodyStart, this.pendingLength))
    return nul + 1
  }

  /**
   * Reads the head of the frame at `start` when it is the usual kind — every line ends in LF, one
   * byte per character, no escapes, within every limit — and returns the position of its blank
   * line's LF.
   * Anything else returns -1 having changed nothing, and the byte scanner reads the head instead:
   * it alone reports what is wrong with a bad one.
   */
  private readUsualHead(buf: Buffer, start: number, end: number): number {
    // The first LF LF after `start` ends this head when its lines end in LF. When the head is
    // not all in this chunk there is none (the frame is the chunk's last bytes); when a line ends
    // in CR LF the search may run on into the body, and the CR sends the head to the scanner.
    const blankLf = buf.indexOf(LF_LF, start) + 1
    if (blankLf <= 0 || blankLf >= end) return -1
    // Decoding the whole head as UTF-8 gives each name and value as decoding it alone would: the
    // LFs and colons that separate them are ASCII, which UTF-8 never folds into another character.
    const head = buf.utf8Slice(start, blankLf)
    if (head.includes('\r')) {
      this.crlfClient = true
      return -1
    }
    if (head.includes('\\')) return -1
    // Limits count bytes: a head where some character took more than one byte takes the scanner.
    if (head.length !== blankLf - start) return -1
    const commandEnd = head.indexOf('\n')
    const command = commandEnd <= MAX_COMMAND_LINE ? COMMANDS.get(head.slice(0, commandEnd)) : undefined
    if (command === undefined) return -1
    const { maxHeaders, maxHeaderLineLength, maxFrameSize } = this.limits
    const bodyStart = blankLf + 1 - start
    const headers: Header[] = []
    let contentLength = -1
    for (let lineStart = commandEnd + 1; lineStart < head.length;) {
      const lineEnd = head.indexOf('\n', lineStart)
      const colon = head.indexOf(':', lineStart)
      if (colon <= lineStart || colon > lineEnd || lineEnd - lineStart > maxHeaderLineLength || headers.length === maxHeaders) return -1
      const name = head.slice(lineStart, colon)
      const value = head.slice(colon + 1, lineEnd)
      if (contentLength < 0 && name === 'content-length') {
        contentLength = parseLength(value)
        if (contentLength < 0 || bodyStart + contentLength + 1 > maxFrameSize) return -1
      }
      headers.push([name, value])
      lineStart = lineEnd + 1
    }
    this.command = command
    this.headers = headers
    this.contentLength = contentLength
    this.bodyStart = bodyStart
    return blankLf
  }

  /**
   * Scans header bytes buf[from, end) for the blank line that ends them, checking limits on the way.
   * `offset` maps a position in `buf` to one relative to the frame's first byte.
   * Returns the position in `buf` of the blank line's LF, or -1 (incomplete, or failed).
   */
  private scanHeaders(buf: Buffer, from: number, end: number, offset: number): number {
    let marks = this.marks
    const { maxHeaders, maxHeaderLineLength, maxFrameSize } = this.limits
    let lineStart = this.lineStart
    let lines = this.lineCount
    let colon = this.colon
    let backslash = false
    let nonAscii = false
    for (let i = from; i < end; i++) {
      const kind = BYTE_KIND[buf[i]!]
      if (kind === ORDINARY) continue
      if (kind === KIND_LF) {
        const rel = i + offset
        const length = rel - lineStart
        const prev = i > from ? buf[i - 1] : this.prev
        if (lines === 0) {
          if (!this.readCommand(buf, lineStart - offset, i, from)) return -1
        } else if (length === 0 || (length === 1 && prev === CR)) {
          this.lineCount = lines
          if (backslash) this.sawBackslash = true
          if (nonAscii) this.sawNonAscii = true
          return i
        } else if (length - (prev === CR ? 1 : 0) > maxHeaderLineLength) {
          return this.lineTooLong()
        } else if (colon < 0) {
          return this.fail('malformed-header', 'a header line has no colon')
        } else if (lines > maxHeaders) {
          return this.fail('too-many-headers', `a frame has more than ${maxHeaders} headers`)
        }
        if (2 * lines + 1 >= marks.length) marks = this.growMarks()
        marks[2 * lines] = colon
        marks[2 * lines + 1] = rel
        lines++
        lineStart = rel + 1
        colon = -1
      } else if (kind === KIND_COLON) {
        if (colon < 0) colon = i + offset
      } else if (kind === KIND_BACKSLASH) {
        backslash = true
      } else {
        nonAscii = true
      }
    }
    // Incomplete: keep the state, and refuse a line or a frame that already breaks a limit.
    const length = end + offset - lineStart
    if (lines === 0 && length > MAX_COMMAND_LINE) return this.fail('unknown-command', 'the first line is not a STOMP command')
    // +1: the line's last byte may be the CR of its EOL. The command line is not a header line:
    // MAX_COMMAND_LINE bounds it, as readCommand does once its EOL arrives.
    if (lines > 0 && length > maxHeaderLineLength + 1) return this.lineTooLong()
    if (end + offset > maxFrameSize) return this.tooLarge()
    this.lineStart = lineStart
    this.lineCount = lines
    this.colon = colon
    if (end > from) this.prev = buf[end - 1]!
    if (backslash) this.sawBackslash = true
    if (nonAscii) this.sawNonAscii = true
    return -1
  }

  /** Reads the command line buf[start, lf) — which may begin in `pending` when start < from. */
  private readCommand(buf: Buffer, start: number, lf: number, from: number): boolean {
    let bytes = buf
    if (start < from) {
      bytes = Buffer.concat([this.pending!.subarray(start + this.pendingLength - from, this.pendingLength), buf.subarray(from, lf)])
      lf = bytes.length
      start = 0
    }
    let end = lf
    if (end > start && bytes[end - 1] === CR) end--
    const command = end - start <= MAX_COMMAND_LINE ? COMMANDS.get(bytes.toString('latin1', start, end)) : undefined
    if (command === undefined) {
      this.fail('unknown-command', `${JSON.stringify(bytes.toString('utf8', start, Math.min(end, start + 32)))} is not a STOMP command`)
      return false
    }
    this.command = command
    return true
  }

  /** Turns the scanned lines of buf (frame starting at `base`) into headers; false if they are invalid. */
  private parseHeaders(buf: Buffer, base: number): boolean {
    const marks = this.marks
    const lines = this.lineCount
    const unescape = this.sawBackslash && isEscaped(this.command, this.version)
    const headers: Header[] = []
    // Visible while parsing, so an error in a later header can still name the frame's receipt.
    this.headers = headers
    let contentLength = -1
    // Plain ASCII headers (the usual case) are decoded with one call and cut with string slices;
    // otherwise each name and value is decoded from UTF-8 on its own.
    const first = marks[1]! + 1
    const text = this.sawNonAscii ? '' : buf.latin1Slice(base + first, base + marks[2 * lines - 1]!)
    for (let k = 1; k < lines; k++) {
      const start = marks[2 * k - 1]! + 1
      const colon = marks[2 * k]!
      let end = marks[2 * k + 1]!
      if (buf[base + end - 1] === CR) end--
      if (colon === start) {
        this.fail('malformed-header', 'a header has an empty name')
        return false
      }
      let name: string
      let value: string
      if (this.sawNonAscii) {
        name = buf.utf8Slice(base + start, base + colon)
        value = buf.utf8Slice(base + colon + 1, base + end)
      } else {
        name = text.slice(start - first, colon - first)
        value = text.slice(colon + 1 - first, end - first)
      }
      if (unescape) {
        try {
          name = unescapeHeader(name, this.version)
          value = unescapeHeader(value, this.version)
        } catch (err) {
          this.failWith(err as StompError)
          return false
        }
      }
      if (contentLength < 0 && name === 'content-length') {
        contentLength = parseLength(value)
        if (contentLength < 0) {
          this.fail('invalid-content-length', `content-length ${JSON.stringify(value)} is not a byte count`)
          return false
        }
        if (this.bodyStart + contentLength + 1 > this.limits.maxFrameSize) {
          this.tooLarge()
          return false
        }
      }
      headers.push([name, value])
    }
    this.headers = headers
    this.contentLength = contentLength
    return true
  }

  private emit(body: Buffer): void {
    const frame: Frame = { command: this.command, headers: this.headers, body }
    // Not kept: an idle connection should not hold on to its last frame's headers.
    this.headers = NO_HEADERS
    this.pending = null
    this.pendingLength = 0
    this.phase = Phase.Idle
    this.sink.onFrame(frame)
  }

  /** Doubles the line marks; the header limit bounds them (the command line, then up to maxHeaders + 1 lines). */
  private growMarks(): Int32Array<ArrayBuffer> {
    const grown = new Int32Array(Math.min(2 * this.marks.length, 2 * (this.limits.maxHeaders + 2)))
    grown.set(this.marks)
    this.marks = grown
    return grown
  }

  private beginFrame(): void {
    this.phase = Phase.Headers
    this.headers = NO_HEADERS
    this.lineStart = 0
    this.lineCount = 0
    this.colon = -1
    this.prev = 0
    this.sawBackslash = false
    this.sawNonAscii = false
    this.contentLength = -1
  }

  /** Copies the unfinished frame buf[start, end) into `pending`. */
  private stash(buf: Buffer, start: number, end: number): void {
    const length = end - start
    const known = this.phase === Phase.Body && this.contentLength >= 0
    const capacity = known ? this.bodyStart + this.contentLength + 1 : Math.max(2 * length, 1024)
    this.pending = Buffer.allocUnsafe(Math.min(capacity, Math.max(this.limits.maxFrameSize, length)))
    buf.copy(this.pending, 0, start, end)
    this.pendingLength = length
  }

  private reserve(capacity: number): void {
    const pending = this.pending!
    if (pending.length >= capacity) return
    const grown = Buffer.allocUnsafe(capacity)
    pending.copy(grown, 0, 0, this.pendingLength)
    this.pending = grown
  }

  private append(buf: Buffer, start: number, end: number): void {
    const length = end - start
    if (length === 0) return
    const needed = this.pendingLength + length
    if (this.pending!.length < needed) this.reserve(Math.min(Math.max(needed, 2 * this.pending!.length), Math.max(this.limits.maxFrameSize, needed)))
    buf.copy(this.pending!, this.pendingLength, start, end)
    this.pendingLength = needed
  }

  private tooLarge(): -1 {
    return this.fail('frame-too-large', `a frame is larger than ${this.limits.maxFrameSize} bytes`)
  }

  private lineTooLong(): -1 {
    return this.fail('header-too-long', `a header line is longer than ${this.limits.maxHeaderLineLength} bytes`)
  }

  private mismatch(): -1 {
    return this.fail('content-length-mismatch', `no NUL byte after the ${this.contentLength} bytes that content-length announced`)
  }

  private fail(code: ErrorCode, detail: string): -1 {
    this.failWith(new StompError(code, detail))
    return -1
  }

  private failWith(error: StompError): void {
    if (this.failed) return
    const receipt = this.phase === Phase.Idle ? undefined : receiptOf(this.headers)
    this.stop()
    this.sink.onError(error, receipt)
  }
}

const NO_HEADERS: Header[] = []

function receiptOf(headers: readonly Header[]): string | undefined {
  for (const [name, value] of headers) if (name === 'receipt') return value
  return undefined
}

/** A content-length value: decimal digits only. -1 if invalid. */
function parseLength(value: string): number {
  const n = value.length
  if (n === 0 || n > 15) return -1
  let length = 0
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    length = length * 10 + d
  }
  return length
}
