import type { Sql, TransactionSql } from './connect.js'
import { AuthenticationError } from '../errors.js'
import { assertValidSchemaName } from '../tenants/schema-name.js'
import { isUndefinedTableError, toCoreError } from './pg-errors.js'
import type { TenantConnections } from './tenant-connections.js'

/** What every tenant-scoped function needs to know about its tenant. */
export interface TenantRef {
  readonly id: number
  readonly schemaName: string
}

/**
 * The tenant's schema as an escaped SQL identifier fragment: `${schemaOf(sql, t)}.posts`.
 * Validates the name again so a schema name reaches SQL only through the driver's
 * identifier escaping after validation, whatever path produced the tenant object.
 */
export function schemaOf(sql: Sql | TransactionSql, tenant: TenantRef) {
  assertValidSchemaName(tenant.schemaName)
  return sql(tenant.schemaName)
}

/**
 * Points the transaction at one schema only (a tenant's, validated, or `public`):
 * `set_config(..., true)` has `SET LOCAL` semantics, so the setting ends with the
 * transaction and a pooled connection never carries the tenant into another use. The one
 * schema switch: migrations, whose files name tables without a schema, run under it.
 */
export async function useSchema(tx: TransactionSql, schemaName: string): Promise<void> {
  if (schemaName !== 'public') assertValidSchemaName(schemaName)
  await tx`select set_config('search_path', quote_ident(${schemaName}), true)`
}

/**
 * Runs `work` in a transaction (a savepoint inside one) under {@link useSchema}: for
 * code of a service built on tenantbase that names a tenant's tables without a schema.
 */
export async function inTenantTransaction<T>(
  sql: Sql | TransactionSql,
  schemaName: string,
  work: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  const run = async (tx: TransactionSql) => {
    assertValidSchemaName(schemaName)
    await useSchema(tx, schemaName)
    return work(tx)
  }
  if ('savepoint' in sql) return sql.savepoint(run)
  return sql.begin(run)
}

/**
 * Runs a tenant's queries on its connection (`work` gets the connection to query) and
 * reports what went wrong as core errors, for every tenant-scoped service alike.
 */
export type InTenant = <T>(tenant: TenantRef, work: (sql: Sql) => Promise<T>) => Promise<T>

/** The request's tenant was deleted after its api key was read: the key is no longer valid. */
export class TenantGoneError extends AuthenticationError {
  constructor() {
    super('invalid api key', 'INVALID_API_KEY')
  }
}

/**
 * The one {@link InTenant} of a set of services: tenant queries on `connections`, and a
 * missing table there explained. Between another process's deleteTenant and this process
 * hearing its NOTIFY, a cached key still resolves and its query finds the schema gone: if
 * the registry (on `sql`) no longer has the tenant, that is a {@link TenantGoneError} and
 * `onTenantGone` drops what this process cached of it; otherwise the error stands.
 */
export function createInTenant({
  sql,
  connections,
  onTenantGone,
}: {
  readonly sql: Sql
  readonly connections: TenantConnections
  readonly onTenantGone?: (tenantId: number) => void
}): InTenant {
  async function explain(error: unknown, tenant: TenantRef): Promise<unknown> {
    if (!isUndefinedTableError(error)) return toCoreError(error)
    const registered = await sql`select 1 from public.tenants where id = ${tenant.id}`.then(
      (rows) => rows.length > 0,
      () => true,
    )
    if (registered) return error
    onTenantGone?.(tenant.id)
    return new TenantGoneError()
  }
  return async (tenant, work) => {
    try {
      return await connections.use(tenant.id, work)
    } catch (error) {
      throw await explain(error, tenant)
    }
  }
}
