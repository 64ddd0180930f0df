// Buffer's own decoding methods, which Buffer#toString dispatches to. Calling them directly
// skips the encoding lookup and argument checks on the decoder's hot path.
declare module 'node:buffer' {
  interface Buffer {
    utf8Slice(start: number, end: number): string
    latin1Slice(start: number, end: number): string
  }
}
export {}
