import type { Sql, TransactionSql } from '../db/sql.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import { insertApiKey, type IssuedApiKey } from '../api-keys/api-key-store.js'
import { recordAuditEvent } from '../audit/audit-log.js'
import { latestState, parseAll, type MigrationSet, type MigrationState } from '../migrations/catalog.js'
import { notifyRevocation } from '../revocations/revocation-channel.js'
import { migrateNewTenantSchema, verifyTenantMigrationFiles } from '../migrations/migrator.js'
import { assertValidSchemaName } from '../db/schema-name.js'
import { insertDomain } from '../domains/domain-store.js'
import { normaliseHostName } from '../domains/host-name.js'

/** A row of the tenant registry. */
export interface Tenant {
  readonly id: number
  readonly name: string
  readonly address: string
  readonly schemaName: string
  /** Per module, the version of its last migration applied to the tenant's schema. */
  readonly migrations: MigrationState
  readonly createdAt: Date
  /** Set while the tenant is suspended: its data stays, its requests are refused. */
  readonly suspendedAt: Date | null
  readonly suspensionReason: string | null
  /** Whether the reason is shown to the tenant's callers. */
  readonly suspensionReasonPublic: boolean
}

export interface SuspendTenantInput {
  /** Why, for operators (and for callers, with `showReason`). At most 500 characters. */
  readonly reason?: string
  /** Show the reason in the 403 message the tenant's callers get (default false). */
  readonly showReason?: boolean
}

/** A suspension or resumption: the tenant as it is now, and whether this call changed it. */
export interface TenantStateChange {
  readonly tenant: Tenant
  readonly changed: boolean
  /** True when the tenant was suspended already and this call changed its reason or the reason's visibility. */
  readonly updatedInPlace?: boolean
}

export interface DeleteTenantOptions {
  /** Delete an active tenant too (otherwise it must be suspended first). */
  readonly force?: boolean
}

/** A deleted tenant's last registry row. */
export interface DeletedTenant extends Tenant {
  /** False when its schema was already gone (dropped by hand): only the registry row and keys were removed. */
  readonly schemaExisted: boolean
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
  /** Host names the tenant is reached by (the first is its primary), added in the same transaction. */
  readonly domains?: readonly string[]
}

export interface TenantServiceOptions {
  readonly sql: Sql
  readonly migrations: MigrationSet
  /**
   * Called once a deletion has committed, before deleteTenant returns: this process's key
   * cache forgets the tenant at once (other processes hear the NOTIFY).
   */
  readonly onTenantDeleted?: (tenantId: number) => void
  /** Called once a suspension or resumption has committed: this process's key cache forgets the tenant at once. */
  readonly onTenantStateChanged?: (tenantId: number) => void
  /** Called once a creation has committed: this process's host cache forgets the hosts it knew as naming no tenant. */
  readonly onTenantCreated?: (tenantId: number) => void
  /** Who acts through this service, for the audit log. */
  readonly actor?: string
}

/** The longest tenant name, in characters, once trimmed. */
export const MAX_TENANT_NAME_LENGTH = 200
const MAX_ADDRESS = 500
const MAX_REASON = 500
const TENANT_COLUMNS = 'id, name, address, schema_name, migrations, created_at, suspended_at, suspension_reason, suspension_reason_public'

