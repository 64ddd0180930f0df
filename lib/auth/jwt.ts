// JWT authentication: a CONNECT's bearer token (or its passcode) checked against one key source —
// an HS256 secret file (hs256.ts), a PEM public key or certificate, or a remote JWKS (jose). A token
// that does not prove a user resolves null; only a JWKS that cannot be fetched rejects, so the
// gate can log why nobody gets in.
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose'
import type { Authenticator, Credentials, Principal } from './authenticator.js'
import { verifyHs256, type Hs256Claims } from './hs256.js'

/** Where the verification key comes from (exactly one of the three) and which claims must match. */
export interface JwtOptions {
  /** A file holding the HS256 secret; its bytes, less one trailing newline, are the key. */
  secretFile?: string
  /** A PEM file with an SPKI public key (`PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`) or an X.509 certificate. */
  publicKeyFile?: string
  /** An http(s) URL serving a JSON Web Key Set (an identity provider's `jwks_uri`). */
  jwksUrl?: string
  /** When set, the token's `iss` must equal it. */
  issuer?: string
  /** When set, the token's `aud` must be or contain it. */
  audience?: string
}

/** How the remote JWKS is cached; the defaults suit production, specs shorten them. */
export interface JwksTuning {
  /**
   * After a fetch, a token naming a `kid` the cached set does not hold is refused without
   * fetching again for this long: a stream of tokens with made-up `kid`s then costs the identity
   * provider at most one request per period. A real rotation is still picked up at once when the
   * last fetch is older than this — the usual case, fetches being rare. Default 10 s.
   */
  cooldownMs?: number
  /** Keys are refetched (before the next check) once the cached set is this old, so a removed key stops working. Default 10 min. */
  cacheMaxAgeMs?: number
  /** One fetch is abandoned after this long, and the check rejects. Default 5 s. */
  timeoutMs?: number
}

/** The check could not be made: the JWKS endpoint did not answer with a usable key set. */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError'
  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
  }
}

/** Leeway for `exp` and `nbf` against clock skew between the token issuer and us. */
const CLOCK_TOLERANCE_S = 5
const DEFAULT_JWKS_COOLDOWN_MS = 10_000
const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 600_000
const DEFAULT_JWKS_TIMEOUT_MS = 5_000
/** What an identity provider's JWKS may sign with. Never `none`, never an HMAC: a JWKS holds public keys. */
const JWKS_ALGORITHMS: readonly string[] = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519']
/** RFC 7518 §3.3: RSA keys below 2048 bits are refused (jose would refuse them at every check). */
const MIN_RSA_BITS = 2048

/** An HS256 secret's bytes (checked by hs256.ts), a public key, or a JWKS resolver (checked by jose). */
type VerificationKey = Buffer | KeyObject | JWTVerifyGetKey

export class JwtAuthenticator implements Authenticator {
  private readonly key: VerificationKey
  private readonly verifyOptions: JWTVerifyOptions
  private readonly hs256Claims: Hs256Claims

  private constructor(key: VerificationKey, algorithms: readonly string[], options: JwtOptions) {
    this.key = key
    const verifyOptions: JWTVerifyOptions = {
      // An explicit allowlist, so a token cannot pick `none`, or HS256 keyed with our public key.
      algorithms: [...algorithms],
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['sub'],
    }
    if (options.issuer !== undefined) verifyOptions.issuer = options.issuer
    if (options.audience !== undefined) verifyOptions.audience = options.audience
    this.verifyOptions = verifyOptions
    this.hs256Claims = { issuer: options.issuer, audience: options.audience, clockTolerance: CLOCK_TOLERANCE_S }
  }

  /** Validates the options and reads the key file (once); throws a readable Error for a bad configuration. */
  static async create(options: JwtOptions, tuning: JwksTuning = {}): Promise<JwtAuthenticator> {
    const sources = (['secretFile', 'publicKeyFile', 'jwksUrl'] as const).filter((name) => options[name] !== undefined)
    if (sources.length !== 1) {
      throw new Error(
        sources.length === 0
          ? 'jwt: one of secretFile, publicKeyFile or jwksUrl is required'
          : `jwt: give only one of secretFile, publicKeyFile or jwksUrl (got ${sources.join(', ')})`,
      )
    }
    for (const name of ['secretFile', 'publicKeyFile', 'jwksUrl', 'issuer', 'audience'] as const) {
      const value: unknown = options[name]
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw new Error(`jwt: ${name} must be a non-empty string`)
      }
    }
    if (options.secretFile !== undefined) {
      return new JwtAuthenticator(await readSecret(options.secretFile), ['HS256'], options)
    }
    if (options.publicKeyFile !== undefined) {
      const key = await readPublicKey(options.publicKeyFile)
      return new JwtAuthenticator(key, algorithmsFor(key, options.publicKeyFile), options)
    }
    return new JwtAuthenticator(remoteKeySet(options.jwksUrl as string, tuning), JWKS_ALGORITHMS, options)
  }

  async authenticate(credentials: Credentials): Promise<Principal | null> {
    const token = credentials.bearer !== '' ? credentials.bearer : credentials.passcode
    if (token === '') return null
    let payload: Record<string, unknown>
    if (Buffer.isBuffer(this.key)) {
      const verified = verifyHs256(token, this.key, this.hs256Claims)
      if (verified === null) return null
      payload = verified
    } else try {
      const key = this.key
      // Two calls only because jwtVerify's overloads split a static key from a key resolver.
      const result = typeof key === 'function' ? await jwtVerify(token, key, this.verifyOptions) : await jwtVerify(token, key, this.verifyOptions)
      payload = result.payload
    } catch (err) {
      if (err instanceof JwksUnavailableError) throw err
      // Bad signature, expired, not yet valid, wrong iss/aud, malformed, alg not allowed, no sub,
      // unknown kid: all the same answer, so the client learns nothing about which.
      if (err instanceof errors.JOSEError) return null
      throw err
    }
    const sub = payload.sub
    if (typeof sub !== 'string' || sub === '') return null
    const exp = payload.exp
    return {
      user: sub,
      roles: rolesOf(payload.roles),
      // jose has checked that a present `exp` is a number.
      expiresAt: typeof exp === 'number' ? exp * 1000 : 0,
    }
  }
}

