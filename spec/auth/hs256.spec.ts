// The HS256 fast path answers as jose does: for tokens jose signs (with and without exp, nbf,
// iss, aud, sub) and for the same tokens tampered with, verifyHs256 accepts exactly what jose's
// jwtVerify accepts under the same options (and a non-empty `sub`, as JwtAuthenticator asks).
import t from 'tap'
import fc from 'fast-check'
import { SignJWT, jwtVerify } from 'jose'
import { verifyHs256 } from '../../lib/auth/hs256.js'

const secret = Buffer.from('a shared secret of some length!!')
const other = Buffer.from('another secret, not the one used')
const TOLERANCE = 5

async function joseAccepts(token: string, issuer: string | undefined, audience: string | undefined): Promise<boolean> {
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], clockTolerance: TOLERANCE, requiredClaims: ['sub'], ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) })
    // As JwtAuthenticator reads it: a user needs a name.
    return typeof payload.sub === 'string' && payload.sub !== ''
  } catch {
    return false
  }
}

const claims = fc.record({
  sub: fc.option(fc.constantFrom('alice', 'bob', ''), { nil: undefined }),
  exp: fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined }),
  nbf: fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined }),
  iss: fc.option(fc.constantFrom('https://idp', 'https://other'), { nil: undefined }),
  aud: fc.option(fc.constantFrom('stompd', 'else'), { nil: undefined }),
})
const tamper = fc.constantFrom('none', 'signature', 'payload', 'key', 'alg-none')

t.test('verifyHs256 and jose agree on signed and tampered tokens', async (t) => {
  const seed = Number(process.env.FC_SEED ?? 20261203)
  await fc.assert(fc.asyncProperty(claims, tamper, fc.boolean(), fc.boolean(), async (c, how, checkIss, checkAud) => {
    const now = Math.floor(Date.now() / 1000)
    const jwt = new SignJWT({ ...(c.iss ? { iss: c.iss } : {}), ...(c.aud ? { aud: c.aud } : {}) }).setProtectedHeader({ alg: 'HS256' })
    if (c.sub !== undefined) jwt.setSubject(c.sub)
    if (c.exp !== undefined) jwt.setExpirationTime(now + c.exp)
    if (c.nbf !== undefined) jwt.setNotBefore(now + c.nbf)
    let token = await jwt.sign(how === 'key' ? other : secret)
    const [h, p, s] = token.split('.') as [string, string, string]
    if (how === 'signature') token = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`
    if (how === 'payload') token = `${h}.${Buffer.from(JSON.stringify({ sub: 'mallory' })).toString('base64url')}.${s}`
    if (how === 'alg-none') token = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`
    const issuer = checkIss ? 'https://idp' : undefined
    const audience = checkAud ? 'stompd' : undefined
    const ours = verifyHs256(token, secret, { issuer, audience, clockTolerance: TOLERANCE }) !== null
    // Times within a second of a boundary could fall either side between the two calls.
    const edge = [c.exp, c.nbf].some((v) => v !== undefined && Math.abs(Math.abs(v) - TOLERANCE) <= 1)
    if (!edge) t.equal(ours, await joseAccepts(token, issuer, audience), JSON.stringify({ c, how, issuer, audience }))
  }), { seed, numRuns: 300 })
})

t.test('malformed tokens are refused, never thrown on', async (t) => {
  for (const token of ['', '.', '..', 'a.b', 'a.b.c.d', '!!.??.**', 'eyJhbGciOiJIUzI1NiJ9..', 'e30.e30.' + 'A'.repeat(43)]) {
    t.equal(verifyHs256(token, secret, { issuer: undefined, audience: undefined, clockTolerance: TOLERANCE }), null, JSON.stringify(token))
  }
})
