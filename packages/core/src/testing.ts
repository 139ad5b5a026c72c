import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import postgres from 'postgres'
import { createPool, type Sql } from './db/connect.js'

/** A database of its own for one test file, inside the test run's PostgreSQL server. */
export interface TestDatabase {
  readonly url: string
  /** A tenantbase pool on the new database. */
  readonly sql: Sql
  /** Closes every pool and drops the database. */
  drop(): Promise<void>
}

/** The server tests run against: TEST_DATABASE_URL (set by scripts/with-test-db.mjs) or DATABASE_URL. */
export function testServerUrl(): string {
  const url = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL
  if (!url) {
    throw new Error('no test database: run tests with `pnpm test` (it starts an embedded PostgreSQL) or set TEST_DATABASE_URL')
  }
  return url
}

/**
 * Creates an empty database named `tb_test_<random>` so each test file has its own
 * registry and tenants: files run in parallel without seeing each other's tenants.
 */
export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl()
  const name = `tb_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin`create database ${admin(name)}`
  const parsed = new URL(serverUrl)
  parsed.pathname = `/${name}`
  const url = parsed.toString()
  const sql = createPool(url, { max: options.poolMax ?? 10 })
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 })
      await admin`drop database if exists ${admin(name)} with (force)`
      await admin.end({ timeout: 5 })
    },
  }
}

/** A TCP port free on 127.0.0.1 right now (for servers a test or benchmark starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
