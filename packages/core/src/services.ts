import type { Sql } from './db/sql.js'
import { CoreError } from './errors.js'
import { createApiKeyResolver } from './api-keys/api-key-resolver.js'
import { createApiKeyStore } from './api-keys/api-key-store.js'
import { createDomainStore } from './domains/domain-store.js'
import { createHostResolver } from './domains/host-resolver.js'
import { assertValidActor, createAuditLog, defaultActor, recordAuditEvent } from './audit/audit-log.js'
import { createCitusService } from './citus/citus-service.js'
import { readMigrations, type MigrationSet } from './migrations/catalog.js'
import { migrateAll, type MigrateAllOptions, type MigrateAllReport } from './migrations/migrate-all.js'
import { migrationStatus, sharedSchemaState, undeclaredModules, assertModulesDeclared } from './migrations/migration-status.js'
import { findInconsistencies, type FindInconsistenciesOptions } from './doctor/find-inconsistencies.js'
import { pingDatabase } from './db/health.js'
import { reportingCoreErrors } from './db/pg-errors.js'
import { sharedTenantConnections, type TenantConnections } from './db/tenant-connections.js'
import { createTenantScopes } from './db/tenant-scope.js'
import { createIdempotencyService } from './idempotency/idempotency-service.js'
import { poolConnectionStats, type DriverPoolStats } from './db/pool-stats.js'
import { createPostService } from './posts/post-service.js'
import {
  startRevocationListener,
  type ListenerStatus,
  type RevocationListener,
  type RevocationListenerOptions,
} from './revocations/revocation-listener.js'
import { createRefreshTokenService } from './sessions/refresh-token-service.js'
import { createRevokedSessionStore } from './sessions/revoked-sessions.js'
import { createTenantService } from './tenants/tenant-service.js'
import { createTenantBundleService } from './tenant-bundles/tenant-bundle-service.js'
import { createUserService } from './users/user-service.js'

/**
 * The settings the services read, each optional (the defaults suit development). A loaded
 * `Config` has them all.
 */
export interface ServicesSettings {
  /** The verified-key cache: how long a key is trusted without a lookup, and how many are kept (0 turns it off). */
  readonly apiKeyCache?: { readonly ttlMs: number; readonly max: number }
  /** Whose subdomains name tenants by schema (the host cache shares the key cache's settings). */
  readonly tenantResolution?: { readonly baseDomain?: string | undefined }
  readonly auth?: {
    readonly bcryptCost?: number
    readonly accessTokenTtlSeconds?: number
    readonly refreshTokenTtlSeconds?: number
  }
  /** Requests sent with an Idempotency-Key: answers kept `keyTtlSeconds`, repeats wait `waitMs` for the first. */
  readonly idempotency?: { readonly keyTtlSeconds: number; readonly waitMs: number }
}

export interface ServicesOptions {
  /** The pool of the shared schema (registry, keys, audit log, migrations). */
  readonly sql: Sql
  /** Where tenants' queries run (Database.tenantConnections); default: on `sql`. */
  readonly tenantConnections?: TenantConnections
  /** Cache, bcrypt and token lifetime settings (a loaded `Config` will do). */
  readonly config?: ServicesSettings
  /** A folder standing in for core's own `shared/` and `tenant/` lists (tests of a base upgrade). */
  readonly migrationsDir?: string
  /** The deployment's migrations, core's and its modules' (`loadDeployment().migrations`; wins over migrationsDir). */
  readonly migrations?: MigrationSet
  /** Who the operator actions are recorded as in the audit log (default: OS user@host). */
  readonly actor?: string
}

/**
 * Records a migrate run in the audit log once it has ended, failures included. A run that
 * could not reach the audit table (an unreachable database, a shared migration that failed
 * before the table exists) is reported by its error alone.
 */
