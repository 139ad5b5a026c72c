import type { Config } from './config.js'
import type { Sql } from './db/connect.js'
import { createApiKeyService } from './api-keys/api-key-service.js'
import { createCitusService } from './citus/citus-service.js'
import { readMigrations, type MigrationSet } from './migrations/catalog.js'
import { migrateAll, type MigrateAllOptions } from './migrations/migrate-all.js'
import { migrationStatus } from './migrations/migration-status.js'
import { createPostService } from './posts/post-service.js'
import { createRefreshTokenService } from './sessions/refresh-token-service.js'
import { createTenantService } from './tenants/tenant-service.js'
import { createUserService } from './users/user-service.js'

export interface ServicesOptions {
  readonly sql: Sql
  /** Cache and bcrypt settings come from here; defaults suit development. */
  readonly config?: Pick<Config, 'apiKeyCache' | 'auth'>
  /** A folder with `shared/` and `tenant/` migration lists (default: core's own). */
  readonly migrationsDir?: string
  /** Already-read migrations (wins over migrationsDir). */
  readonly migrations?: MigrationSet
}

/**
 * Every core service wired to one pool. The api and the cli build this once at start.
 */
export async function createServices(options: ServicesOptions) {
  const { sql, config } = options
  const migrations = options.migrations ?? (await readMigrations(options.migrationsDir))
  const apiKeys = createApiKeyService({
    sql,
    ...(config && { cacheTtlMs: config.apiKeyCache.ttlMs, cacheMax: config.apiKeyCache.max }),
  })
  return {
    sql,
    migrations,
    tenants: createTenantService({ sql, migrations, onTenantDeleted: (id) => apiKeys.evictCachedKeys(`tenant:${id}`) }),
    apiKeys,
    users: createUserService({ sql, ...(config && { bcryptCost: config.auth.bcryptCost }) }),
    posts: createPostService({ sql }),
    /** Citus schema-based sharding: placements, undistributed schemas, live moves. */
    citus: createCitusService({ sql }),
    refreshTokens: createRefreshTokenService({ sql, ...(config && { ttlSeconds: config.auth.refreshTokenTtlSeconds }) }),
    /** Every schema's version and pending migrations, from the registry; see {@link migrationStatus}. */
    migrationStatus: () => migrationStatus(sql, migrations),
    /** Shared schema first, then every tenant that is behind; see {@link migrateAll}. */
    migrateAll: (opts?: MigrateAllOptions) => migrateAll(sql, migrations, opts),
  }
}

export type Services = Awaited<ReturnType<typeof createServices>>
