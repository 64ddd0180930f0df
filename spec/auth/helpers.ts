// Fixtures the authentication specs share: users files hashed as `stompd passwd` would, JWT keys
// made at test time (an HS256 secret file, an RS256 PEM public key file), signed and hand-built
// tokens, a pino logger whose lines a spec can read, and raw CONNECT attempts over either transport.
import { spawn } from 'node:child_process'
import { webcrypto } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignJWT, base64url, exportSPKI, generateKeyPair, generateSecret, type CryptoKey, type JWTPayload } from 'jose'
import pino, { type Logger } from 'pino'
import { hashPasscode } from '../../lib/auth/users.js'
import type { Header } from '../../lib/frame/frame.js'
import type { ListenAddresses } from '../../lib/server.js'
import { RawClient } from '../helpers/raw.js'
import type { Teardown } from '../helpers/server.js'

export type TransportName = 'tcp' | 'ws'
export const TRANSPORTS: readonly TransportName[] = ['tcp', 'ws']
export const NAMES: Record<TransportName, string> = { tcp: 'TCP', ws: 'WebSocket' }

export const NOW_S = (): number => Math.floor(Date.now() / 1000)

/** Writes a users file with a scrypt hash per passcode (as `stompd passwd` does); returns its path. */
export async function writeUsersFile(dir: string, users: Record<string, string>, name = 'users.json'): Promise<string> {
  const entries: Record<string, { passcode: string; roles: string[] }> = {}
  for (const [user, passcode] of Object.entries(users)) entries[user] = { passcode: await hashPasscode(passcode), roles: [] }
  const file = join(dir, name)
  writeFileSync(file, JSON.stringify({ users: entries }, null, 2))
  return file
}

export interface SigningKey {
  /** The file the broker is configured with (jwtSecret or jwtPublicKey). */
  file: string
  alg: 'HS256' | 'RS256'
  /** What tokens are signed with. */
  key: CryptoKey | Uint8Array
}

/** A fresh HS256 secret written (with a trailing newline, as `echo` writes it) to a file. */
export async function hsKey(dir: string, name = 'jwt-secret'): Promise<SigningKey> {
  let key: Uint8Array
  do {
    const secret = await generateSecret('HS256', { extractable: true })
    key = new Uint8Array(await webcrypto.subtle.exportKey('raw', secret as webcrypto.CryptoKey))
    // A key whose last byte is CR would lose it: the broker reads a file ending CR LF as a line
    // (1 key in 256; the spec failed now and then with "authentication failed" for a good token).
  } while (key[key.length - 1] === 0x0d)
  const file = join(dir, name)
  writeFileSync(file, Buffer.concat([key, Buffer.from('\n')]))
  return { file, alg: 'HS256', key }
}

/** A fresh RS256 key pair: the public half as a PEM (SPKI) file, the private half to sign with. */
export async function rsKey(dir: string, name = 'jwt-public.pem'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
  const file = join(dir, name)
  writeFileSync(file, await exportSPKI(publicKey))
  return { file, alg: 'RS256', key: privateKey }
}

/** A token signed with `key`; the claims go into the payload as given. */
export function sign(key: SigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: 'JWT' }).sign(key.key)
}

/** An unsecured token built by hand as an attacker would: `alg: none`, an empty signature. */
export function unsecured(claims: JWTPayload): string {
  const part = (value: object): string => base64url.encode(JSON.stringify(value))
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`
}

export interface CapturedLog {
  logger: Logger
  /** Every line written so far, as written. */
  text(): string
  /** Every line written so far, parsed. */
  lines(): Array<Record<string, unknown> & { level: number; msg?: string }>
}

/** A pino logger at `level` writing into memory. */
export function captureLog(level: pino.LevelWithSilent = 'info'): CapturedLog {
  const chunks: string[] = []
  const logger = pino({ level, base: { service: 'stompd' } }, { write: (line: string) => { chunks.push(line) } })
  return {
    logger,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown> & { level: number; msg?: string }),
  }
}

export const PINO_WARN = 40

/** CONNECT headers of a STOMP 1.2 client, plus `extra`. */
export function connectHeaders(extra: Header[] = []): Header[] {
  return [['accept-version', '1.2'], ['host', 'localhost'], ...extra]
}

/** A raw client over `transport` (WebSocket URL + `query`, e.g. `?access_token=…`) that has sent CONNECT with `headers`. */
export async function attempt(t: Teardown, addresses: ListenAddresses, transport: TransportName, extra: Header[] = [], query = ''): Promise<RawClient> {
  const client = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, `${addresses.ws}${query}`)
  client.frame('CONNECT', connectHeaders(extra))
  return client
}

const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `stompd ARGS` (the real CLI) with `input` piped to its stdin, to completion. */
export function runCli(t: Teardown, args: string[], input: string, timeoutMs = 20_000): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const closed = new Promise<CliResult>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return closed
  })
  child.stdin.end(input)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`stompd ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`))
    }, timeoutMs)
    void closed.then((result) => {
      clearTimeout(timer)
      resolve(result)
    })
  })
}
