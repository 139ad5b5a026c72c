import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createPool, createServices } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'
import { buildApp } from '../../src/app.js'
import { createApiMetrics } from '../../src/metrics.js'
import { buildMetricsApp } from '../../src/metrics-app.js'
import { JWT_SECRET, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

const packageDir = fileURLToPath(new URL('../..', import.meta.url))

/** The value of one sample line `name{labels} value` of a Prometheus text page, or undefined. */
function sample(page: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const line of page.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const present = (match[2] ?? '').split(',').filter(Boolean)
    if (wanted.length === present.length && wanted.every((label) => present.includes(label))) return Number(match[3])
  }
  return undefined
}

t.test('GET /metrics: requests by route and status, the key cache, revocations, refusals, per-tenant series', async (t) => {
  const ctx = await setupDatabase(t, { LOGIN_MAX_FAILURES_PER_EMAIL: '1' })
  const listener = await ctx.services.listenForRevocations()
  t.teardown(() => listener.stop())
  const metrics = createApiMetrics({ services: ctx.services, perTenant: 2 })
  const app = await buildApp({ services: ctx.services, config: ctx.config, jwtSecret: JWT_SECRET, metrics })
  t.teardown(() => app.close())
  const metricsApp = await buildMetricsApp(metrics)
  t.teardown(() => metricsApp.close())

  const tenants = [await makeTenant(ctx.services, 'm1'), await makeTenant(ctx.services, 'm2'), await makeTenant(ctx.services, 'm3')]
  // One after the other: the first tenants seen get series of their own.
  const users = []
  for (const tenant of tenants) users.push(await registerAndLogin(app, tenant))
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ url: '/api/posts/', headers: users[0]!.headers })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/posts', headers: users[1]!.headers })).statusCode, 200, 'without its slash: the same route')
  t.equal((await app.inject({ url: '/api/posts/', headers: users[2]!.headers })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/posts/' })).statusCode, 401)
  t.equal((await app.inject({ url: '/no/such/path/12345' })).statusCode, 404)
  const wrong = { email: users[0]!.email, password: 'wrong-password' }
  const key = { 'api-key': tenants[0]!.key }
  t.equal((await app.inject({ method: 'POST', url: '/api/users/login/', headers: key, payload: wrong })).statusCode, 401)
  t.equal(
    (await app.inject({ method: 'POST', url: '/api/users/login/', headers: key, payload: wrong })).statusCode,
    429,
    'refused by the limit',
  )
  const spare = await ctx.services.apiKeys.issueApiKey({ id: tenants[2]!.id, schemaName: tenants[2]!.schemaName }, { name: 'spare' })
  await ctx.services.apiKeys.revokeApiKey(spare.prefix)
  for (let i = 0; i < 200 && (listener.heard().key ?? 0) < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10))

  // A host name that names no tenant: looked up once, then answered by the cache.
  for (let i = 0; i < 2; i++) t.equal(await ctx.services.hostResolver.resolveHost('nobody.example.test'), undefined)

  const response = await metricsApp.inject({ url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  const page = response.body
  const count = (labels: Record<string, string>) => sample(page, 'tenantbase_http_request_duration_seconds_count', labels)
  t.equal(count({ method: 'GET', route: '/api/posts/', status_code: '200' }), 7, 'by route template, whatever the slash')
  t.equal(count({ method: 'GET', route: '/api/posts/', status_code: '401' }), 1)
  t.equal(count({ method: 'GET', route: 'unmatched', status_code: '404' }), 1, 'an unknown URL is one series, not one per URL')
  t.notMatch(page, /no\/such\/path/, 'no raw URL in any label')
  t.equal(count({ method: 'POST', route: '/api/users/login/', status_code: '429' }), 1)
  t.ok(
    sample(page, 'tenantbase_http_request_duration_seconds_bucket', {
      method: 'GET',
      route: '/api/posts/',
      status_code: '200',
      le: '+Inf',
    }) === 7,
    'a latency histogram',
  )
  t.equal(sample(page, 'tenantbase_rate_limit_refusals_total', { limit: 'login_failures' }), 1)
  const hits = sample(page, 'tenantbase_api_key_cache_lookups_total', { result: 'hit' })!
  const misses = sample(page, 'tenantbase_api_key_cache_lookups_total', { result: 'miss' })!
  t.ok(hits >= 7 && misses >= 3, `api key cache hits (${hits}) and misses (${misses})`)
  t.equal(sample(page, 'tenantbase_host_cache_lookups_total', { result: 'miss' }), 1, 'the host looked up once')
  t.equal(sample(page, 'tenantbase_host_cache_lookups_total', { result: 'hit' }), 1, 'then answered by the cache')
  t.equal(sample(page, 'tenantbase_revocations_heard_total', { kind: 'key' }), 1, 'the revocation heard')
  t.ok(sample(page, 'tenantbase_revocations_heard_total', { kind: 'probe' })! >= 1, 'and its own probe')
  t.equal(sample(page, 'tenantbase_revocations_hearing'), 1)
  for (const state of ['in_use', 'idle', 'waiting']) {
    t.ok(Number.isInteger(sample(page, 'tenantbase_db_pool_connections', { state })), `pool connections ${state}`)
  }
  for (const pool of ['shared', 'tenants']) {
    t.equal(sample(page, 'tenantbase_db_pool_waiting', { pool }), 0, `nothing waits for a connection (${pool})`)
    const idle = sample(page, 'tenantbase_db_driver_connections', { pool, state: 'idle' })!
    t.ok(idle >= 1, `the driver's idle connections (${pool}): ${idle}`)
  }
  t.ok(sample(page, 'tenantbase_db_connection_events_total', { event: 'open' })! >= 2, 'connections opened, from the pool events')
  t.ok(sample(page, 'process_cpu_seconds_total') !== undefined, "the process's own metrics too")

  const tenant = (schemaName: string) => sample(page, 'tenantbase_tenant_requests_total', { tenant: schemaName, status_class: '2xx' })
  t.ok(tenant(tenants[0]!.schemaName)! >= 5 && tenant(tenants[1]!.schemaName)! >= 1, 'the first two tenants have series of their own')
  t.equal(tenant(tenants[2]!.schemaName), undefined, 'the third does not (METRICS_PER_TENANT=2)')
  t.ok(tenant('other')! >= 1, 'it is counted as other')

  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'not on the API port')
  t.equal((await app.inject({ url: '/api/metrics', headers: users[0]!.headers })).statusCode, 404, 'never under /api/')
})

