// The headers that shape a stream: where a SUBSCRIBE starts reading (`offset`, RabbitMQ's
// `x-stream-offset`, or `since`), and the limits the first SEND or SUBSCRIBE declares
// (`x-max-length`, `x-max-length-bytes`, `x-max-age`).
import type { StreamLimits, StreamStart } from '../broker/stream.js'
import { StompError } from '../errors.js'
import { getHeader, type Frame } from '../frame/frame.js'

const AGE_UNITS: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }

/**
 * `offset`: first, last, next (the default), a number; RabbitMQ's `x-stream-offset` also takes
 * `offset=<n>` and `timestamp=<unix seconds>`; `since`: the first entry appended at or after that
 * time, epoch ms.
 */
export function streamStart(frame: Frame): StreamStart | StompError {
  const since = getHeader(frame, 'since')
  if (since !== undefined) {
    if (!/^\d{1,16}$/.test(since)) return invalid('since', since, 'epoch milliseconds')
    return { from: 'time', at: Number(since) }
  }
  const value = getHeader(frame, 'offset') ?? getHeader(frame, 'x-stream-offset')
  if (value === undefined || value === 'next') return { from: 'next' }
  if (value === 'first' || value === 'last') return { from: value }
  const offset = /^(?:offset=)?(\d{1,16})$/.exec(value)
  if (offset !== null) return { from: 'offset', offset: Number(offset[1]) }
  const timestamp = /^timestamp=(\d{1,13})$/.exec(value)
  if (timestamp !== null) return { from: 'time', at: Number(timestamp[1]) * 1000 }
  return invalid('offset', value, 'first, last, next, an offset or timestamp=<unix seconds>')
}

/** Limits declared for a stream, by the headers present. */
export function streamLimits(frame: Frame): Partial<StreamLimits> | StompError {
  const limits: Partial<StreamLimits> = {}
  for (const [header, key] of [['x-max-length', 'maxLength'], ['x-max-length-bytes', 'maxBytes']] as const) {
    const value = getHeader(frame, header)
    if (value === undefined) continue
    if (!/^\d{1,15}$/.test(value)) return invalid(header, value, 'a whole number')
    limits[key] = Number(value)
  }
  const age = getHeader(frame, 'x-max-age')
  if (age !== undefined) {
    // RabbitMQ's form (7D, 12h, 30m, 10s; Y and M too), or milliseconds.
    const match = /^(\d{1,12})([YMDhms]?)$/.exec(age)
    if (match === null) return invalid('x-max-age', age, 'a number and a unit (Y, M, D, h, m, s), or milliseconds')
    limits.maxAgeMs = Number(match[1]) * (match[2] === '' ? 1 : AGE_UNITS[match[2]!]!)
  }
  return limits
}

function invalid(header: string, value: string, expected: string): StompError {
  return new StompError('invalid-header', `${header} must be ${expected}, not ${JSON.stringify(value)}`)
}
