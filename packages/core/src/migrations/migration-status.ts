import type { Sql } from '../db/sql.js'
import {
  latestState,
  migrationLabel,
  pendingMigrations,
  stateOfLedger,
  type Migration,
  type MigrationSet,
  type MigrationState,
} from './catalog.js'
import { moduleNotDeclared, readLedger } from './migrator.js'

/** Where one schema stands against its modules' migration files. */
export interface SchemaMigrationState {
  /** Per module, the version applied (absent: nothing of it applied). */
  readonly state: MigrationState
  /** Per module, the version of its last file. */
  readonly latest: MigrationState
  /** The migrations it still lacks, in order, as `module/file`. */
  readonly pending: readonly string[]
}

/** A registered tenant as status sees it. */
export interface TenantMigrationState extends SchemaMigrationState {
  readonly schemaName: string
  /** The tenant is suspended (its schema is migrated all the same). */
  readonly suspended: boolean
  /**
   * What is wrong beyond pending migrations: its schema or its ledger is gone, or it has
   * migrations of a module that no file of this deployment has (`ahead`).
   */
  readonly problem?: 'schema-missing' | 'ledger-missing' | 'ahead'
}

/** The whole database's migration state: the shared schema, then each tenant by id. */
export interface MigrationStatus {
  readonly shared: SchemaMigrationState
  readonly tenants: readonly TenantMigrationState[]
  /** Whether anything at all is pending or wrong. */
  readonly upToDate: boolean
}

/** How the registry row `t` reads, as SQL: its migration state and whether it is suspended. */
export interface RegistryColumns {
  readonly state: ReturnType<Sql>
  readonly suspended: ReturnType<Sql>
}

/**
 * The registry's columns for its migration state and suspension, as SQL on the row `t`. A
 * registry made before modules (a core version instead of a state) or before suspensions
 * reads too: status, a dry run and doctor answer before the shared migrations that change
 * it. One catalog query, then plain columns: what every row reads at 100,000 tenants.
 */
export async function registryColumns(sql: Sql): Promise<RegistryColumns> {
  const columns = await sql<{ name: string }[]>`
    select attname::text as name from pg_attribute
    where attrelid = to_regclass('public.tenants') and attname in ('migrations', 'suspended_at') and not attisdropped`
  const has = (name: string) => columns.some((column) => column.name === name)
  return {
    state: has('migrations') ? sql`t.migrations` : sql`jsonb_build_object('core', t.migration_version)`,
    suspended: has('suspended_at') ? sql`t.suspended_at is not null` : sql`false`,
  }
}

/** The state of a schema at `state` against `list`: the one place "pending" is computed. */
export function migrationState(
  list: readonly Migration[],
  state: MigrationState,
  latest: MigrationState = latestState(list),
): SchemaMigrationState {
  return { state, latest, pending: pendingMigrations(list, state).map(migrationLabel) }
}

/** Whether `state` has a version of some module past that module's last file. */
export function isAhead(list: readonly Migration[], state: MigrationState, latest: MigrationState = latestState(list)): boolean {
  return Object.entries(state).some(([module, version]) => version > (latest[module] ?? 0))
}

/** The shared schema's applied state (empty before its first migration) against its files. */
export async function sharedSchemaState(sql: Sql, shared: readonly Migration[]): Promise<SchemaMigrationState> {
  const [ledger] = await sql<{ name: string | null }[]>`select to_regclass('public.schema_migrations')::text as name`
  if (!ledger?.name) return migrationState(shared, {})
  const applied = await readLedger(sql, 'public', 'schema_migrations')
  return migrationState(shared, stateOfLedger(applied))
}

/**
 * Modules whose migrations were applied to this database (its shared schema or any tenant)
 * but that the deployment no longer declares: one query on each of the two small ledgers.
 * Their tables stay; running on without them would leave tenants that disagree, so every
 * migration run and status refuses (see docs/extending.md, "Removing a module").
 */
export async function undeclaredModules(sql: Sql, migrations: MigrationSet): Promise<string[]> {
  const [ledger] = await sql<{ name: string | null }[]>`select to_regclass('public.tenant_migration_files')::text as name`
  if (!ledger?.name) return []
  const rows = await sql<{ module: string }[]>`
    select coalesce(to_jsonb(f) ->> 'module', 'core') as module from public.tenant_migration_files f
    union
    select coalesce(to_jsonb(s) ->> 'module', 'core') from public.schema_migrations s`
  return rows.map((row) => row.module).filter((module) => !migrations.modules.includes(module))
}

/** Throws `MODULE_NOT_DECLARED` naming each module applied here that the deployment lacks. */
export async function assertModulesDeclared(sql: Sql, migrations: MigrationSet): Promise<void> {
  const missing = await undeclaredModules(sql, migrations)
  if (missing.length > 0) throw moduleNotDeclared(missing, migrations.modules)
}

/**
 * Every schema's state from the shared ledger, the registry and the catalog: three queries,
 * whatever the number of tenants. Each registered schema is checked to exist and to hold its
 * ledger (the catalog, in the same query as the registry); the ledgers' rows themselves are
 * read by `doctor`, one query per tenant.
 */
export async function migrationStatus(sql: Sql, migrations: MigrationSet): Promise<MigrationStatus> {
  const shared = await sharedSchemaState(sql, migrations.shared)
  // Before the first shared migration there is no registry, so no tenant either. A registry
  // whose shared migrations are pending still answers (status is a CI gate): registryColumns.
  const registry = Object.keys(shared.state).length === 0 ? undefined : await registryColumns(sql)
  const rows = !registry
    ? []
    : await sql<{ schemaName: string; state: MigrationState; suspended: boolean; schemaExists: boolean; ledgerExists: boolean }[]>`
          select t.schema_name,
            ${registry.state} as state,
            ${registry.suspended} as suspended,
            n.oid is not null as schema_exists,
            exists (select from pg_class c where c.relnamespace = n.oid and c.relname = 'schema_migrations') as ledger_exists
          from public.tenants t left join pg_namespace n on n.nspname = t.schema_name
          order by t.id`
  const latest = latestState(migrations.tenant)
  const tenants = rows.map((row): TenantMigrationState => {
    const problem = !row.schemaExists
      ? 'schema-missing'
      : !row.ledgerExists && Object.keys(row.state).length > 0
        ? 'ledger-missing'
        : isAhead(migrations.tenant, row.state, latest)
          ? 'ahead'
          : undefined
    return {
      schemaName: row.schemaName,
      suspended: row.suspended,
      ...migrationState(migrations.tenant, row.state, latest),
      ...(problem && { problem }),
    }
  })
  return {
    shared,
    tenants,
    upToDate: shared.pending.length === 0 && tenants.every((t) => t.pending.length === 0 && t.problem === undefined),
  }
}
