import type { Sql, TransactionSql } from './connect.js'
import { assertValidSchemaName } from '../tenants/schema-name.js'

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
  if ('savepoint' in sql) return (sql as TransactionSql).savepoint(run) as Promise<T>
  return (sql as Sql).begin(run) as Promise<T>
}
