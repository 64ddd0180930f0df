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
// Blocks are cut from a slab only when first needed, so pages nobody wrote are never resident.
// A slab nobody has rented from for a whole sweep is dropped; its memory returns once no view
// of it is left (the collector decides when).

/** Block sizes: every power of two from SMALLEST to LARGEST. A larger request gets its own Buffer. */
const SMALLEST = 1024
const LARGEST = 64 * 1024
const SLAB_BYTES = 32 * 1024 * 1024
/** How often empty slabs are looked for; one that stayed empty from one sweep to the next is dropped. */
const SWEEP_INTERVAL = 5000

class Slab {
  readonly bytes: Buffer
  /** Offsets of blocks handed back, reused before new ones are cut. */
  readonly free: number[] = []
  /** Where the next never-used block starts. */
  cut = 0
  /** Blocks out (rented, not yet handed back or forgotten). */
  rented = 0
  /** Empty at the last sweep: dropped at the next one if still empty. */
  idle = false

  constructor() {
    this.bytes = Buffer.allocUnsafeSlow(SLAB_BYTES)
  }

  get full(): boolean {
    return this.free.length === 0 && this.cut === SLAB_BYTES
  }
}

export interface ChunkPoolStats {
  /** Bytes of slabs the pool holds (mapped, not all necessarily resident). */
  slabBytes: number
  /** Bytes of blocks rented out. */
  rentedBytes: number
}

export class ChunkPool {
  /** Slabs per block size, oldest first: rent from the oldest so that newer ones can empty out. */
  private readonly slabs: Slab[][] = []
  private sweeper: NodeJS.Timeout | null = null

  constructor() {
    for (let size = SMALLEST; size <= LARGEST; size *= 2) this.slabs.push([])
  }

  /** A chunk of at least `size` bytes: a pooled block when one is large enough, else a Buffer of its own. */
  rent(size: number): Buffer {
    if (size > LARGEST) return Buffer.allocUnsafe(size)
    const sizeClass = classOf(size)
    const blockSize = SMALLEST << sizeClass
    const slabs = this.slabs[sizeClass]!
    let slab: Slab | undefined
    for (let i = 0; i < slabs.length; i++) {
      if (!slabs[i]!.full) {
        slab = slabs[i]
        break
      }
    }
    if (slab === undefined) {
      slab = new Slab()
      slabs.push(slab)
      this.startSweeping()
    }
    let offset = slab.free.pop()
    if (offset === undefined) {
      offset = slab.cut
      slab.cut += blockSize
    }
    slab.rented++
    slab.idle = false
    return slab.bytes.subarray(offset, offset + blockSize)
  }

  /**
   * Takes a chunk back for reuse. Only once nothing will read it any more: the transport has
   * handed every byte of it to the kernel, and the caller keeps no view of it.
   */
  giveBack(chunk: Buffer): void {
    const slab = this.slabOf(chunk)
    if (slab === undefined) return
    slab.free.push(chunk.byteOffset - slab.bytes.byteOffset)
    slab.rented--
  }

  /**
   * A chunk that may still be read (its connection closed with writes pending): counted as no
   * longer rented, never reused. Its slab is dropped once everything else in it is back.
   */
  forget(chunk: Buffer): void {
    const slab = this.slabOf(chunk)
    if (slab !== undefined) slab.rented--
  }

  stats(): ChunkPoolStats {
    let slabBytes = 0
    let rentedBytes = 0
    for (let sizeClass = 0; sizeClass < this.slabs.length; sizeClass++) {
      for (const slab of this.slabs[sizeClass]!) {
        slabBytes += SLAB_BYTES
        rentedBytes += slab.rented * (SMALLEST << sizeClass)
      }
    }
    return { slabBytes, rentedBytes }
  }

  /** Drops every slab nobody rented from since the last sweep. Runs on a timer; public for specs. */
  sweep(): void {
    let remaining = 0
    for (const slabs of this.slabs) {
      for (let i = slabs.length - 1; i >= 0; i--) {
        const slab = slabs[i]!
        if (slab.rented > 0) continue
        if (slab.idle) slabs.splice(i, 1)
        else slab.idle = true
      }
      remaining += slabs.length
    }
    if (remaining === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
  }

  private slabOf(chunk: Buffer): Slab | undefined {
    if (chunk.length > LARGEST || chunk.length < SMALLEST) return undefined
    const slabs = this.slabs[classOf(chunk.length)]!
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
