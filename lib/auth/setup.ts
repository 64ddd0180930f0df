// Builds what the configuration asks for: the authenticators (users file, JWT, an embedder's
// hook), in that order, behind one AuthGate; none configured means anonymous access.
import type { Logger } from 'pino'
import type { StompdConfig } from '../config.js'
import type { Authenticator, Credentials, Principal } from './authenticator.js'
import { AuthGate } from './gate.js'
import { JwtAuthenticator } from './jwt.js'
import { UsersFileAuthenticator } from './users.js'

/** What an embedder's `authenticate` hook may answer: a user (with roles), or no. */
export interface HookPrincipal {
  user: string
  roles?: readonly string[]
  /** Epoch ms when the session must end; 0 or absent = never. */
  expiresAt?: number
}

/** createServer({ authenticate }): checks a CONNECT's login and passcode the embedder's way. */
export type AuthenticateHook = (login: string, passcode: string, info: Omit<Credentials, 'login' | 'passcode'>) =>
  Promise<HookPrincipal | null | false | undefined>

export interface AuthSetup {
  /** null: authentication is off. */
  gate: AuthGate | null
  /** The users file, for SIGHUP to re-read; null without one. */
  users: UsersFileAuthenticator | null
}

/**
 * `certificates`: whether TLS client certificates are asked for, so that a verified one's CN can
 * name the user. `required` makes them a way in like any other: a client with none needs other
 * credentials. `optional` only names the holder: without other authentication configured, a
 * client with no certificate still comes in, anonymous.
 */
export async function setUpAuth(config: StompdConfig, hook: AuthenticateHook | undefined, logger: Logger,
  certificates: 'none' | 'optional' | 'required' = 'none'): Promise<AuthSetup> {
  const authenticators: Authenticator[] = []
  const users = config.users === '' ? null : new UsersFileAuthenticator(config.users)
  if (users !== null) authenticators.push(users)
  if (config.jwtSecret !== '' || config.jwtPublicKey !== '' || config.jwtJwks !== '') {
    authenticators.push(await JwtAuthenticator.create({
      secretFile: config.jwtSecret || undefined,
      publicKeyFile: config.jwtPublicKey || undefined,
      jwksUrl: config.jwtJwks || undefined,
      issuer: config.jwtIssuer || undefined,
      audience: config.jwtAudience || undefined,
    }))
  }
  if (hook !== undefined) authenticators.push(hookAuthenticator(hook))
  const anonymous = authenticators.length === 0
  // Last: credentials given in CONNECT speak first; a certificate alone still names its holder.
  if (certificates !== 'none') authenticators.push(CERTIFICATE_AUTHENTICATOR)
  if (anonymous && certificates === 'optional') {
    logger.warn('authentication is off for clients without a certificate: they may connect, publish and subscribe anonymously (configure --users or --jwt-*)')
    return { gate: new AuthGate(authenticators, logger, true), users: null }
  }
  if (authenticators.length === 0) {
    logger.warn('authentication is off: anyone who reaches the broker may connect, publish and subscribe (configure --users, --jwt-secret, --jwt-public-key or --jwt-jwks)')
    return { gate: null, users: null }
  }
  return { gate: new AuthGate(authenticators, logger), users }
}

/** The CN of a client certificate that verified against --tls-ca is the user, with no roles. */
const CERTIFICATE_AUTHENTICATOR: Authenticator = {
  async authenticate(credentials: Credentials): Promise<Principal | null> {
    return credentials.certificateName === '' ? null : { user: credentials.certificateName, roles: [], expiresAt: 0 }
  },
}

function hookAuthenticator(hook: AuthenticateHook): Authenticator {
  return {
    async authenticate(credentials: Credentials): Promise<Principal | null> {
      const { login, passcode, ...info } = credentials
      const answer = await hook(login, passcode, info)
      if (answer === null || answer === false || answer === undefined || typeof answer.user !== 'string' || answer.user === '') return null
      return { user: answer.user, roles: answer.roles ?? [], expiresAt: answer.expiresAt ?? 0 }
    },
  }
}
