// `stompd passwd FILE USER [--role ROLE]...`: sets a user's passcode hash in the users file,
// creating the file if needed. The passcode comes from stdin, never from argv, where `ps` and
// shell history would show it.
import { randomBytes } from 'node:crypto'
import { chmod, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { hashPasscode, validateUsers } from './users.js'

export interface PasswdIO {
  readonly stdin: NodeJS.ReadableStream
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  /** Whether stdin is a terminal: then prompt twice without echo, else read the passcode from it. */
  readonly isTTY: boolean
}

/** An expected failure: reported as one line, exit code 2. */
class PasswdError extends Error {}

const USAGE = 'usage: stompd passwd FILE USER [--role ROLE]...'
// Piped input is one passcode; a cap stops `stompd passwd f u < some-big-file` from hashing megabytes.
const MAX_PASSCODE_BYTES = 64 * 1024

/**
 * Runs `stompd passwd` with the arguments after `passwd` and resolves with the exit code:
 * 0 when the passcode was set, 2 on any error (one line on stderr).
 */
export async function runPasswd(argv: string[], io: PasswdIO): Promise<number> {
  try {
    const { file, user, roles } = parseCommandLine(argv)
    // The file is read before the passcode is asked for, so a broken file is reported before anyone types.
    const doc = await readDocument(file)
    const existing = Object.hasOwn(doc.users, user) ? (doc.users[user] as Record<string, unknown>) : undefined
    const passcode = io.isTTY ? await promptTwice(user, io) : await readAll(io.stdin)
    if (passcode === '') throw new PasswdError('empty passcode, nothing changed')
    const hash = await hashPasscode(passcode)
    // No --role keeps the roles the user has (validated by readDocument); a new user gets none.
    const entry = { ...existing, passcode: hash, roles: roles ?? existing?.roles ?? [] }
    // defineProperty, not assignment: a user named `__proto__` must become a key, not a prototype.
    Object.defineProperty(doc.users, user, { value: entry, enumerable: true, writable: true, configurable: true })
    await writeAtomically(file, `${JSON.stringify(doc.raw, null, 2)}\n`)
    io.stdout.write(`stompd: ${user}'s passcode set in ${file}\n`)
    return 0
  } catch (err) {
    // One line whatever went wrong: a usage slip, a bad users file (validateUsers' message names
    // the file and the user), an I/O error.
    const message = err instanceof Error ? err.message : String(err)
    io.stderr.write(`stompd passwd: ${message.replace(/\s*\n\s*/g, ' ')}\n`)
    return 2
  }
}

function parseCommandLine(argv: string[]): { file: string; user: string; roles: string[] | undefined } {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { role: { type: 'string', multiple: true } }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new PasswdError(`${(err as Error).message} (${USAGE})`)
  }
  const [file, user, ...extra] = parsed.positionals
  if (file === undefined || user === undefined || extra.length > 0) throw new PasswdError(`expected FILE and USER (${USAGE})`)
  if (file === '') throw new PasswdError('empty FILE')
  if (user === '') throw new PasswdError('empty USER')
  const roles = parsed.values.role
  if (roles?.some((role) => role === '')) throw new PasswdError('empty --role')
  // A role given twice is held once.
  return { file, user, roles: roles === undefined ? undefined : [...new Set(roles)] }
}

interface UsersDocument {
  /** The whole parsed file, written back as it was but for the one user: other keys and fields survive. */
  readonly raw: Record<string, unknown>
  readonly users: Record<string, unknown>
}

/** The users file, validated; `{ "users": {} }` when it does not exist yet. */
async function readDocument(file: string): Promise<UsersDocument> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const users = {}
      return { raw: { users }, users }
    }
    throw new PasswdError(`users file ${file}: cannot read it (${(err as Error).message})`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new PasswdError(`users file ${file}: not valid JSON (${(err as Error).message})`)
  }
  // Refuses what the broker would refuse at start, so passwd never writes a file stompd cannot load.
  validateUsers(raw, file)
  const doc = raw as Record<string, unknown>
  return { raw: doc, users: doc.users as Record<string, unknown> }
}

/** The whole of a piped stdin, less one trailing newline (`echo secret |` adds it). */
async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    size += buffer.length
    if (size > MAX_PASSCODE_BYTES) throw new PasswdError(`passcode on stdin longer than ${MAX_PASSCODE_BYTES} bytes`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** Asks on the terminal twice, without echo; both answers must match. */
async function promptTwice(user: string, io: PasswdIO): Promise<string> {
  // readline echoes what is typed through `output` (the terminal is in raw mode): muting that
  // stream while an answer is typed hides it, and leaves the prompt itself visible.
  let muted = false
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) io.stdout.write(chunk)
      done()
    },
  })
  const rl = createInterface({ input: io.stdin, output, terminal: true, historySize: 0 })
  // Ctrl-C closes the prompt (readline would otherwise only pause, and leave us waiting).
  rl.on('SIGINT', () => rl.close())
  try {
    const ask = async (prompt: string): Promise<string> => {
      const answer = question(rl, prompt, () => (muted = true))
      try {
        return await answer
      } finally {
        muted = false
        io.stdout.write('\n')
      }
    }
    const first = await ask(`Passcode for ${user}: `)
    if (first === '') return first
    const second = await ask(`Passcode for ${user}: `)
    if (first !== second) throw new PasswdError('the passcodes do not match, nothing changed')
    return first
  } finally {
    rl.close()
  }
}

/** rl.question as a promise that rejects when the input ends or Ctrl-C is pressed; `asked` runs once the prompt is out. */
function question(rl: Interface, prompt: string, asked: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new PasswdError('no passcode entered, nothing changed'))
    rl.once('close', onClose)
    rl.question(prompt, (answer) => {
      rl.off('close', onClose)
      resolve(answer)
    })
    asked()
  })
}

/**
 * Replaces the file's content all at once: a temp file beside it, flushed, then renamed over it,
 * so a broker reloading on SIGHUP (or a crash mid-write) never sees half a file.
 */
async function writeAtomically(file: string, content: string): Promise<void> {
  // Through a symlink, the file it points at is replaced, and the link kept.
  let target = file
  // A new file holds hashes only its owner should read; an existing one keeps the mode it was given.
  let mode = 0o600
  try {
    target = await realpath(file)
    mode = (await stat(target)).mode & 0o777
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(content)
      await handle.sync()
    } finally {
      await handle.close()
    }
    // open()'s mode passes through the umask; the mode wanted is exact.
    await chmod(temp, mode)
    await rename(temp, target)
  } catch (err) {
    // The temp file may never have been created; the error worth reporting is the first one.
    await unlink(temp).catch(() => undefined)
    throw new PasswdError(`cannot write ${file} (${(err as Error).message})`)
  }
}
