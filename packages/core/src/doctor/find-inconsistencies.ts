import { isPreviousSchemaOf } from '../tenant-bundles/import-tenant.js'
import pLimit from 'p-limit'
import type { Sql } from '../db/sql.js'
import {
  formatState,
  migrationLabel,
  sameState,
  stateOfLedger,
  type Migration,
  type MigrationSet,
  type MigrationState,
} from '../migrations/catalog.js'
import { readLedger } from '../migrations/migrator.js'
import { registryColumns } from '../migrations/migration-status.js'
import { createCitusService } from '../citus/citus-service.js'
import { schemaNameProblem } from '../db/schema-name.js'

/** What kind of inconsistency a {@link Finding} is. */
export type FindingKind =
  /** A registry row whose schema no longer exists. */
  | 'missing-schema'
  /** A schema holding a `schema_migrations` table (so made by a migrator) with no registry row. */
  | 'unregistered-schema'
  /** A schema (tenant or shared) that lacks migrations the files have. */
  | 'schema-behind'
  /** A schema with applied migrations that no file has (newer code ran against it). */
  | 'schema-ahead'
  /** The registry's migration state disagrees with the tenant schema's own ledger. */
  | 'registry-version-mismatch'
  /** An applied migration whose file was edited afterwards. */
  | 'checksum-mismatch'
  /** An api key whose tenant row is gone (only possible without the foreign key). */
  | 'orphan-api-key'
  /** The api_keys -> tenants foreign key is missing, so keys can outlive their tenant. */
  | 'missing-foreign-key'
  /** On Citus: a tenant schema that Citus does not distribute (it stays on the coordinator). */
  | 'undistributed-schema'
  /** On Citus: schema-based sharding is off for the database, so new tenants stay on the coordinator. */
  | 'schema-sharding-off'

/** One inconsistency, with how to fix it. */
export interface Finding {
  readonly kind: FindingKind
  /** The schema concerned (`public` for the shared schema), or null for registry-wide findings. */
  readonly schema: string | null
  readonly message: string
  /** What an operator should do about it, in one sentence. */
  readonly fix: string
}

export interface FindInconsistenciesOptions {
  /**
   * Tenant ledgers read at once (each read is one query on one schema). They share the
   * pool's connections, so several wait on each connection, pipelined. Default 32.
   */
  readonly concurrency?: number
}

interface LedgerRow {
  module: string
  version: number
  name: string
  checksum: string
}

/**
 * Reads the catalog, the registry and every tenant's `schema_migrations` and reports each
 * inconsistency between them and the migration files, with a fix. Read-only.
 *
 * NOTE: this reads one ledger per tenant schema, so it costs one query per tenant (each
 * touches one schema, as Citus requires). The reads are pipelined and unprepared: a
 * statement prepared per schema would be parsed and stored once for a single use.
 * Measured over 5,000 ledgers on 2 cores: about 0.2 ms each, against 0.7 ms one at a time
 * per connection, prepared. Nothing on a request or migration path calls it.
 */
