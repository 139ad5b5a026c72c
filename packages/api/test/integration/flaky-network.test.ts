/**
 * Exactly-once writes through a real flaky network: a TCP proxy between the API and PostgreSQL
 * resets every connection periodically while clients POST with Idempotency-Keys and retry
 * until they get a 2xx. Whatever was cut (a statement, a COMMIT on its way, its answer), each
 * logical write must leave exactly one row, and no request may hang. Once with each tenant on
 * a home connection, once on the shared pool (DB_TENANT_CONNECTIONS=0); then a COMMIT cut on
 * purpose, before and after PostgreSQL got it.
 */
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { createPool, createServices, createTenantConnections } from '@tenantbase/core'
import { createTestDatabase, startFlakyProxy, testDeployment } from '@tenantbase/core/testing'
import { buildApp } from '../../src/app.js'
import { JWT_SECRET, makeTenant, registerAndLogin, testConfig } from '../helper.js'
import { assertExactlyOnce, runRetriedWrites, type Writer } from '../retried-writes.js'

/** Writes per mode: the two modes make the 2,000 of the bar. */
const WRITES = 1000
const CUT_EVERY_MS = 400

/** The API listening on a port, reaching its own test database through a flaky proxy; three tenants of two writers each. */
async function flakyApi(t: Test, tenantConnectionCount: number) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const deployment = await testDeployment()
  const proxy = await startFlakyProxy(db.url)
  const url = proxy.urlThrough(db.url)
  const config = testConfig(url, { DB_TENANT_CONNECTIONS: String(tenantConnectionCount) })
  const sql = createPool(url, { max: 10 })
  const tenantConnections =
    tenantConnectionCount > 0
      ? createTenantConnections(tenantConnectionCount, (onClose) => createPool(url, { max: 1, onClose }))
      : undefined
  const services = await createServices({ sql, config, migrations: deployment.migrations, ...(tenantConnections && { tenantConnections }) })
  await services.migrateAll()
  const app = await buildApp({ services, config, jwtSecret: JWT_SECRET, modules: deployment.modules })
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const writers: Writer[] = []
  for (let i = 0; i < 3; i++) {
    const tenant = await makeTenant(services, 'flaky')
    for (const name of ['ann', 'bob']) {
      writers.push({ schemaName: tenant.schemaName, headers: (await registerAndLogin(app, tenant, name)).headers })
    }
  }
  t.teardown(async () => {
    await app.close()
    await Promise.all([tenantConnections?.end({ timeout: 1 }), sql.end({ timeout: 1 })])
    await proxy.close()
  })
  return { db, proxy, baseUrl, writers }
}

for (const tenantConnectionCount of [4, 0]) {
  t.test(`retried writes, DB_TENANT_CONNECTIONS=${tenantConnectionCount}`, async (t) => {
    const { db, proxy, baseUrl, writers } = await flakyApi(t, tenantConnectionCount)
    proxy.cutEvery(CUT_EVERY_MS)
    const report = await runRetriedWrites(baseUrl, writers, { writes: WRITES, concurrency: 16, label: `flaky-${tenantConnectionCount}` })
    proxy.steady()

    await assertExactlyOnce(t, db.sql, writers, report, proxy.cuts())
    t.ok(proxy.cuts() > 0 && report.retries > 0, 'the network did fail under the writes')
    t.same(
      Object.keys(report.failuresByCode).filter((code) => !['DATABASE_UNAVAILABLE', 'WRITE_OUTCOME_UNKNOWN'].includes(code)),
      [],
      'every 5xx says whether the write may have happened',
    )
  })
}

t.test('a COMMIT cut on its way is WRITE_OUTCOME_UNKNOWN; the retry with its key replays it if it happened, runs it if not', async (t) => {
  const { db, proxy, baseUrl, writers } = await flakyApi(t, 4)
  const writer = writers[0]!
  for (const delivered of [false, true]) {
    const title = delivered ? 'answer-lost' : 'never-arrived'
    const key = randomUUID()
    const send = () =>
      fetch(`${baseUrl}/api/posts/`, {
        method: 'POST',
        headers: { ...writer.headers, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ title, body: 'x' }),
      })
    // The COMMIT statement as postgres.js sends it: its text, NUL-terminated.
    proxy.cutOnSend('commit\u0000', { delivered })
    const lost = await send()
    t.equal(lost.status, 503)
    t.equal(((await lost.json()) as { code: string }).code, 'WRITE_OUTCOME_UNKNOWN', `${title}: the client cannot know`)
    t.ok(lost.headers.get('retry-after'), 'with Retry-After')
    // The connection comes back at the next try; a 503 meanwhile is retried like any other.
    let retried = await send()
    for (let attempt = 0; attempt < 20 && retried.status === 503; attempt++) retried = await send()
    t.equal(retried.status, 201)
    t.equal(
      retried.headers.get('idempotent-replayed'),
      delivered ? 'true' : null,
      delivered ? 'PostgreSQL had committed: the answer is replayed' : 'PostgreSQL never got the COMMIT: the write runs now',
    )
    const [row] = await db.sql`select count(*)::int as count from ${db.sql(writer.schemaName)}.posts where title = ${title}`
    t.equal(row!.count, 1, `${title}: one row`)
  }
})
