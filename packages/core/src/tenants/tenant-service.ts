import type { Sql, TransactionSql } from '../db/connect.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import { API_KEY_CHANNEL, insertApiKey, type IssuedApiKey } from '../api-keys/api-key-service.js'
import type { MigrationSet } from '../migrations/catalog.js'
import { migrateNewTenantSchema, verifyTenantMigrationFiles } from '../migrations/migrator.js'
import { assertValidSchemaName } from './schema-name.js'

/** A row of the tenant registry. */
export interface Tenant {
  readonly id: number
  readonly name: string
  readonly address: string
  readonly schemaName: string
  readonly migrationVersion: number
  readonly createdAt: Date
}

/** A tenant as listed, with its count of usable keys. */
export interface TenantSummary extends Tenant {
  readonly activeKeys: number
}

export interface CreateTenantInput {
  readonly name: string
  readonly address?: string
  readonly schemaName: string
  /** Name of the first api key (default "default"). */
  readonly keyName?: string
  readonly keyExpiresAt?: Date | null
}

export interface TenantServiceOptions {
  readonly sql: Sql
  readonly migrations: MigrationSet
  /**
   * Called once a deletion has committed, before deleteTenant returns: this process's key
   * cache forgets the tenant at once (other processes hear the NOTIFY).
   */
  readonly onTenantDeleted?: (tenantId: number) => void
}

const MAX_NAME = 200
const MAX_ADDRESS = 500
const TENANT_COLUMNS = 'id, name, address, schema_name, migration_version, created_at'

function validateCreateInput(input: CreateTenantInput): { name: string; address: string } {
  const problems: string[] = []
  const name = typeof input.name === 'string' ? input.name.trim() : ''
  const address = typeof input.address === 'string' ? input.address.trim() : ''
  if (name.length === 0 || name.length > MAX_NAME) problems.push(`tenant name must be 1 to ${MAX_NAME} characters`)
  if (address.length > MAX_ADDRESS) problems.push(`address must be at most ${MAX_ADDRESS} characters`)
  if (problems.length > 0) throw new ValidationError(problems.join('; '), 'VALIDATION_FAILED', problems)
  assertValidSchemaName(input.schemaName)
  return { name, address }
}

const schemaTaken = (schemaName: string) => new ConflictError(`schema "${schemaName}" is already taken`, 'SCHEMA_TAKEN')

/**
 * Which of a new tenant's unique values another tenant holds. NOTE: asked after an
 * `on conflict do nothing` returned no row, rather than read off a unique-violation error,
 * whose constraint name Citus drops when it re-raises a worker's error.
 */
async function takenConflict(tx: TransactionSql, name: string, schemaName: string): Promise<ConflictError> {
  const [taken] = await tx<{ nameTaken: boolean }[]>`
    select bool_or(name = ${name}) as name_taken from public.tenants where name = ${name} or schema_name = ${schemaName}`
  return taken?.nameTaken ? new ConflictError(`a tenant named "${name}" already exists`, 'TENANT_NAME_TAKEN') : schemaTaken(schemaName)
}

/** Tenants: the registry row, the schema and its migrations, created and dropped as one. */
export function createTenantService({ sql, migrations, onTenantDeleted }: TenantServiceOptions) {
  /**
   * Creates the registry row, the first api key, the schema and every tenant migration in
   * ONE transaction: the tenant exists fully or not at all.
   */
  async function createTenant(input: CreateTenantInput): Promise<{ tenant: Tenant; apiKey: IssuedApiKey }> {
    const { name, address } = validateCreateInput(input)
    const schemaName = input.schemaName
    try {
      return await sql.begin(async (tx) => {
        // Inside the transaction: a failed creation records no migration file either.
        await verifyTenantMigrationFiles(tx, migrations.tenant)
        const [row] = await tx<Tenant[]>`
          insert into public.tenants (name, address, schema_name)
          values (${name}, ${address}, ${schemaName})
          on conflict do nothing
          returning ${tx.unsafe(TENANT_COLUMNS)}`
        if (!row) throw await takenConflict(tx, name, schemaName)
        const tenant = row
        const apiKey = await insertApiKey(tx, tenant.id, { name: input.keyName ?? 'default', expiresAt: input.keyExpiresAt ?? null })
        await tx`create schema ${tx(schemaName)}`
        const version = await migrateNewTenantSchema(tx, schemaName, migrations.tenant)
        await tx`update public.tenants set migration_version = ${version} where id = ${tenant.id}`
        return { tenant: { ...tenant, migrationVersion: version }, apiKey }
      })
    } catch (error) {
      // A schema of that name that the registry does not know (duplicate_schema).
      if ((error as { code?: string }).code === '42P06') throw schemaTaken(schemaName)
      throw error
    }
  }

  async function listTenants(): Promise<TenantSummary[]> {
    return sql<TenantSummary[]>`
      select t.id, t.name, t.address, t.schema_name, t.migration_version, t.created_at,
        (select count(*)::int from public.api_keys k
          where k.tenant_id = t.id and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())) as active_keys
      from public.tenants t order by t.id`
  }

  /** One tenant by id or schema name; {@link NotFoundError} when there is none. */
  async function getTenant(idOrSchema: number | string): Promise<Tenant> {
    const [row] =
      typeof idOrSchema === 'number'
        ? await sql<Tenant[]>`select ${sql.unsafe(TENANT_COLUMNS)} from public.tenants where id = ${idOrSchema}`
        : await sql<Tenant[]>`select ${sql.unsafe(TENANT_COLUMNS)} from public.tenants where schema_name = ${idOrSchema}`
    if (!row) throw new NotFoundError(`no tenant ${typeof idOrSchema === 'number' ? `with id ${idOrSchema}` : `with schema ${idOrSchema}`}`, 'TENANT_NOT_FOUND')
    return row
  }

  /**
   * Drops the tenant's schema with all its data and removes its registry row and (by cascade) its keys, in
   * one transaction. `confirmSchemaName` must repeat the schema name, as a guard against
   * deleting the wrong tenant. Every process's key cache forgets the tenant via NOTIFY.
   */
  async function deleteTenant(schemaName: string, confirmSchemaName: string): Promise<Tenant> {
    if (schemaName !== confirmSchemaName) {
      throw new ValidationError('the confirmation does not match the schema name', 'CONFIRMATION_MISMATCH')
    }
    assertValidSchemaName(schemaName)
    const deleted = await sql.begin(async (tx) => {
      const [row] = await tx<Tenant[]>`
        select ${tx.unsafe(TENANT_COLUMNS)} from public.tenants where schema_name = ${schemaName} for update`
      if (!row) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
      await tx`drop schema if exists ${tx(schemaName)} cascade`
      await tx`delete from public.tenants where id = ${row.id}`
      await tx`select pg_notify(${API_KEY_CHANNEL}, ${'tenant:' + row.id})`
      return row
    })
    // NOTE: the NOTIFY reaches this process's own listener a moment later; a request in
    // that moment would find the key cached and query a dropped schema (a 500, seen in
    // api/test/integration/auth-abuse.test.ts). Evicting here closes it in this process.
    onTenantDeleted?.(deleted.id)
    return deleted
  }

  return { createTenant, listTenants, getTenant, deleteTenant }
}

export type TenantService = ReturnType<typeof createTenantService>