export async function findInconsistencies(
  sql: Sql,
  migrations: MigrationSet,
  options: FindInconsistenciesOptions = {},
): Promise<Finding[]> {
  const findings: Finding[] = []
  const [registry] = await sql<{ name: string | null }[]>`select to_regclass('public.tenants')::text as name`
  const [sharedLedger] = await sql<{ name: string | null }[]>`select to_regclass('public.schema_migrations')::text as name`

  // The shared schema against its files.
  const sharedApplied = sharedLedger?.name ? await readLedger(sql, 'public', 'schema_migrations') : []
  findings.push(...compareLedger('public', sharedApplied, migrations, migrations.shared, 'tenantctl migrate'))
  if (!registry?.name) return findings

  const { state } = await registryColumns(sql)
  const tenants = await sql<{ schemaName: string; migrations: MigrationState; schemaExists: boolean; hasLedger: boolean }[]>`
    select t.schema_name,
      ${state} as migrations,
      exists (select 1 from pg_namespace n where n.nspname = t.schema_name) as schema_exists,
      exists (
        select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = t.schema_name and c.relname = 'schema_migrations' and c.relkind in ('r', 'p')
      ) as has_ledger
    from public.tenants t order by t.id`

  for (const tenant of tenants.filter((row) => !row.schemaExists)) {
    findings.push({
      kind: 'missing-schema',
      schema: tenant.schemaName,
      message: `tenant ${tenant.schemaName} is registered but its schema does not exist`,
      fix: `run \`tenantctl delete ${tenant.schemaName} --yes --force\` to remove the registry row and its keys (or restore the schema from a backup)`,
    })
  }

  const unregistered = await sql<{ schemaName: string }[]>`
    select n.nspname as schema_name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relname = 'schema_migrations' and c.relkind in ('r', 'p') and n.nspname <> 'public'
      and not exists (select 1 from public.tenants t where t.schema_name = n.nspname)
    order by n.nspname`
  // The content a restore replaced, kept under a name of its tenant's until dropped, is no finding.
  const kept = (name: string) => tenants.some((tenant) => isPreviousSchemaOf(name, tenant.schemaName))
  for (const { schemaName } of unregistered.filter((row) => !kept(row.schemaName))) {
    findings.push({
      kind: 'unregistered-schema',
      schema: schemaName,
      message: `schema ${schemaName} looks like a tenant schema (it has schema_migrations) but no tenant is registered for it`,
      fix: `if it is left over from a deleted or failed tenant, back it up and drop it (DROP SCHEMA "${schemaName}" CASCADE); otherwise create a tenant and move its data there`,
    })
  }

  const withSchema = tenants.filter((row) => row.schemaExists)
  const limit = pLimit(Math.max(1, Math.floor(options.concurrency ?? 32)))
  const perTenant = await Promise.all(withSchema.map((tenant) => limit(() => checkTenantLedger(sql, tenant, migrations))))
  for (const list of perTenant) findings.push(...list)

  // Tenant migration files as first applied anywhere (the one-query check migrate relies on).
  const recorded = await readLedger(sql, 'public', 'tenant_migration_files')
  for (const row of recorded) {
    const file = migrations.tenant.find((m) => m.module === row.module && m.version === row.version)
    if (file && file.checksum !== row.checksum) {
      findings.push({
        kind: 'checksum-mismatch',
        schema: null,
        message: `tenant migration ${migrationLabel(file)} differs from the file first applied to tenants (recorded in public.tenant_migration_files)`,
        fix: `restore ${migrationLabel(file)} to its applied content and put the change in a new migration file`,
      })
    }
  }

  const [foreignKey] = await sql<{ found: boolean }[]>`
    select exists (
      select 1 from pg_constraint
      where contype = 'f' and conrelid = 'public.api_keys'::regclass and confrelid = 'public.tenants'::regclass
    ) as found`
  if (!foreignKey?.found) {
    findings.push({
      kind: 'missing-foreign-key',
      schema: 'public',
      message: 'public.api_keys has no foreign key to public.tenants, so keys can outlive their tenant',
      fix: 'delete orphan keys, then restore it: ALTER TABLE public.api_keys ADD FOREIGN KEY (tenant_id) REFERENCES public.tenants (id) ON DELETE CASCADE',
    })
  }
  const orphanKeys = await sql<{ prefix: string; tenantId: number }[]>`
    select k.prefix, k.tenant_id from public.api_keys k
    where not exists (select 1 from public.tenants t where t.id = k.tenant_id)
    order by k.id`
  for (const key of orphanKeys) {
    findings.push({
      kind: 'orphan-api-key',
      schema: null,
      message: `api key ${key.prefix} belongs to tenant id ${key.tenantId}, which no longer exists`,
      fix: `delete it: DELETE FROM public.api_keys WHERE prefix = '${key.prefix}'`,
    })
  }
  findings.push(...(await checkCitusDistribution(sql)))
  return findings
}