async function migrateAndRecord(
  sql: Sql,
  actor: string,
  run: () => Promise<MigrateAllReport>,
  options: MigrateAllOptions,
): Promise<MigrateAllReport> {
  if (options.dryRun) return run()
  const record = (detail: Record<string, unknown>) =>
    recordAuditEvent(sql, actor, { action: 'migrate', detail: { ...(options.schemas && { schemas: options.schemas }), ...detail } })
  let report: MigrateAllReport
  try {
    report = await run()
  } catch (error) {
    await record({ outcome: 'error', error: (error as Error).message }).catch(() => {})
    throw error
  }
  const failed = report.tenants.filter((t) => !t.ok).map((t) => t.schema)
  await record({
    outcome: failed.length > 0 ? 'failed' : 'ok',
    shared: { from: report.shared.from, to: report.shared.to },
    migrated: report.tenants.length - failed.length,
    failed,
  })
  return report
}

/**
 * Every core service wired to one pool. The api and the cli build this once at start.
 */
export async function createServices(options: ServicesOptions) {
  const { sql, config } = options
  const actor = assertValidActor(options.actor ?? defaultActor())
  const migrations = options.migrations ?? (await readMigrations(options.migrationsDir))
  const apiKeyResolver = createApiKeyResolver({
    sql,
    ...(config?.apiKeyCache && { cacheTtlMs: config.apiKeyCache.ttlMs, cacheMax: config.apiKeyCache.max }),
  })
  const hostResolver = createHostResolver({
    sql,
    ...(config?.tenantResolution?.baseDomain !== undefined && { baseDomain: config.tenantResolution.baseDomain }),
    ...(config?.apiKeyCache && { cacheTtlMs: config.apiKeyCache.ttlMs, cacheMax: config.apiKeyCache.max }),
  })
  /** A tenant deleted, suspended, resumed or switched: both caches forget it. */
  const evictTenant = (tenantId: number) => {
    apiKeyResolver.evictTenantKeys(tenantId)
    hostResolver.evictTenant(tenantId)
  }
  const revokedSessions = createRevokedSessionStore({ sql })
  const tenantConnections = options.tenantConnections ?? sharedTenantConnections(sql)
  const { inTenant, inTenantTransaction } = createTenantScopes({
    sql,
    connections: tenantConnections,
    onTenantGone: evictTenant,
  })
  let listener: RevocationListener | undefined

  /**
   * Starts this process's one listener for revocations (keys, deleted or suspended tenants,
   * ended logins) and resolves once it knows whether it hears them. While it does not, the key
   * cache is off and ended logins are read from the database at each probe, so revocations
   * still take effect within about a second; `revocationStatus()` says so (the API's
   * /readyz). Optional: without it a process serves from its caches, as the CLI and tests do.
   */
  async function listenForRevocations(
    options: {
      /** The pool whose connection LISTENs (Database.listenSql); default: the services' pool. */
      readonly listenSql?: Sql
      readonly onStateChange?: (status: ListenerStatus) => void
      /** Probe and poll intervals (tests shorten them). */
      readonly timing?: Pick<RevocationListenerOptions, 'probeTimeoutMs' | 'probeIntervalMs' | 'deafProbeIntervalMs' | 'deafPollIntervalMs'>
    } = {},
  ): Promise<RevocationListener> {
    if (listener) throw new CoreError('ALREADY_LISTENING', 'this process already listens for revocations: stop that listener first')
    const started = await startRevocationListener({
      notifySql: sql,
      listenSql: options.listenSql ?? sql,
      handlers: {
        key: apiKeyResolver.evictKey,
        tenant: (id) => evictTenant(Number(id)),
        domain: hostResolver.evictHost,
        session: revokedSessions.rememberFromMessage,
      },
      // Messages sent while not listening are lost: forget every cached key and read the
      // ended logins again.
      onSubscribed: async () => {
        apiKeyResolver.setCaching(false)
        hostResolver.setCaching(false)
        await revokedSessions.reload()
      },
      onStateChange: (status) => {
        apiKeyResolver.setCaching(status.state === 'hearing')
        hostResolver.setCaching(status.state === 'hearing')
        options.onStateChange?.(status)
      },
      onDeafTick: revokedSessions.reload,
      ...options.timing,
    })
    listener = {
      ...started,
      async stop() {
        listener = undefined
        await started.stop()
      },
    }
    return listener
  }

  // Every method, of every service here, reports driver errors as core errors (one wrapping,
  // at this boundary): the edges map core's classes only.
  return reportingCoreErrors({
    migrations,
    tenants: createTenantService({
      sql,
      migrations,
      actor,
      onTenantDeleted: evictTenant,
      onTenantStateChanged: evictTenant,
      onTenantCreated: () => hostResolver.evictHost('*'),
    }),
    /** Operators' side of tenant domains and the open-registration switch (audited). */
    domains: createDomainStore({ sql, actor, onDomainChanged: hostResolver.evictHost, onTenantChanged: evictTenant }),
    /** The request path's side: a request's host name to its tenant, through a cache NOTIFY evicts. */
    hostResolver,
    /** Operators' side of api keys: issue, list, rotate, revoke (audited). */
    apiKeys: createApiKeyStore({ sql, actor, onKeyChanged: apiKeyResolver.evictKey }),
    /** The request path's side: a presented key to its tenant, through a cache NOTIFY evicts. */
    apiKeyResolver,
    /** One tenant out to a bundle file and back in: export, import, restore in place. */
    bundles: createTenantBundleService({ sql, migrations, actor, onTenantImported: () => hostResolver.evictHost('*') }),
    users: createUserService({ inTenant, bcryptCost: config?.auth?.bcryptCost }),
    posts: createPostService({ inTenant }),
    /** Exactly-once writes for requests sent with an idempotency key (the api's Idempotency-Key header). */
    idempotency: createIdempotencyService({
      inTenantTransaction,
      ttlSeconds: config?.idempotency?.keyTtlSeconds,
      waitMs: config?.idempotency?.waitMs,
    }),
    auditLog: createAuditLog({ sql }),
    /** Citus schema-based sharding: placements, undistributed schemas, live moves. */
    citus: createCitusService({ sql }),
    refreshTokens: createRefreshTokenService({
      inTenant,
      revokedSessions,
      ttlSeconds: config?.auth?.refreshTokenTtlSeconds,
      accessTokenTtlSeconds: config?.auth?.accessTokenTtlSeconds,
    }),
    /**
     * Runs a tenant's queries on its home connection, `({ sql, schema }) => ...` with the
     * schema validated and escaped, driver errors reported as core errors: for the
     * tenant-scoped code of a module's service.
     */
    inTenant,
    /** Ended logins whose access tokens must be refused (checked on every Bearer request). */
    revokedSessions,
    listenForRevocations,
    /** The listener's state, or undefined when this process does not listen. */
    revocationStatus: (): ListenerStatus | undefined => listener?.status(),
    /** Messages heard per kind, or undefined when this process does not listen. */
    revocationsHeard: () => listener?.heard(),
    /** Every schema's state and pending migrations, from the registry and the catalog; see {@link migrationStatus}. */
    migrationStatus: async () => {
      await assertModulesDeclared(sql, migrations)
      return migrationStatus(sql, migrations)
    },
    /** The shared schema's state against its files (the API refuses to start behind it). */
    sharedSchemaState: () => sharedSchemaState(sql, migrations.shared),
    /** Modules applied to this database that the deployment does not declare (the API refuses to start then). */
    undeclaredModules: () => undeclaredModules(sql, migrations),
    /** Every inconsistency between registry, schemas, ledgers and files, with its fix (`tenantctl doctor`). */
    findInconsistencies: (options?: FindInconsistenciesOptions) => findInconsistencies(sql, migrations, options),
    /** One real round trip, or {@link DatabaseUnavailableError} within `timeoutMs` (`/readyz`). */
    pingDatabase: (timeoutMs?: number) => pingDatabase(sql, timeoutMs),
    /** This process's pooled connections as the server sees them (metrics). */
    poolConnectionStats: () => poolConnectionStats(sql),
    /**
     * The driver's count of its pools right now (metrics): the shared pool, and the tenants'
     * home connections added up (undefined when the shared pool serves the tenants).
     */
    driverPoolStats: (): { shared: DriverPoolStats; tenants: DriverPoolStats | undefined } => ({
      shared: sql.stats,
      tenants: tenantConnections.stats(),
    }),
    /** Shared schema first, then every tenant that is behind; see {@link migrateAll}. The run is audited. */
    migrateAll: (opts: MigrateAllOptions = {}) => migrateAndRecord(sql, actor, () => migrateAll(sql, migrations, opts), opts),
  })
}

export type Services = Awaited<ReturnType<typeof createServices>>
