import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Socket } from 'node:net'
import postgres from 'postgres'
import { parseNode, type CitusNode } from './citus/citus-service.js'
import { createPool } from './db/connect.js'
import type { Sql } from './db/sql.js'
import { createTenantConnections, type TenantConnections } from './db/tenant-connections.js'
import { readModuleMigrations } from './migrations/catalog.js'
import { loadDeployment, type Deployment } from './modules/load-deployment.js'

/** A database of its own for one test file, inside the test run's PostgreSQL server. */
export interface TestDatabase {
  readonly url: string
  /** A tenantbase pool on the new database. */
  readonly sql: Sql
  /** Three connections the tenants are homed on, as the API's (pass to createServices). */
  readonly tenantConnections: TenantConnections
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
 * The workers named in TEST_CITUS_WORKERS (`host:port,host:port`): set, TEST_DATABASE_URL is
 * a Citus coordinator and each test database is made a cluster of its own.
 */
export function testCitusWorkers(list = process.env.TEST_CITUS_WORKERS?.trim()): CitusNode[] {
  return list ? list.split(',').map(parseNode) : []
}

/** `serverUrl` with another database, and another host and port when given. */
function urlOf(serverUrl: string, database: string, node?: CitusNode): string {
  const parsed = new URL(serverUrl)
  parsed.pathname = `/${database}`
  if (node) [parsed.hostname, parsed.port] = [node.host, String(node.port)]
  return parsed.toString()
}

/** Runs `work` on a one-connection client of `url`, then closes it. */
async function withClient<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return await work(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/**
 * Runs `work` again, at most `attempts` times in all, when it fails: a worker that has just
 * started or is busy can refuse a node registration once ("failure on connection marked as
 * essential") and accept it a moment later.
 */
async function retried<T>(attempts: number, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (attempt >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt))
    }
  }
}

/**
 * Makes database `name` a Citus cluster with schema-based sharding: Citus 12.1 propagates
 * neither CREATE DATABASE nor the extension to workers, and node registration is per
 * database, so each worker gets the database and the extension, and the coordinator's
 * copy registers itself and the workers. A cluster's `template1` may already hold the
 * extension, so it is created only if missing.
 */
async function makeCitusDatabase(serverUrl: string, name: string, workers: readonly CitusNode[]): Promise<void> {
  for (const worker of workers) {
    await withClient(urlOf(serverUrl, 'postgres', worker), (admin) => admin`create database ${admin(name)}`)
    await withClient(urlOf(serverUrl, name, worker), (sql) => sql`create extension if not exists citus`)
  }
  const coordinator = new URL(serverUrl)
  await withClient(urlOf(serverUrl, name), async (sql) => {
    await sql`create extension if not exists citus`
    await sql`select citus_set_coordinator_host(${coordinator.hostname}, ${Number(coordinator.port || 5432)})`
    for (const worker of workers) await retried(3, () => sql`select citus_add_node(${worker.host}, ${worker.port})`)
    await sql`alter database ${sql(name)} set citus.enable_schema_based_sharding = on`
  })
}

/** Drops database `name` on the server and on each worker, where it exists. */
async function dropTestDatabase(serverUrl: string, name: string, workers: readonly CitusNode[]): Promise<void> {
  const servers = [serverUrl, ...workers.map((worker) => urlOf(serverUrl, 'postgres', worker))]
  for (const server of servers) await withClient(server, (sql) => sql`drop database if exists ${sql(name)} with (force)`)
}

/**
 * Creates an empty database named `tb_test_<random>` so each test file has its own
 * registry and tenants: files run in parallel without seeing each other's tenants. With
 * Citus workers (TEST_CITUS_WORKERS by default), the database spans the coordinator and
 * every worker. Benchmarks pass their own server and workers.
 */
