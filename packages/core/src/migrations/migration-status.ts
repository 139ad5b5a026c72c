import type { Sql } from '../db/connect.js'
import { latestVersion, type Migration, type MigrationSet } from './catalog.js'

/** Where one schema stands against its list of migration files. */
export interface SchemaMigrationState {
  readonly version: number
  readonly latest: number
  /** The files of the migrations it still lacks, in order. */
  readonly pending: readonly string[]
}

/** The whole database's migration state: the shared schema, then each tenant by id. */
export interface MigrationStatus {
  readonly shared: SchemaMigrationState
  /** `suspended`: the tenant is suspended (its schema is migrated all the same). */
  readonly tenants: readonly (SchemaMigrationState & { readonly schemaName: string; readonly suspended: boolean })[]
  /** Whether anything at all is pending. */
  readonly upToDate: boolean
}

/** The state of a schema at `version` against `list`: the one place "pending" is computed. */
export function migrationState(list: readonly Migration[], version: number): SchemaMigrationState {
  return { version, latest: latestVersion(list), pending: list.filter((m) => m.version > version).map((m) => m.file) }
}

/** The shared schema's applied version (0 before its first migration) against its files. */
export async function sharedSchemaState(sql: Sql, shared: readonly Migration[]): Promise<SchemaMigrationState> {
  const [ledger] = await sql<{ name: string | null }[]>`select to_regclass('public.schema_migrations')::text as name`
  if (!ledger?.name) return migrationState(shared, 0)
  const [row] = await sql<{ version: number | null }[]>`select max(version) as version from public.schema_migrations`
  return migrationState(shared, row?.version ?? 0)
}

/**
 * Every schema's state from the shared ledger and the registry's `migration_version`: two
 * queries, whatever the number of tenants.
 */
export async function migrationStatus(sql: Sql, migrations: MigrationSet): Promise<MigrationStatus> {
  const shared = await sharedSchemaState(sql, migrations.shared)
  // Before the first shared migration there is no registry, so no tenant either.
  // NOTE: suspended_at is read through to_jsonb, so status still answers (as the CI gate it
  // is) on a registry whose shared migrations are pending and which lacks the column.
  const rows =
    shared.version === 0
      ? []
      : await sql<{ schemaName: string; migrationVersion: number; suspended: boolean }[]>`
          select schema_name, migration_version, (to_jsonb(t) ->> 'suspended_at') is not null as suspended
          from public.tenants t order by id`
  const tenants = rows.map((row) => ({
    schemaName: row.schemaName,
    suspended: row.suspended,
    ...migrationState(migrations.tenant, row.migrationVersion),
  }))
  return { shared, tenants, upToDate: shared.pending.length === 0 && tenants.every((t) => t.pending.length === 0) }
}