/** On a Citus coordinator: tenant schemas left undistributed, and sharding that is off. Nothing elsewhere. */
async function checkCitusDistribution(sql: Sql): Promise<Finding[]> {
  const undistributed = await createCitusService({ sql }).undistributedTenantSchemas()
  if (undistributed === null) return []
  const findings: Finding[] = undistributed.map((schema) => ({
    kind: 'undistributed-schema',
    schema,
    message: `tenant schema ${schema} is not distributed by Citus (made before schema-based sharding was on), so it stays on the coordinator`,
    fix: `run SELECT citus_schema_distribute('${schema}') on the coordinator`,
  }))
  const [setting] = await sql<{ on: string | null; database: string }[]>`
    select current_setting('citus.enable_schema_based_sharding', true) as on, current_database() as database`
  if (setting?.on !== 'on') {
    findings.push({
      kind: 'schema-sharding-off',
      schema: null,
      message: 'citus.enable_schema_based_sharding is off for this database, so new tenant schemas are not distributed',
      fix: `run ALTER DATABASE "${setting?.database}" SET citus.enable_schema_based_sharding = on on the coordinator (new connections pick it up)`,
    })
  }
  return findings
}

async function checkTenantLedger(
  sql: Sql,
  tenant: { schemaName: string; migrations: MigrationState; hasLedger: boolean },
  migrations: MigrationSet,
): Promise<Finding[]> {
  const schema = tenant.schemaName
  // Registry rows are validated on insert; a name that fails here never reaches SQL.
  if (schemaNameProblem(schema) !== undefined) return []
  const applied = tenant.hasLedger ? await readLedger(sql, schema, 'schema_migrations').simple() : []
  const findings = compareLedger(schema, applied, migrations, migrations.tenant, `tenantctl migrate --schema ${schema}`)
  const ledgerState = stateOfLedger(applied)
  if (!sameState(ledgerState, tenant.migrations)) {
    findings.push({
      kind: 'registry-version-mismatch',
      schema,
      message: `the registry says ${schema} is at ${formatState(tenant.migrations)} but its schema_migrations says ${formatState(ledgerState)}`,
      fix:
        `set the registry to the schema's own state (UPDATE public.tenants SET migrations = '${JSON.stringify(ledgerState)}' WHERE schema_name = '${schema}'), ` +
        `then run \`tenantctl migrate --schema ${schema}\``,
    })
  }
  return findings
}

/** Behind, ahead and checksum findings for one schema's ledger against its files. */
function compareLedger(
  schema: string,
  applied: readonly LedgerRow[],
  migrations: MigrationSet,
  files: readonly Migration[],
  migrateCommand: string,
): Finding[] {
  const findings: Finding[] = []
  const fileOf = (row: LedgerRow) => files.find((m) => m.module === row.module && m.version === row.version)
  const unknown = applied.filter((row) => !fileOf(row))
  for (const module of [...new Set(unknown.map((row) => row.module))]) {
    const rows = unknown.filter((row) => row.module === module)
    const declared = migrations.modules.includes(module)
    findings.push({
      kind: 'schema-ahead',
      schema,
      message:
        `${schema} has migrations of module ${module} applied that no file has: ${rows.map((row) => `${row.version} (${row.name})`).join(', ')}` +
        (declared ? '' : ` (module ${module} is not declared in this deployment's tenantbase.config)`),
      fix: declared
        ? `run the release whose module ${module} has these migration files (newer code of that module migrated this schema)`
        : `declare module ${module} in tenantbase.config again (TENANTBASE_CONFIG names the config file), or remove it as docs/extending.md says`,
    })
  }
  for (const row of applied) {
    const file = fileOf(row)
    if (file && file.checksum !== row.checksum) {
      findings.push({
        kind: 'checksum-mismatch',
        schema,
        message: `${schema}: migration file ${migrationLabel(file)} was changed after it was applied`,
        fix: `restore ${migrationLabel(file)} to its applied content and put the change in a new migration file`,
      })
    }
  }
  const missing = files.filter((file) => !applied.some((row) => row.module === file.module && row.version === file.version))
  if (missing.length > 0) {
    findings.push({
      kind: 'schema-behind',
      schema,
      message: `${schema} lacks ${missing.length} migration${missing.length === 1 ? '' : 's'}: ${missing.map(migrationLabel).join(', ')}`,
      fix: `run \`${migrateCommand}\``,
    })
  }
  return findings
}