t.test("the waiting queue is the driver's: a query waiting for the one connection a transaction holds", async (t) => {
  const ctx = await setupDatabase(t)
  const sql = createPool(ctx.db.url, { max: 1 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const services = await createServices({ sql, config: ctx.config })
  const metrics = createApiMetrics({ services, perTenant: 0 })
  t.teardown(() => metrics.close())
  // NOTE: these two only: the server's count (tenantbase_db_pool_connections) is a query, which
  // would wait for the held connection too.
  const scrape = async () =>
    (
      await Promise.all(
        ['tenantbase_db_pool_waiting', 'tenantbase_db_driver_connections'].map((name) => metrics.registry.getSingleMetricAsString(name)),
      )
    ).join('\n')

  let release!: () => void
  let held!: () => void
  const holding = new Promise<void>((resolve) => (held = resolve))
  const transaction = sql.begin(async (tx) => {
    await tx`select 1`
    held()
    await new Promise<void>((resolve) => (release = resolve))
  })
  await holding
  const waiter = sql`select 2 as two`.execute()
  const queued = waiter.then((rows) => rows[0]!.two)
  // postgres.js queues a query on the next turn of the event loop.
  await new Promise((resolve) => setImmediate(resolve))
  const page = await scrape()
  t.equal(sample(page, 'tenantbase_db_pool_waiting', { pool: 'shared' }), 1, 'one query waits for the connection')
  t.equal(sample(page, 'tenantbase_db_driver_connections', { pool: 'shared', state: 'leased' }), 1, 'held by the transaction')
  t.equal(sample(page, 'tenantbase_db_pool_waiting', { pool: 'tenants' }), undefined, 'no home connections: no series')
  release()
  await transaction
  t.equal(await queued, 2)
  t.equal(sample(await scrape(), 'tenantbase_db_pool_waiting', { pool: 'shared' }), 0, 'and no longer once it ran')
})

t.test('without METRICS_PORT nothing is recorded; with it a real server serves them on that port only', async (t) => {
  const ctx = await setupDatabase(t)
  const plain = await buildApp({ services: ctx.services, config: ctx.config, jwtSecret: JWT_SECRET })
  t.teardown(() => plain.close())
  t.equal(plain.metrics, undefined, 'no metrics object, no hook')
  t.notOk(plain.hasRoute({ method: 'GET', url: '/metrics' }))

  const [port, metricsPort] = [await freePort(), await freePort()]
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: packageDir,
    env: {
      ...process.env,
      DATABASE_URL: ctx.db.url,
      JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  t.teardown(() => void child.kill('SIGKILL'))
  let page: Response | undefined
  for (let i = 0; i < 400 && !page?.ok; i++) {
    page = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined)
    if (!page?.ok) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(page?.status, 200, 'served on METRICS_PORT')
  t.match(await page!.text(), /tenantbase_revocations_hearing 1/, 'the server listens for revocations and hears them')
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'not on PORT')
})
