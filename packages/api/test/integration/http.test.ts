import t from 'tap'
import { createPool, createServices } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { buildApp } from '../../src/app.js'
import { assertError, buildTestApp, JWT_SECRET, makeTenant, registerAndLogin, setupDatabase, testConfig } from '../helper.js'

t.test('transport errors get the one JSON error shape', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, tenant)
  const json = { ...user.headers, 'content-type': 'application/json' }

  assertError(
    t,
    await app.inject({ method: 'POST', url: '/api/posts/', headers: json, payload: '{"title": "x", "body": ' }),
    400,
    'INVALID_JSON',
  )
  assertError(t, await app.inject({ method: 'POST', url: '/api/posts/', headers: json, payload: '' }), 400)
  assertError(
    t,
    await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { ...user.headers, 'content-type': 'text/plain' },
      payload: 'title=x',
    }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  )
  assertError(
    t,
    await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { ...user.headers, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'title=x&body=y',
    }),
    415,
  )
  const big = JSON.stringify({ title: 'big', body: 'x'.repeat(1024 * 1024) })
  assertError(t, await app.inject({ method: 'POST', url: '/api/posts/', headers: json, payload: big }), 413, 'PAYLOAD_TOO_LARGE')
  const justUnder = JSON.stringify({ title: 'ok', body: 'x'.repeat(10_000) })
  t.equal(
    (await app.inject({ method: 'POST', url: '/api/posts/', headers: json, payload: justUnder })).statusCode,
    201,
    'a normal body passes',
  )
  assertError(t, await app.inject({ url: '/nowhere' }), 404, 'ROUTE_NOT_FOUND')
  assertError(t, await app.inject({ url: '/api/nowhere/', headers: user.headers }), 404, 'ROUTE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'DELETE', url: '/api/users/me/', headers: user.headers }), 405, 'METHOD_NOT_ALLOWED')
  const proto = await app.inject({
    method: 'POST',
    url: '/api/posts/',
    headers: json,
    payload: '{"title":"x","body":"y","__proto__":{"admin":true}}',
  })
  t.equal(proto.statusCode, 400, 'prototype poisoning is refused')
  t.equal((app.initialConfig as { requestTimeout?: number }).requestTimeout, 30_000, 'a request timeout is set (REQUEST_TIMEOUT_MS)')
  t.equal(app.initialConfig.bodyLimit, 1024 * 1024, 'the body limit is 1 MiB (BODY_LIMIT_BYTES)')
  const echoed = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'trace-123' } })
  t.equal(echoed.headers['x-request-id'], 'trace-123', 'the request id is echoed')
  t.ok((await app.inject({ url: '/healthz' })).headers['x-request-id'], 'or generated')
})

t.test('healthz and readyz need no api key; readyz runs a real query', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('readyz is 503 REVOCATIONS_NOT_HEARD while this process does not hear its own NOTIFY', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  // LISTEN on another database of the same server hears nothing sent here, as LISTEN
  // behind a transaction-mode pooler.
  const elsewhere = await createTestDatabase({ poolMax: 1 })
  t.teardown(() => elsewhere.drop())
  const listener = await ctx.services.listenForRevocations({ listenSql: elsewhere.sql, timing: { probeTimeoutMs: 300 } })
  const ready = await app.inject({ url: '/readyz' })
  assertError(t, ready, 503, 'REVOCATIONS_NOT_HEARD')
  t.match(ready.json().message, /DATABASE_LISTEN_URL/, 'it names the fix')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'alive all the same')

  await t.rejects(ctx.services.listenForRevocations(), /already listens/, 'one listener per process')
  await listener.stop()
  const hearing = await ctx.services.listenForRevocations()
  t.teardown(() => hearing.stop())
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready once it listens where it hears')
})

t.test('readyz is 503 when the database is unreachable, health stays 200', async (t) => {
  // A pool pointing at a port nothing listens on: a real, unreachable database.
  const dead = createPool('postgres://postgres:postgres@127.0.0.1:1/nothing', { max: 1 })
  t.teardown(() => dead.end({ timeout: 1 }))
  const services = await createServices({ sql: dead })
  const app = await buildApp({ services, config: testConfig('postgres://x@127.0.0.1:1/nothing'), jwtSecret: JWT_SECRET })
  t.teardown(() => app.close())
  assertError(t, await app.inject({ url: '/readyz' }), 503, 'DATABASE_UNAVAILABLE')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  const withKey = await app.inject({ url: '/api/users/me/', headers: { 'api-key': `tb_0123456789ab_${'A'.repeat(43)}` } })
  assertError(t, withKey, 503, 'DATABASE_UNAVAILABLE')
})
