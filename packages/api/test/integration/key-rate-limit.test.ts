/**
 * Requests per api key (API_KEY_RATE_LIMIT_MAX per API_KEY_RATE_LIMIT_WINDOW_MS): over the limit, 429 TOO_MANY_REQUESTS with Retry-After, in the one error shape;
 * another key, of the same tenant or another, is not limited; a refused request writes
 * nothing. Counting only: no timing is asserted.
 */
import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('requests are limited per api key', async (t) => {
  const env = { API_KEY_RATE_LIMIT_MAX: '5', API_KEY_RATE_LIMIT_WINDOW_MS: '600000' }
  const ctx = await setupDatabase(t, env)
  t.equal(ctx.config.http.apiKeyRateLimitMax, 5, 'read from the environment')
  const app = await buildTestApp(t, ctx, { env })
  const a = await makeTenant(ctx.services, 'a')
  const b = await makeTenant(ctx.services, 'b')
  const user = await registerAndLogin(app, a, 'ann') // requests 1 and 2 of a's key
  const secondKey = await ctx.services.apiKeys.issueApiKey(a, { name: 'second' })

  for (let i = 3; i <= 5; i++) t.equal((await app.inject({ url: '/api/users/me/', headers: user.headers })).statusCode, 200, `request ${i}`)
  const limited = await app.inject({
    method: 'POST',
    url: '/api/posts/',
    headers: user.headers,
    payload: { title: 'over the limit', body: 'x' },
  })
  assertError(t, limited, 429, 'TOO_MANY_REQUESTS')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 600, `Retry-After in seconds (${retryAfter})`)
  const [row] = await ctx.db.sql<{ n: number }[]>`select count(*)::int as n from ${ctx.db.sql(a.schemaName)}.posts`
  t.equal(row!.n, 0, 'the refused request wrote nothing')

  const other = { 'api-key': secondKey.key, authorization: user.headers.authorization! }
  t.equal((await app.inject({ url: '/api/users/me/', headers: other })).statusCode, 200, "the tenant's other key is not limited")
  t.equal(
    (await app.inject({ url: '/api/posts/', headers: { 'api-key': b.key } })).statusCode,
    401,
    'another tenant is not limited (401: no token)',
  )
  assertError(t, await app.inject({ url: '/api/posts/', headers: { 'api-key': 'garbage' } }), 401, 'INVALID_API_KEY')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'health is not limited')
})

t.test('off by default, and 0 turns it off', async (t) => {
  const ctx = await setupDatabase(t)
  t.equal(ctx.config.http.apiKeyRateLimitMax, 0, 'off by default (see test/stress/noisy-neighbour.test.ts for its measured effect)')
  t.equal(ctx.config.http.apiKeyRateLimitWindowMs, 100)
  // With a long window, 0 read as "zero allowed" would refuse every request here.
  const app = await buildTestApp(t, ctx, { env: { API_KEY_RATE_LIMIT_MAX: '0', API_KEY_RATE_LIMIT_WINDOW_MS: '600000' } })
  const a = await makeTenant(ctx.services)
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ url: '/api/posts/', headers: { 'api-key': a.key } })).statusCode, 401)
})
