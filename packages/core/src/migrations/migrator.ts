import type { Sql, TransactionSql } from '../db/connect.js'
import { useSchema } from '../db/tenant-scope.js'
import { MigrationError, NotFoundError } from '../errors.js'
import { assertValidSchemaName } from '../tenants/schema-name.js'
import { latestVersion, type Migration } from './catalog.js'

/** The bookkeeping table each schema keeps of its own applied migrations. */
const LEDGER_DDL = `create table if not exists schema_migrations (
  version integer primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now()
)`

interface AppliedMigration {
  version: number
  name: string
  checksum: string
}

/** Throws naming the file when an applied migration no longer matches its file. */
export function assertUnchanged(schema: string, applied: readonly AppliedMigration[], files: readonly Migration[]): void {
  for (const row of applied) {
    const file = files.find((migration) => migration.version === row.version)
    if (file === undefined) {
      throw new MigrationError(
        `schema ${schema} has migration ${row.version} (${row.name}) applied, but no file has that version`,
        'MIGRATION_FILE_MISSING',
      )
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration file ${file.file} was changed after it was applied to ${schema} (checksum mismatch); ` +
          'add a new migration instead of editing an applied one',
        'MIGRATION_CHECKSUM_MISMATCH',
      )
    }
  }
}

/** Sends a migration's statements one by one (one statement per query, as Citus requires). */
async function applyStatements(tx: TransactionSql, migration: Migration): Promise<void> {
  for (const statement of migration.statements) {
    try {
      await tx.unsafe(statement.sql).simple()
    } catch (error) {
      throw new StatementError(statement.line, error)
    }
  }
}

const ledgerRow = ({ version, name, checksum }: Migration) => ({ version, name, checksum })

async function applyInTransaction(tx: TransactionSql, migration: Migration): Promise<void> {
  await applyStatements(tx, migration)
  await tx`insert into schema_migrations ${tx(ledgerRow(migration))}`
}

/** A statement of a migration that the server refused, with the line it starts on. */
class StatementError extends Error {
  constructor(
    readonly line: number,
    override readonly cause: unknown,
  ) {
    super((cause as Error).message)
  }
}

function failure(schema: string, migration: Migration, error: unknown): MigrationError {
  if (error instanceof MigrationError) return error
  const where = error instanceof StatementError ? `${migration.file} line ${error.line}` : migration.file
  const cause = error instanceof StatementError ? error.cause : error
  return new MigrationError(`${schema}: ${where} failed: ${(cause as Error).message}`, 'MIGRATION_FAILED', { cause })
}

/**
 * Brings the shared `public` schema to the latest migration, each migration in its own
 * transaction. Call only while holding the migration lock (see migrate-all).
 */
export async function migrateSharedSchema(sql: Sql, migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
  await sql.unsafe(LEDGER_DDL.replace('schema_migrations', 'public.schema_migrations'))
  const applied = await sql<AppliedMigration[]>`select version, name, checksum from public.schema_migrations order by version`
  assertUnchanged('public', applied, migrations)
  const from = applied.at(-1)?.version ?? 0
  let to = from
  for (const migration of migrations.filter((m) => m.version > from)) {
    try {
      await sql.begin(async (tx) => {
        await useSchema(tx, 'public')
        await applyInTransaction(tx, migration)
      })
    } catch (error) {
      throw failure('public', migration, error)
    }
    to = migration.version
  }
  return { from, to }
}

/**
 * Checks the tenant migration files against the ones recorded when first applied to any
 * tenant: one query, whatever the number of tenants. Returns the versions recorded.
 */
export async function verifyTenantMigrationFiles(
  sql: Sql | TransactionSql,
  migrations: readonly Migration[],
): Promise<ReadonlySet<number>> {
  const recorded = await sql<AppliedMigration[]>`select version, name, checksum from public.tenant_migration_files order by version`
  assertUnchanged(
    'the tenant schemas',
    recorded.filter((row) => migrations.some((m) => m.version === row.version)),
    migrations,
  )
  return new Set(recorded.map((row) => row.version))
}

/** Records tenant migrations as applied somewhere, in the applying transaction. */
async function recordTenantMigrationFiles(tx: TransactionSql, applied: readonly Migration[]): Promise<void> {
  if (applied.length === 0) return
  await tx`insert into public.tenant_migration_files ${tx(applied.map(ledgerRow))} on conflict (version) do nothing`
}

/**
 * Applies every tenant migration to a schema created inside the caller's transaction
 * (tenant creation), with one ledger insert for all of them; `recorded` (what
 * {@link verifyTenantMigrationFiles} returned in this transaction) saves recording the
 * files again. Leaves the transaction's search_path on the tenant schema.
 *
 * NOTE: the statements are pipelined: each is still a query of its own, but all are sent
 * before the first answer comes back, one round trip instead of one per statement. This
 * transaction is all or nothing, so the first statement refused aborts it, fails the ones
 * after it, and is the one reported.
 */
export async function migrateNewTenantSchema(
  tx: TransactionSql,
  schema: string,
  migrations: readonly Migration[],
  recorded: ReadonlySet<number> = new Set(),
): Promise<number> {
  const sent: { readonly query: Promise<unknown>; readonly migration?: Migration; readonly line?: number }[] = [
    { query: useSchema(tx, schema) },
    { query: tx.unsafe(LEDGER_DDL) },
  ]
  for (const migration of migrations) {
    for (const statement of migration.statements) sent.push({ query: tx.unsafe(statement.sql).simple(), migration, line: statement.line })
  }
  if (migrations.length > 0) sent.push({ query: tx`insert into schema_migrations ${tx(migrations.map(ledgerRow))}` })
  sent.push({
    query: recordTenantMigrationFiles(
      tx,
      migrations.filter((m) => !recorded.has(m.version)),
    ),
  })
  const settled = await Promise.allSettled(sent.map((item) => item.query))
  const first = settled.findIndex((result) => result.status === 'rejected')
  if (first >= 0) {
    const { migration, line } = sent[first]!
    const error = (settled[first] as PromiseRejectedResult).reason
    throw migration ? failure(schema, migration, new StatementError(line!, error)) : error
  }
  return latestVersion(migrations)
}

/** What happened to one tenant schema in a migration run. */
export interface TenantMigrationOutcome {
  readonly from: number
  readonly to: number
  /** The failing migration, when one failed; the ones before it stay applied. */
  readonly error?: MigrationError | NotFoundError
}

/** A tenant as the registry listed it when a migration run began. */
export interface TenantToMigrate {
  readonly id: number
  readonly schemaName: string
  readonly migrationVersion: number
}

const tenantGone = (tenant: TenantToMigrate) => new NotFoundError(`tenant ${tenant.schemaName} no longer exists`, 'TENANT_NOT_FOUND')

/**
 * Applies one migration to one tenant inside `tx`, which holds the lock on the tenant's
 * registry row (read at `version`), and writes the new version to the registry there.
 */
async function applyTenantMigration(tx: TransactionSql, tenant: TenantToMigrate, version: number, migration: Migration): Promise<void> {
  await useSchema(tx, tenant.schemaName)
  if (version === 0) await tx.unsafe(LEDGER_DDL)
  await applyInTransaction(tx, migration)
  await tx`update public.tenants set migration_version = ${migration.version} where id = ${tenant.id}`
}

/**
 * Brings one existing tenant schema up to date, one transaction per pending migration.
 * Each transaction locks the tenant's registry row and writes the new version there, so
 * the registry never drifts from the schema and two migrators never apply one migration
 * twice. Stops at the first failing migration.
 */
export async function migrateTenantSchema(
  sql: Sql,
  tenant: TenantToMigrate,
  migrations: readonly Migration[],
): Promise<TenantMigrationOutcome> {
  assertValidSchemaName(tenant.schemaName)
  const from = tenant.migrationVersion
  let to = from
  for (const migration of migrations.filter((m) => m.version > from)) {
    try {
      to = await sql.begin(async (tx) => {
        const [row] = await tx<{ migrationVersion: number }[]>`
          select migration_version from public.tenants where id = ${tenant.id} for update`
        if (row === undefined) throw tenantGone(tenant)
        if (row.migrationVersion >= migration.version) return row.migrationVersion
        await applyTenantMigration(tx, tenant, row.migrationVersion, migration)
        await recordTenantMigrationFiles(tx, [migration])
        return migration.version
      })
    } catch (error) {
      return { from, to, error: error instanceof NotFoundError ? error : failure(tenant.schemaName, migration, error) }
    }
  }
  return { from, to }
}

/**
 * Brings several tenant schemas up to date in ONE transaction, each migration of each
 * tenant under a savepoint of its own: a failing migration is rolled back to its savepoint
 * and stops its tenant only, as in {@link migrateTenantSchema}, while the batch goes on.
 * The registry rows of the batch are locked at its start and each version is written in
 * the transaction, so the registry never drifts from the schemas.
 *
 * A tenant that failed inside the batch (or every tenant of a batch whose transaction
 * failed as a whole) is then migrated again on its own by {@link migrateTenantSchema}, and
 * that outcome is its report: a failure is the tenant's own, never the batch's (a lock
 * table exhausted by a large batch, a neighbour's error).
 *
 * NOTE: one commit for many tenants saves a round trip per statement boundary and a WAL
 * flush per tenant, at a price: each tenant's tables stay locked until the batch commits.
 * Keep batches small (migrateAll's are) so that wait stays well under a second.
 */
export async function migrateTenantBatch(
  sql: Sql,
  tenants: readonly TenantToMigrate[],
  migrations: readonly Migration[],
): Promise<(TenantMigrationOutcome & { readonly ms: number })[]> {
  for (const tenant of tenants) assertValidSchemaName(tenant.schemaName)
  const outcomes = new Map<number, TenantMigrationOutcome & { ms: number }>()
  const retry = new Set<TenantToMigrate>()
  try {
    await sql.begin(async (tx) => {
      const rows = await tx<{ id: number; migrationVersion: number }[]>`
        select id, migration_version from public.tenants where id in ${tx(tenants.map((t) => t.id))} order by id for update`
      const current = new Map(rows.map((row) => [Number(row.id), row.migrationVersion]))
      const applied = new Set<Migration>()
      for (const tenant of tenants) {
        const start = performance.now()
        let version = current.get(tenant.id)
        if (version === undefined) {
          outcomes.set(tenant.id, {
            from: tenant.migrationVersion,
            to: tenant.migrationVersion,
            error: tenantGone(tenant),
            ms: elapsed(start),
          })
          continue
        }
        for (const migration of migrations.filter((m) => m.version > version!)) {
          try {
            await tx.savepoint((sp) => applyTenantMigration(sp, tenant, version!, migration))
          } catch {
            retry.add(tenant)
            break
          }
          version = migration.version
          applied.add(migration)
        }
        outcomes.set(tenant.id, { from: tenant.migrationVersion, to: version, ms: elapsed(start) })
      }
      await recordTenantMigrationFiles(tx, [...applied])
    })
  } catch {
    // The transaction as a whole failed: nothing of it stayed.
    for (const tenant of tenants) retry.add(tenant)
    outcomes.clear()
  }
  for (const tenant of retry) {
    const start = performance.now()
    const alone = await migrateTenantSchema(sql, tenant, migrations)
    const before = outcomes.get(tenant.id)
    outcomes.set(tenant.id, { ...alone, from: tenant.migrationVersion, ms: (before?.ms ?? 0) + elapsed(start) })
  }
  return tenants.map((tenant) => outcomes.get(tenant.id)!)
}

/** Milliseconds since `start` (a performance.now() reading), rounded. */
export function elapsed(start: number): number {
  return Math.round(performance.now() - start)
}
