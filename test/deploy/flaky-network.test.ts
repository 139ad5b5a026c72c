/**
 * Exactly-once writes through nginx and two API processes while a TCP proxy between them and
 * PostgreSQL resets every connection periodically: clients POST with Idempotency-Keys and
 * retry until they get a 2xx; a retry may reach the other process than the first try did.
 * Each logical write must leave exactly one row, and no request may hang.
 */
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase, startFlakyProxy } from '@tenantbase/core/testing'
import { assertExactlyOnce, runRetriedWrites, type Writer } from '../../packages/api/test/retried-writes.ts'
import { startApiProcesses, startNginx } from './nginx.ts'

const JWT_SECRET = 'flaky-network-test-secret-0123456789abcdef'
const WRITES = 1000
// Two processes hold twice the connections to re-establish after each cut: cut half as often.
const CUT_EVERY_MS = 500

t.test('retried writes through nginx, two API processes and a flaky network', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql })
  await services.migrateAll()
  const proxy = await startFlakyProxy(db.url)
  t.teardown(() => proxy.close())
  const { ports } = await startApiProcesses(t, 2, {
    ...process.env,
    DATABASE_URL: proxy.urlThrough(db.url),
    JWT_SECRET,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'fatal',
    BCRYPT_COST: '10',
  })
  const { url } = await startNginx(t, ports, { baseDomain: 'tenants.test' })

  const writers: Writer[] = []
  for (let i = 0; i < 2; i++) {
    const { tenant, apiKey } = await services.tenants.createTenant({ name: `Flaky ${i}`, schemaName: `flaky_${i}` })
    for (const name of ['ann', 'bob']) {
      const user = { email: `${name}@flaky${i}.test`, password: 'correct horse battery' }
      const post = (route: string) =>
        fetch(`${url}/api/users/${route}/`, {
          method: 'POST',
          headers: { 'api-key': apiKey.key, 'content-type': 'application/json' },
          body: JSON.stringify(user),
        })
      t.equal((await post('register')).status, 201)
      const { access_token: token } = (await (await post('login')).json()) as { access_token: string }
      writers.push({ schemaName: tenant.schemaName, headers: { 'api-key': apiKey.key, authorization: `Bearer ${token}` } })
    }
  }

  proxy.cutEvery(CUT_EVERY_MS)
  const report = await runRetriedWrites(url, writers, { writes: WRITES, concurrency: 16, label: 'nginx' })
  proxy.steady()
  await assertExactlyOnce(t, db.sql, writers, report, proxy.cuts())
  t.ok(proxy.cuts() > 0 && report.retries > 0, 'the network did fail under the writes')
})
