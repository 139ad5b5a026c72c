import type { Sql } from './connect.js'

/**
 * Where a tenant's queries run: each tenant has a home connection, so a server connection
 * serves a stable share of the tenants and keeps only their statements, plans and catalog
 * entries, small and warm.
 *
 * NOTE: a tenant query names its schema in the SQL text, so the server keeps a prepared
 * statement, a plan and catalog cache entries per tenant per connection, for as long as the
 * connection lives. With one shared pool every connection ends up with every tenant:
 * bench:queries measured 2,945 MiB of server memory for 10 connections at 10,000 tenants.
 * Homed, each connection holds a tenth of them: 334 to 349 MiB. Its speed against the shared
 * pool is what bench:queries compares (faster at 1,000 tenants, not shown to be at 10,000).
 */
export interface TenantConnections<S = Sql> {
  /**
   * Runs `work` on the home connection of tenant `tenantId`, or on the least busy one when
   * the home connection already has `detourAt` queries waiting (a hot tenant, or a slow
   * transaction, cannot stall the other tenants of its connection for long).
   */
  use<T>(tenantId: number, work: (sql: S) => Promise<T>): Promise<T>
  /** How many connections the tenants are homed on (0: the shared pool serves them). */
  readonly size: number
  /** Queries that ran away from their home connection since the start. */
  detours(): number
  /** Closes every connection. */
  end(options?: { timeout?: number }): Promise<void>
}

/** Queries waiting on a home connection before the next one goes to the least busy. */
export const DEFAULT_DETOUR_AT = 16

/**
 * Homes tenants on `connections`, single-connection pools: tenant `id` on
 * `id % connections.length`. Ids are sequential, so the shares are even.
 */
export function createTenantConnections<S extends Pick<Sql, 'end'> = Sql>(
  connections: readonly S[],
  detourAt = DEFAULT_DETOUR_AT,
): TenantConnections<S> {
  const waiting = connections.map(() => 0)
  let detours = 0

  function pick(tenantId: number): number {
    const home = tenantId % connections.length
    if (waiting[home]! < detourAt) return home
    let least = 0
    for (let i = 1; i < waiting.length; i++) if (waiting[i]! < waiting[least]!) least = i
    if (least !== home) detours++
    return least
  }

  return {
    size: connections.length,
    async use(tenantId, work) {
      const index = pick(tenantId)
      waiting[index]!++
      try {
        return await work(connections[index]!)
      } finally {
        waiting[index]!--
      }
    },
    detours: () => detours,
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
    end: async () => {},
  }
}
