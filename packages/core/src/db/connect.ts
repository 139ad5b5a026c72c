import postgres from 'postgres'
import { DEFAULT_CONNECTION_MAX_LIFETIME_SECONDS, type DatabaseConfig } from '../config.js'
import { startEmbeddedCluster, type EmbeddedCluster } from './embedded.js'
import { CoreError, DatabaseUnavailableError } from '../errors.js'
import { pingDatabase } from './health.js'
import { isConnectionError } from './pg-errors.js'
import { createTenantConnections, sharedTenantConnections, type TenantConnections } from './tenant-connections.js'

import type { Sql } from './sql.js'

export interface Database {
  /** The shared pool: registry, keys, audit log, migrations. */
  readonly sql: Sql
  /** Where tenants' queries run: DB_TENANT_CONNECTIONS connections, each the home of a share of the tenants. */
  readonly tenantConnections: TenantConnections
  /**
   * The pool whose dedicated connection LISTENs for revocations: on DATABASE_LISTEN_URL
   * (a direct connection, past a transaction-mode pooler), else the same server as `sql`.
   * It connects only if something listens.
   */
  readonly listenSql: Sql
  /** The URL the pool connects to (the embedded cluster's when embedded). */
  readonly url: string
  /** The embedded cluster, when embedded: whether this process started it, or adopted one left behind. */
  readonly embedded?: EmbeddedCluster
  /** Closes the pool and, if this process started the embedded cluster, stops it. */
  close(): Promise<void>
}

export interface PoolOptions {
  readonly max?: number
  /** Whether statements are prepared on the server (postgres.js's `prepare`); default true. */
  readonly prepare?: boolean
  /** Seconds a server connection lives before the pool replaces it (postgres.js's `max_lifetime`). */
  readonly maxLifetimeSeconds?: number
  /**
   * Milliseconds a query may wait for a connection and run before it is canceled and fails
   * (postgres.js's `query_timeout`); 0 or omitted: no limit.
   */
  readonly queryTimeoutMs?: number
  /** Called each time the pool closes a connection (postgres.js's `onclose`). */
  readonly onClose?: () => void
  /** Called for each server notice instead of printing it. */
  readonly onNotice?: (notice: postgres.Notice) => void
  /**
   * The connections' application_name (default `tenantbase`); one of its own per process
   * lets poolConnectionStats count this process's connections.
   */
  readonly applicationName?: string
  /** The connections' plan_cache_mode (PostgreSQL's, `auto` by default). */
  readonly planCacheMode?: string
}

/** What {@link openDatabase} takes besides the pools' options. */
export interface OpenDatabaseOptions extends PoolOptions {
  /** Milliseconds between two checks of the home connections' server memory (DB_TENANT_CONNECTION_MAX_MB). */
  readonly tenantConnectionCheckMs?: number
  /** Told when those checks cannot run (the role may not read its backend's memory); default: stderr. */
  readonly onProblem?: (message: string) => void
}

/** How often each home connection's server memory is read, with DB_TENANT_CONNECTION_MAX_MB set. */
const TENANT_CONNECTION_CHECK_MS = 30_000

/** The server memory of the backend behind `sql`'s one connection: its memory contexts, added up. */
async function backendMemoryBytes(sql: Sql): Promise<number> {
  const [row] = await sql<{ bytes: number }[]>`select coalesce(sum(total_bytes), 0)::float8 as bytes from pg_backend_memory_contexts`
  return row!.bytes
}

/**
 * Every `everyMs`, replaces each home connection whose backend holds more than `maxMb`: the
 * bound on a connection's server memory, where DB_CONNECTION_MAX_LIFETIME_SECONDS bounds only
 * how long it collects. Stops, and says so once, if the role may not read the memory.
 */
