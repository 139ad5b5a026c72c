/**
 * Exactly-once writes through a real flaky network: a TCP proxy between the API and PostgreSQL
 * resets every connection periodically while clients POST with Idempotency-Keys and retry
 * until they get a 2xx. Whatever was cut (a statement, a COMMIT on its way, its answer), each
 * logical write must leave exactly one row, and no request may hang. Once with each tenant on
 * a home connection, once on the shared pool (DB_TENANT_CONNECTIONS=0).
 */
import t from 'tap'
import { createPool, createServices, createTenantConnections } from '@tenantbase/core'
import { createTestDatabase, startFlakyProxy, testDeployment } from '@tenantbase/core/testing'
import { buildApp } from '../../src/app.js'
import { JWT_SECRET, makeTenant, registerAndLogin, testConfig } from '../helper.js'
import { assertExactlyOnce, runRetriedWrites, type Writer } from '../retried-writes.js'

/** Writes per mode: the two modes make the 2,000 of the bar. */
const WRITES = 1000
const CUT_EVERY_MS = 400

for (const tenantConnectionCount of [4, 0]) {
  t.test(`retried writes, DB_TENANT_CONNECTIONS=${tenantConnectionCount}`, async (t) => {
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
    const services = await createServices({
      sql,
      config,
      migrations: deployment.migrations,
      ...(tenantConnections && { tenantConnections }),
    })
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

    await app.close()
    await Promise.all([tenantConnections?.end({ timeout: 1 }), sql.end({ timeout: 1 })])
    await proxy.close()
  })
}
