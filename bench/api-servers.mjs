/**
 * The servers of bench/api.ts, one per process (started by it, never by hand):
 *
 *   hello   bare Fastify, one route answering {hello: 'world'}             (ceiling 1)
 *   fixed   bare Fastify + postgres.js, the same 20-post page from one fixed
 *           schema, prepared statement, no tenancy, no auth                 (ceiling 2)
 *   shared-table  bare Fastify + postgres.js, the same page from ONE table holding every
 *           tenant's posts keyed by tenant_id (the `tenant-id` header names it), prepared
 *           statement, no auth: the shared-table design's ceiling (bench/tenant-loads.ts)
 *   api     the real API (buildApp over core, as server.ts builds it: listening for
 *           revocations, recording metrics when METRICS_PORT is set), plus one
 *           bench-only route behind the same api-key + JWT hooks doing no query
 *
 * Each prints `listening <port>` on stdout once ready. Plain JavaScript, so no loader
 * runs in the measured processes (server.js runs without one too).
 */
import { createRequire } from 'node:module'
import { createServices, loadConfig, openDatabase } from '@tenantbase/core'
import { buildApp } from '@tenantbase/api'
import { createApiMetrics } from '@tenantbase/api/metrics'

// The api package's dependencies (the workspace root does not depend on fastify).
const require = createRequire(new URL('../packages/api/package.json', import.meta.url))
const Fastify = require('fastify')
// postgres.js 4 is an ES module: its default export is the function.
const { default: postgres } = await import(require.resolve('postgres'))

const [mode, databaseUrl, fixedSchema] = process.argv.slice(2)

async function helloServer() {
  const app = Fastify()
  app.get('/', async () => ({ hello: 'world' }))
  return app
}

async function fixedServer() {
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} })
  const app = Fastify()
  const schema = sql(fixedSchema)
  app.get('/posts/', async () => {
    const results = await sql`
      select id, title, body, author_id, created_at, updated_at from ${schema}.posts order by id desc limit 20`
    return { results, next: null }
  })
  app.addHook('onClose', () => sql.end({ timeout: 1 }))
  return app
}

async function sharedTableServer() {
  const sql = postgres(databaseUrl, { max: 10, onnotice: () => {} })
  const app = Fastify()
  app.get('/posts/', async (request) => {
    const tenantId = Number(request.headers['tenant-id'])
    const results = await sql`
      select id, title, body, author_id, created_at, updated_at from bench_shared.posts
      where tenant_id = ${tenantId} and id < ${Number.MAX_SAFE_INTEGER} order by id desc limit 21`
    return { results: results.slice(0, 20), next: null }
  })
  app.addHook('onClose', () => sql.end({ timeout: 1 }))
  return app
}

async function apiServer() {
  // As server.ts does, minus the listen banner; LOG_LEVEL comes from the environment.
  const config = loadConfig(process.env)
  const db = await openDatabase(config.database)
  const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config })
  const revocations = await services.listenForRevocations({ listenSql: db.listenSql })
  // Recorded as server.ts records them; the page itself is not served (a scrape every few
  // seconds is not on the request path).
  const metrics = config.metrics.port === undefined ? undefined : createApiMetrics({ services, perTenant: config.metrics.perTenant })
  const app = await buildApp({ services, config, jwtSecret: config.auth.jwtSecret, logger: { level: config.logLevel }, metrics })
  app.addHook('onClose', () => revocations.stop())
  app.get('/api/bench/auth/', { onRequest: app.requireApiKey, preHandler: app.requireUser }, async (request) => ({
    tenant: request.tenant.id,
    user: request.userId,
  }))
  app.addHook('onClose', () => db.close())
  return app
}

const build = { hello: helloServer, fixed: fixedServer, 'shared-table': sharedTableServer, api: apiServer }[mode ?? '']
if (!build) throw new Error(`unknown server ${mode}`)
const app = await build()
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
