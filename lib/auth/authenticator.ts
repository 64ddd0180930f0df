// Who is connecting: one interface for every way stompd can check credentials (a users file,
// JWTs, an embedder's hook), and the principal a session acts as once it passed.
import type { TransportKind } from '../transport/connection.js'

/** The authenticated user a session acts as. */
export interface Principal {
  /** The user name: the users file's key, a JWT's `sub`, a client certificate's CN, or what a hook returns. */
  readonly user: string
  readonly roles: readonly string[]
  /** Epoch ms after which the credentials are no longer valid (a JWT's `exp`); 0 = never. */
  readonly expiresAt: number
}

/** What a client presented. Every field may be empty; an authenticator reads the ones it knows. */
export interface Credentials {
  /** CONNECT's `login`. */
  readonly login: string
  /** CONNECT's `passcode`: a password, or a token. */
  readonly passcode: string
  /** A bearer token from CONNECT's `Authorization: Bearer …` header or the WebSocket URL's `access_token`. */
  readonly bearer: string
  /** The CN of a verified TLS client certificate, '' without one. */
  readonly certificateName: string
  /** Where the client connects from, for logs and throttling: `host:port`. */
  readonly remote: string
  readonly transport: TransportKind
}

/**
 * Checks credentials. Resolves with the principal, or null when they are not good: unknown user,
 * wrong passcode, bad signature, expired token — one answer for all, so the client learns
 * nothing about which. Rejects only when the check itself could not be made (a JWKS endpoint
 * down): the session then refuses the connection the same way, and the reason is logged.
 */
export interface Authenticator {
  authenticate(credentials: Credentials): Promise<Principal | null>
}
