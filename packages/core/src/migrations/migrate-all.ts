import type { Sql } from '../db/sql.js'
import { MigrationError, NotFoundError, ValidationError } from '../errors.js'
import { latestState, parseAll, pendingMigrations, type Migration, type MigrationSet, type MigrationState } from './catalog.js'
import pLimit from 'p-limit'
import { assertModulesDeclared, isAhead, migrationState, registryColumns, sharedSchemaState } from './migration-status.js'
import {
  elapsed,
  migrateSharedSchema,
  migrateTenantBatch,
  verifyTenantMigrationFiles,
  type TenantMigrationOutcome,
  type TenantToMigrate,
} from './migrator.js'

/** The outcome for one schema. */
export interface SchemaMigrationReport {
  readonly schema: string
  readonly from: MigrationState
  readonly to: MigrationState
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
  /** One entry per tenant that was behind (or, with a dry run, would be migrated), in the registry's order. */
  readonly tenants: readonly SchemaMigrationReport[]
  /** Tenants already at the latest state, not touched. */
  readonly upToDate: number
  readonly failed: number
  /** Every module's last tenant migration: the state each tenant is brought to. */
  readonly latestTenantState: MigrationState
  readonly dryRun: boolean
  readonly pending: readonly { readonly schema: string; readonly migrations: readonly string[] }[]
  /** Tenants with migrations of a module past its last file here (newer code ran on them): not touched. */
  readonly ahead: readonly string[]
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
  const latest = latestState(migrations.tenant)

  return withMigrationLock(
    sql,
    () => onProgress({ type: 'waiting-for-lock' }),
    async () => {
      await assertModulesDeclared(sql, migrations)
      const sharedStart = performance.now()
      const sharedStates = dryRun
        ? await wouldMigrateShared(sql, migrations.shared)
        : await migrateSharedSchema(sql, migrations.shared, migrations.modules)
      const shared: SchemaMigrationReport = { schema: 'public', ...sharedStates, ok: true, ms: elapsed(sharedStart) }
      onProgress({ type: 'shared-done', report: shared })

      const only = options.schemas ?? null
      const nothing = { shared, tenants: [], upToDate: 0, failed: 0, latestTenantState: latest, dryRun, pending: [], ahead: [] }
      if (dryRun && !(await registryExists(sql))) {
        onProgress({ type: 'tenants-found', total: 0, upToDate: 0 })
        return nothing
      }
      if (!dryRun) await verifyTenantMigrationFiles(sql, migrations)
      if (only) {
        const known = await sql<{ schemaName: string }[]>`select schema_name from public.tenants where schema_name in ${sql(only)}`
        const missing = only.filter((name) => !known.some((row) => row.schemaName === name))
        if (missing.length > 0) throw new NotFoundError(`no tenant with schema ${missing.join(', ')}`, 'TENANT_NOT_FOUND')
      }
      // One query: the tenants whose state differs from the latest (behind, or ahead of
      // these files) or whose schema is gone.
      const { state } = await registryColumns(sql)
      const candidates = await sql<(TenantToMigrate & { schemaExists: boolean })[]>`
        select t.id, t.schema_name, n.oid is not null as schema_exists, ${state} as migrations
        from public.tenants t left join pg_namespace n on n.nspname = t.schema_name
        where (${state} <> ${JSON.stringify(latest)}::text::jsonb or n.oid is null)
          ${only ? sql`and t.schema_name in ${sql(only)}` : sql``}
        order by t.id`
      const [{ count: selected } = { count: 0 }] = await sql<{ count: number }[]>`
        select count(*)::int as count from public.tenants ${only ? sql`where schema_name in ${sql(only)}` : sql``}`
      const missing = candidates.filter((t) => !t.schemaExists)
      const behind = candidates.filter((t) => t.schemaExists && pendingMigrations(migrations.tenant, t.migrations).length > 0)
      // A tenant ahead of these files and behind on none is left as it is: doctor names the module.
      const ahead = candidates.filter((t) => t.schemaExists && !behind.includes(t) && isAhead(migrations.tenant, t.migrations))
      const total = missing.length + behind.length
      const upToDate = selected - total
      onProgress({ type: 'tenants-found', total, upToDate })
      const pending = behind.map((t) => ({ schema: t.schemaName, migrations: migrationState(migrations.tenant, t.migrations).pending }))

      const reports: SchemaMigrationReport[] = []
      let failed = 0
      const report = (tenant: TenantToMigrate, outcome: TenantMigrationOutcome & { readonly ms: number }) => {
        const entry: SchemaMigrationReport = {
          schema: tenant.schemaName,
          from: outcome.from,
          to: outcome.to,
          ok: outcome.error === undefined,
          ...(outcome.error && { error: outcome.error.message, errorCode: outcome.error.code }),
          ms: outcome.ms,
        }
        if (!entry.ok) failed++
        reports.push(entry)
        onProgress({ type: 'tenant-done', report: entry, done: reports.length, failed, total })
      }
      // A registered tenant whose schema is gone is reported (a dry run too), never migrated into a new empty schema.
      for (const tenant of missing) {
        report(tenant, { from: tenant.migrations, to: tenant.migrations, error: schemaMissing(tenant.schemaName), ms: 0 })
      }
      if (!dryRun) {
        // Every file a tenant lacks parses, or nothing of them runs.
        await parseAll(
          pendingMigrations(migrations.tenant, {}).filter((m) => behind.some((t) => (t.migrations[m.module] ?? 0) < m.version)),
        )
        const limit = pLimit(concurrency)
        const migrateBatch = async (batch: readonly TenantToMigrate[]) => {
          const outcomes = await migrateTenantBatch(sql, batch, migrations.tenant)
          batch.forEach((tenant, index) => report(tenant, outcomes[index]!))
        }
        const batches: TenantToMigrate[][] = []
        const size = batchSize(behind.length, concurrency)
        for (let i = 0; i < behind.length; i += size) batches.push(behind.slice(i, i + size))
        await Promise.all(batches.map((batch) => limit(() => migrateBatch(batch))))
      }
      // The report lists the tenants in the registry's order, whichever batch ended first.
      const order = new Map(candidates.map((tenant, index) => [tenant.schemaName, index]))
      reports.sort((a, b) => order.get(a.schema)! - order.get(b.schema)!)
      return {
        ...nothing,
        tenants: reports,
        upToDate,
        failed,
        pending,
        ahead: ahead.map((t) => t.schemaName),
      }
    },
  )
}

/** The error reported for a registered tenant whose schema no longer exists. */
function schemaMissing(schema: string): MigrationError {
  return new MigrationError(
    `schema ${schema} does not exist although the registry lists it: restore it from a backup, ` +
      `or remove the tenant with \`tenantctl delete ${schema} --force\``,
    'TENANT_SCHEMA_MISSING',
  )
}

/** What a dry run reports for the shared schema: its version, and the latest it would reach. */
async function wouldMigrateShared(sql: Sql, shared: readonly Migration[]): Promise<{ from: MigrationState; to: MigrationState }> {
  const { state, latest } = await sharedSchemaState(sql, shared)
  return { from: state, to: { ...state, ...latest } }
}

async function registryExists(sql: Sql): Promise<boolean> {
  const [row] = await sql`select to_regclass('public.tenants') as name`
  return Boolean(row?.name)
}
