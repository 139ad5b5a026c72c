import type { Sql, TransactionSql } from '../db/sql.js'
import { useSchema } from '../db/tenant-scope.js'
import { MigrationError, NotFoundError } from '../errors.js'
import { assertValidSchemaName } from '../db/schema-name.js'
import {
  latestState,
  migrationLabel,
  pendingMigrations,
  parseAll,
  stateOfLedger,
  statementsOf,
  type Migration,
  type MigrationSet,
  type MigrationState,
} from './catalog.js'

/** The bookkeeping table each schema keeps of its own applied migrations, by module. */
const LEDGER_DDL = `create table if not exists schema_migrations (
  module text not null,
  version integer not null,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  primary key (module, version)
)`

interface AppliedMigration {
  module: string
  version: number
  name: string
  checksum: string
}

/** Whether a ledger table (schema-qualified name, unescaped parts) was made before modules. */
async function ledgerBeforeModules(sql: Sql | TransactionSql, schema: string, table: string): Promise<boolean> {
  const [row] = await sql<{ legacy: boolean }[]>`
    select not exists (
      select from pg_attribute
      where attrelid = to_regclass(quote_ident(${schema}) || '.' || quote_ident(${table})) and attname = 'module' and not attisdropped
    ) and to_regclass(quote_ident(${schema}) || '.' || quote_ident(${table})) is not null as legacy`
  return row?.legacy ?? false
}

/**
 * A ledger made before modules existed is keyed by version alone and holds core's
 * migrations only: this keys it by module too, in the caller's transaction (no-op for a
 * current one). One statement per query, as Citus requires.
 */
async function upgradeLedger(tx: TransactionSql, schema: string, table: string): Promise<void> {
  if (!(await ledgerBeforeModules(tx, schema, table))) return
  const qualified = tx`${tx(schema)}.${tx(table)}`
  await tx`alter table ${qualified} add column module text not null default 'core'`.simple()
  await tx`alter table ${qualified} alter column module drop default`.simple()
  await tx`alter table ${qualified} drop constraint ${tx(`${table}_pkey`)}`.simple()
  await tx`alter table ${qualified} add primary key (module, version)`.simple()
}

/**
 * Reads a ledger's rows; one made before modules reads as core's. NOTE: through to_jsonb,
 * so that the same query reads both forms (status and doctor answer before the upgrade).
 */
export function readLedger(sql: Sql | TransactionSql, schema: string, table: string) {
  return sql<AppliedMigration[]>`
    select coalesce(to_jsonb(l) ->> 'module', 'core') as module, version, name, checksum
    from ${sql(schema)}.${sql(table)} l order by 1, version`
}

