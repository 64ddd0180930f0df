// The door every CONNECT goes through when authentication is on: the failure throttle first,
// then the authenticators in order (the first that knows the client wins), then one log line
// for a refusal — with the address, never the passcode or token.
import type { Logger } from 'pino'
import type { Authenticator, Credentials, Principal } from './authenticator.js'
import { addressOf } from '../transport/connection.js'
import { FailureThrottle } from './throttle.js'

/** What check() answers a client no authenticator knows when anonymous clients are let in. */
export const ANONYMOUS: Principal = Object.freeze({ user: '', roles: [], expiresAt: 0 })

export class AuthGate {
  private readonly authenticators: readonly Authenticator[]
  /** A client no authenticator knows comes in as ANONYMOUS instead of being refused. */
  private readonly anonymousFallback: boolean
  private readonly throttle = new FailureThrottle()
  private readonly logger: Logger

  constructor(authenticators: readonly Authenticator[], logger: Logger, anonymousFallback = false) {
    this.authenticators = authenticators
    this.logger = logger
    this.anonymousFallback = anonymousFallback
  }

  /**
   * The principal the credentials prove; ANONYMOUS when none does and anonymous clients are let
   * in; else null (after a delay that grows with each failure from the same address).
   */
  async check(credentials: Credentials): Promise<Principal | null> {
    const address = addressOf(credentials.remote)
    const delay = this.throttle.delayFor(address)
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    let principal: Principal | null = null
    try {
      for (const authenticator of this.authenticators) {
        principal = await authenticator.authenticate(credentials)
        if (principal !== null) break
      }
    } catch (err) {
      // The check could not be made (a JWKS endpoint down): refused all the same, said once here.
      this.logger.error({ err, remote: credentials.remote }, 'authentication could not be checked')
      return null
    }
    if (principal === null && this.anonymousFallback) return ANONYMOUS
    if (principal === null) {
      this.throttle.failed(address)
      this.logger.warn({ remote: credentials.remote, transport: credentials.transport, login: credentials.login }, 'authentication failed')
      return null
    }
    this.throttle.succeeded(address)
    return principal
  }
}
