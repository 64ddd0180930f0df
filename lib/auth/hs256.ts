// HS256 JWTs checked with node:crypto directly. jose verifies through WebCrypto, whose promise
// round trips cost ~70 µs per token against ~5 µs here; under a connect storm that was a quarter
// less connections a second (npm run bench -- security). The checks are jose's for this one
// algorithm: compact form, `alg` exactly HS256, no `crit`, a constant-time signature comparison,
// `exp` and `nbf` (with the clock tolerance), `iss`, `aud`, and `sub`.
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface Hs256Claims {
  issuer: string | undefined
  audience: string | undefined
  /** Seconds of leeway for `exp` and `nbf`. */
  clockTolerance: number
}

const SEGMENT = /^[A-Za-z0-9_-]+$/
const SIGNATURE_BYTES = 32

/** The verified payload, or null for any token that is not a valid HS256 JWT under `secret` and `claims`. */
export function verifyHs256(token: string, secret: Buffer, claims: Hs256Claims, now = Date.now()): Record<string, unknown> | null {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) return null
  const headerPart = token.slice(0, first)
  const payloadPart = token.slice(first + 1, second)
  const signaturePart = token.slice(second + 1)
  if (!SEGMENT.test(headerPart) || !SEGMENT.test(payloadPart) || !SEGMENT.test(signaturePart)) return null
  const header = jsonObject(headerPart)
  // `crit` names extensions a verifier must understand; this one understands none.
  if (header === null || header.alg !== 'HS256' || header.crit !== undefined) return null
  const signature = Buffer.from(signaturePart, 'base64url')
  if (signature.length !== SIGNATURE_BYTES) return null
  const expected = createHmac('sha256', secret).update(token.slice(0, second)).digest()
  if (!timingSafeEqual(signature, expected)) return null
  const payload = jsonObject(payloadPart)
  if (payload === null) return null
  const seconds = now / 1000
  const { exp, nbf, iat, iss, aud, sub } = payload
  if (exp !== undefined && (typeof exp !== 'number' || seconds >= exp + claims.clockTolerance)) return null
  if (nbf !== undefined && (typeof nbf !== 'number' || seconds < nbf - claims.clockTolerance)) return null
  if (iat !== undefined && typeof iat !== 'number') return null
  if (claims.issuer !== undefined && iss !== claims.issuer) return null
  if (claims.audience !== undefined && aud !== claims.audience && !(Array.isArray(aud) && aud.includes(claims.audience))) return null
  if (typeof sub !== 'string' || sub === '') return null
  return payload
}

function jsonObject(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null
  } catch {
    return null
  }
}
