import type { Sql } from './sql.js'

/** What a postgres.js pool (or several, added up) is doing right now, as the driver counts it. */
export interface DriverPoolStats {
  /** Connections open or being opened. */
  readonly connections: number
  /** Of those, still connecting. */
  readonly opening: number
  /** With no query in flight. */
  readonly idle: number
  /** Held by a transaction or a reserved connection. */
  readonly leased: number
  /** Queries, transactions and reservations waiting for a connection. */
  readonly waiting: number
}

/** The stats of `pools` added up: the tenants' home connections are one pool each. */
export function sumDriverPoolStats(pools: readonly Pick<Sql, 'stats'>[]): DriverPoolStats {
  const sum = { connections: 0, opening: 0, idle: 0, leased: 0, waiting: 0 }
  for (const { stats } of pools) {
    sum.connections += stats.connections
    sum.opening += stats.opening
    sum.idle += stats.idle
    sum.leased += stats.leased
    sum.waiting += stats.waiting
  }
  return sum
}

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
 * The driver's own count is {@link DriverPoolStats}; this one is the server's, which also
 * sees a connection waiting for a lock. Behind a transaction-mode pooler it counts the
 * pooler's server connections that carry this name at the moment.
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
