// Authentication end to end, over TCP and WebSocket: a users file (written by `stompd passwd`,
// re-read on SIGHUP), JWTs (HS256 secret file, RS256 public key; in the passcode, an
// `Authorization: Bearer` header or the WebSocket URL), a token expiring mid-session, anonymous
// access, an embedder's `authenticate` hook, durable subscriptions owned by the principal, what
// a refusal logs (and never logs), the failure throttle, and the frames a client sends right
// behind its CONNECT. A refusal is always the same ERROR `authentication failed`, then a close.
import { Client } from '@stomp/stompjs'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import stompit from 'stompit'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import type { AuthenticateHook } from '../../lib/auth/setup.js'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, type Frame, type Header } from '../../lib/frame/frame.js'
import type { ListenAddresses, ServerOptions } from '../../lib/server.js'
import { startBrokerProcess } from '../helpers/child.js'
import { connectStompit, connectStompjs } from '../helpers/clients.js'
import { expectErrorAndClose, within } from '../helpers/expect.js'
import { getHeader, RawClient, splitAddress } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { bodies, messages, request, subscribe, sync, waitMessages } from '../helpers/stomp.js'
import {
  attempt, captureLog, connectHeaders, hsKey, NAMES, NOW_S, PINO_WARN, rsKey, runCli, sign, TRANSPORTS, unsecured, writeUsersFile,
  type SigningKey, type TransportName,
} from './helpers.js'

const ISSUER = 'https://id.example.test'
const AUDIENCE = 'stompd'

/** The next frame is CONNECTED (and says so with the ERROR's message when it is not). */
async function expectConnected(t: Test, client: RawClient, what: string): Promise<Frame> {
  const frame = await client.next(5000)
  t.equal(frame.command, 'CONNECTED', `${what}: CONNECTED${frame.command === 'ERROR' ? ` (got ERROR ${getHeader(frame, 'message')}: ${frame.body.toString()})` : ''}`)
  return frame
}

/**
 * The next frame is ERROR `authentication failed` with a readable body, it is the last one, and
 * the connection closes. Safe to run several at once on one test (the assertions are named).
 */
async function expectRefused(t: Test, client: RawClient, what: string, timeoutMs = 5000): Promise<Frame> {
  const error = await client.next(timeoutMs)
  t.equal(error.command, 'ERROR', `${what}: ERROR${error.command === 'ERROR' ? '' : ` (got ${error.command})`}`)
  t.equal(getHeader(error, 'message'), 'authentication failed', `${what}: message "authentication failed"`)
  t.ok(error.body.length > 0, `${what}: the body says why`)
  await within(client.closed, timeoutMs, `${what}: the server closes the connection after the ERROR`)
  t.equal(client.frames[client.frames.length - 1], error, `${what}: nothing follows the ERROR, and the connection is closed`)
  return error
}

