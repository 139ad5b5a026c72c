import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { createServices, type Services } from '../src/index.js'
import { createTestDatabase, testDeployment, type TestDatabase } from '../src/testing.js'

export const FAST_CONFIG = {
  apiKeyCache: { ttlMs: 60_000, max: 1000 },
  auth: { bcryptCost: 10 },
} as const

/** A fresh database with the shared schema migrated, and the deployment's services on it. */
export async function setupServices(
  t: Test,
  options: { migrationsDir?: string; poolMax?: number } = {},
): Promise<{ db: TestDatabase; services: Services }> {
  const db = await createTestDatabase(options.poolMax === undefined ? {} : { poolMax: options.poolMax })
  t.teardown(() => db.drop())
  const services = await createServices({
    sql: db.sql,
    tenantConnections: db.tenantConnections,
    config: FAST_CONFIG,
    migrations: (await testDeployment(options.migrationsDir === undefined ? {} : { coreMigrationsDir: options.migrationsDir })).migrations,
  })
  await services.migrateAll()
  return { db, services }
}

/** A random valid schema name, so test files never collide. */
export function randomSchema(label = 't'): string {
  return `${label}_${randomBytes(5).toString('hex')}`
}

/** Creates a tenant with a random schema; returns it with its first key. */
export async function makeTenant(services: Services, label = 't') {
  const schemaName = randomSchema(label)
  return services.tenants.createTenant({ name: `Tenant ${schemaName}`, schemaName })
}
