import postgres from 'postgres'
import type { DatabaseConfig } from '../config.js'
import { startEmbeddedCluster } from './embedded.js'
import { DatabaseUnavailableError } from '../errors.js'

/** The postgres.js pool every core service receives. Column names come back camelCased. */
export type Sql = postgres.Sql<{ bigint: number }>
export type TransactionSql = postgres.TransactionSql<{ bigint: number }>

export interface Database {
  readonly sql: Sql
  /** The URL the pool connects to (the embedded cluster's when embedded). */
  readonly url: string
  /** Closes the pool and, if this process started the embedded cluster, stops it. */
  close(): Promise<void>
}

export interface PoolOptions {
  readonly max?: number
  /** Called for each server notice instead of printing it. */
  readonly onNotice?: (notice: postgres.Notice) => void
}

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
 * NOTE: statements are not prepared. Tenant queries name their schema in the SQL text, so
 * prepared statements would be cached per tenant per connection: with 10,000 tenants that
 * is unbounded memory and, measured (DESIGN.md), slower than unnamed statements.
 */
export function createPool(url: string, options: PoolOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    prepare: false,
    connect_timeout: 5,
    backoff: reconnectDelaySeconds,
    idle_timeout: 60,
    onnotice: options.onNotice ?? (() => {}),
    connection: { application_name: 'tenantbase' },
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
  const sql = createPool(url, { max: config.poolMax, ...options })
  try {
    await sql`select 1`
  } catch (error) {
    await sql.end({ timeout: 1 })
    await cluster?.stop()
    throw new DatabaseUnavailableError(`cannot reach PostgreSQL: ${(error as Error).message}`, { cause: error })
  }
  return {
    sql,
    url,
    async close() {
      await sql.end({ timeout: 5 })
      await cluster?.stop()
    },
  }
}
