import type { Sql } from './connect.js'

/** The server's view of one pool's connections (all connections sharing its application_name). */
export interface PoolConnectionStats {
  /** Running a statement. */
  readonly active: number
  /** Inside a transaction, between statements: held, not free. */
  readonly idleInTransaction: number
  readonly idle: number
  /** Of the active ones, those waiting for a lock. */
  readonly waitingOnLock: number
}

/**
 * Counts the connections of `sql`'s pool as PostgreSQL sees them: those whose
 * application_name is this connection's own (give each process a name of its own, see
 * PoolOptions.applicationName), less the one asking.
 *
 * NOTE: postgres.js keeps no public count of its connections in use or of the queries
 * queued for one, and its internals are not ours to patch; the server's pg_stat_activity
 * is the count that exists. Behind a transaction-mode pooler it counts the pooler's
 * server connections that carry this name at the moment.
 */
export async function poolConnectionStats(sql: Sql): Promise<PoolConnectionStats> {
  const [row] = await sql<{ active: number; idleInTransaction: number; idle: number; waitingOnLock: number }[]>`
    select
      count(*) filter (where state = 'active')::int as active,
      count(*) filter (where state like 'idle in transaction%')::int as idle_in_transaction,
      count(*) filter (where state = 'idle')::int as idle,
      count(*) filter (where state = 'active' and wait_event_type = 'Lock')::int as waiting_on_lock
    from pg_stat_activity
    where application_name = current_setting('application_name') and pid <> pg_backend_pid()`
  return row!
}
