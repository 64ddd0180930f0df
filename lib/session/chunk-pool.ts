// Where outboxes get their chunks: 1–64 KiB blocks cut from 32 MiB slabs, handed back when the
// transport is done with them and cut again for the next outbox.
//
// Why: a chunk allocated on its own is malloc'd. Under fan-out the broker allocates and frees
// hundreds of MB of such chunks, and glibc keeps the freed memory in its heap, spread between
// live allocations, so the process never gives it back (RSS stayed near its peak a minute after
// a burst). A slab is larger than glibc's mmap threshold can ever become (32 MiB on 64-bit), so
// it is always mapped on its own, and once the pool lets go of it and the collector frees it,
// its pages leave the process. Reusing blocks also spares the collector an ArrayBuffer per chunk.
//
// Blocks of every size are cut from the same slabs, and only when first needed, so pages nobody
// wrote are never resident and a light load needs one slab, not one per size: V8 counts each
// slab as external memory and collects garbage when that grows by 64 MiB, a pause of a few ms.
// A slab nobody has rented from for a whole sweep is dropped; its memory returns once no view of
// it is left (the collector decides when).

/** Block sizes: every power of two from SMALLEST to LARGEST. A larger request gets its own Buffer. */
const SMALLEST = 1024
const LARGEST = 64 * 1024
const SIZES = Math.log2(LARGEST / SMALLEST) + 1
const SLAB_BYTES = 32 * 1024 * 1024
/** How often empty slabs are looked for; one that stayed empty from one sweep to the next is dropped. */
const SWEEP_INTERVAL = 5000

/** Counts the block at `offset` of `slab` as rented and returns it. */
function lend(slab: Slab, offset: number, blockSize: number): Buffer {
  slab.rented++
  slab.rentedBytes += blockSize
  slab.idle = false
  return slab.bytes.subarray(offset, offset + blockSize)
}

class Slab {
  readonly bytes: Buffer
  /** Per block size, offsets of blocks handed back, reused before new ones are cut. */
  readonly free: number[][] = Array.from({ length: SIZES }, () => [])
  /** Where the next never-used block starts. */
  cut = 0
  /** Blocks out (rented, not yet handed back or forgotten). */
  rented = 0
  /** Bytes of the blocks out. */
  rentedBytes = 0
  /** Empty at the last sweep: dropped at the next one if still empty. */
  idle = false

  constructor() {
    this.bytes = Buffer.allocUnsafeSlow(SLAB_BYTES)
  }

  /** Offset of a free block of size class `sizeClass`, or -1 when this slab has none left. */
  take(sizeClass: number): number {
    const free = this.free[sizeClass]!
    if (free.length > 0) return free.pop()!
    const blockSize = SMALLEST << sizeClass
    // Blocks are aligned to their size, so every block of a class fits the slab's end exactly.
    const offset = Math.ceil(this.cut / blockSize) * blockSize
    if (offset + blockSize > SLAB_BYTES) return -1
    // The gap skipped for alignment becomes free blocks of the smaller sizes.
    this.freeGap(this.cut, offset)
    this.cut = offset + blockSize
    return offset
  }

  private freeGap(from: number, to: number): void {
    let at = from
    while (at < to) {
      // The largest aligned block that starts at `at` and fits before `to`.
      let sizeClass = SIZES - 1
      while (sizeClass > 0 && (at % (SMALLEST << sizeClass) !== 0 || at + (SMALLEST << sizeClass) > to)) sizeClass--
      this.free[sizeClass]!.push(at)
      at += SMALLEST << sizeClass
    }
  }
}

export interface ChunkPoolStats {
  /** Bytes of slabs the pool holds (mapped, not all necessarily resident). */
  slabBytes: number
  /** Bytes of blocks rented out. */
  rentedBytes: number
}

export class ChunkPool {
  /** Oldest first: rent from the oldest so that newer ones can empty out and be dropped. */
  private slabs: Slab[] = []
  private sweeper: NodeJS.Timeout | null = null

  /** A chunk of at least `size` bytes: a pooled block when one is large enough, else a Buffer of its own. */
  rent(size: number): Buffer {
    if (size > LARGEST) return Buffer.allocUnsafe(size)
    const sizeClass = classOf(size)
    const blockSize = SMALLEST << sizeClass
    for (const slab of this.slabs) {
      const offset = slab.take(sizeClass)
      if (offset >= 0) return lend(slab, offset, blockSize)
    }
    const slab = new Slab()
    this.slabs.push(slab)
    this.startSweeping()
    return lend(slab, slab.take(sizeClass), blockSize)
  }

  /**
   * Takes a chunk back for reuse. Only once nothing will read it any more: the transport has
   * handed every byte of it to the kernel, and the caller keeps no view of it.
   */
  giveBack(chunk: Buffer): void {
    const slab = this.slabOf(chunk)
    if (slab === undefined) return
    slab.free[classOf(chunk.length)]!.push(chunk.byteOffset - slab.bytes.byteOffset)
    slab.rented--
    slab.rentedBytes -= chunk.length
  }

  /**
   * A chunk that may still be read (its connection closed with writes pending): counted as no
   * longer rented, never reused. Its slab is dropped once everything else in it is back.
   */
  forget(chunk: Buffer): void {
    const slab = this.slabOf(chunk)
    if (slab === undefined) return
    slab.rented--
    slab.rentedBytes -= chunk.length
  }

  stats(): ChunkPoolStats {
    let rentedBytes = 0
    for (const slab of this.slabs) rentedBytes += slab.rentedBytes
    return { slabBytes: this.slabs.length * SLAB_BYTES, rentedBytes }
  }

  /** Drops every slab nobody rented from since the last sweep. Runs on a timer; public for specs. */
  sweep(): void {
    this.slabs = this.slabs.filter((slab) => {
      if (slab.rented > 0) return true
      if (slab.idle) return false
      slab.idle = true
      return true
    })
    if (this.slabs.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
  }

  private slabOf(chunk: Buffer): Slab | undefined {
    if (chunk.length > LARGEST || chunk.length < SMALLEST) return undefined
    const slabs = this.slabs
    for (let i = 0; i < slabs.length; i++) if (slabs[i]!.bytes.buffer === chunk.buffer) return slabs[i]
    // A Buffer of its own, or a block of a slab already dropped.
    return undefined
  }

  private startSweeping(): void {
    if (this.sweeper !== null) return
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL)
    this.sweeper.unref()
  }
}

/** Index of the smallest block size that holds `size` bytes (0 for 1 KiB, 6 for 64 KiB). */
function classOf(size: number): number {
  if (size <= SMALLEST) return 0
  return 32 - Math.clz32(size - 1) - 10
}

/** The process's pool: memory is the process's, whichever server in it uses it. */
export const chunkPool = new ChunkPool()
