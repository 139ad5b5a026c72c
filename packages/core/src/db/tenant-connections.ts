import { DatabaseUnavailableError } from '../errors.js'
import type { Sql } from './sql.js'
import { isConnectionError } from './pg-errors.js'
import { sumDriverPoolStats, type DriverPoolStats } from './pool-stats.js'

/**
 * Where a tenant's queries run: each tenant has a home connection, so a server connection
 * serves a stable share of the tenants and keeps only their statements, plans and catalog
 * entries, small and warm.
 *
 * NOTE: a tenant query names its schema in the SQL text, so the server keeps a prepared
 * statement, a plan and catalog cache entries per tenant per connection, for as long as the
 * connection lives. With one shared pool every connection ends up with every tenant; homed,
 * each of N connections holds an Nth of them. bench:queries prints the server memory and the
 * speed of both.
 */
export interface TenantConnections<S = Sql> {
  /**
   * Runs `work` on the home connection of tenant `tenantId`, or on the least busy one when
   * the home connection already has `detourAt` queries waiting (a hot tenant, or a slow
   * transaction, cannot stall the other tenants of its connection for long), or is not up.
   */
  use<T>(tenantId: number, work: (sql: S) => Promise<T>): Promise<T>
  /** How many connections the tenants are homed on (0: the shared pool serves them). */
  readonly size: number
  /** Queries that ran away from their home connection since the start. */
  detours(): number
  /** The home connections' pools added up, as the driver counts them (none: the shared pool serves them). */
  stats(): DriverPoolStats | undefined
  /**
   * Replaces each home connection for which `over` says so (asked on that connection, one at
   * a time): the queries already sent to it finish there, and the next ones open a new one,
   * which starts with no tenant's catalog entries or plans. Resolves to how many it replaced.
   */
  replaceWhere(over: (sql: S) => Promise<boolean>): Promise<number>
  /** Home connections replaced by {@link replaceWhere} since the start. */
  replacements(): number
  /** Closes every connection. */
  end(options?: { timeout?: number }): Promise<void>
}

/** Queries waiting on a home connection before the next one goes to the least busy. */
export const DEFAULT_DETOUR_AT = 16

/**
 * Homes tenants on `count` one-connection pools made by `open`: tenant `id` on
 * `id % count`. Ids are sequential, so the shares are even. `open` receives the callback
 * its pool must call when its connection closes (postgres.js's `onclose`).
 *
 * NOTE: a connection is up from a query that succeeded on it until it closes or a query
 * on it fails with a connection error. The first query for a home that is not up is its
 * reconnection attempt; the queries that come meanwhile go to a connection that is up, or,
 * when none is, wait for that attempt: they run if it succeeds and fail with it at once if
 * not. Without this, queries queued on a one-connection pool while the database
 * was down were refused one per reconnection attempt, a backoff apart, so requests caught
 * by a shutdown hung for seconds instead of failing (test/stress/db-outage.test.ts).
 */
export function createTenantConnections<S extends Pick<Sql, 'end' | 'stats'> = Sql>(
  count: number,
  open: (onClose: () => void) => S,
  detourAt = DEFAULT_DETOUR_AT,
): TenantConnections<S> {
  const up = Array.from({ length: count }, () => false)
  /** Per connection that is not up: its reconnection attempt under way, resolving to whether it succeeded. */
  const attempts: (Promise<boolean> | undefined)[] = Array.from({ length: count }, () => undefined)
  // A replaced pool's close must not mark its successor down.
  const openHome = (i: number): S => {
    const pool: S = open(() => {
      if (connections[i] === pool) up[i] = false
    })
    return pool
  }
  const connections: S[] = []
  for (let i = 0; i < count; i++) connections.push(openHome(i))
  const waiting = up.map(() => 0)
  let detours = 0
  let replacements = 0

  function pick(tenantId: number): number {
    const home = tenantId % count
    if (up[home] ? waiting[home]! < detourAt : attempts[home] === undefined) return home
    let least = -1
    for (let i = 0; i < count; i++) if (up[i] && (least < 0 || waiting[i]! < waiting[least]!)) least = i
    if (least < 0) return home
    if (least !== home) detours++
    return least
  }

  async function run<T>(index: number, work: (sql: S) => Promise<T>): Promise<T> {
    if (up[index]) return work(connections[index]!)
    const attempt = attempts[index]
    if (attempt) {
      if (await attempt) return work(connections[index]!)
      throw new DatabaseUnavailableError('database unreachable: the tenant connection failed to reconnect')
    }
    let settle!: (ok: boolean) => void
    attempts[index] = new Promise((resolve) => (settle = resolve))
    try {
      const result = await work(connections[index]!)
      up[index] = true
      settle(true)
      return result
    } catch (error) {
      // A statement's error came from a server that answered: the connection is up.
      up[index] = !isConnectionError(error)
      settle(up[index])
      throw error
    } finally {
      attempts[index] = undefined
    }
  }

  return {
    size: count,
    async use(tenantId, work) {
      const index = pick(tenantId)
      waiting[index]!++
      try {
        return await run(index, work)
      } catch (error) {
        if (isConnectionError(error)) up[index] = false
        throw error
      } finally {
        waiting[index]!--
      }
    },
    detours: () => detours,
    async replaceWhere(over) {
      let replaced = 0
      for (let i = 0; i < count; i++) {
        if (!up[i] || attempts[i]) continue
        const current = connections[i]!
        if (!(await over(current)) || connections[i] !== current) continue
        connections[i] = openHome(i)
        up[i] = false
        replaced++
        replacements++
        void current.end({ timeout: 5 }).catch(() => {})
      }
      return replaced
    },
    replacements: () => replacements,
    stats: () => sumDriverPoolStats(connections),
    async end(options) {
      await Promise.all(connections.map((sql) => sql.end(options)))
    },
  }
}

/** Every tenant on the shared pool: for a pool behind a transaction-mode pooler, and tests. */
export function sharedTenantConnections(sql: Sql): TenantConnections {
  return {
    size: 0,
    use: (_, work) => work(sql),
    detours: () => 0,
    replaceWhere: () => Promise.resolve(0),
    replacements: () => 0,
    stats: () => undefined,
    end: async () => {},
  }
}
