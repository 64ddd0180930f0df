// Specs for JWT authentication (lib/auth/jwt.ts): each key source (HS256 secret file, PEM public
// key or certificate, remote JWKS with rotation), the claims checked, the tokens refused — forged,
// expired, early, misaddressed, `alg: none`, algorithm confusion — and when a check rejects.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, webcrypto } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SignJWT, base64url, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, generateSecret, importPKCS8, type CryptoKey, type JWK, type JWTPayload } from 'jose'
import type { Credentials } from '../../lib/auth/authenticator.js'
import { JwksUnavailableError, JwtAuthenticator, tokenFromAuthorization, type JwksTuning, type JwtOptions } from '../../lib/auth/jwt.js'

const NOW_S = () => Math.floor(Date.now() / 1000)

function credentials(fields: Partial<Credentials>): Credentials {
  return { login: '', passcode: '', bearer: '', certificateName: '', remote: '127.0.0.1:50000', transport: 'ws', ...fields }
}

function bearer(token: string): Credentials {
  return credentials({ bearer: token })
}

/** A signed token; `claims` go in the payload as given, so a spec can put anything there. */
async function sign(key: CryptoKey | Uint8Array, alg: string, claims: JWTPayload, header: { kid?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key)
}

/** An unsecured token, built by hand as an attacker would: `alg: none`, an empty signature. */
function unsecured(claims: JWTPayload): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value))
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`
}

async function secretBytes(): Promise<Uint8Array> {
  const key = await generateSecret('HS256', { extractable: true })
  return new Uint8Array(await webcrypto.subtle.exportKey('raw', key as webcrypto.CryptoKey))
}

/** A PEM public key file for a fresh key pair of `alg`, and the private key to sign with. */
async function pemKeyPair(dir: string, alg: string): Promise<{ file: string; pem: string; privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const pem = await exportSPKI(publicKey)
  const file = join(dir, `${alg}.pem`)
  writeFileSync(file, pem)
  return { file, pem, privateKey }
}

function create(options: JwtOptions, tuning?: JwksTuning): Promise<JwtAuthenticator> {
  return JwtAuthenticator.create(options, tuning)
}

t.test('an HS256 secret file', async (t) => {
  const dir = t.testdir()
  const secret = await secretBytes()
  const secretFile = join(dir, 'secret')
  // Written as `echo` would, with a trailing newline that is not part of the secret.
  writeFileSync(secretFile, Buffer.concat([secret, Buffer.from('\n')]))
  const auth = await create({ secretFile })
  const exp = NOW_S() + 600

  t.test('a valid token gives its sub as the user, its roles and its expiry', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'alice', roles: ['publisher', 'admin'], exp })
    t.same(await auth.authenticate(bearer(token)), { user: 'alice', roles: ['publisher', 'admin'], expiresAt: exp * 1000 })
  })

  t.test('a token without exp never expires, and without roles has none', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'bob' })
    t.same(await auth.authenticate(bearer(token)), { user: 'bob', roles: [], expiresAt: 0 })
  })

  t.test('roles keep only the strings of an array claim', async (t) => {
    const mixed = await sign(secret, 'HS256', { sub: 'carol', roles: ['a', 1, null, { x: 1 }, 'b', ''] })
    t.same((await auth.authenticate(bearer(mixed)))?.roles, ['a', 'b'])
    const scalar = await sign(secret, 'HS256', { sub: 'carol', roles: 'admin' })
    t.same((await auth.authenticate(bearer(scalar)))?.roles, [], 'a roles claim that is not an array gives no roles')
  })

  t.test('a token signed with another secret is refused', async (t) => {
    const token = await sign(await secretBytes(), 'HS256', { sub: 'alice', exp })
    t.equal(await auth.authenticate(bearer(token)), null)
  })

  t.test('a token signed with the secret plus its newline is refused: the newline is not part of the key', async (t) => {
    const token = await sign(Buffer.concat([secret, Buffer.from('\n')]), 'HS256', { sub: 'alice' })
    t.equal(await auth.authenticate(bearer(token)), null)
  })

  t.test('an expired token is refused', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'alice', exp: NOW_S() - 60 })
    t.equal(await auth.authenticate(bearer(token)), null)
  })

  t.test('a token expired a second ago is still accepted: a few seconds of clock skew are tolerated', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'alice', exp: NOW_S() - 1 })
    t.equal((await auth.authenticate(bearer(token)))?.user, 'alice')
  })

  t.test('a token not valid before a minute from now is refused', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'alice', nbf: NOW_S() + 60, exp })
    t.equal(await auth.authenticate(bearer(token)), null)
  })

  t.test('a token without a usable sub is refused', async (t) => {
    for (const claims of [{ exp }, { sub: '', exp }, { sub: 42, exp }, { sub: ['alice'], exp }] as JWTPayload[]) {
      t.equal(await auth.authenticate(bearer(await sign(secret, 'HS256', claims))), null, JSON.stringify(claims))
    }
  })

  t.test('an alg:none token is refused', async (t) => {
    t.equal(await auth.authenticate(bearer(unsecured({ sub: 'alice', exp }))), null)
  })

  t.test('a token with an algorithm other than HS256 is refused, even by the same secret', async (t) => {
    const token = await sign(secret, 'HS512', { sub: 'alice', exp })
    t.equal(await auth.authenticate(bearer(token)), null)
  })

  t.test('anything that is not a JWT is refused, not an error', async (t) => {
    for (const value of ['hunter2', 'a.b.c', 'a.b', '...', 'eyJhbGciOiJIUzI1NiJ9.e30.', ' ']) {
      t.equal(await auth.authenticate(credentials({ login: 'alice', passcode: value })), null, JSON.stringify(value))
    }
    t.equal(await auth.authenticate(credentials({})), null, 'no token at all')
  })

  t.test('the passcode carries the token when there is no bearer, whatever the login', async (t) => {
    const token = await sign(secret, 'HS256', { sub: 'alice', exp })
    t.equal((await auth.authenticate(credentials({ login: 'whoever', passcode: token })))?.user, 'alice')
  })

  t.test('the bearer takes precedence over the passcode', async (t) => {
    const good = await sign(secret, 'HS256', { sub: 'alice', exp })
    const other = await sign(secret, 'HS256', { sub: 'mallory', exp })
    t.equal((await auth.authenticate(credentials({ bearer: good, passcode: 'not-a-token' })))?.user, 'alice')
    t.equal((await auth.authenticate(credentials({ bearer: good, passcode: other })))?.user, 'alice')
    t.equal(await auth.authenticate(credentials({ bearer: 'garbage', passcode: good })), null, 'a bad bearer is not rescued by a good passcode')
  })
})

t.test('issuer and audience, when configured, must match', async (t) => {
  const dir = t.testdir()
  const secret = 'correct horse battery staple, long enough'
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, `${secret}\r\n`)
  const key = new TextEncoder().encode(secret)
  const auth = await create({ secretFile, issuer: 'https://idp.example', audience: 'stompd' })
  const ok = { sub: 'alice', iss: 'https://idp.example', aud: 'stompd' }
  t.equal((await auth.authenticate(bearer(await sign(key, 'HS256', ok))))?.user, 'alice', 'a CRLF line end is trimmed too')
  t.equal((await auth.authenticate(bearer(await sign(key, 'HS256', { ...ok, aud: ['other', 'stompd'] }))))?.user, 'alice', 'an audience list containing ours')
  const refused: JWTPayload[] = [
    { ...ok, iss: 'https://evil.example' },
    { ...ok, aud: 'other' },
    { sub: 'alice', aud: 'stompd' },
    { sub: 'alice', iss: 'https://idp.example' },
  ]
  for (const claims of refused) {
    t.equal(await auth.authenticate(bearer(await sign(key, 'HS256', claims))), null, JSON.stringify(claims))
  }
  const lax = await create({ secretFile })
  t.equal((await lax.authenticate(bearer(await sign(key, 'HS256', { ...ok, iss: 'anyone', aud: 'anything' }))))?.user, 'alice', 'unchecked when not configured')
})

t.test('a PEM public key', async (t) => {
  const dir = t.testdir()
  const exp = NOW_S() + 600

  t.test('RS256 (and PS256) with an RSA key: the right key passes, another key does not', async (t) => {
    const { file, privateKey } = await pemKeyPair(dir, 'RS256')
    const auth = await create({ publicKeyFile: file })
    t.same(await auth.authenticate(bearer(await sign(privateKey, 'RS256', { sub: 'alice', roles: ['r'], exp }))), { user: 'alice', roles: ['r'], expiresAt: exp * 1000 })
    const psKey = await importPKCS8(await exportPKCS8(privateKey), 'PS256')
    t.equal((await auth.authenticate(bearer(await sign(psKey, 'PS256', { sub: 'alice', exp }))))?.user, 'alice', 'PS256 over the same key')
    const other = await generateKeyPair('RS256')
    t.equal(await auth.authenticate(bearer(await sign(other.privateKey, 'RS256', { sub: 'alice', exp }))), null, 'another RSA key')
    t.equal(await auth.authenticate(bearer(unsecured({ sub: 'alice', exp }))), null, 'alg:none')
  })

  t.test('an HS256 token keyed with the public key PEM text (algorithm confusion) is refused', async (t) => {
    const { file, pem } = await pemKeyPair(dir, 'RS256')
    const auth = await create({ publicKeyFile: file })
    for (const secret of [pem, pem.trim()]) {
      const token = await sign(new TextEncoder().encode(secret), 'HS256', { sub: 'mallory', exp })
      t.equal(await auth.authenticate(bearer(token)), null)
    }
  })

  t.test('ES256 with a P-256 key', async (t) => {
    const { file, privateKey } = await pemKeyPair(dir, 'ES256')
    const auth = await create({ publicKeyFile: file })
    t.equal((await auth.authenticate(bearer(await sign(privateKey, 'ES256', { sub: 'alice', exp }))))?.user, 'alice')
    const other = await generateKeyPair('ES256')
    t.equal(await auth.authenticate(bearer(await sign(other.privateKey, 'ES256', { sub: 'alice', exp }))), null, 'another P-256 key')
  })

  t.test('EdDSA with an Ed25519 key', async (t) => {
    const { file, privateKey } = await pemKeyPair(dir, 'EdDSA')
    const auth = await create({ publicKeyFile: file })
    t.equal((await auth.authenticate(bearer(await sign(privateKey, 'EdDSA', { sub: 'alice', exp }))))?.user, 'alice')
    const other = await generateKeyPair('EdDSA')
    t.equal(await auth.authenticate(bearer(await sign(other.privateKey, 'EdDSA', { sub: 'alice', exp }))), null, 'another Ed25519 key')
  })

  t.test("a key only verifies its own type's algorithms", async (t) => {
    const rsa = await pemKeyPair(dir, 'RS256')
    const ec = await pemKeyPair(dir, 'ES256')
    const rsaAuth = await create({ publicKeyFile: rsa.file })
    const ecAuth = await create({ publicKeyFile: ec.file })
    t.equal(await rsaAuth.authenticate(bearer(await sign(ec.privateKey, 'ES256', { sub: 'alice' }))), null)
    t.equal(await ecAuth.authenticate(bearer(await sign(rsa.privateKey, 'RS256', { sub: 'alice' }))), null)
  })

  t.test('an X.509 certificate holding the key', async (t) => {
    const keyFile = join(dir, 'cert-key.pem')
    const certFile = join(dir, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=idp'], { stdio: 'ignore' })
    const privateKey = await importPKCS8(readFileSync(keyFile, 'utf8'), 'ES256')
    const auth = await create({ publicKeyFile: certFile })
    t.equal((await auth.authenticate(bearer(await sign(privateKey, 'ES256', { sub: 'alice', exp }))))?.user, 'alice')
  })
})

t.test('a bad configuration fails at create with a clear message', async (t) => {
  const dir = t.testdir()
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name)
    writeFileSync(path, content)
    return path
  }
  const secretFile = file('secret', 'a-secret')
  const rsa = await pemKeyPair(dir, 'RS256')
  await t.rejects(create({}), /one of secretFile, publicKeyFile or jwksUrl is required/)
  await t.rejects(create({ secretFile, publicKeyFile: rsa.file }), /only one of .*secretFile, publicKeyFile/)
  await t.rejects(create({ secretFile, jwksUrl: 'https://idp.example/jwks' }), /only one of/)
  await t.rejects(create({ secretFile: '' }), /secretFile must be a non-empty string/)
  await t.rejects(create({ secretFile, issuer: '' }), /issuer must be a non-empty string/)
  await t.rejects(create({ secretFile: file('empty', '') }), /is empty/)
  await t.rejects(create({ secretFile: file('newline', '\n') }), /is empty/)
  await t.rejects(create({ secretFile: join(dir, 'missing') }), /cannot read secretFile/)
  await t.rejects(create({ publicKeyFile: join(dir, 'missing.pem') }), /cannot read publicKeyFile/)
  await t.rejects(create({ publicKeyFile: file('junk.pem', 'not a key') }), /not a PEM public key or certificate/)
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  await t.rejects(create({ publicKeyFile: file('private.pem', pair.privateKey.export({ type: 'pkcs8', format: 'pem' })) }), /holds a private key/)
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  await t.rejects(create({ publicKeyFile: file('small.pem', small.publicKey.export({ type: 'spki', format: 'pem' })) }), /1024-bit RSA key/)
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  await t.rejects(create({ publicKeyFile: file('k1.pem', k1.publicKey.export({ type: 'spki', format: 'pem' })) }), /curve secp256k1/)
  const x = generateKeyPairSync('x25519')
  await t.rejects(create({ publicKeyFile: file('x25519.pem', x.publicKey.export({ type: 'spki', format: 'pem' })) }), /x25519 key/)
  await t.rejects(create({ jwksUrl: 'not a url' }), /is not a URL/)
  await t.rejects(create({ jwksUrl: 'file:///etc/jwks.json' }), /http or https/)
  const pkcs1 = file('pkcs1.pem', pair.publicKey.export({ type: 'pkcs1', format: 'pem' }))
  t.ok(await create({ publicKeyFile: pkcs1 }), 'a PKCS#1 RSA PUBLIC KEY is accepted too')
})

/** A JWKS endpoint on 127.0.0.1 serving whatever `keys` holds now, counting requests. */
interface JwksServer {
  url: string
  keys: JWK[]
  hits: number
  /** 200 normally; set to make the endpoint fail. */
  status: number
  /** When true, requests get no answer at all. */
  hang: boolean
  /** When set, sent instead of the key set. */
  body: string
  server: Server
}

async function jwksServer(t: Test): Promise<JwksServer> {
  const state = { keys: [] as JWK[], hits: 0, status: 200, hang: false, body: '' } as Omit<JwksServer, 'url' | 'server'>
  const server = createServer((_req, res) => {
    state.hits++
    if (state.hang) return
    res.writeHead(state.status, { 'content-type': 'application/json' })
    res.end(state.body !== '' ? state.body : state.status === 200 ? JSON.stringify({ keys: state.keys }) : '{"error":"down"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  return Object.assign(state, { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, server })
}

async function jwk(alg: string, kid: string): Promise<{ jwk: JWK; privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await generateKeyPair(alg)
  return { jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, privateKey }
}

t.test('a remote JWKS', async (t) => {
  const exp = NOW_S() + 600

  t.test('a token whose kid is served passes, for each key type', async (t) => {
    const idp = await jwksServer(t)
    const rsa = await jwk('RS256', 'rsa-1')
    const ec = await jwk('ES256', 'ec-1')
    const ed = await jwk('EdDSA', 'ed-1')
    idp.keys = [rsa.jwk, ec.jwk, ed.jwk]
    const auth = await create({ jwksUrl: idp.url, issuer: 'https://idp.example' })
    t.equal(idp.hits, 0, 'nothing is fetched before the first token')
    const claims = { sub: 'alice', roles: ['x'], iss: 'https://idp.example', exp }
    t.same(await auth.authenticate(bearer(await sign(rsa.privateKey, 'RS256', claims, { kid: 'rsa-1' }))), { user: 'alice', roles: ['x'], expiresAt: exp * 1000 })
    t.equal((await auth.authenticate(bearer(await sign(ec.privateKey, 'ES256', claims, { kid: 'ec-1' }))))?.user, 'alice')
    t.equal((await auth.authenticate(bearer(await sign(ed.privateKey, 'EdDSA', claims, { kid: 'ed-1' }))))?.user, 'alice')
    t.equal(idp.hits, 1, 'the key set is fetched once and cached')
    t.equal(await auth.authenticate(bearer(await sign(rsa.privateKey, 'RS256', { ...claims, iss: 'other' }, { kid: 'rsa-1' }))), null, 'claims are still checked')
    t.equal(await auth.authenticate(bearer(await sign(ec.privateKey, 'ES256', claims, { kid: 'rsa-1' }))), null, 'a kid naming a key of another type')
    const forger = await jwk('RS256', 'rsa-1')
    t.equal(await auth.authenticate(bearer(await sign(forger.privateKey, 'RS256', claims, { kid: 'rsa-1' }))), null, 'the right kid, the wrong key')
    t.equal(await auth.authenticate(bearer(unsecured(claims))), null, 'alg:none')
    const secret = new TextEncoder().encode(JSON.stringify(rsa.jwk))
    t.equal(await auth.authenticate(bearer(await sign(secret, 'HS256', claims, { kid: 'rsa-1' }))), null, 'HS256 keyed with the public JWK')
  })

  t.test('after a key rotation, a token with the new kid is accepted: an unknown kid refetches the set', async (t) => {
    const idp = await jwksServer(t)
    const first = await jwk('RS256', 'key-1')
    idp.keys = [first.jwk]
    const auth = await create({ jwksUrl: idp.url }, { cooldownMs: 0 })
    t.equal((await auth.authenticate(bearer(await sign(first.privateKey, 'RS256', { sub: 'alice', exp }, { kid: 'key-1' }))))?.user, 'alice')
    const second = await jwk('ES256', 'key-2')
    idp.keys = [second.jwk]
    t.equal((await auth.authenticate(bearer(await sign(second.privateKey, 'ES256', { sub: 'bob', exp }, { kid: 'key-2' }))))?.user, 'bob')
    t.equal(idp.hits, 2, 'the new kid caused one refetch')
    const never = await jwk('ES256', 'key-never-served')
    t.equal(await auth.authenticate(bearer(await sign(never.privateKey, 'ES256', { sub: 'mallory', exp }, { kid: 'key-never-served' }))), null, 'a kid still unknown after the refetch')
    t.equal(idp.hits, 3)
    t.equal(await auth.authenticate(bearer(await sign(first.privateKey, 'RS256', { sub: 'alice', exp }, { kid: 'key-1' }))), null, 'the retired key no longer passes')
  })

  t.test('within the default cooldown, an unknown kid is refused without fetching again', async (t) => {
    const idp = await jwksServer(t)
    const known = await jwk('ES256', 'known')
    idp.keys = [known.jwk]
    const auth = await create({ jwksUrl: idp.url })
    t.equal((await auth.authenticate(bearer(await sign(known.privateKey, 'ES256', { sub: 'alice' }, { kid: 'known' }))))?.user, 'alice')
    for (let i = 0; i < 5; i++) {
      const made = await jwk('ES256', `made-up-${i}`)
      t.equal(await auth.authenticate(bearer(await sign(made.privateKey, 'ES256', { sub: 'mallory' }, { kid: `made-up-${i}` }))), null)
    }
    t.equal(idp.hits, 1, 'made-up kids do not hammer the identity provider')
  })

  t.test('a JWKS endpoint that is down makes the check reject', async (t) => {
    const idp = await jwksServer(t)
    const key = await jwk('ES256', 'k')
    const token = await sign(key.privateKey, 'ES256', { sub: 'alice' }, { kid: 'k' })
    const url = idp.url
    await new Promise<void>((resolve) => idp.server.close(() => resolve()))
    const auth = await create({ jwksUrl: url })
    const err = await auth.authenticate(bearer(token)).then(() => null, (e: unknown) => e)
    t.type(err, JwksUnavailableError)
    t.match((err as Error).message, /could not be fetched/)
    t.equal(await auth.authenticate(credentials({ login: 'alice', passcode: 'hunter2' })), null, 'a password (not a JWT) is still just refused, with no fetch')
  })

  t.test('a JWKS endpoint answering an error, or junk, makes the check reject', async (t) => {
    const idp = await jwksServer(t)
    const key = await jwk('ES256', 'k')
    const token = await sign(key.privateKey, 'ES256', { sub: 'alice' }, { kid: 'k' })
    idp.status = 500
    const auth = await create({ jwksUrl: idp.url })
    await t.rejects(auth.authenticate(bearer(token)), JwksUnavailableError)
    idp.status = 200
    for (const body of ['not json', '{"keys":"none"}', '[]']) {
      idp.body = body
      await t.rejects(auth.authenticate(bearer(token)), JwksUnavailableError, body)
    }
    idp.body = ''
    t.equal(await auth.authenticate(bearer(token)), null, 'up again, with no keys: refused, not rejected')
    idp.keys = [key.jwk]
    const fresh = await create({ jwksUrl: idp.url })
    t.equal((await fresh.authenticate(bearer(token)))?.user, 'alice')
  })

  t.test('a JWKS endpoint that never answers makes the check reject after the timeout', async (t) => {
    const idp = await jwksServer(t)
    idp.hang = true
    const key = await jwk('ES256', 'k')
    const auth = await create({ jwksUrl: idp.url }, { timeoutMs: 200 })
    const started = Date.now()
    await t.rejects(auth.authenticate(bearer(await sign(key.privateKey, 'ES256', { sub: 'alice' }, { kid: 'k' }))), JwksUnavailableError)
    t.ok(Date.now() - started < 3000, 'within a moment of the timeout')
  })
})

t.test('tokenFromAuthorization takes the token of a Bearer header', async (t) => {
  const cases: ReadonlyArray<[string | undefined, string]> = [
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['  Bearer abc', 'abc'],
    ['Bearer a-b_c~d+e/f=', 'a-b_c~d+e/f='],
    ['Basic YWxpY2U6c2VjcmV0', ''],
    ['Bearer', ''],
    ['Bearer ', ''],
    ['Bearerabc', ''],
    ['Bearer abc def', ''],
    ['abc', ''],
    ['', ''],
    [undefined, ''],
  ]
  for (const [value, token] of cases) t.equal(tokenFromAuthorization(value), token, JSON.stringify(value))
})
