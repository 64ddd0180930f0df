// The users file: scrypt hashes, the file's validation, the authenticator over it (with SIGHUP
// reload), and `stompd passwd`, which writes it.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import type { Credentials } from '../../lib/auth/authenticator.js'
import { runPasswd, type PasswdIO } from '../../lib/auth/passwd.js'
import { hashPasscode, readUsersFile, UsersFileAuthenticator, verifyPasscode } from '../../lib/auth/users.js'

function credentials(login: string, passcode: string): Credentials {
  return { login, passcode, bearer: '', certificateName: '', remote: '127.0.0.1:50000', transport: 'tcp' }
}

/** A users file written straight, without passwd. */
function writeUsers(file: string, users: Record<string, unknown>): void {
  writeFileSync(file, JSON.stringify({ users }))
}

/** Collects what a stream gets written. */
function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

/** Runs `stompd passwd ARGS` with INPUT piped to stdin. */
async function passwd(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = sink()
  const stderr = sink()
  const io: PasswdIO = { stdin: Readable.from([Buffer.from(input)]), stdout: stdout.stream, stderr: stderr.stream, isTTY: false }
  const code = await runPasswd(args, io)
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

t.test('a passcode hashes to a salted scrypt string that verifies', async (t) => {
  const hash = await hashPasscode('s3cret')
  t.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
  t.equal(await verifyPasscode('s3cret', hash), true)
  t.equal(await verifyPasscode('s3cret ', hash), false, 'a wrong passcode does not verify')
  t.equal(await verifyPasscode('', hash), false)
  t.not(await hashPasscode('s3cret'), hash, 'the same passcode hashes differently each time (salt)')
})

t.test('a malformed hash verifies nothing', async (t) => {
  const good = await hashPasscode('pw')
  const parts = good.split('$')
  const malformed = [
    '',
    'pw',
    'bcrypt$16384$8$1$abc$def',
    parts.slice(0, 5).join('$'),
    [...parts, 'x'].join('$'),
    good.replace('$16384$', '$1000$'), // N not a power of two
    good.replace('$16384$', '$016384$'),
    good.replace('$16384$', '$1048576$'), // past the memory bound
    good.replace('$8$1$', '$0$1$'),
    good.replace(parts[4]!, 'not base64!'),
    `${parts.slice(0, 5).join('$')}$`,
  ]
  for (const hash of malformed) t.equal(await verifyPasscode('pw', hash), false, JSON.stringify(hash))
})

t.test('the users file is refused with a message naming the file and the problem', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'users.json')
  const hash = await hashPasscode('pw')
  const cases: Array<[string, string | RegExp]> = [
    ['{ "users": ', /not valid JSON/],
    ['[]', /expected a JSON object/],
    ['{}', /"users" object/],
    ['{ "users": [] }', /"users" object/],
    ['{ "users": { "bob": "pw" } }', 'user "bob" is not an object'],
    ['{ "users": { "bob": { "roles": [] } } }', 'user "bob" has no passcode hash'],
    ['{ "users": { "bob": { "passcode": "" } } }', 'user "bob" has no passcode hash'],
    ['{ "users": { "bob": { "passcode": "hunter2" } } }', /user "bob" has a passcode that is not a scrypt hash \(set it with: stompd passwd .* bob\)/],
    [JSON.stringify({ users: { bob: { passcode: hash, roles: 'admin' } } }), 'user "bob" has "roles" that is not a list'],
    [JSON.stringify({ users: { bob: { passcode: hash, roles: [''] } } }), 'user "bob" has "roles" that is not a list'],
  ]
  for (const [text, problem] of cases) {
    writeFileSync(file, text)
    t.throws(() => readUsersFile(file), { message: problem }, text)
    t.throws(() => readUsersFile(file), { message: `users file ${file}: ` }, 'names the file')
  }
  t.throws(() => readUsersFile(join(dir, 'missing.json')), { message: /users file .*missing\.json: cannot read it \(ENOENT/ })
})

t.test('a valid users file gives each login its roles; roles may be left out', async (t) => {
  const file = join(t.testdir(), 'users.json')
  const hash = await hashPasscode('pw')
  writeUsers(file, { alice: { passcode: hash, roles: ['admin', 'ops'] }, bob: { passcode: hash }, ['__proto__']: { passcode: hash, roles: [] } })
  const table = readUsersFile(file)
  t.same([...table.keys()].sort(), ['__proto__', 'alice', 'bob'])
  t.same(table.get('alice')?.roles, ['admin', 'ops'])
  t.same(table.get('bob')?.roles, [])
})

