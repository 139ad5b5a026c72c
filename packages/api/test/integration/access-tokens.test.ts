import t from 'tap'
import {
  assertError,
  b64,
  buildTestApp,
  forgeJwt,
  JWT_SECRET,
  makeTenant,
  registerAndLogin,
  setupDatabase,
  tokenTestSetup,
} from '../helper.js'

/** A JWT built by hand, so the test controls every byte the server sees. */

t.test('access tokens: HS256 pinned, signature, expiry, claims', async (t) => {
  const { app, tenant, user, now, me } = await tokenTestSetup(t)
  const good = { sub: String(user.id), tid: tenant.id, sid: user.sessionId, iat: now, exp: now + 600 }

  const forged = await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, good))
  t.equal(forged.statusCode, 200, 'a well-formed HS256 token of the secret is accepted (the forge is right)')

  const rejected: [string, string][] = [
    ['alg none', forgeJwt({ alg: 'none', typ: 'JWT' }, good, JWT_SECRET, null)],
    ['alg none with a signature', forgeJwt({ alg: 'none', typ: 'JWT' }, good)],
    ['HS384 with the right secret', forgeJwt({ alg: 'HS384', typ: 'JWT' }, good, JWT_SECRET, 'sha384')],
    ['HS512 with the right secret', forgeJwt({ alg: 'HS512', typ: 'JWT' }, good, JWT_SECRET, 'sha512')],
    ['wrong secret', forgeJwt({ alg: 'HS256', typ: 'JWT' }, good, 'another-secret-of-at-least-32-bytes!!')],
    ['expired', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, iat: now - 1000, exp: now - 10 })],
    ['no exp', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { sub: good.sub, tid: good.tid, sid: good.sid, iat: now })],
    ['no tid', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { sub: good.sub, sid: good.sid, iat: now, exp: now + 600 })],
    ['no sid (a token of no login)', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { sub: good.sub, tid: good.tid, iat: now, exp: now + 600 })],
    ['sid not a string', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, sid: 42 })],
    ['tid as a string', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, tid: String(tenant.id) })],
    ['sub not an id', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, sub: 'admin' })],
    ['sub of no user', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, sub: '999999' })],
    ['tampered payload', `${user.accessToken.split('.')[0]}.${b64({ ...good, sub: '1' })}.${user.accessToken.split('.')[2]}`],
    ['not a JWT', 'abc.def'],
  ]
  for (const [label, token] of rejected) {
    const response = await me(token)
    t.equal(response.statusCode, 401, label)
    t.equal(response.json().code, 'INVALID_ACCESS_TOKEN', label)
  }
  // A good signature, but another tenant's id: its own code.
  const otherTenant = await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...good, tid: tenant.id + 1000 }))
  assertError(t, otherTenant, 401, 'TOKEN_TENANT_MISMATCH')
  assertError(t, await app.inject({ url: '/api/users/me/', headers: { 'api-key': tenant.key, authorization: user.accessToken } }), 401)
  assertError(
    t,
    await app.inject({ url: '/api/users/me/', headers: { 'api-key': tenant.key, authorization: `Basic ${user.accessToken}` } }),
    401,
  )
})

t.test('the token lifetime is configurable', async (t) => {
  const ctx = await setupDatabase(t, { ACCESS_TOKEN_TTL_SECONDS: '60' })
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, tenant)
  const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString())
  t.equal(claims.exp - claims.iat, 60)
})

t.test('a token verified and cached is refused once its exp passes, on the app clock', async (t) => {
  let clock = Date.now()
  const { tenant, user, now, me } = await tokenTestSetup(t, { now: () => clock })
  const token = forgeJwt(
    { alg: 'HS256', typ: 'JWT' },
    { sub: String(user.id), tid: tenant.id, sid: user.sessionId, iat: now, exp: now + 2 },
  )
  t.equal((await me(token)).statusCode, 200, 'valid: verified, now cached')
  t.equal((await me(token)).statusCode, 200, 'valid: from the cache')
  // The cache is keyed by the token's exact text: a token one character away is verified afresh.
  const signature = token.split('.')[2]!
  const altered = `${token.slice(0, -signature.length)}${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`
  t.equal((await me(altered)).statusCode, 401, 'the cached token with one signature character changed is refused')
  clock = (now + 2) * 1000 - 1
  t.equal((await me(token)).statusCode, 200, 'a millisecond before its exp: still accepted')
  clock = (now + 2) * 1000
  const late = await me(token)
  t.equal(late.statusCode, 401, 'at its exp: refused though cached')
  t.equal(late.json().code, 'INVALID_ACCESS_TOKEN')
  clock = (now + 1) * 1000
  t.equal((await me(token)).statusCode, 200, 'the clock set back before its exp: verified afresh and accepted')
})

t.test('a token the app issued expires ACCESS_TOKEN_TTL_SECONDS after it, on the app clock', async (t) => {
  let clock = Date.now()
  const { user, now, me } = await tokenTestSetup(t, { now: () => clock })
  const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number }
  t.equal(claims.iat, now, 'issued at the app clock')
  t.equal((await me(user.accessToken)).statusCode, 200, 'valid when issued')
  clock = claims.exp * 1000 - 1
  t.equal((await me(user.accessToken)).statusCode, 200, 'valid a millisecond before its exp')
  clock = claims.exp * 1000
  const late = await me(user.accessToken)
  t.equal(late.statusCode, 401, 'refused at its exp')
  t.equal(late.json().code, 'INVALID_ACCESS_TOKEN')
})
