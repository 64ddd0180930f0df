// Protocol errors: one class, one table of stable codes. The session turns a
// StompError into an ERROR frame (`message` header = the short message, body =
// the detail) and closes the connection. Specs assert `code`, never the text.
//
// Where RabbitMQ's STOMP plugin has a text for the same error, the `message` header is RabbitMQ's
// (`Missing destination`, `Duplicated subscription identifier`, ...): clients and their tests
// written against it match on those words.

const MESSAGES = {
  // codec
  'frame-too-large': 'frame too large',
  'too-many-headers': 'too many headers',
  'header-too-long': 'header line too long',
  'unknown-command': 'unknown command',
  'malformed-header': 'malformed header',
  'invalid-escape': 'invalid header escape',
  'invalid-content-length': 'invalid content-length',
  'content-length-mismatch': 'content-length does not match body',
  // session
  'not-connected': 'not connected',
  'already-connected': 'already connected',
  'unsupported-version': 'Version mismatch',
  'missing-header': 'Missing header',
  'invalid-header': 'Invalid header',
  'duplicate-subscription': 'Duplicated subscription identifier',
  'unknown-subscription': 'unknown subscription',
  'too-many-subscriptions': 'too many subscriptions',
  'too-many-transactions': 'too many transactions',
  'transaction-too-large': 'transaction too large',
  'too-many-connections': 'too many connections',
  'too-many-connections-per-ip': 'too many connections from this address',
  'unknown-ack': 'unknown ack id',
  'unknown-transaction': 'unknown transaction',
  'duplicate-transaction': 'transaction already started',
  'connect-timeout': 'no CONNECT frame in time',
  'heartbeat-timeout': 'heart-beat timeout',
  'slow-consumer': 'slow consumer',
  'server-shutdown': 'server shutting down',
  'closed-by-administrator': 'closed by an administrator',
  'authentication-failed': 'authentication failed',
  'token-expired': 'token expired',
  'access-denied': 'access denied',
  // broker
  'unknown-destination': 'Unknown destination',
  'invalid-destination': 'Invalid destination',
  'not-found': 'not_found',
  'invalid-selector': 'invalid selector',
  'queue-full': 'queue full',
  'store-unavailable': 'store unavailable',
  'cluster-unavailable': 'cluster unavailable',
  'internal-error': 'internal error',
} as const

export type ErrorCode = keyof typeof MESSAGES

/**
 * Errors only a broken or hostile client makes — bytes that are not STOMP, and the limits —
 * as opposed to an application's mistakes (a missing header, an unknown destination). The
 * address they come from is slowed down (see SessionContext.offenders).
 */
export const OFFENCES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'frame-too-large', 'too-many-headers', 'header-too-long', 'unknown-command', 'malformed-header',
  'invalid-escape', 'invalid-content-length', 'content-length-mismatch',
  'too-many-subscriptions', 'too-many-transactions', 'transaction-too-large', 'connect-timeout', 'slow-consumer',
])

export class StompError extends Error {
  readonly code: ErrorCode
  /** Human-readable explanation, sent as the ERROR frame's body. */
  readonly detail: string

  /** `message` replaces the code's usual text where RabbitMQ words one case differently (`Missing destination`). */
  constructor(code: ErrorCode, detail?: string, message?: string) {
    super(message ?? MESSAGES[code])
    this.name = 'StompError'
    this.code = code
    this.detail = detail ?? MESSAGES[code]
  }
}

/** The one factory for protocol errors. */
export function stompError(code: ErrorCode, detail?: string): StompError {
  return new StompError(code, detail)
}

/** The short text for a code, as it appears in an ERROR frame's `message` header. */
export function errorMessage(code: ErrorCode): string {
  return MESSAGES[code]
}

export const ERROR_CODES = Object.keys(MESSAGES) as ErrorCode[]