function validateCreateInput(input: CreateTenantInput): { name: string; address: string } {
  const problems: string[] = []
  const name = typeof input.name === 'string' ? input.name.trim() : ''
  const address = typeof input.address === 'string' ? input.address.trim() : ''
  if (name.length === 0 || name.length > MAX_TENANT_NAME_LENGTH)
    problems.push(`tenant name must be 1 to ${MAX_TENANT_NAME_LENGTH} characters`)
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
export function createTenantService({
  sql,
  migrations,
  onTenantDeleted,
  onTenantStateChanged,
  onTenantCreated,
  actor = 'unknown',
}: TenantServiceOptions) {
  /**
   * Creates the registry row, the first api key, the schema and every tenant migration in
   * ONE transaction: the tenant exists fully or not at all.
   */
  async function createTenant(input: CreateTenantInput): Promise<{ tenant: Tenant; apiKey: IssuedApiKey; domains: string[] }> {
    const { name, address } = validateCreateInput(input)
    const schemaName = input.schemaName
    const domains = [...new Set((input.domains ?? []).map((domain) => normaliseHostName(domain)))]
    // Parsed before the transaction (once per process): a file that does not parse opens none.
    await parseAll(migrations.tenant)
    try {
      const created = await sql.begin(async (tx) => {
        // Inside the transaction: a failed creation records no migration file either.
        const recorded = await verifyTenantMigrationFiles(tx, migrations)
        // The row names the state the schema is at once this transaction commits.
        const [row] = await tx<Tenant[]>`
          insert into public.tenants (name, address, schema_name, migrations)
          values (${name}, ${address}, ${schemaName}, ${JSON.stringify(latestState(migrations.tenant))}::text::jsonb)
          on conflict do nothing
          returning ${tx.unsafe(TENANT_COLUMNS)}`
        if (!row) throw await takenConflict(tx, name, schemaName)
        const tenant = row
        const apiKey = await insertApiKey(tx, tenant.id, { name: input.keyName ?? 'default', expiresAt: input.keyExpiresAt ?? null })
        await tx`create schema ${tx(schemaName)}`
        const state = await migrateNewTenantSchema(tx, schemaName, migrations.tenant, recorded)
        for (const host of domains) await insertDomain(tx, tenant.id, host, false)
        await recordAuditEvent(tx, actor, {
          action: 'tenant.create',
          tenantId: tenant.id,
          schemaName,
          keyPrefix: apiKey.prefix,
          detail: { name, keyName: apiKey.name, migrations: state, ...(domains.length > 0 && { domains }) },
        })
        // A host cached as naming no tenant (this schema's subdomain, these domains) may name this one now.
        await notifyRevocation(tx, 'domain', '*')
        return { tenant: { ...tenant, migrations: state }, apiKey, domains }
      })
      onTenantCreated?.(created.tenant.id)
      return created
    } catch (error) {
      // A schema of that name that the registry does not know (duplicate_schema).
      if ((error as { code?: string }).code === '42P06') throw schemaTaken(schemaName)
      throw error
    }
  }

  async function listTenants(): Promise<TenantSummary[]> {
    return sql<TenantSummary[]>`
      select t.id, t.name, t.address, t.schema_name, t.migrations, t.created_at,
        t.suspended_at, t.suspension_reason, t.suspension_reason_public,
        (select count(*)::int from public.api_keys k
          where k.tenant_id = t.id and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())) as active_keys
      from public.tenants t order by t.id`
  }

  /** Whether a tenant holds this name (trimmed, as {@link createTenant} stores it): a prompt can refuse it before anything else is asked. */
  async function isTenantNameTaken(name: string): Promise<boolean> {
    const [row] = await sql<{ taken: boolean }[]>`select exists (select 1 from public.tenants where name = ${name.trim()}) as taken`
    return row!.taken
  }

  /** One tenant by id or schema name; {@link NotFoundError} when there is none. */
  async function getTenant(idOrSchema: number | string): Promise<Tenant> {
    const [row] =
      typeof idOrSchema === 'number'
        ? await sql<Tenant[]>`select ${sql.unsafe(TENANT_COLUMNS)} from public.tenants where id = ${idOrSchema}`
        : await sql<Tenant[]>`select ${sql.unsafe(TENANT_COLUMNS)} from public.tenants where schema_name = ${idOrSchema}`
    if (!row)
      throw new NotFoundError(
        `no tenant ${typeof idOrSchema === 'number' ? `with id ${idOrSchema}` : `with schema ${idOrSchema}`}`,
        'TENANT_NOT_FOUND',
      )
    return row
  }

  /**
   * Suspends or resumes a tenant in one transaction with its audit row; every process's key
   * cache forgets the tenant via NOTIFY, so the change is seen within a NOTIFY's latency.
   * Idempotent: a tenant already in the asked state is returned unchanged, with no audit row;
   * but a suspended tenant suspended again with a `reason` or `showReason` takes them in place
   * (the reason kept when only `showReason` is given), audited as a `tenant.suspend` whose
   * detail names the previous reason and visibility.
   */
  async function setSuspension(schemaName: string, suspend: boolean, input: SuspendTenantInput = {}): Promise<TenantStateChange> {
    assertValidSchemaName(schemaName)
    const reason = typeof input.reason === 'string' && input.reason.trim().length > 0 ? input.reason.trim() : null
    if (reason !== null && reason.length > MAX_REASON) {
      throw new ValidationError(`the suspension reason must be at most ${MAX_REASON} characters`, 'INVALID_SUSPENSION_REASON')
    }
    const showReason = input.showReason ?? false
    const change = await sql.begin(async (tx): Promise<TenantStateChange> => {
      const [row] = await tx<Tenant[]>`
        select ${tx.unsafe(TENANT_COLUMNS)} from public.tenants where schema_name = ${schemaName} for update`
      if (!row) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
      if ((row.suspendedAt !== null) === suspend) {
        const asked = suspend && (reason !== null || input.showReason !== undefined)
        const newReason = reason ?? row.suspensionReason
        if (!asked || (newReason === row.suspensionReason && showReason === row.suspensionReasonPublic)) {
          return { tenant: row, changed: false }
        }
        const [updated] = await tx<Tenant[]>`
          update public.tenants set suspension_reason = ${newReason}, suspension_reason_public = ${showReason}
          where id = ${row.id} returning ${tx.unsafe(TENANT_COLUMNS)}`
        await recordAuditEvent(tx, actor, {
          action: 'tenant.suspend',
          tenantId: row.id,
          schemaName,
          detail: {
            reason: newReason,
            showReason,
            previous: { reason: row.suspensionReason, showReason: row.suspensionReasonPublic },
          },
        })
        // The 403 message callers get carries the reason: every process's cache forgets the tenant.
        await notifyRevocation(tx, 'tenant', String(row.id))
        return { tenant: updated!, changed: true, updatedInPlace: true }
      }
      const [updated] = suspend
        ? await tx<Tenant[]>`
            update public.tenants set suspended_at = now(), suspension_reason = ${reason}, suspension_reason_public = ${showReason}
            where id = ${row.id} returning ${tx.unsafe(TENANT_COLUMNS)}`
        : await tx<Tenant[]>`
            update public.tenants set suspended_at = null, suspension_reason = null, suspension_reason_public = false
            where id = ${row.id} returning ${tx.unsafe(TENANT_COLUMNS)}`
      await recordAuditEvent(tx, actor, {
        action: suspend ? 'tenant.suspend' : 'tenant.resume',
        tenantId: row.id,
        schemaName,
        detail: suspend ? { reason, showReason } : { suspendedAt: row.suspendedAt, reason: row.suspensionReason },
      })
      await notifyRevocation(tx, 'tenant', String(row.id))
      return { tenant: updated!, changed: true }
    })
    if (change.changed) onTenantStateChanged?.(change.tenant.id)
    return change
  }

  /** Refuses every request of the tenant with 403 `TENANT_SUSPENDED`; its data, users and keys stay. */
  async function suspendTenant(schemaName: string, input: SuspendTenantInput = {}): Promise<TenantStateChange> {
    return setSuspension(schemaName, true, input)
  }

  /** Serves the tenant's requests again. */
  async function resumeTenant(schemaName: string): Promise<TenantStateChange> {
    return setSuspension(schemaName, false)
  }

  /**
   * Drops the tenant's schema with all its data and removes its registry row and (by cascade) its keys, in
   * one transaction with its audit row. An active tenant must be suspended first, unless
   * `force`, so a tenant is never dropped by a slip (the cli also asks to type its name). Every process's key cache forgets the tenant via NOTIFY.
   */
  async function deleteTenant(schemaName: string, options: DeleteTenantOptions = {}): Promise<DeletedTenant> {
    assertValidSchemaName(schemaName)
    const force = options.force ?? false
    const deleted = await sql.begin(async (tx) => {
      const [row] = await tx<Tenant[]>`
        select ${tx.unsafe(TENANT_COLUMNS)} from public.tenants where schema_name = ${schemaName} for update`
      if (!row) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
      if (row.suspendedAt === null && !force) {
        throw new ConflictError(`tenant ${schemaName} is active: suspend it first, or force the deletion`, 'TENANT_ACTIVE')
      }
      const [schema] = await tx<{ existed: boolean }[]>`select exists (select from pg_namespace where nspname = ${schemaName}) as existed`
      const schemaExisted = schema?.existed ?? false
      await tx`drop schema if exists ${tx(schemaName)} cascade`
      await tx`delete from public.tenants where id = ${row.id}`
      await recordAuditEvent(tx, actor, {
        action: 'tenant.delete',
        tenantId: row.id,
        schemaName,
        detail: { name: row.name, wasSuspended: row.suspendedAt !== null, force, schemaExisted },
      })
      await notifyRevocation(tx, 'tenant', String(row.id))
      return { ...row, schemaExisted }
    })
    // NOTE: the NOTIFY reaches this process's own listener a moment later; a request in
    // that moment would find the key cached and query a dropped schema (a 500, seen in
    // api/test/integration/auth-abuse.test.ts). Evicting here closes it in this process.
    onTenantDeleted?.(deleted.id)
    return deleted
  }

  /** How many tenants exist, without listing them. */
  async function countTenants(): Promise<number> {
    const [row] = await sql<{ count: number }[]>`select count(*)::int as count from public.tenants`
    return row!.count
  }

  return { createTenant, isTenantNameTaken, listTenants, getTenant, suspendTenant, resumeTenant, deleteTenant, countTenants }
}

export type TenantService = ReturnType<typeof createTenantService>