/** A raw client connected (CONNECTED received) with `extra` CONNECT headers; throws otherwise. */
async function connectAs(t: Test, addresses: ListenAddresses, transport: TransportName, extra: Header[], query = ''): Promise<RawClient> {
  const client = await attempt(t, addresses, transport, extra, query)
  const frame = await client.next(5000)
  if (frame.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${frame.command} ${getHeader(frame, 'message') ?? ''} ${frame.body.toString()}`)
  return client
}

const creds = (login: string, passcode: string): Header[] => [['login', login], ['passcode', passcode]]

// ---------------------------------------------------------------------------------------------
// Users file

for (const transport of TRANSPORTS) {
  const name = NAMES[transport]

  t.test(`with a users file, the right passcode connects; a wrong passcode, an unknown user and no credentials get the same ERROR (${name})`, async (t) => {
    const users = await writeUsersFile(t.testdir(), { alice: 'correct horse', bob: 'battery staple' })
    const { addresses } = await startServer(t, { users })

    const alice = await attempt(t, addresses, transport, creds('alice', 'correct horse'))
    await expectConnected(t, alice, 'alice with her passcode')
    await sync(alice)
    t.pass('and is served')

    const cases: Array<[string, Header[]]> = [
      ['a wrong passcode', creds('alice', 'battery staple')],
      ['an unknown user', creds('mallory', 'correct horse')],
      ['no credentials at all', []],
    ]
    const refusals = await Promise.all(cases.map(async ([what, extra]) => expectRefused(t, await attempt(t, addresses, transport, extra), what)))
    const [first, ...rest] = refusals
    for (const [i, other] of rest.entries()) {
      t.same(other.headers, first!.headers, `refusal ${i + 2} has the same headers as the first (no oracle)`)
      t.equal(other.body.toString(), first!.body.toString(), `refusal ${i + 2} has the same body as the first (no oracle)`)
    }
  })
}

for (const transport of TRANSPORTS) {
  t.test(`a refused client's connection is closed right after its ERROR, as for any other ERROR (${NAMES[transport]})`, async (t) => {
    const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
    const { addresses, server } = await startServer(t, { users })
    const cases: Array<[string, Header[]]> = [
      ['a wrong passcode', connectHeaders(creds('alice', 'wrong'))],
      ['an unsupported version (no authentication involved)', [['accept-version', '9.9'], ['host', 'localhost']]],
    ]
    for (const [what, headers] of cases) {
      const client = await rawOpen(t, addresses, transport)
      client.frame('CONNECT', headers)
      const error = await client.next(5000)
      const errorAt = Date.now()
      t.equal(error.command, 'ERROR', `${what}: ERROR ${getHeader(error, 'message')}`)
      await within(client.closed, 5000, `${what}: the connection closes`)
      const ms = Date.now() - errorAt
      t.ok(ms < 1000, `${what}: the client sees the close ${ms} ms after the ERROR`)
      const released = Date.now()
      while (server.sessions.size > 0 && Date.now() - released < 5000) await sleep(10)
      t.ok(Date.now() - errorAt < 1000, `${what}: the broker let go of the session ${Date.now() - errorAt} ms after the ERROR`)
    }
  })
}

t.test('stompit connects with its login and passcode, and is told "authentication failed" with a wrong one', async (t) => {
  const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
  const { addresses } = await startServer(t, { users })
  const client = await connectStompit(t, addresses.tcp!, { login: 'alice', passcode: 'correct horse' })
  t.ok(client, 'alice connects')

  const [host, port] = splitAddress(addresses.tcp!)
  const error = await within(new Promise<Error>((resolve, reject) => {
    stompit.connect({ host, port, connectHeaders: { host: 'localhost', login: 'alice', passcode: 'wrong' } }, (err, connected) => {
      if (err) return resolve(err)
      connected.destroy(new Error('test finished'))
      reject(new Error('stompit connected with a wrong passcode'))
    })
  }), 5000, 'stompit reports the refusal')
  t.equal(error.message, 'authentication failed', 'the connect callback\'s error.message')
})

t.test('@stomp/stompjs connects with connectHeaders login/passcode, and gets onStompError "authentication failed" with a wrong one', async (t) => {
  const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
  const { addresses } = await startServer(t, { users })
  const good = await connectStompjs(t, addresses.ws, { connectHeaders: { login: 'alice', passcode: 'correct horse' } })
  t.ok(good.connected, 'alice connects')

  let connected = false
  const client = new Client({
    webSocketFactory: () => new WebSocket(addresses.ws, ['v10.stomp', 'v11.stomp', 'v12.stomp']),
    connectHeaders: { login: 'alice', passcode: 'wrong' },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: () => {},
    onConnect: () => { connected = true },
  })
  t.teardown(() => client.deactivate())
  const heard = Promise.all([
    new Promise<string | undefined>((resolve) => { client.onStompError = (frame) => resolve(frame.headers.message) }),
    new Promise<void>((resolve) => { client.onWebSocketClose = () => resolve() }),
  ])
  client.activate()
  const [message, closed] = await within(heard, 5000, 'stompjs hears the refusal and the socket closes')
  t.equal(message, 'authentication failed', 'onStompError gets message "authentication failed"')
  t.equal(closed, undefined, 'then the WebSocket closes')
  t.notOk(connected, 'onConnect was never called')
})