t.test('the authenticator lets in a right passcode and no one else', async (t) => {
  const file = join(t.testdir(), 'users.json')
  writeUsers(file, { alice: { passcode: await hashPasscode('alice-pw'), roles: ['admin'] } })
  const auth = new UsersFileAuthenticator(file)
  t.same(await auth.authenticate(credentials('alice', 'alice-pw')), { user: 'alice', roles: ['admin'], expiresAt: 0 })
  t.equal(await auth.authenticate(credentials('alice', 'wrong')), null, 'wrong passcode')
  t.equal(await auth.authenticate(credentials('alice', '')), null, 'no passcode')
  t.equal(await auth.authenticate(credentials('mallory', 'alice-pw')), null, 'unknown user')
  t.equal(await auth.authenticate(credentials('', '')), null, 'no login')
  t.equal(await auth.authenticate(credentials('constructor', '')), null, 'a login named like an Object property')
})

t.test('an unknown login costs the same scrypt work as a known one', async (t) => {
  const file = join(t.testdir(), 'users.json')
  writeUsers(file, { alice: { passcode: await hashPasscode('alice-pw') } })
  const auth = new UsersFileAuthenticator(file)
  const time = async (login: string): Promise<number> => {
    const start = process.hrtime.bigint()
    await auth.authenticate(credentials(login, 'wrong'))
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  // The fastest of several, interleaved: load from other processes only ever adds time.
  let known = Infinity
  let unknown = Infinity
  for (let i = 0; i < 4; i++) {
    known = Math.min(known, await time('alice'))
    unknown = Math.min(unknown, await time('nobody'))
  }
  // Skipping scrypt for an unknown login would take well under a millisecond against tens.
  t.ok(unknown > known / 4, `unknown ${unknown.toFixed(1)} ms, known ${known.toFixed(1)} ms`)
})

t.test('the authenticator refuses to start on a bad file', async (t) => {
  const dir = t.testdir()
  t.throws(() => new UsersFileAuthenticator(join(dir, 'missing.json')), { message: /users file .*: cannot read it/ })
  const file = join(dir, 'users.json')
  writeUsers(file, { bob: {} })
  t.throws(() => new UsersFileAuthenticator(file), { message: `users file ${file}: user "bob" has no passcode hash` })
})

t.test('reload picks up a changed file; a broken one keeps the users in force', async (t) => {
  const file = join(t.testdir(), 'users.json')
  writeUsers(file, { alice: { passcode: await hashPasscode('old'), roles: [] } })
  const auth = new UsersFileAuthenticator(file)
  writeUsers(file, { alice: { passcode: await hashPasscode('new'), roles: ['admin'] }, bob: { passcode: await hashPasscode('bob-pw') } })
  auth.reload()
  t.equal(await auth.authenticate(credentials('alice', 'old')), null)
  t.same(await auth.authenticate(credentials('alice', 'new')), { user: 'alice', roles: ['admin'], expiresAt: 0 })
  t.same(await auth.authenticate(credentials('bob', 'bob-pw')), { user: 'bob', roles: [], expiresAt: 0 })

  writeFileSync(file, '{ "users": { "alice": ')
  t.throws(() => auth.reload(), { message: `users file ${file}: not valid JSON` })
  t.same(await auth.authenticate(credentials('alice', 'new')), { user: 'alice', roles: ['admin'], expiresAt: 0 }, 'old table kept')
  t.ok(await auth.authenticate(credentials('bob', 'bob-pw')))
})

t.test('passwd creates the users file, owner-only, with the user and roles', async (t) => {
  const file = join(t.testdir(), 'users.json')
  const run = await passwd([file, 'alice', '--role', 'admin', '--role=ops', '--role', 'admin'], 'alice-pw\n')
  t.same(run, { code: 0, stdout: `stompd: alice's passcode set in ${file}\n`, stderr: '' })
  t.equal(statSync(file).mode & 0o777, 0o600)
  const principal = await new UsersFileAuthenticator(file).authenticate(credentials('alice', 'alice-pw'))
  t.same(principal, { user: 'alice', roles: ['admin', 'ops'], expiresAt: 0 }, 'the trailing newline is not part of the passcode')
  t.notMatch(readFileSync(file, 'utf8'), 'alice-pw', 'no passcode in the file')
})

t.test('passwd changes a passcode, keeping roles and other users', async (t) => {
  const file = join(t.testdir(), 'users.json')
  t.equal((await passwd([file, 'alice', '--role', 'admin'], 'old-pw')).code, 0)
  t.equal((await passwd([file, 'bob'], 'bob-pw\r\n')).code, 0)
  t.equal((await passwd([file, 'alice'], 'new-pw\n')).code, 0)
  const auth = new UsersFileAuthenticator(file)
  t.equal(await auth.authenticate(credentials('alice', 'old-pw')), null, 'the old passcode no longer works')
  t.same(await auth.authenticate(credentials('alice', 'new-pw')), { user: 'alice', roles: ['admin'], expiresAt: 0 }, 'roles kept without --role')
  t.same(await auth.authenticate(credentials('bob', 'bob-pw')), { user: 'bob', roles: [], expiresAt: 0 }, 'a new user has no roles')

  t.equal((await passwd([file, 'alice', '--role', 'ops'], 'new-pw')).code, 0)
  auth.reload()
  t.same((await auth.authenticate(credentials('alice', 'new-pw')))?.roles, ['ops'], '--role replaces the roles')
})

t.test('passwd keeps an existing file\'s mode and what it does not manage', async (t) => {
  const file = join(t.testdir(), 'users.json')
  const hash = await hashPasscode('bob-pw')
  writeFileSync(file, JSON.stringify({ comment: 'ops team', users: { bob: { passcode: hash, roles: ['ops'], note: 'on call' } } }), { mode: 0o640 })
  t.equal((await passwd([file, 'bob'], 'bob-new')).code, 0)
  t.equal(statSync(file).mode & 0o777, 0o640)
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  t.equal(doc.comment, 'ops team')
  t.same(doc.users.bob.roles, ['ops'])
  t.equal(doc.users.bob.note, 'on call')
  t.not(doc.users.bob.passcode, hash)
})

t.test('passwd refuses, with one line and exit code 2, and leaves the file alone', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'users.json')
  const line = /^stompd passwd: [^\n]+\n$/

  const empty = await passwd([file, 'alice'], '\n')
  t.equal(empty.code, 2)
  t.match(empty.stderr, line)
  t.match(empty.stderr, 'empty passcode')
  t.equal(empty.stdout, '')
  t.throws(() => statSync(file), { code: 'ENOENT' }, 'no file created for nothing')

  for (const args of [[], [file], [file, 'alice', 'extra'], [file, 'alice', '--role'], [file, 'alice', '--rol', 'x'], [file, '']]) {
    const run = await passwd(args, 'pw')
    t.equal(run.code, 2, JSON.stringify(args))
    t.match(run.stderr, line)
  }

  writeFileSync(file, '{ "users": { "bob": { "passcode": "hunter2" } } }')
  const invalid = await passwd([file, 'alice'], 'pw')
  t.equal(invalid.code, 2)
  t.match(invalid.stderr, line)
  t.match(invalid.stderr, `stompd passwd: users file ${file}: user "bob" has a passcode that is not a scrypt hash`)
  t.equal(readFileSync(file, 'utf8'), '{ "users": { "bob": { "passcode": "hunter2" } } }')

  const unwritable = await passwd([join(dir, 'no-such-dir', 'users.json'), 'alice'], 'pw')
  t.equal(unwritable.code, 2)
  t.match(unwritable.stderr, /^stompd passwd: cannot write .*no-such-dir.*ENOENT/)
})