/** Throws naming the file when an applied migration of a declared module no longer matches its file. */
export function assertUnchanged(
  schema: string,
  applied: readonly AppliedMigration[],
  files: readonly Migration[],
  modules: readonly string[] = [...new Set(files.map((m) => m.module))],
): void {
  for (const row of applied) {
    if (!modules.includes(row.module)) continue
    const file = files.find((migration) => migration.module === row.module && migration.version === row.version)
    if (file === undefined) {
      throw new MigrationError(
        `schema ${schema} has migration ${row.version} (${row.name}) of module ${row.module} applied, but no file of that module has that version`,
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
  for (const statement of await statementsOf(migration)) {
    try {
      await tx.unsafe(statement.sql).simple()
    } catch (error) {
      throw new StatementError(statement.line, error)
    }
  }
}

const ledgerRow = ({ module, version, name, checksum }: Migration) => ({ module, version, name, checksum })

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
  const where = error instanceof StatementError ? `${migrationLabel(migration)} line ${error.line}` : migrationLabel(migration)
  const cause = error instanceof StatementError ? error.cause : error
  return new MigrationError(`${schema}: ${where} failed: ${(cause as Error).message}`, 'MIGRATION_FAILED', { cause })
}

/**
 * Brings the shared `public` schema to the latest migration of every module, each
 * migration in its own transaction. Call only while holding the migration lock (see
 * migrate-all).
 */
export async function migrateSharedSchema(
  sql: Sql,
  migrations: readonly Migration[],
  modules?: readonly string[],
): Promise<{ from: MigrationState; to: MigrationState }> {
  await sql.unsafe(LEDGER_DDL.replace('schema_migrations', 'public.schema_migrations'))
  await sql.begin((tx) => upgradeLedger(tx, 'public', 'schema_migrations'))
  const applied = await readLedger(sql, 'public', 'schema_migrations')
  assertUnchanged('public', applied, migrations, modules)
  const from = stateOfLedger(applied)
  const to = { ...from }
  const pending = pendingMigrations(migrations, from)
  await parseAll(pending)
  for (const migration of pending) {
    try {
      await sql.begin(async (tx) => {
        await useSchema(tx, 'public')
        await applyInTransaction(tx, migration)
      })
    } catch (error) {
      throw failure('public', migration, error)
    }
    to[migration.module] = migration.version
  }
  // The ledger of tenant files is made by core's first shared migration, before modules.
  await sql.begin((tx) => upgradeLedger(tx, 'public', 'tenant_migration_files'))
  return { from, to }
}

/**
 * Checks the tenant migration files against the ones recorded when first applied to any
 * tenant, and that every module recorded there is declared: one query, whatever the number
 * of tenants. Returns the migrations recorded (as `module:version`).
 */
export async function verifyTenantMigrationFiles(sql: Sql | TransactionSql, migrations: MigrationSet): Promise<ReadonlySet<string>> {
  const recorded = await sql<AppliedMigration[]>`select module, version, name, checksum from public.tenant_migration_files`
  const undeclared = [...new Set(recorded.map((row) => row.module))].filter((module) => !migrations.modules.includes(module))
  if (undeclared.length > 0) throw moduleNotDeclared(undeclared, migrations.modules)
  assertUnchanged('the tenant schemas', recorded, migrations.tenant, migrations.modules)
  return new Set(recorded.map(fileKey))
}

/** The error for modules applied to a database whose deployment no longer declares them. */
export function moduleNotDeclared(missing: readonly string[], declared: readonly string[]): MigrationError {
  const one = missing.length === 1
  return new MigrationError(
    `module${one ? '' : 's'} ${missing.join(', ')} ${one ? 'has' : 'have'} migrations applied to this database ` +
      `but ${one ? 'is' : 'are'} not declared in the deployment's tenantbase.config (declared: ${declared.join(', ')}). ` +
      'Declare it again (or point TENANTBASE_CONFIG at the config that does); to remove a module for good, ' +
      'drop its tables and forget its migrations as docs/extending.md says under "Removing a module"',
    'MODULE_NOT_DECLARED',
  )
}

const fileKey = ({ module, version }: { module: string; version: number }) => `${module}:${version}`

/** Records tenant migrations as applied somewhere, in the applying transaction. */
async function recordTenantMigrationFiles(tx: TransactionSql, applied: readonly Migration[]): Promise<void> {
  if (applied.length === 0) return
  await tx`insert into public.tenant_migration_files ${tx(applied.map(ledgerRow))} on conflict (module, version) do nothing`
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
  recorded: ReadonlySet<string> = new Set(),
): Promise<MigrationState> {
  const parsed = await Promise.all(migrations.map(statementsOf))
  const sent: { readonly query: Promise<unknown>; readonly migration?: Migration; readonly line?: number }[] = [
    { query: useSchema(tx, schema) },
    { query: tx.unsafe(LEDGER_DDL) },
  ]
  migrations.forEach((migration, index) => {
    for (const statement of parsed[index]!) sent.push({ query: tx.unsafe(statement.sql).simple(), migration, line: statement.line })
  })
  if (migrations.length > 0) sent.push({ query: tx`insert into schema_migrations ${tx(migrations.map(ledgerRow))}` })
  sent.push({
    query: recordTenantMigrationFiles(
      tx,
      migrations.filter((m) => !recorded.has(fileKey(m))),
    ),
  })
  const settled = await Promise.allSettled(sent.map((item) => item.query))
  const first = settled.findIndex((result) => result.status === 'rejected')
  if (first >= 0) {
    const { migration, line } = sent[first]!
    const error: unknown = (settled[first] as PromiseRejectedResult).reason
    throw migration ? failure(schema, migration, new StatementError(line!, error)) : error
  }
  return latestState(migrations)
}

/** What happened to one tenant schema in a migration run. */
export interface TenantMigrationOutcome {
  readonly from: MigrationState
  readonly to: MigrationState
  /** The failing migration, when one failed; the ones before it stay applied. */
  readonly error?: MigrationError | NotFoundError
}

/** A tenant as the registry listed it when a migration run began. */
export interface TenantToMigrate {
  readonly id: number
  readonly schemaName: string
  readonly migrations: MigrationState
}

const tenantGone = (tenant: TenantToMigrate) => new NotFoundError(`tenant ${tenant.schemaName} no longer exists`, 'TENANT_NOT_FOUND')

/**
 * Applies one migration to one tenant inside `tx`, which holds the lock on the tenant's
 * registry row (read at `state`), and writes the module's new version to the registry there.
 */
async function applyTenantMigration(
  tx: TransactionSql,
  tenant: TenantToMigrate,
  state: MigrationState,
  migration: Migration,
): Promise<void> {
  await useSchema(tx, tenant.schemaName)
  if (Object.keys(state).length === 0) await tx.unsafe(LEDGER_DDL)
  await applyInTransaction(tx, migration)
  await tx`
    update public.tenants set migrations = migrations || jsonb_build_object(${migration.module}::text, ${migration.version}::int)
    where id = ${tenant.id}`
}

/** Keys a tenant's ledger by module if it was made before modules (once per tenant and run). */
async function upgradeTenantLedger(tx: TransactionSql, tenant: TenantToMigrate, state: MigrationState): Promise<void> {
  if (Object.keys(state).length > 0) await upgradeLedger(tx, tenant.schemaName, 'schema_migrations')
}

/** The registry row's state, locked: undefined when the tenant is gone. */
async function lockedStates(tx: TransactionSql, ids: readonly number[]): Promise<Map<number, MigrationState>> {
  const rows = await tx<{ id: number; migrations: MigrationState }[]>`
    select id, migrations from public.tenants where id in ${tx(ids)} order by id for update`
  return new Map(rows.map((row) => [Number(row.id), row.migrations]))
}

/**
 * Brings one existing tenant schema up to date, one transaction per pending migration.
 * Each transaction locks the tenant's registry row and writes the new state there, so
 * the registry never drifts from the schema and two migrators never apply one migration
 * twice. Stops at the first failing migration.
 */
export async function migrateTenantSchema(
  sql: Sql,
  tenant: TenantToMigrate,
  migrations: readonly Migration[],
): Promise<TenantMigrationOutcome> {
  assertValidSchemaName(tenant.schemaName)
  const from = tenant.migrations
  let to = from
  for (const migration of pendingMigrations(migrations, from)) {
    try {
      to = await sql.begin(async (tx) => {
        const state = (await lockedStates(tx, [tenant.id])).get(tenant.id)
        if (state === undefined) throw tenantGone(tenant)
        if ((state[migration.module] ?? 0) >= migration.version) return state
        await upgradeTenantLedger(tx, tenant, state)
        await applyTenantMigration(tx, tenant, state, migration)
        await recordTenantMigrationFiles(tx, [migration])
        return { ...state, [migration.module]: migration.version }
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
 * The registry rows of the batch are locked at its start and each state is written in
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
      const current = await lockedStates(
        tx,
        tenants.map((t) => t.id),
      )
      const applied = new Set<Migration>()
      for (const tenant of tenants) {
        const start = performance.now()
        let state = current.get(tenant.id)
        if (state === undefined) {
          outcomes.set(tenant.id, { from: tenant.migrations, to: tenant.migrations, error: tenantGone(tenant), ms: elapsed(start) })
          continue
        }
        const pending = pendingMigrations(migrations, state)
        try {
          const before = state
          if (pending.length > 0) await tx.savepoint((sp) => upgradeTenantLedger(sp, tenant, before))
        } catch {
          retry.add(tenant)
          continue
        }
        for (const migration of pending) {
          try {
            const before = state
            await tx.savepoint((sp) => applyTenantMigration(sp, tenant, before, migration))
          } catch {
            retry.add(tenant)
            break
          }
          state = { ...state, [migration.module]: migration.version }
          applied.add(migration)
        }
        outcomes.set(tenant.id, { from: tenant.migrations, to: state, ms: elapsed(start) })
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
    outcomes.set(tenant.id, { ...alone, from: tenant.migrations, ms: (before?.ms ?? 0) + elapsed(start) })
  }
  return tenants.map((tenant) => outcomes.get(tenant.id)!)
}

/** Milliseconds since `start` (a performance.now() reading), rounded. */
export function elapsed(start: number): number {
  return Math.round(performance.now() - start)
}