// ---------------------------------------------------------------------------------------------
// `stompd passwd` and SIGHUP, through the real CLI

t.test('`stompd passwd FILE USER` writes a users file a broker started with --users accepts', async (t) => {
  const file = join(t.testdir(), 'users.json')
  const set = await runCli(t, ['passwd', file, 'alice'], 'open sesame\n')
  t.equal(set.code, 0, `passwd exits 0 (stderr: ${set.stderr})`)
  t.match(set.stdout, /alice's passcode set/, 'and says so')
  t.notMatch(set.stdout + set.stderr, /open sesame/, 'without echoing the passcode')

  const broker = await startBrokerProcess(t, ['--users', file])
  for (const transport of TRANSPORTS) {
    const alice = await attempt(t, { ws: broker.ws, tcp: broker.tcp } as ListenAddresses, transport, creds('alice', 'open sesame'))
    await expectConnected(t, alice, `alice with the passcode passwd set (${NAMES[transport]})`)
    const wrong = await attempt(t, { ws: broker.ws, tcp: broker.tcp } as ListenAddresses, transport, creds('alice', 'open sesame\n'))
    await expectRefused(t, wrong, `the passcode with the newline echo added is not it (${NAMES[transport]})`)
  }
})

t.test('SIGHUP re-reads the users file: a changed passcode works, the old one no longer does, and connected clients stay connected', async (t) => {
  const file = join(t.testdir(), 'users.json')
  t.equal((await runCli(t, ['passwd', file, 'alice'], 'old passcode\n')).code, 0, 'passwd sets the first passcode')
  const broker = await startBrokerProcess(t, ['--users', file, '--log-level', 'info'])
  const addresses = { ws: broker.ws, tcp: broker.tcp } as ListenAddresses
  const before = {
    tcp: await connectAs(t, addresses, 'tcp', creds('alice', 'old passcode')),
    ws: await connectAs(t, addresses, 'ws', creds('alice', 'old passcode')),
  }

  const changed = await runCli(t, ['passwd', file, 'alice'], 'new passcode\n')
  t.equal(changed.code, 0, `passwd changes it (stderr: ${changed.stderr})`)
  const withOld = await attempt(t, addresses, 'tcp', creds('alice', 'old passcode'))
  await expectConnected(t, withOld, 'before SIGHUP the broker still holds the old passcode')

  broker.child.kill('SIGHUP')
  await within((async () => {
    while (!broker.output().includes('reloaded on SIGHUP')) await sleep(20)
  })(), 5000, 'the broker logs "reloaded on SIGHUP"')

  for (const transport of TRANSPORTS) {
    const fresh = await attempt(t, addresses, transport, creds('alice', 'new passcode'))
    await expectConnected(t, fresh, `the new passcode works (${NAMES[transport]})`)
    const stale = await attempt(t, addresses, transport, creds('alice', 'old passcode'))
    await expectRefused(t, stale, `the old passcode is refused (${NAMES[transport]})`)
    await sync(before[transport])
    t.pass(`the ${NAMES[transport]} client connected before SIGHUP is still served`)
  }
  t.equal(broker.child.exitCode, null, 'the broker is still running')
})

// ---------------------------------------------------------------------------------------------
// JWT

interface JwtSetup {
  key: SigningKey
  /** A key the broker does not know, of the same kind. */
  stranger: SigningKey
  options: ServerOptions
}

const KEY_KINDS: ReadonlyArray<{ alg: 'HS256' | 'RS256'; make: (dir: string) => Promise<JwtSetup> }> = [
  {
    alg: 'HS256',
    make: async (dir) => {
      const key = await hsKey(dir)
      return { key, stranger: await hsKey(dir, 'other-secret'), options: { jwtSecret: key.file, jwtIssuer: ISSUER, jwtAudience: AUDIENCE } }
    },
  },
  {
    alg: 'RS256',
    make: async (dir) => {
      const key = await rsKey(dir)
      return { key, stranger: await rsKey(dir, 'other.pem'), options: { jwtPublicKey: key.file, jwtIssuer: ISSUER, jwtAudience: AUDIENCE } }
    },
  },
]

const goodClaims = (sub = 'alice') => ({ sub, iss: ISSUER, aud: AUDIENCE, iat: NOW_S(), exp: NOW_S() + 600 })

for (const { alg, make } of KEY_KINDS) {
  for (const transport of TRANSPORTS) {
    const name = NAMES[transport]

    t.test(`a valid ${alg} token connects in the passcode (any login), in an Authorization: Bearer header${transport === 'ws' ? ' and in ?access_token= on the URL' : ''} (${name})`, async (t) => {
      const jwt = await make(t.testdir())
      const { addresses } = await startServer(t, jwt.options)
      const token = await sign(jwt.key, goodClaims())

      await expectConnected(t, await attempt(t, addresses, transport, creds('anything at all', token)), 'token as the passcode')
      await expectConnected(t, await attempt(t, addresses, transport, [['passcode', token]]), 'token as the passcode, no login')
      await expectConnected(t, await attempt(t, addresses, transport, [['Authorization', `Bearer ${token}`]]), 'Authorization: Bearer <token>')
      await expectConnected(t, await attempt(t, addresses, transport, [['authorization', `bearer ${token}`]]), 'authorization: bearer <token> (lower case)')
      if (transport === 'ws') {
        await expectConnected(t, await attempt(t, addresses, transport, [], `?access_token=${encodeURIComponent(token)}`), '?access_token=<token> on the WebSocket URL')
      }
    })

    t.test(`${alg} tokens that prove nothing are refused alike: wrong key, expired, not yet valid, wrong issuer, wrong audience, alg none (${name})`, async (t) => {
      const jwt = await make(t.testdir())
      const now = NOW_S()
      const cases: Array<[string, () => Promise<string>]> = [
        ['signed with another key', () => sign(jwt.stranger, goodClaims())],
        ['expired a minute ago', () => sign(jwt.key, { ...goodClaims(), exp: now - 60 })],
        ['not valid for another minute (nbf)', () => sign(jwt.key, { ...goodClaims(), nbf: now + 60 })],
        ['from another issuer', () => sign(jwt.key, { ...goodClaims(), iss: 'https://evil.example.test' })],
        ['for another audience', () => sign(jwt.key, { ...goodClaims(), aud: 'someone-else' })],
        ['alg none, built by hand', async () => unsecured(goodClaims())],
      ]
      const attempts: Array<Promise<unknown>> = []
      for (const [what, token] of cases) {
        const bad = await token()
        const places: Array<[string, Header[], string]> = [
          ['in the passcode', creds('alice', bad), ''],
          ['as Authorization: Bearer', [['Authorization', `Bearer ${bad}`]], ''],
          ['as authorization: bearer', [['authorization', `bearer ${bad}`]], ''],
        ]
        if (transport === 'ws') places.push(['in ?access_token=', [], `?access_token=${encodeURIComponent(bad)}`])
        for (const [where, extra, query] of places) {
          // A broker each, all at once: no failure throttle between them.
          attempts.push((async () => {
            const { addresses } = await startServer(t, jwt.options)
            await expectRefused(t, await attempt(t, addresses, transport, extra, query), `a token ${what}, ${where}`)
          })())
        }
      }
      await Promise.all(attempts)
    })

  }
}

// Token expiry takes real seconds: every key kind and transport at once, in one test.
t.test('a token expiring mid-session ends it with ERROR "token expired" (every key kind, TCP and WebSocket at once)', async (t) => {
  const root = t.testdir() // once: each call makes the directory afresh
  await Promise.all(KEY_KINDS.flatMap(({ alg, make }) => TRANSPORTS.map(async (transport) => {
    const name = `${alg}, ${NAMES[transport]}`
    const dir = join(root, `${alg}-${transport}`)
    mkdirSync(dir, { recursive: true })
    const jwt = await make(dir)
    const { addresses } = await startServer(t, jwt.options)
    const started = Date.now()
    const token = await sign(jwt.key, { ...goodClaims(), exp: NOW_S() + 2 })
    const client = await attempt(t, addresses, transport, creds('alice', token))
    await expectConnected(t, client, `the token is valid when it connects (${name})`)
    client.frame('SEND', [['destination', '/topic/nobody'], ['receipt', 'served']])
    const receipt = await client.next()
    t.same([receipt.command, getHeader(receipt, 'receipt-id')], ['RECEIPT', 'served'], `and the session is served (${name})`)
    await expectErrorAndClose(t, client, 'token-expired', { timeoutMs: 3500 - (Date.now() - started) })
    const elapsed = Date.now() - started
    t.ok(elapsed >= 900 && elapsed <= 3500, `the ERROR and close came ${elapsed} ms after connecting (exp was 1-2 s ahead; ${name})`)
  })))
})

// ---------------------------------------------------------------------------------------------
// Anonymous access

for (const transport of TRANSPORTS) {
  t.test(`with nothing configured anyone connects, and the broker warns once that authentication is off (${NAMES[transport]})`, async (t) => {
    const log = captureLog('info')
    const { addresses } = await startServer(t, { logger: log.logger })
    const warnings = log.lines().filter((line) => line.level === PINO_WARN && /authentication is off/.test(line.msg ?? ''))
    t.equal(warnings.length, 1, 'one warn line says authentication is off')
    for (const extra of [creds('whoever', 'whatever'), [['login', 'no-passcode']] as Header[], []]) {
      await expectConnected(t, await attempt(t, addresses, transport, extra), `CONNECT with ${JSON.stringify(extra)}`)
    }
    t.equal(log.lines().filter((line) => /authentication is off/.test(line.msg ?? '')).length, 1, 'connecting does not repeat it')
  })
}

t.test('with a users file, no "authentication is off" line is logged', async (t) => {
  const users = await writeUsersFile(t.testdir(), { alice: 'pw' })
  const log = captureLog('trace')
  await startServer(t, { users, logger: log.logger })
  t.notMatch(log.text(), /authentication is off/)
})

t.test('the CLI warns that authentication is off without --users, and not with it', async (t) => {
  const users = await writeUsersFile(t.testdir(), { alice: 'pw' })
  const open = await startBrokerProcess(t)
  t.equal(open.output().match(/authentication is off/g)?.length, 1, 'one line without --users')
  const closed = await startBrokerProcess(t, ['--users', users])
  t.notMatch(closed.output(), /authentication is off/, 'none with --users')
})

// ---------------------------------------------------------------------------------------------
// The createServer `authenticate` hook

for (const transport of TRANSPORTS) {
  t.test(`the authenticate hook decides: a user connects, null or false refuses, a throw refuses and the broker serves on (${NAMES[transport]})`, async (t) => {
    const calls: Array<{ login: string; passcode: string; info: Record<string, unknown> }> = []
    const authenticate: AuthenticateHook = async (login, passcode, info) => {
      calls.push({ login, passcode, info: { ...info } })
      if (login === 'boom') throw new Error('the hook exploded')
      if (login === 'no') return false
      if (passcode !== 'open sesame') return null
      return { user: `user-${login}`, roles: ['reader'] }
    }
    const log = captureLog('info')
    const { addresses, server } = await startServer(t, { authenticate, logger: log.logger })

    await expectConnected(t, await attempt(t, addresses, transport, [...creds('alice', 'open sesame'), ['authorization', 'Bearer some.token.here']]), 'the hook answers { user, roles }')
    t.same(calls[0], {
      login: 'alice',
      passcode: 'open sesame',
      info: { bearer: 'some.token.here', certificateName: '', remote: calls[0]?.info.remote, transport },
    }, 'the hook got login, passcode and { remote, transport, bearer, certificateName }')
    t.match(calls[0]?.info.remote, /^127\.0\.0\.1:\d+$/, 'remote is the client\'s address:port')
    const session = [...server.sessions].find((s) => s.connected)
    t.same(session?.principal, { user: 'user-alice', roles: ['reader'], expiresAt: 0 }, 'the session acts as the user the hook named')

    const refusals = await Promise.all([
      attempt(t, addresses, transport, creds('alice', 'wrong')).then((client) => expectRefused(t, client, 'null refuses')),
      attempt(t, addresses, transport, creds('no', 'open sesame')).then((client) => expectRefused(t, client, 'false refuses')),
      attempt(t, addresses, transport, creds('boom', 'open sesame')).then((client) => expectRefused(t, client, 'a hook that throws refuses')),
    ])
    for (const refusal of refusals.slice(1)) t.equal(refusal.body.toString(), refusals[0]!.body.toString(), 'with the same body as any refusal')
    t.notMatch(refusals.map((f) => f.body.toString()).join('\n'), /exploded/, 'the hook\'s error is not shown to the client')
    t.match(log.text(), /the hook exploded/, 'it is logged')

    const after = await attempt(t, addresses, transport, creds('carol', 'open sesame'))
    await expectConnected(t, after, 'after a throwing hook, the broker still serves others')
    await sync(after)
  })
}

// ---------------------------------------------------------------------------------------------
// Durable subscriptions belong to the principal, not to CONNECT's login

for (const transport of TRANSPORTS) {
  t.test(`two principals with the same login header do not share a durable subscription id (${NAMES[transport]})`, async (t) => {
    const key = await hsKey(t.testdir())
    const { addresses } = await startServer(t, { jwtSecret: key.file })
    const as = async (sub: string): Promise<RawClient> => connectAs(t, addresses, transport, creds('shared', await sign(key, { sub, exp: NOW_S() + 600 })))
    const durable: Header[] = [['durable', 'true'], ['auto-delete', 'false']]
    const alice = await as('alice')
    const publisher = await as('publisher')

    await subscribe(alice, 'd1', '/topic/x', durable)
    await request(alice, 'UNSUBSCRIBE', [['id', 'd1']])
    for (const body of ['kept-1', 'kept-2']) await request(publisher, 'SEND', [['destination', '/topic/x']], body)

    const bob = await as('bob')
    await subscribe(bob, 'd1', '/topic/x', durable)
    await sync(bob)
    t.ok(await bob.quiet(300), 'bob\'s durable d1 hands him nothing')
    t.same(messages(bob, 'd1'), [], 'none of alice\'s kept messages')

    await request(publisher, 'SEND', [['destination', '/topic/x']], 'live')
    t.same(bodies(await waitMessages(bob, 1, 'd1')), ['live'], 'bob\'s d1 gets what is published from now on')

    await subscribe(alice, 'd1', '/topic/x', durable)
    t.same(bodies(await waitMessages(alice, 3, 'd1')), ['kept-1', 'kept-2', 'live'], 'alice\'s d1 kept hers, in order')
    await sync(bob)
    t.same(bodies(messages(bob, 'd1')), ['live'], 'and bob got only the live one')
  })
}

// ---------------------------------------------------------------------------------------------
// Logging refusals

for (const transport of TRANSPORTS) {
  t.test(`a refused CONNECT is logged at warn with the remote address, and no log line holds a passcode or token (${NAMES[transport]})`, async (t) => {
    const dir = t.testdir()
    const users = await writeUsersFile(dir, { alice: 'correct-horse-passcode' })
    const key = await hsKey(dir)
    const stranger = await hsKey(dir, 'other')
    const log = captureLog('trace')
    const { addresses } = await startServer(t, { users, jwtSecret: key.file, logger: log.logger })

    const good = await sign(key, { sub: 'bob', exp: NOW_S() + 600 })
    const forged = await sign(stranger, { sub: 'bob', exp: NOW_S() + 600 })
    const wrongPasscode = 'hunter2-wrong-passcode'
    const secrets = ['correct-horse-passcode', wrongPasscode, good, forged]

    const refused: Array<[string, Header[], string]> = [
      ['a wrong passcode', creds('alice', wrongPasscode), ''],
      ['a forged token in the passcode', creds('bob', forged), ''],
      ['a forged token as Authorization: Bearer', [['Authorization', `Bearer ${forged}`]], ''],
      ['a forged token as authorization: bearer', [['authorization', `bearer ${forged}`]], ''],
    ]
    if (transport === 'ws') refused.push(['a forged token in the URL', [], `?access_token=${forged}`])
    await Promise.all(refused.map(async ([what, extra, query]) => expectRefused(t, await attempt(t, addresses, transport, extra, query), what)))
    const warns = log.lines().filter((line) => line.level === PINO_WARN && line.msg === 'authentication failed')
    t.equal(warns.length, refused.length, 'one warn line "authentication failed" per refusal')
    for (const warn of warns) t.match(String(warn.remote), /^127\.0\.0\.1:\d+$/, `naming the remote address (${String(warn.remote)})`)
    await expectConnected(t, await attempt(t, addresses, transport, creds('alice', 'correct-horse-passcode')), 'the right passcode')
    await expectConnected(t, await attempt(t, addresses, transport, creds('bob', good)), 'a good token in the passcode')
    if (transport === 'ws') await expectConnected(t, await attempt(t, addresses, transport, [], `?access_token=${good}`), 'a good token in the URL')

    const text = log.text()
    t.equal(log.lines().filter((line) => line.level === PINO_WARN && line.msg === 'authentication failed').length, refused.length, 'successes add no such line')
    for (const secret of secrets) t.notOk(text.includes(secret), `the log never holds ${secret.length > 40 ? `the token ${secret.slice(0, 12)}…` : JSON.stringify(secret)}`)
    for (const token of [good, forged]) t.notOk(text.includes(token.split('.')[2]!), 'nor a token\'s signature')
  })
}

// ---------------------------------------------------------------------------------------------
// The failure throttle

for (const transport of TRANSPORTS) {
  t.test(`repeated failures from one address are answered later each time, and a success resets that (${NAMES[transport]})`, async (t) => {
    const key = await hsKey(t.testdir())
    const { addresses } = await startServer(t, { jwtSecret: key.file })
    const good = await sign(key, { sub: 'alice', exp: NOW_S() + 600 })

    /** ms from CONNECT to the answer. */
    const timed = async (passcode: string, expected: 'ERROR' | 'CONNECTED'): Promise<number> => {
      const client = await attempt(t, addresses, transport, creds('alice', passcode))
      const sent = Date.now()
      const frame = await client.next(10_000)
      const ms = Date.now() - sent
      t.equal(frame.command, expected, `${expected} after ${ms} ms`)
      client.destroy()
      return ms
    }
    const failures: number[] = []
    for (let i = 0; i < 4; i++) failures.push(await timed('not-a-token', 'ERROR'))
    t.ok(failures[0]! < 100, `the first failure is answered at once (${failures[0]} ms)`)
    for (let i = 1; i < 4; i++) t.ok(failures[i]! > failures[i - 1]!, `failure ${i + 1} (${failures[i]} ms) comes later than failure ${i} (${failures[i - 1]} ms)`)
    t.ok(failures[3]! >= 300, `the fourth failure takes at least 300 ms (${failures[3]} ms)`)

    await timed(good, 'CONNECTED')
    const reset = await timed('not-a-token', 'ERROR')
    t.ok(reset < 100, `after a success, a failure is answered at once again (${reset} ms)`)
  })
}

// ---------------------------------------------------------------------------------------------
// Frames right behind CONNECT

/** CONNECT and more frames, encoded back to back: one TCP write, or one WebSocket message. */
function together(connect: Header[], ...frames: Array<[Parameters<typeof encodeFrame>[0], Header[], string?]>): Buffer {
  return Buffer.concat([
    encodeFrame('CONNECT', connectHeaders(connect), EMPTY_BODY, '1.2'),
    ...frames.map(([command, headers, body]) => encodeFrame(command, headers, body === undefined ? EMPTY_BODY : Buffer.from(body), '1.2')),
  ])
}

async function rawOpen(t: Test, addresses: ListenAddresses, transport: TransportName): Promise<RawClient> {
  return transport === 'tcp' ? RawClient.tcp(t, addresses.tcp!) : RawClient.ws(t, addresses.ws)
}

for (const transport of TRANSPORTS) {
  t.test(`frames sent in the same write as CONNECT are handled after authentication, in order (${NAMES[transport]})`, async (t) => {
    const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
    const { addresses } = await startServer(t, { users })
    const client = await rawOpen(t, addresses, transport)
    client.send(together(creds('alice', 'correct horse'),
      ['SUBSCRIBE', [['id', 's1'], ['destination', '/topic/behind'], ['receipt', 'sub']]],
      ['SEND', [['destination', '/topic/behind'], ['receipt', 'send']], 'right behind CONNECT']))
    await expectConnected(t, client, 'CONNECT is answered first')
    const receipt = await client.next()
    t.same([receipt.command, getHeader(receipt, 'receipt-id')], ['RECEIPT', 'sub'], 'then the SUBSCRIBE\'s RECEIPT')
    t.same(bodies(await waitMessages(client, 1, 's1')), ['right behind CONNECT'], 'the SEND (to a topic) reached the SUBSCRIBE made before it')
    await client.until(() => client.frames.some((f) => f.command === 'RECEIPT' && getHeader(f, 'receipt-id') === 'send'))
    t.pass('and the SEND got its RECEIPT')
  })

  t.test(`when authentication fails, none of the frames sent with CONNECT takes effect (${NAMES[transport]})`, async (t) => {
    const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
    const { addresses, server } = await startServer(t, { users })
    const client = await rawOpen(t, addresses, transport)
    client.send(together(creds('alice', 'wrong'),
      ['SUBSCRIBE', [['id', 's1'], ['destination', '/queue/never-subscribed'], ['receipt', 'sub']]],
      ['SEND', [['destination', '/queue/never-sent'], ['receipt', 'send']], 'must not be published']))
    await expectRefused(t, client, 'the CONNECT')
    t.same(client.frames.map((f) => f.command), ['ERROR'], 'the ERROR is the only frame: no RECEIPT')

    const alice = await connectAs(t, addresses, transport, creds('alice', 'correct horse'))
    await subscribe(alice, 'q', '/queue/never-sent')
    await sync(alice)
    t.ok(await alice.quiet(300), 'nothing was published to /queue/never-sent')
    t.same(messages(alice, 'q'), [])
    await request(alice, 'SEND', [['destination', '/queue/never-subscribed']], 'for whoever subscribes')
    await subscribe(alice, 'n', '/queue/never-subscribed')
    t.same(bodies(await waitMessages(alice, 1, 'n')), ['for whoever subscribes'], 'no consumer was left on /queue/never-subscribed to take it')
    t.equal([...server.sessions].filter((s) => s.connected).length, 1, 'only alice\'s session is connected')
  })
}
