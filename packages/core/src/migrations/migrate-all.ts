import type { Sql } from '../db/connect.js'
import { NotFoundError, ValidationError } from '../errors.js'
import { latestVersion, type Migration, type MigrationSet } from './catalog.js'
import pLimit from 'p-limit'
import { migrationState, sharedSchemaState } from './migration-status.js'
import { elapsed, migrateSharedSchema, migrateTenantBatch, verifyTenantMigrationFiles, type TenantToMigrate } from './migrator.js'

/** The outcome for one schema. */
export interface SchemaMigrationReport {
  readonly schema: string
  readonly from: number
  readonly to: number
  readonly ok: boolean
  /** The error message (naming the failing file) when `ok` is false. */
  readonly error?: string
  readonly errorCode?: string
  readonly ms: number
}

/** What `migrateAll` reports while it works; the CLI draws it. */
export type MigrationProgress =
  | { readonly type: 'waiting-for-lock' }
  | { readonly type: 'shared-done'; readonly report: SchemaMigrationReport }
  | { readonly type: 'tenants-found'; readonly total: number; readonly upToDate: number }
  | {
      readonly type: 'tenant-done'
      readonly report: SchemaMigrationReport
      readonly done: number
      readonly failed: number
      readonly total: number
    }

export interface MigrateAllOptions {
  /** Batches of tenants migrated at once (each holds one pooled connection). Default 4. */
  readonly concurrency?: number
  /** Only these tenant schemas (the shared schema is always migrated). */
  readonly schemas?: readonly string[]
  /** Report what is pending without applying anything. */
  readonly dryRun?: boolean
  readonly onProgress?: (event: MigrationProgress) => void
}

export interface MigrateAllReport {
  readonly shared: SchemaMigrationReport
  /** One entry per tenant that was behind (or, with a dry run, would be migrated). */
  readonly tenants: readonly SchemaMigrationReport[]
  /** Tenants already at the latest version, not touched. */
  readonly upToDate: number
  readonly failed: number
  readonly latestTenantVersion: number
  readonly dryRun: boolean
  readonly pending: readonly { readonly schema: string; readonly migrations: readonly string[] }[]
}

/**
 * NOTE: one advisory lock for every migrator of the database. A second migrator waits for
 * the first to finish (reporting `waiting-for-lock`) rather than failing, so CI jobs that
 * race simply serialise. The lock is released when its connection ends, even on kill -9.
 */
const MIGRATION_LOCK = 'tenantbase:migrate'

async function withMigrationLock<T>(sql: Sql, onWait: () => void, work: () => Promise<T>): Promise<T> {
  const connection = await sql.reserve()
  try {
    const [attempt] = await connection`select pg_try_advisory_lock(hashtext(${MIGRATION_LOCK})) as locked`
    if (!attempt?.locked) {
      onWait()
      await connection`select pg_advisory_lock(hashtext(${MIGRATION_LOCK}))`
    }
    try {
      return await work()
    } finally {
      await connection`select pg_advisory_unlock(hashtext(${MIGRATION_LOCK}))`
    }
  } finally {
    connection.release()
  }
}

/**
 * Tenants migrated in one transaction, each under its own savepoint (see migrateTenantBatch):
 * one commit per batch instead of one per tenant, while a tenant's tables stay locked only
 * until its batch commits.
 */
const TENANTS_PER_TRANSACTION = 20

/**
 * Tenants per transaction for `tenants` tenants on `concurrency` workers: at most
 * {@link TENANTS_PER_TRANSACTION}, and small enough that each worker gets four batches, so a
 * small run keeps every worker busy and reports progress tenant by tenant, not in one lump.
 */
function batchSize(tenants: number, concurrency: number): number {
  return Math.max(1, Math.min(TENANTS_PER_TRANSACTION, Math.ceil(tenants / (concurrency * 4))))
}

/**
 * Migrates the shared schema, then every tenant schema that is behind, with bounded
 * concurrency. Which tenants are behind comes from the registry in one query, so a run with
 * nothing to do costs the same for 10 or 10,000 tenants. A tenant's failure is reported by
 * name and never stops or rolls back the others. Throws only for problems that concern
 * every schema (unreachable database, shared migration failure, an edited migration file).
 */
