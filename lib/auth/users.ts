// The users file (`--users FILE`): logins with scrypt passcode hashes and roles, read once at
// start and again on SIGHUP, and the Authenticator that checks CONNECT's login/passcode against it.
//
//   { "users": { "alice": { "passcode": "scrypt$16384$8$1$<salt>$<key>", "roles": ["admin"] } } }
//
// Hashes are written by `stompd passwd FILE USER` (passwd.ts); plain-text passcodes are refused.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Authenticator, Credentials, Principal } from './authenticator.js'

export interface UserEntry {
  /** `scrypt$N$r$p$<salt base64url>$<key base64url>` */
  readonly passcode: string
  readonly roles: readonly string[]
}

/** Login → entry. A Map, not an object, so a login named `__proto__` or `constructor` is just a name. */
export type UsersTable = ReadonlyMap<string, UserEntry>

// Node's defaults and the scrypt paper's figure for interactive logins: 16 MiB and tens of
// milliseconds per check, paid once per CONNECT.
const COST = { N: 16384, r: 8, p: 1 }
const SALT_BYTES = 16
const KEY_BYTES = 32
// Node's default maxmem (32 MiB) is too tight for N=2^15, r=8; 64 MiB leaves room for a file
// hashed with a higher cost. A hash needing more is refused when the file is read.
const MAX_MEM = 64 * 1024 * 1024

const BASE64URL = /^[A-Za-z0-9_-]+$/

interface ParsedHash {
  readonly options: ScryptOptions
  readonly salt: Buffer
  readonly key: Buffer
}

/** The parts of `scrypt$N$r$p$salt$key`, or null when it is not such a hash (or could not be verified within MAX_MEM). */
function parseHash(hash: string): ParsedHash | null {
  const parts = hash.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [, nText, rText, pText, saltText, keyText] = parts as [string, string, string, string, string, string]
  const N = positiveInt(nText)
  const r = positiveInt(rText)
  const p = positiveInt(pText)
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return null
  // OpenSSL's own bound: 128·r·(N + p + 2) bytes; checked here so such a hash fails at start, not at every CONNECT.
  if (128 * r * (N + p + 2) > MAX_MEM) return null
  if (!BASE64URL.test(saltText) || !BASE64URL.test(keyText)) return null
  const salt = Buffer.from(saltText, 'base64url')
  const key = Buffer.from(keyText, 'base64url')
  if (salt.length < 8 || key.length < 16) return null
  return { options: { N, r, p, maxmem: MAX_MEM }, salt, key }
}

/** A decimal integer without sign, leading zeros or exponent; 0 otherwise. */
function positiveInt(text: string): number {
  return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : 0
}

function deriveKey(passcode: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  // The async form runs on libuv's thread pool: ~50 ms of CPU must not stall every other connection.
  return new Promise((resolve, reject) => {
    scrypt(passcode, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** A new `scrypt$…` hash of the passcode, with a fresh random salt. */
export async function hashPasscode(passcode: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await deriveKey(passcode, salt, KEY_BYTES, { ...COST, maxmem: MAX_MEM })
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

/** Whether the passcode matches the hash. A malformed hash matches nothing. */
export async function verifyPasscode(passcode: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash)
  if (parsed === null) return false
  let key: Buffer
  try {
    key = await deriveKey(passcode, parsed.salt, parsed.key.length, parsed.options)
  } catch {
    // parseHash admitted the parameters, so this is not expected; a hash that cannot be
    // checked still must not let anyone in, and must not crash the session.
    return false
  }
  // Constant time, so the response time does not tell how many leading bytes were right.
  return timingSafeEqual(key, parsed.key)
}

/**
 * Validates the parsed users file and returns its table. Throws an Error naming the file and
 * the problem, for a start-up log line an operator can act on.
 */
export function validateUsers(data: unknown, file: string): UsersTable {
  const fail = (problem: string): never => {
    throw new Error(`users file ${file}: ${problem}`)
  }
  if (!isPlainObject(data)) return fail('expected a JSON object { "users": { ... } }')
  const users = data.users
  if (!isPlainObject(users)) return fail('expected a "users" object mapping each login to { "passcode", "roles" }')
  const table = new Map<string, UserEntry>()
  for (const [name, entry] of Object.entries(users)) {
    const who = `user ${JSON.stringify(name)}`
    if (name === '') fail('a user has an empty name')
    if (!isPlainObject(entry)) return fail(`${who} is not an object { "passcode", "roles" }`)
    const passcode = entry.passcode
    if (typeof passcode !== 'string' || passcode === '') return fail(`${who} has no passcode hash`)
    if (parseHash(passcode) === null) {
      fail(`${who} has a passcode that is not a scrypt hash (set it with: stompd passwd ${file} ${name})`)
    }
    // Roles may be left out: a user with none can connect but holds no role.
    const roles = entry.roles ?? []
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string' && role !== '')) {
      fail(`${who} has "roles" that is not a list of non-empty strings`)
    }
    table.set(name, { passcode, roles: Object.freeze([...(roles as string[])]) })
  }
  return table
}

/** Reads and validates the users file, synchronously: it runs at start and on SIGHUP, not per message. */
export function readUsersFile(file: string): UsersTable {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`users file ${file}: cannot read it (${(err as Error).message})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new Error(`users file ${file}: not valid JSON (${(err as Error).message})`)
  }
  return validateUsers(data, file)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// A valid hash of a passcode nobody knows, at the default cost: an unknown login is checked
// against it so that it takes as long as a known one and timing does not reveal who exists.
const DUMMY_HASH = 'scrypt$16384$8$1$n1n19IjUFKlIrVZvj1VDWg$bCbtUlu0-fX2pXkFZchRE3tpqdbMNaeHR7LMslYEs64'

/** Checks CONNECT's login and passcode against a users file. */
export class UsersFileAuthenticator implements Authenticator {
  private users: UsersTable

  /** Reads the file now: a missing or invalid users file must stop the start, not lock everyone out later. */
  constructor(readonly file: string) {
    this.users = readUsersFile(file)
  }

  /** Re-reads the file (SIGHUP). On a bad file the current users stay in force and the error is thrown for the caller to log. */
  reload(): void {
    this.users = readUsersFile(this.file)
  }

  async authenticate(credentials: Credentials): Promise<Principal | null> {
    const entry = this.users.get(credentials.login)
    // The same scrypt work whether the login exists or not.
    const ok = await verifyPasscode(credentials.passcode, entry?.passcode ?? DUMMY_HASH)
    if (entry === undefined || !ok) return null
    return { user: credentials.login, roles: entry.roles, expiresAt: 0 }
  }
}
