// The Frame type, STOMP commands and versions, and header escaping per version.
import { StompError } from '../errors.js'

export const CLIENT_COMMANDS = [
  'CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK',
  'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT',
] as const
export const SERVER_COMMANDS = ['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR'] as const

export type ClientCommand = (typeof CLIENT_COMMANDS)[number]
export type ServerCommand = (typeof SERVER_COMMANDS)[number]
export type Command = ClientCommand | ServerCommand

export type StompVersion = '1.0' | '1.1' | '1.2'
export const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2']

/** One header line. Order is kept; a repeated name keeps every occurrence, and lookups take the first. */
export type Header = [name: string, value: string]

export interface Frame {
  command: Command
  headers: Header[]
  body: Buffer
}

export const EMPTY_BODY: Buffer = Buffer.alloc(0)

export function createFrame(command: Command, headers: Header[] = [], body: Buffer = EMPTY_BODY): Frame {
  return { command, headers, body }
}

/** STOMP 1.2: "If a client or a server receives repeated frame header entries, only the first header entry SHOULD be used". */
export function getHeader(frame: Frame, name: string): string | undefined {
  const headers = frame.headers
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]![0] === name) return headers[i]![1]
  }
  return undefined
}

/** CONNECT, STOMP and CONNECTED headers are never escaped, whatever the version. */
export function isEscaped(command: Command, version: StompVersion): boolean {
  return version !== '1.0' && command !== 'CONNECT' && command !== 'STOMP' && command !== 'CONNECTED'
}

const NEEDS_ESCAPE_11 = /[\\\n:]/
const NEEDS_ESCAPE_12 = /[\\\r\n:]/

/** Escapes a header name or value for the given version (1.1: `\\ \n \c`; 1.2 adds `\r`; 1.0: none). */
export function escapeHeader(value: string, version: StompVersion): string {
  if (version === '1.0') return value
  const is12 = version === '1.2'
  if (!(is12 ? NEEDS_ESCAPE_12 : NEEDS_ESCAPE_11).test(value)) return value
  let out = ''
  let from = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    let escaped: string
    if (c === 0x5c) escaped = '\\\\'
    else if (c === 0x0a) escaped = '\\n'
    else if (c === 0x3a) escaped = '\\c'
    else if (c === 0x0d && is12) escaped = '\\r'
    else continue
    out += value.slice(from, i) + escaped
    from = i + 1
  }
  return out + value.slice(from)
}

/**
 * Reverses escapeHeader. An escape the version does not define (`\t`, or `\r` in 1.1)
 * is a protocol error: STOMP 1.2 says such sequences MUST be treated as fatal.
 */
export function unescapeHeader(value: string, version: StompVersion): string {
  let i = value.indexOf('\\')
  if (i < 0 || version === '1.0') return value
  let out = value.slice(0, i)
  const n = value.length
  while (i < n) {
    const c = value.charCodeAt(i)
    if (c !== 0x5c) {
      const next = value.indexOf('\\', i)
      const end = next < 0 ? n : next
      out += value.slice(i, end)
      i = end
      continue
    }
    const e = i + 1 < n ? value.charCodeAt(i + 1) : -1
    if (e === 0x5c) out += '\\'
    else if (e === 0x6e) out += '\n'
    else if (e === 0x63) out += ':'
    else if (e === 0x72 && version === '1.2') out += '\r'
    else {
      const seq = e < 0 ? '\\ at end of header' : JSON.stringify('\\' + value[i + 1])
      throw new StompError('invalid-escape', `undefined escape sequence ${seq} in STOMP ${version} header`)
    }
    i += 2
  }
  return out
}