export async function createTestDatabase(
  options: { poolMax?: number; serverUrl?: string; citusWorkers?: readonly CitusNode[] } = {},
): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? testServerUrl()
  const workers = options.citusWorkers ?? testCitusWorkers()
  const name = `tb_test_${randomBytes(6).toString('hex')}`
  await withClient(serverUrl, (admin) => admin`create database ${admin(name)}`)
  if (workers.length > 0) {
    try {
      await makeCitusDatabase(serverUrl, name, workers)
    } catch (error) {
      // Nothing of a failed set-up stays behind: no database, and no connection that would keep the test file running.
      await dropTestDatabase(serverUrl, name, workers).catch(() => {})
      throw new Error(`could not make test database ${name} a Citus cluster: ${(error as Error).message}`, { cause: error })
    }
  }
  const url = urlOf(serverUrl, name)
  const sql = createPool(url, { max: options.poolMax ?? 10 })
  const tenantConnections = createTenantConnections(3, (onClose) => createPool(url, { max: 1, onClose }))
  return {
    url,
    sql,
    tenantConnections,
    async drop() {
      await Promise.all([tenantConnections.end({ timeout: 5 }), sql.end({ timeout: 5 })])
      await dropTestDatabase(serverUrl, name, workers)
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

/**
 * The deployment tests run: the project's tenantbase.config, read as every entry point reads
 * it, so that tests of the base see a user's modules as the API and tenantctl do. With
 * `coreMigrationsDir`, core's migrations come from that folder (tests of a base upgrade).
 */
export async function testDeployment(options: { coreMigrationsDir?: string } = {}): Promise<Deployment> {
  const deployment = await loadDeployment()
  if (options.coreMigrationsDir === undefined) return deployment
  const migrations = await readModuleMigrations([{ name: 'core', migrations: options.coreMigrationsDir }, ...deployment.modules.slice(1)])
  return { ...deployment, migrations }
}

/** A TCP proxy in front of PostgreSQL that cuts its connections on demand or periodically. */
export interface FlakyProxy {
  /** `url` (a PostgreSQL URL) pointed at the proxy instead. */
  urlThrough(url: string): string
  /** Cuts every open connection every `everyMs` from now on (resetting both ends), until {@link steady}. */
  cutEvery(everyMs: number): void
  /** Stops cutting. */
  steady(): void
  /** Cuts every open connection now. */
  cutAll(): void
  /**
   * Cuts the next connection on which the client sends `text` (a statement, such as `commit`),
   * once: with `delivered`, PostgreSQL receives that message and then the end of the
   * connection, so it runs it, while the client's side is reset at once, before any answer;
   * without, the message is dropped and both sides are reset.
   */
  cutOnSend(text: string, options: { delivered: boolean }): void
  /** Connections cut so far. */
  cuts(): number
  close(): Promise<void>
}

/**
 * A TCP proxy on 127.0.0.1 in front of `url`'s server, for tests of a flaky network between the
 * API and PostgreSQL: a cut resets both ends of each open connection, as a dropped link or a
 * restarted pooler does, whatever the driver was doing on it (sending a statement, waiting for a
 * COMMIT's answer...).
 */
export async function startFlakyProxy(url: string): Promise<FlakyProxy> {
  const target = new URL(url)
  const pairs = new Set<[Socket, Socket]>()
  let cut = 0
  let timer: NodeJS.Timeout | undefined
  let trap: { text: string; delivered: boolean } | undefined
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) })
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const drop = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.on('data', (chunk: Buffer) => {
      if (trap && chunk.includes(trap.text)) {
        const { delivered } = trap
        trap = undefined
        cut++
        pairs.delete(pair)
        if (delivered) {
          // The server gets the message, then the end: its own side closes once it has run it.
          client
            .removeListener('close', drop)
            .removeListener('error', drop)
            .on('error', () => {})
          upstream.end(chunk)
          client.resetAndDestroy()
        } else {
          for (const socket of pair) socket.resetAndDestroy()
        }
        return
      }
      if (!upstream.write(chunk)) client.pause()
    })
    upstream.on('drain', () => client.resume())
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const cutAll = () => {
    for (const pair of pairs) {
      cut++
      pairs.delete(pair)
      for (const socket of pair) socket.resetAndDestroy()
    }
  }
  const steady = () => {
    clearInterval(timer)
    timer = undefined
  }
  return {
    urlThrough(original) {
      const through = new URL(original)
      through.hostname = '127.0.0.1'
      through.port = String(port)
      return through.toString()
    },
    cutEvery(everyMs) {
      steady()
      timer = setInterval(cutAll, everyMs)
    },
    steady,
    cutAll,
    cutOnSend(text, { delivered }) {
      trap = { text, delivered }
    },
    cuts: () => cut,
    async close() {
      steady()
      cutAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