export async function migrateAll(sql: Sql, migrations: MigrationSet, options: MigrateAllOptions = {}): Promise<MigrateAllReport> {
  // One connection holds the lock for the whole run; the others do the work.
  const poolMax = sql.options.max
  if (poolMax < 2) {
    throw new ValidationError(`migrating needs a pool of at least 2 connections (this one has ${poolMax})`, 'POOL_TOO_SMALL')
  }
  const concurrency = Math.min(Math.max(1, Math.floor(options.concurrency ?? 4)), poolMax - 1)
  const onProgress = options.onProgress ?? (() => {})
  const dryRun = options.dryRun ?? false
  const latest = latestVersion(migrations.tenant)

  return withMigrationLock(
    sql,
    () => onProgress({ type: 'waiting-for-lock' }),
    async () => {
      const sharedStart = performance.now()
      const sharedVersions = dryRun ? await wouldMigrateShared(sql, migrations.shared) : await migrateSharedSchema(sql, migrations.shared)
      const shared: SchemaMigrationReport = { schema: 'public', ...sharedVersions, ok: true, ms: elapsed(sharedStart) }
      onProgress({ type: 'shared-done', report: shared })
      await verifyTenantMigrationFiles(sql, migrations.tenant)

      const only = options.schemas ?? null
      if (dryRun && !(await registryExists(sql))) {
        onProgress({ type: 'tenants-found', total: 0, upToDate: 0 })
        return { shared, tenants: [], upToDate: 0, failed: 0, latestTenantVersion: latest, dryRun, pending: [] }
      }
      const behind = await sql<TenantToMigrate[]>`
      select id, schema_name, migration_version from public.tenants
      where migration_version < ${latest} ${only ? sql`and schema_name in ${sql(only)}` : sql``}
      order by id`
      const [{ count: selected } = { count: 0 }] = await sql<{ count: number }[]>`
      select count(*)::int as count from public.tenants ${only ? sql`where schema_name in ${sql(only)}` : sql``}`
      if (only) {
        const known = await sql<{ schemaName: string }[]>`select schema_name from public.tenants where schema_name in ${sql(only)}`
        const missing = only.filter((name) => !known.some((row) => row.schemaName === name))
        if (missing.length > 0) throw new NotFoundError(`no tenant with schema ${missing.join(', ')}`, 'TENANT_NOT_FOUND')
      }
      const upToDate = selected - behind.length
      onProgress({ type: 'tenants-found', total: behind.length, upToDate })
      const pending = behind.map((t) => ({
        schema: t.schemaName,
        migrations: migrationState(migrations.tenant, t.migrationVersion).pending,
      }))

      const reports: SchemaMigrationReport[] = []
      let failed = 0
      if (!dryRun) {
        const limit = pLimit(concurrency)
        const migrateBatch = async (batch: readonly TenantToMigrate[]) => {
          const outcomes = await migrateTenantBatch(sql, batch, migrations.tenant)
          batch.forEach((tenant, index) => {
            const outcome = outcomes[index]!
            const report: SchemaMigrationReport = {
              schema: tenant.schemaName,
              from: outcome.from,
              to: outcome.to,
              ok: outcome.error === undefined,
              ...(outcome.error && { error: outcome.error.message, errorCode: outcome.error.code }),
              ms: outcome.ms,
            }
            if (!report.ok) failed++
            reports.push(report)
            onProgress({ type: 'tenant-done', report, done: reports.length, failed, total: behind.length })
          })
        }
        const batches: TenantToMigrate[][] = []
        const size = batchSize(behind.length, concurrency)
        for (let i = 0; i < behind.length; i += size) batches.push(behind.slice(i, i + size))
        await Promise.all(batches.map((batch) => limit(() => migrateBatch(batch))))
      }
      return { shared, tenants: reports, upToDate, failed, latestTenantVersion: latest, dryRun, pending }
    },
  )
}

/** What a dry run reports for the shared schema: its version, and the latest it would reach. */
async function wouldMigrateShared(sql: Sql, shared: readonly Migration[]): Promise<{ from: number; to: number }> {
  const state = await sharedSchemaState(sql, shared)
  return { from: state.version, to: state.latest }
}

async function registryExists(sql: Sql): Promise<boolean> {
  const [row] = await sql`select to_regclass('public.tenants') as name`
  return Boolean(row?.name)
}
