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
 * Runs `work` in one transaction whose search_path is the tenant's schema only.
 * `SET LOCAL` semantics (set_config(..., true)) end with the transaction, so a pooled
 * connection never carries the tenant into another use. Used for migrations, whose SQL
 * files name tables without a schema.
 */
export async function inTenantTransaction<T>(
  sql: Sql | TransactionSql,
  schemaName: string,
  work: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  assertValidSchemaName(schemaName)
  const run = async (tx: TransactionSql) => {
    await tx`select set_config('search_path', quote_ident(${schemaName}), true)`
    return work(tx)
  }
  if ('savepoint' in sql) return (sql as TransactionSql).savepoint(run) as Promise<T>
  return (sql as Sql).begin(run) as Promise<T>
}
