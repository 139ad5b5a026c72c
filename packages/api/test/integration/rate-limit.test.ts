import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('failed logins are limited per tenant and email', async (t) => {
  const ctx = await setupDatabase(t, { LOGIN_MAX_FAILURES_PER_EMAIL: '3', LOGIN_FAILURE_WINDOW_SECONDS: '600' })
  const app = await buildTestApp(t, ctx)
  const a = await makeTenant(ctx.services, 'a')
  const b = await makeTenant(ctx.services, 'b')
  const ann = await registerAndLogin(app, a, 'ann')
  const login = (tenantKey: string, email: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/users/login/', headers: { 'api-key': tenantKey }, payload: { email, password } })

  t.equal((await login(a.key, ann.email, ann.password)).statusCode, 200, 'successes do not count')
  for (let i = 0; i < 3; i++) assertError(t, await login(a.key, ann.email, 'wrong-password'), 401, 'INVALID_CREDENTIALS')
  const limited = await login(a.key, ann.email.toUpperCase(), ann.password)
  assertError(t, limited, 429, 'TOO_MANY_LOGIN_ATTEMPTS')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 600, `Retry-After in seconds (${retryAfter})`)
  t.notOk(limited.json().access_token, 'even the right password gets no token')

  const other = await registerAndLogin(app, a, 'other')
  t.equal((await login(a.key, other.email, other.password)).statusCode, 200, 'another email of the tenant is not limited')
  await app.inject({
    method: 'POST',
    url: '/api/users/register/',
    headers: { 'api-key': b.key },
    payload: { email: ann.email, password: ann.password },
  })
  t.equal((await login(b.key, ann.email, ann.password)).statusCode, 200, 'the same email in another tenant is not limited')
  t.equal((await app.inject({ url: '/api/users/me/', headers: ann.headers })).statusCode, 200, 'existing tokens keep working')
})

t.test('all login attempts are limited per tenant and client address', async (t) => {
  const ctx = await setupDatabase(t, { LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '4', LOGIN_ATTEMPT_WINDOW_SECONDS: '60' })
  const app = await buildTestApp(t, ctx)
  const a = await makeTenant(ctx.services, 'a')
  const b = await makeTenant(ctx.services, 'b')
  const user = await registerAndLogin(app, a, 'u') // attempt 1
  const attempt = (key: string, remoteAddress = '127.0.0.1') =>
    app.inject({
      method: 'POST',
      url: '/api/users/login/',
      remoteAddress,
      headers: { 'api-key': key },
      payload: { email: user.email, password: user.password },
    })
  for (let i = 2; i <= 4; i++) t.equal((await attempt(a.key)).statusCode, 200, `attempt ${i}`)
  const limited = await attempt(a.key)
  assertError(t, limited, 429, 'TOO_MANY_LOGIN_ATTEMPTS')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.equal((await attempt(a.key, '10.0.0.7')).statusCode, 200, 'another address is not limited')
  t.equal((await attempt(b.key)).statusCode, 401, 'another tenant is not limited (401: no such user there)')
})

t.test('the defaults are ones an honest user never meets', async (t) => {
  const ctx = await setupDatabase(t)
  t.equal(ctx.config.auth.loginMaxFailuresPerEmail, 10)
  t.equal(ctx.config.auth.loginFailureWindowSeconds, 900)
  t.equal(ctx.config.auth.loginMaxAttemptsPerAddress, 100)
  t.equal(ctx.config.auth.loginAttemptWindowSeconds, 60)
  const app = await buildTestApp(t, ctx)
  const a = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, a)
  for (let i = 0; i < 5; i++) {
    await app.inject({
      method: 'POST',
      url: '/api/users/login/',
      headers: { 'api-key': a.key },
      payload: { email: user.email, password: 'typo-typo' },
    })
  }
  const ok = await app.inject({
    method: 'POST',
    url: '/api/users/login/',
    headers: { 'api-key': a.key },
    payload: { email: user.email, password: user.password },
  })
  t.equal(ok.statusCode, 200, 'five typos and then the right password logs in')
})
