import { AsyncLocalStorage } from 'node:async_hooks'
import { AuthenticationError } from '../errors.js'
import { isUndefinedTableError } from './pg-errors.js'
import { assertValidSchemaName } from './schema-name.js'
import type { SchemaIdentifier, Sql, TransactionSql } from './sql.js'
import { sharedTenantConnections, type TenantConnections } from './tenant-connections.js'

/** What every tenant-scoped function needs to know about its tenant. */
export interface TenantRef {
  readonly id: number
  readonly schemaName: string
}

/** What a tenant's work receives from {@link InTenant}: its connection and its schema. */
export interface TenantScope {
  /**
   * The tenant's home connection (or the shared pool); `sql.begin` for a transaction there.
   * Inside {@link InTenantTransaction}'s work (a request sent with an Idempotency-Key), the
   * open transaction itself: `sql.begin` is then a savepoint in it.
   */
  readonly sql: Sql
  /**
   * The tenant's schema name, validated, as the driver's escaped identifier:
   * `` sql`select ... from ${schema}.posts` ``. Usable in a transaction begun on `sql` too.
   */
  readonly schema: SchemaIdentifier
}

/**
 * Runs a tenant's queries: the one place that picks the tenant's connection and turns its
 * schema name into SQL, so a query cannot run on one tenant's connection while naming
 * another's schema. `services.inTenant` is this for the tenant-scoped code of a module.
 */
export type InTenant = <T>(tenant: TenantRef, work: (scope: TenantScope) => Promise<T>) => Promise<T>

/**
 * Runs `work` in one transaction on the tenant's connection, and every {@link InTenant} call
 * for the same tenant made while it runs (in its async context) on that transaction: so a
 * request's writes, whichever services make them, commit or roll back together with what
 * `work` writes itself. The tenant is still an argument of every call; only the open
 * transaction is found in the context.
 */
export type InTenantTransaction = InTenant

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

/** The request's tenant was deleted after its api key was read: the key is no longer valid. */
export class TenantGoneError extends AuthenticationError {
  constructor() {
    super('invalid api key', 'INVALID_API_KEY')
  }
}

/** The transaction {@link InTenantTransaction} opened, for the calls made inside its work. */
interface OpenTransaction {
  readonly tenantId: number
  readonly scope: TenantScope
}

/**
 * The one {@link InTenant} of a set of services, and its {@link InTenantTransaction}: the
 * tenant's schema name validated and escaped, its queries on `connections`, and a missing
 * table there explained. Between another process's deleteTenant and this process hearing its
 * NOTIFY, a cached key still resolves and its query finds the schema gone: if the registry
 * (on `sql`) no longer has the tenant, that is a {@link TenantGoneError} and `onTenantGone`
 * drops what this process cached of it; otherwise the error stands. Driver errors become
 * core's at the services' boundary (reportingCoreErrors), not here.
 */
export function createTenantScopes({
  sql,
  connections,
  onTenantGone,
}: {
  readonly sql: Sql
  readonly connections: TenantConnections
  readonly onTenantGone?: (tenantId: number) => void
}): { readonly inTenant: InTenant; readonly inTenantTransaction: InTenantTransaction } {
  const open = new AsyncLocalStorage<OpenTransaction>()
  async function explain(error: unknown, tenant: TenantRef): Promise<unknown> {
    if (!isUndefinedTableError(error)) return error
    const registered = await sql`select 1 from public.tenants where id = ${tenant.id}`.then(
      (rows) => rows.length > 0,
      () => true,
    )
    if (registered) return error
    onTenantGone?.(tenant.id)
    return new TenantGoneError()
  }
  const shared = sharedTenantConnections(sql)
  async function scoped<T>(
    tenant: TenantRef,
    work: (tenantSql: Sql, schema: SchemaIdentifier) => Promise<T>,
    on: TenantConnections = connections,
  ): Promise<T> {
    assertValidSchemaName(tenant.schemaName)
    const schema = sql(tenant.schemaName)
    try {
      return await on.use(tenant.id, (tenantSql) => work(tenantSql, schema))
    } catch (error) {
      throw await explain(error, tenant)
    }
  }
  const inTenant: InTenant = async (tenant, work) => {
    const transaction = open.getStore()
    if (transaction?.tenantId === tenant.id) return work(transaction.scope)
    // NOTE: a call for another tenant inside the work never joins the transaction, and runs on
    // the shared pool: its home connection may be the one the transaction holds, where it would
    // wait for the work that waits for it.
    return scoped(tenant, (tenantSql, schema) => work({ sql: tenantSql, schema }), transaction ? shared : connections)
  }
  const inTenantTransaction: InTenantTransaction = (tenant, work) =>
    scoped(
      tenant,
      (tenantSql, schema) =>
        tenantSql.begin((tx) => {
          // NOTE: postgres.js's TransactionSql runs the same tagged templates, and its `begin` is a
          // savepoint; what it lacks (end, reserve, listen) no tenant-scoped code calls.
          const scope: TenantScope = { sql: tx as unknown as Sql, schema }
          return open.run({ tenantId: tenant.id, scope }, () => work(scope))
        }) as Promise<Awaited<ReturnType<typeof work>>>,
    )
  return { inTenant, inTenantTransaction }
}