function replacingHeavyConnections(
  connections: TenantConnections,
  maxMb: number,
  everyMs: number,
  onProblem: (message: string) => void,
): () => void {
  const limit = maxMb * 2 ** 20
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    connections
      .replaceWhere(async (sql) => (await backendMemoryBytes(sql)) > limit)
      .catch((error: unknown) => {
        if ((error as { code?: string }).code !== '42501') return
        clearInterval(timer)
        onProblem(
          `DB_TENANT_CONNECTION_MAX_MB is set, but this role may not read its connections' memory (pg_backend_memory_contexts): ` +
            'GRANT pg_read_all_stats to it, or unset the variable; home connections are not replaced for their memory',
        )
      })
      .finally(() => (running = false))
  }, everyMs).unref()
  return () => clearInterval(timer)
}

/**
 * Seconds before the pool's next connection attempt after `retries` failed ones in a row.
 *
 * NOTE: postgres.js's default grows to 20 s (3^retries / 100), and a query waits for that
 * delay before its connection is even tried: with the database down, requests hung for
 * seconds instead of failing with 503, and after it came back the pool took up to 20 s to
 * reconnect. A refused connection is cheap to try again, so we retry quickly, with a cap.
 */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.01 * 2 ** retries, 0.25)
}

/**
 * Creates a postgres.js pool with tenantbase's settings.
 *
 * NOTE: tenant queries name their schema in the SQL text, so each tenant has its own
 * statements, and a prepared statement lives on its server connection until that connection
 * closes: with random tenants every connection would, in time, hold a plan (and catalog
 * cache entries) for every tenant it served. postgres.js 4.2 keeps at most 1,000 prepared
 * statements per connection (and 2,000 statements per pool), a bound that cannot be set:
 * past it each query prepares again, and the catalog entries stay. It can bound a
 * connection's age (`max_lifetime`), and a replaced connection starts empty; openDatabase
 * can also replace a home connection by its memory (DB_TENANT_CONNECTION_MAX_MB). With
 * `prepare: false` a statement with untyped parameters costs two round trips (the driver
 * asks the server for the parameter types before it sends the values), which is what makes
 * it slower; it is the setting for a transaction-mode PgBouncer older than 1.21.
 */
export function createPool(url: string, options: PoolOptions = {}): Sql {
  const prepare = options.prepare ?? true
  return postgres(url, {
    max: options.max ?? 10,
    prepare,
    // NOTE: unprepared is the setting for a transaction-mode PgBouncer older than 1.21, and
    // through PgBouncer 1.18 postgres.js 4 hangs when it pipelines unprepared queries with
    // parameters on one connection (driver.test.ts's PgBouncer test); one query in flight per
    // connection (its documented `max_pipeline`) answers them all.
    max_pipeline: prepare ? 100 : 1,
    max_lifetime: options.maxLifetimeSeconds ?? DEFAULT_CONNECTION_MAX_LIFETIME_SECONDS,
    connect_timeout: 5,
    query_timeout: (options.queryTimeoutMs ?? 0) / 1000,
    backoff: reconnectDelaySeconds,
    idle_timeout: 60,
    onnotice: options.onNotice ?? (() => {}),
    ...(options.onClose && { onclose: options.onClose }),
    connection: {
      application_name: options.applicationName ?? 'tenantbase',
      ...(options.planCacheMode && { plan_cache_mode: options.planCacheMode }),
    },
    transform: { column: { from: postgres.toCamel } },
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        // Ids are identity columns: far below 2^53, so a number is exact and JSON-friendly.
        parse: (value: string) => Number(value),
      },
    },
  })
}

/** The `host:port` of a PostgreSQL URL, for messages: never its user or password. */
export function databaseAddress(url: string): string {
  try {
    const { hostname, port } = new URL(url)
    if (hostname) return `${hostname}:${port || '5432'}`
  } catch {
    // Not a single-host URL (postgres.js also takes host lists): name no host at all.
  }
  return 'the configured host'
}

/**
 * What to report for `error`, thrown while working on `database` (its pool still open): a
 * {@link DatabaseUnavailableError} naming the host and port when the connection failed (also
 * as the cause of another error, such as a failed migration), or when an error nobody
 * anticipated came while the database no longer answers; otherwise `error` itself.
 *
 * NOTE: the second case exists because postgres.js can throw a TypeError from a timer when a
 * connection drops inside a transaction (porsager/postgres#1208): the edge sees that instead
 * of the connection error, so the database is asked once more, on the pool it already has
 * (no pool is opened to explain an error).
 */
