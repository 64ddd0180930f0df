// Buffer's own encoding methods, which Buffer#toString and Buffer#write dispatch to. The
// decoder and the outbox call them directly on the hot path, skipping the encoding lookup and
// argument checks of the public wrappers.
declare module 'node:buffer' {
  interface Buffer {
    utf8Slice(start: number, end: number): string
    latin1Slice(start: number, end: number): string
    /** Writes `text` as UTF-8 at `offset`, at most `length` bytes; returns the bytes written. */
    utf8Write(text: string, offset: number, length: number): number
  }
}
export {}
