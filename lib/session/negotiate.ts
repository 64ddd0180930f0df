// CONNECT negotiation: the protocol version and the heart-beat intervals.
import { StompError } from '../errors.js'
import type { StompVersion } from '../frame/frame.js'

const SUPPORTED: readonly StompVersion[] = ['1.2', '1.1', '1.0']

/**
 * The highest version both sides speak. No `accept-version` header means a STOMP 1.0
 * client; a list with nothing in common is null (the caller answers ERROR with a
 * `version` header listing ours).
 */
export function negotiateVersion(acceptVersion: string | undefined): StompVersion | null {
  if (acceptVersion === undefined) return '1.0'
  const offered = new Set(acceptVersion.split(',').map((v) => v.trim()))
  for (const version of SUPPORTED) if (offered.has(version)) return version
  return null
}

export const SUPPORTED_VERSIONS_HEADER = '1.0,1.1,1.2'

export interface HeartBeat {
  /** Milliseconds between the server's heart-beats to the client; 0 = none. */
  send: number
  /** Milliseconds within which the client must send something; 0 = not enforced. */
  receive: number
}

/**
 * STOMP 1.1+: the client's `heart-beat: cx,cy` (cx = it can send every cx ms, cy = it wants
 * one every cy ms) against the server's own `sx,sy`. Each direction runs at the larger of the
 * two values, or not at all when either side says 0.
 */
export function negotiateHeartBeat(header: string | undefined, server: readonly [number, number]): HeartBeat | StompError {
  if (header === undefined) return { send: 0, receive: 0 }
  const match = /^\s*(\d{1,10})\s*,\s*(\d{1,10})\s*$/.exec(header)
  if (match === null) return new StompError('invalid-header', `heart-beat ${JSON.stringify(header)} is not two comma-separated numbers of milliseconds`)
  const clientSends = Number(match[1])
  const clientWants = Number(match[2])
  const [serverSends, serverWants] = server
  return {
    send: clientWants > 0 && serverSends > 0 ? Math.max(clientWants, serverSends) : 0,
    receive: clientSends > 0 && serverWants > 0 ? Math.max(clientSends, serverWants) : 0,
  }
}