export async function explainDatabaseError(error: unknown, database: Pick<Database, 'sql' | 'url'>): Promise<unknown> {
  const { url } = database
  const unreachable = (reason: string) =>
    new DatabaseUnavailableError(`database unreachable at ${databaseAddress(url)}: ${reason}`, { cause: error })
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (isConnectionError(cause)) return unreachable(cause.message)
  }
  if (error instanceof CoreError) return error
  try {
    await pingDatabase(database.sql)
    return error
  } catch (failure) {
    const cause = (failure as Error).cause
    return unreachable(cause instanceof Error ? cause.message : (failure as Error).message)
  }
}

/**
 * Opens the configured database: the external server, or the embedded cluster (joined if
 * another process already runs it, started otherwise). Fails with
 * {@link DatabaseUnavailableError} when nothing answers.
 */
export async function openDatabase(config: DatabaseConfig, openOptions: OpenDatabaseOptions = {}): Promise<Database> {
  const { tenantConnectionCheckMs, onProblem, ...options } = openOptions
  const cluster = config.mode === 'embedded' ? await startEmbeddedCluster(config) : undefined
  const url = cluster?.url ?? config.url
  const poolOptions: PoolOptions = {
    prepare: config.preparedStatements,
    maxLifetimeSeconds: config.connectionMaxLifetimeSeconds,
    queryTimeoutMs: config.queryTimeoutMs,
    ...options,
  }
  const sql = createPool(url, { max: config.poolMax, ...poolOptions })
  try {
    await sql`select 1`
  } catch (error) {
    await sql.end({ timeout: 1 })
    await cluster?.stop()
    throw new DatabaseUnavailableError(`database unreachable at ${databaseAddress(url)}: ${(error as Error).message}`, { cause: error })
  }
  const listenUrl = cluster ? url : config.listenUrl
  // NOTE: only LISTEN runs there, and it is not a prepared statement.
  const listenSql = createPool(listenUrl, { ...options, max: 1, prepare: false })
  // NOTE: PostgreSQL's `auto` mode plans each of a prepared statement's first five executions
  // anew before it settles on a generic plan. A tenant statement names its schema, so it is a
  // statement of its own on each connection: a tenant that sends it fewer than five times in a
  // connection's lifetime (most of them, where thousands share a connection) is planned on every
  // request. Sent as a startup parameter only with prepared statements: a transaction-mode
  // PgBouncer, where they are off, refuses startup parameters it does not know.
  const planCacheMode = poolOptions.prepare && config.tenantPlanCacheMode !== 'auto' ? config.tenantPlanCacheMode : undefined
  // Each connects at its first query, as the pool's connections do.
  const tenantConnections =
    config.tenantConnections > 0
      ? createTenantConnections(config.tenantConnections, (onClose) =>
          createPool(url, { ...poolOptions, max: 1, onClose, ...(planCacheMode && { planCacheMode }) }),
        )
      : sharedTenantConnections(sql)
  const stopReplacing =
    config.tenantConnections > 0 && config.tenantConnectionMaxMb > 0
      ? replacingHeavyConnections(
          tenantConnections,
          config.tenantConnectionMaxMb,
          tenantConnectionCheckMs ?? TENANT_CONNECTION_CHECK_MS,
          onProblem ?? ((message) => process.stderr.write(`tenantbase: ${message}\n`)),
        )
      : undefined
  return {
    sql,
    tenantConnections,
    listenSql,
    url,
    ...(cluster && { embedded: cluster }),
    async close() {
      stopReplacing?.()
      await listenSql.end({ timeout: 1 })
      await Promise.all([tenantConnections.end({ timeout: 5 }), sql.end({ timeout: 5 })])
      await cluster?.stop()
    },
  }
}
