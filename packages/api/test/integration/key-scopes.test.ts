import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase, type TestContext, type TestTenant } from '../helper.js'

interface RouteCall {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  readonly url: string
  readonly payload?: object
  readonly bearer: boolean
}

/** Every route under /api/, with a valid request for each (built on a fresh login and post). */
async function everyRoute(app: FastifyInstance, tenant: TestTenant): Promise<{ calls: RouteCall[]; token: string }> {
  const user = await registerAndLogin(app, tenant)
  const created = await app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title: 'T', body: 'B' } })
  const postId = created.json().id as number
  const calls: RouteCall[] = [
    {
      method: 'POST',
      url: '/api/users/register/',
      payload: { email: `new-${Date.now()}@example.com`, password: 'password-123' },
      bearer: false,
    },
    { method: 'POST', url: '/api/users/login/', payload: { email: user.email, password: user.password }, bearer: false },
    { method: 'POST', url: '/api/users/token/refresh/', payload: { refresh_token: user.refreshToken }, bearer: false },
    { method: 'POST', url: '/api/users/logout/', payload: { refresh_token: user.refreshToken }, bearer: false },
    { method: 'GET', url: '/api/users/me/', bearer: true },
    { method: 'GET', url: '/api/posts/', bearer: true },
    { method: 'POST', url: '/api/posts/', payload: { title: 'New', body: 'post' }, bearer: true },
    { method: 'GET', url: `/api/posts/${postId}/`, bearer: true },
    { method: 'PUT', url: `/api/posts/${postId}/`, payload: { title: 'Put', body: 'body' }, bearer: true },
    { method: 'PATCH', url: `/api/posts/${postId}/`, payload: { title: 'Patched' }, bearer: true },
    { method: 'DELETE', url: `/api/posts/${postId}/`, bearer: true },
  ]
  return { calls, token: user.accessToken }
}

function send(app: FastifyInstance, call: RouteCall, key: string, token: string) {
  return app.inject({
    method: call.method,
    url: call.url,
    headers: { 'api-key': key, ...(call.bearer && { authorization: `Bearer ${token}` }) },
    ...(call.payload && { payload: call.payload }),
  })
}

/** What a refused request must not have changed: the tenant's users, posts and sessions. */
async function tenantRows(ctx: TestContext, schema: string): Promise<string> {
  const users = await ctx.db.sql`select * from ${ctx.db.sql(schema)}.users order by id`
  const posts = await ctx.db.sql`select * from ${ctx.db.sql(schema)}.posts order by id`
  const tokens = await ctx.db.sql`select * from ${ctx.db.sql(schema)}.refresh_tokens order by id`
  return JSON.stringify({ users, posts, tokens })
}

t.test('a read key calls every GET route and no other; a write key calls all of them', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services, 'scoped')
  const reader = await ctx.services.apiKeys.issueApiKey(tenant, { name: 'dashboard', scope: 'read' })
  const { calls, token } = await everyRoute(app, tenant)

  const before = await tenantRows(ctx, tenant.schemaName)
  for (const call of calls) {
    const response = await send(app, call, reader.key, token)
    const where = `${call.method} ${call.url} with a read key`
    if (call.method === 'GET') {
      t.equal(response.statusCode, 200, `${where}: 200`)
    } else {
      assertError(t, response, 403, 'INSUFFICIENT_SCOPE')
      t.equal(response.json().message, 'this api key has scope read; this request needs scope write', `${where}: names the scope needed`)
    }
  }
  t.equal(await tenantRows(ctx, tenant.schemaName), before, 'the refused writes changed nothing')

  // The write key (the tenant's first): every route answers its own success.
  const expected: Record<string, number> = { POST: 200, GET: 200, PUT: 200, PATCH: 200, DELETE: 204 }
  for (const planned of calls) {
    // The refresh just before rotated the refresh token: log out with a fresh login's.
    const call = planned.url.endsWith('/logout/')
      ? { ...planned, payload: { refresh_token: (await registerAndLogin(app, tenant, 'leaver')).refreshToken } }
      : planned
    const response = await send(app, call, tenant.key, token)
    const success =
      call.url === '/api/users/register/' || (call.method === 'POST' && call.url === '/api/posts/')
        ? 201
        : call.url.endsWith('/logout/')
          ? 204
          : expected[call.method]
    t.equal(
      response.statusCode,
      success,
      `${call.method} ${call.url} with a write key: ${success} ${response.statusCode === success ? '' : response.body}`,
    )
  }

  // A rotated read key stays a read key.
  const { issued } = await ctx.services.apiKeys.rotateApiKey(reader.prefix, { graceMs: 60_000 })
  assertError(
    t,
    await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { 'api-key': issued.key, authorization: `Bearer ${token}` },
      payload: { title: 'x', body: 'y' },
    }),
    403,
    'INSUFFICIENT_SCOPE',
  )
  t.equal((await app.inject({ url: '/api/posts/', headers: { 'api-key': issued.key, authorization: `Bearer ${token}` } })).statusCode, 200)
})

t.test("a suspended tenant's every route is 403 TENANT_SUSPENDED, its data kept; resume serves it again", async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services, 'paused')
  const other = await makeTenant(ctx.services, 'other')
  const reader = await ctx.services.apiKeys.issueApiKey(tenant, { scope: 'read' })
  const { calls, token } = await everyRoute(app, tenant)
  const otherUser = await registerAndLogin(app, other)

  await ctx.services.tenants.suspendTenant(tenant.schemaName, { reason: 'invoice overdue' })
  const before = await tenantRows(ctx, tenant.schemaName)
  for (const key of [tenant.key, reader.key]) {
    for (const call of calls) {
      const response = await send(app, call, key, token)
      assertError(t, response, 403, 'TENANT_SUSPENDED')
      t.equal(response.json().message, 'this tenant is suspended', `${call.method} ${call.url}: suspended, reason not shown`)
    }
  }
  t.equal(await tenantRows(ctx, tenant.schemaName), before, 'its data stays as it was')
  t.equal((await app.inject({ url: '/api/posts/', headers: otherUser.headers })).statusCode, 200, 'another tenant is served')
  assertError(
    t,
    await app.inject({ url: '/api/users/me/', headers: { 'api-key': `${tenant.key.slice(0, 16)}${'A'.repeat(43)}` } }),
    401,
    'INVALID_API_KEY',
  )

  await ctx.services.tenants.resumeTenant(tenant.schemaName)
  await ctx.services.tenants.suspendTenant(tenant.schemaName, { reason: 'maintenance until 14:00 UTC', showReason: true })
  const shown = await app.inject({ url: '/api/users/me/', headers: { 'api-key': tenant.key, authorization: `Bearer ${token}` } })
  assertError(t, shown, 403, 'TENANT_SUSPENDED')
  t.equal(shown.json().message, 'this tenant is suspended: maintenance until 14:00 UTC', 'the reason, when the operator chose to show it')

  await ctx.services.tenants.resumeTenant(tenant.schemaName)
  t.equal(
    (await app.inject({ url: '/api/posts/', headers: { 'api-key': tenant.key, authorization: `Bearer ${token}` } })).statusCode,
    200,
    'resumed: served again, same token',
  )
})