t.test('on a terminal passwd prompts twice without echoing the passcode', async (t) => {
  const dir = t.testdir()
  let runs = 0
  const ask = async (answers: string[]): Promise<{ code: number; stdout: string; stderr: string; file: string }> => {
    const file = join(dir, `users-${++runs}.json`)
    const stdin = new PassThrough()
    const stdout = sink()
    const stderr = sink()
    // Typed one line per prompt, as a person would, after the prompt is out.
    let typed = 0
    stdout.stream.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Passcode for alice') && typed < answers.length) setImmediate(() => stdin.write(`${answers[typed++]}\r`))
    })
    const code = await runPasswd([file, 'alice'], { stdin, stdout: stdout.stream, stderr: stderr.stream, isTTY: true })
    return { code, stdout: stdout.text(), stderr: stderr.text(), file }
  }

  const same = await ask(['tty-pw', 'tty-pw'])
  t.equal(same.code, 0, same.stderr)
  t.match(same.stdout, 'Passcode for alice: ')
  t.match(same.stdout, `stompd: alice's passcode set in ${same.file}`)
  t.notMatch(same.stdout, 'tty-pw', 'the passcode is not echoed')
  t.ok(await new UsersFileAuthenticator(same.file).authenticate(credentials('alice', 'tty-pw')))

  const differ = await ask(['tty-pw', 'tty-pW'])
  t.equal(differ.code, 2)
  t.equal(differ.stderr, 'stompd passwd: the passcodes do not match, nothing changed\n')
  t.throws(() => statSync(differ.file), { code: 'ENOENT' })
})