/**
 * The token of an HTTP `Authorization: Bearer <token>` value (RFC 6750 §2.1; the scheme is
 * case-insensitive), or '' for anything else.
 */
export function tokenFromAuthorization(value: string | undefined): string {
  if (value === undefined) return ''
  const match = /^[ \t]*bearer[ \t]+([^\s]+)[ \t]*$/i.exec(value)
  return match === null ? '' : (match[1] as string)
}

/** The `roles` claim's strings; anything that is not an array gives no roles, and non-strings in it are skipped. */
function rolesOf(claim: unknown): string[] {
  if (!Array.isArray(claim)) return []
  const roles: string[] = []
  for (const role of claim) if (typeof role === 'string' && role !== '') roles.push(role)
  return roles
}

async function readSecret(path: string): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new Error(`jwt: cannot read secretFile ${path}: ${(err as Error).message}`, { cause: err })
  }
  // Editors and `echo` end a file with a newline that is not part of the secret.
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === 0x0a) end--
  if (end > 0 && bytes[end - 1] === 0x0d && end === bytes.length - 1) end--
  if (end === 0) throw new Error(`jwt: secretFile ${path} is empty`)
  return Buffer.from(bytes.subarray(0, end))
}

async function readPublicKey(path: string): Promise<KeyObject> {
  let pem: string
  try {
    pem = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`jwt: cannot read publicKeyFile ${path}: ${(err as Error).message}`, { cause: err })
  }
  // A private key would work (Node derives the public half) but has no business on the broker.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error(`jwt: publicKeyFile ${path} holds a private key; give the public key or certificate instead`)
  }
  try {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(pem).publicKey
    return createPublicKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new Error(`jwt: publicKeyFile ${path} is not a PEM public key or certificate: ${(err as Error).message}`, { cause: err })
  }
}

/** The algorithms a public key can verify, from its type: a token's `alg` must be one of them. */
function algorithmsFor(key: KeyObject, path: string): string[] {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails
  if (type === 'rsa') {
    const bits = details?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) throw new Error(`jwt: publicKeyFile ${path} is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`)
    return ['RS256', 'PS256']
  }
  if (type === 'ec') {
    switch (details?.namedCurve) {
      case 'prime256v1': return ['ES256']
      case 'secp384r1': return ['ES384']
      case 'secp521r1': return ['ES512']
    }
    throw new Error(`jwt: publicKeyFile ${path} is an EC key on curve ${details?.namedCurve ?? '?'}; P-256, P-384 or P-521 is required`)
  }
  // RFC 8037 `EdDSA`, and RFC 9864's fully-specified name for the same thing.
  if (type === 'ed25519') return ['EdDSA', 'Ed25519']
  throw new Error(`jwt: publicKeyFile ${path} is a ${type ?? 'unknown'} key; RSA, EC (P-256/384/521) or Ed25519 is required`)
}

/**
 * A key resolver over jose's remote JWKS, which caches the set and refetches it for an unknown
 * `kid` (outside the cooldown) or once it is older than its maximum age. A token the set has no
 * key for stays a token problem (null); anything else the resolver throws — a refused connection,
 * a timeout, a non-200 answer, a body that is not a key set — means the check could not be made.
 */
function remoteKeySet(url: string, tuning: JwksTuning): JWTVerifyGetKey {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new Error(`jwt: jwksUrl ${url} is not a URL`, { cause: err })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`jwt: jwksUrl ${url} must be an http or https URL`)
  }
  const remote = createRemoteJWKSet(parsed, {
    cooldownDuration: tuning.cooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS,
    cacheMaxAge: tuning.cacheMaxAgeMs ?? DEFAULT_JWKS_CACHE_MAX_AGE_MS,
    timeoutDuration: tuning.timeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS,
  })
  // For the log line: never the query string or user info, which may carry credentials.
  const where = `${parsed.origin}${parsed.pathname}`
  return async (protectedHeader, token) => {
    try {
      return await remote(protectedHeader, token)
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err
      const reason = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err)
      throw new JwksUnavailableError(`jwt: the JWKS at ${where} could not be fetched: ${reason}`, { cause: err })
    }
  }
}
