import postgres from 'postgres'
import type { DatabaseConfig } from '../config.js'
import { startEmbeddedCluster } from './embedded.js'
import { DatabaseUnavailableError } from '../errors.js'

/** The postgres.js pool every core service receives. Column names come back camelCased. */
export type Sql = postgres.Sql<{ bigint: number }>
export type TransactionSql = postgres.TransactionSql<{ bigint: number }>

export interface Database {
  readonly sql: Sql
  /**
   * The pool whose dedicated connection LISTENs for revocations: on DATABASE_LISTEN_URL
   * (a direct connection, past a transaction-mode pooler), else the same server as `sql`.
   * It connects only if something listens.
   */
  readonly listenSql: Sql
  /** The URL the pool connects to (the embedded cluster's when embedded). */
  readonly url: string
  /** Closes the pool and, if this process started the embedded cluster, stops it. */
  close(): Promise<void>
}

export interface PoolOptions {
  readonly max?: number
  /** Statements each connection keeps prepared on the server; 0 prepares none. */
  readonly preparedStatements?: number
  /** Called for each server notice instead of printing it. */
  readonly onNotice?: (notice: postgres.Notice) => void
  /**
   * The connections' application_name (default `tenantbase`); one of its own per process
   * lets poolConnectionStats count this process's connections.
   */
  readonly applicationName?: string
}

/** Statements each pooled connection keeps prepared, unless configured (DB_PREPARED_STATEMENTS). */
export const DEFAULT_PREPARED_STATEMENTS = 200

/**
 * Seconds before the pool's next connection attempt after `retries` failed ones in a row.
 *
 * NOTE: postgres.js's default grows to 20 s (3^retries / 100), and a query waits for that
 * delay before its connection is even tried: with the database down, requests hung for
 * seconds instead of failing with 503, and after it came back the pool took up to 20 s to
 * reconnect. A refused connection costs a millisecond, so we retry quickly, with a cap.
 */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.01 * 2 ** retries, 0.25)
}

/**
 * Creates a postgres.js pool with tenantbase's settings.
 *
 * NOTE: tenant queries name their schema in the SQL text, so each tenant has its own
 * statements: prepared without a bound, they would fill each server connection with plans
 * for every tenant it ever served (measured at 10,000 tenants, a pool of 10: 791 MiB,
 * against 377 MiB unprepared and 390 MiB bounded to 200). So each connection prepares at
 * most its first `preparedStatements` distinct statements and sends the rest unnamed,
 * Parse, Bind and Execute in one round trip. Both are postgres.js patches
 * (patches/postgres@3.4.9.patch; test/integration/driver.test.ts).
 *
 * NOTE: 200 by default. With them the API's list of posts ran at 77-91% of the
 * fixed-schema ceiling instead of 55-65% (bench:api). They were opt-in for a while because
 * the API seemed to come back more slowly after a database restart; the slow return turned
 * out to be V8 re-optimising the code that the outage's errors deoptimised (with TurboFan
 * off it disappears), and in runs alternating 0 and 200 neither recovered faster.
 */
export function createPool(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    // A number is the patched driver's bound on prepared statements per connection.
    prepare: (options.preparedStatements ?? DEFAULT_PREPARED_STATEMENTS) as unknown as boolean,
    connect_timeout: 5,
    backoff: reconnectDelaySeconds,
    idle_timeout: 60,
    onnotice: options.onNotice ?? (() => {}),
    connection: { application_name: options.applicationName ?? 'tenantbase' },
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
  }) as unknown as Sql
}

/**
 * Opens the configured database: the external server, or the embedded cluster (joined if
 * another process already runs it, started otherwise). Fails with
 * {@link DatabaseUnavailableError} when nothing answers.
 */
export async function openDatabase(config: DatabaseConfig, options: PoolOptions = {}): Promise<Database> {
  const cluster = config.mode === 'embedded' ? await startEmbeddedCluster(config) : undefined
  const url = cluster?.url ?? config.url
  const sql = createPool(url, { max: config.poolMax, preparedStatements: config.preparedStatements, ...options })
  try {
    await sql`select 1`
  } catch (error) {
    await sql.end({ timeout: 1 })
    await cluster?.stop()
    throw new DatabaseUnavailableError(`cannot reach PostgreSQL: ${(error as Error).message}`, { cause: error })
  }
  const listenUrl = cluster ? url : config.listenUrl
  // NOTE: only LISTEN runs there, and it is not a prepared statement.
  const listenSql = createPool(listenUrl, { ...options, max: 1, preparedStatements: 0 })
  return {
    sql,
    listenSql,
    url,
    async close() {
      await listenSql.end({ timeout: 1 })
      await sql.end({ timeout: 5 })
      await cluster?.stop()
    },
  }
}
