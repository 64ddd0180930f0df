// What the "stompd secured" contender (scripts/bench/security.ts) runs with: an HS256 secret for
// --jwt-secret, a 50-rule ACL for --acl, and a JWT for every load client, each its own user.
//
// The ACL is written so that the rule the bench's clients need comes last: 49 rules for other
// users first (their own inbox queue and topic, some of them deny rules), then one rule for the
// role every bench token carries, granting the bench's destinations (`/topic/bench.#` and
// `/queue/bench.#`, where flow.ts puts every figure's destination). First match wins, so every
// SEND and SUBSCRIBE of the bench is decided by rule 50.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT } from 'jose'

/**
 * Tokens signed at start: one per client of the largest flow (fan-out ×1,000 and its publisher)
 * and one per CONNECT of the connect storm (2,000), so no two clients share a user.
 */
export const SECURED_CLIENTS = 2048
/** The role every bench token carries, and the ACL's last rule grants. */
export const BENCH_ROLE = 'bench'
/** Rules ahead of the bench's own: about users the bench never connects as. */
export const OTHER_RULES = 49

export interface Secured {
  /** stompd's flags: `--jwt-secret <file> --acl <file>`. */
  flags: string[]
  /** One token per load client (client n sends passcodes[n % length]). */
  passcodes: string[]
}

/** The ACL: OTHER_RULES rules for users `user-01` … `user-49`, then the bench's grant. */
export function aclRules(): object[] {
  const rules: object[] = []
  for (let i = 1; i <= OTHER_RULES; i++) {
    const user = `user-${String(i).padStart(2, '0')}`
    rules.push(i % 10 === 0
      // A few deny rules among them, as a real file has (someone kept off the shared topics).
      ? { user, deny: true, publish: ['/topic/#'], subscribe: ['/topic/#'] }
      : { user, publish: ['/queue/inbox.{user}', `/topic/${user}.#`], subscribe: ['/queue/inbox.{user}', `/topic/${user}.#`, '/topic/public.#'] })
  }
  rules.push({ role: BENCH_ROLE, publish: ['/topic/bench.#', '/queue/bench.#'], subscribe: ['/topic/bench.#', '/queue/bench.#'] })
  return rules
}

/** Writes the secret and the ACL into `dir` and signs SECURED_CLIENTS tokens (users bench-0000 …), valid 2 h. */
export async function prepareSecured(dir: string): Promise<Secured> {
  // Text, so no byte of it is a trailing newline stompd would drop (lib/auth/jwt.ts readSecret).
  const secret = randomBytes(32).toString('hex')
  const secretFile = join(dir, 'jwt-secret')
  const aclFile = join(dir, 'acl.json')
  writeFileSync(secretFile, secret, { mode: 0o600 })
  writeFileSync(aclFile, JSON.stringify({ rules: aclRules() }, null, 2))
  const key = new TextEncoder().encode(secret)
  const passcodes = await Promise.all(Array.from({ length: SECURED_CLIENTS }, (_, i) =>
    new SignJWT({ roles: [BENCH_ROLE] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`bench-${String(i).padStart(4, '0')}`)
      .setExpirationTime('2h')
      .sign(key)))
  return { flags: ['--jwt-secret', secretFile, '--acl', aclFile], passcodes }
}
