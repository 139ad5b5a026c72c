import type { Sql, TransactionSql } from '../db/sql.js'
import { assertValidSchemaName } from '../db/schema-name.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import { recordAuditEvent } from '../audit/audit-log.js'
import { notifyRevocation } from '../revocations/revocation-channel.js'
import { normaliseHostName } from './host-name.js'

/** A host name a tenant is reached by. */
export interface TenantDomain {
  readonly host: string
  readonly tenantId: number
  readonly schemaName: string
  /** The tenant's main host name: one per tenant that has any. */
  readonly isPrimary: boolean
  readonly createdAt: Date
}

/** An added domain, and whether this call changed anything (adding a tenant's own domain again does not). */
export interface DomainChange {
  readonly domain: TenantDomain
  readonly changed: boolean
}

/** A tenant's open-registration switch, and whether this call changed it. */
export interface RegistrationChange {
  readonly schemaName: string
  readonly tenantId: number
  readonly openRegistration: boolean
  readonly changed: boolean
}

export interface DomainStoreOptions {
  readonly sql: Sql
  /** Who acts through this store, for the audit log. */
  readonly actor?: string
  /** Called once a change of a host has committed: this process's host cache forgets it at once. */
  readonly onDomainChanged?: (host: string) => void
  /** Called once a tenant's open-registration switch has changed: this process's host cache forgets the tenant. */
  readonly onTenantChanged?: (tenantId: number) => void
}

const DOMAIN_COLUMNS = 'd.host, d.tenant_id, t.schema_name, d.is_primary, d.created_at'

const domainTaken = (host: string) => new ConflictError(`the host name ${host} belongs to another tenant`, 'DOMAIN_TAKEN')

/**
 * Inserts the host names of one tenant inside `tx` (tenant creation uses it too): the first
 * of a tenant without domains, or one asked for as `primary`, becomes its primary. Hosts
 * must be normalised. Throws `DOMAIN_TAKEN` for a host of another tenant; a host of this
 * tenant is left as it is (made primary if asked). NOTE: `on conflict do nothing` and a
 * second look, not a unique-violation error, whose constraint name Citus drops.
 */
export async function insertDomain(
  tx: TransactionSql,
  tenantId: number,
  host: string,
  primary: boolean,
): Promise<{ isPrimary: boolean; changed: boolean }> {
  const [owner] = await tx<{ tenantId: number; isPrimary: boolean }[]>`
    select tenant_id, is_primary from public.tenant_domains where host = ${host} for update`
  if (owner && owner.tenantId !== tenantId) throw domainTaken(host)
  const [{ hasPrimary } = { hasPrimary: false }] = await tx<{ hasPrimary: boolean }[]>`
    select exists (select 1 from public.tenant_domains where tenant_id = ${tenantId} and is_primary) as has_primary`
  const makePrimary = primary || !hasPrimary
  if (owner && (owner.isPrimary || !makePrimary)) return { isPrimary: owner.isPrimary, changed: false }
  if (makePrimary) await tx`update public.tenant_domains set is_primary = false where tenant_id = ${tenantId} and is_primary`
  if (owner) {
    await tx`update public.tenant_domains set is_primary = true where host = ${host}`
    return { isPrimary: true, changed: true }
  }
  const [inserted] = await tx<{ host: string }[]>`
    insert into public.tenant_domains (tenant_id, host, is_primary) values (${tenantId}, ${host}, ${makePrimary})
    on conflict do nothing returning host`
  if (!inserted) throw domainTaken(host)
  return { isPrimary: makePrimary, changed: true }
}

/**
 * Operators' side of tenant domains (`tenantctl domains`), and the open-registration switch
 * that says what a caller found by its host name alone may do. Every change is audited in
 * its own transaction and NOTIFYs every API process, whose host cache (host-resolver.ts)
 * forgets what changed.
 */
export function createDomainStore({ sql, actor = 'unknown', onDomainChanged, onTenantChanged }: DomainStoreOptions) {
  async function lockTenant(tx: TransactionSql, schemaName: string): Promise<{ id: number; openRegistration: boolean }> {
    assertValidSchemaName(schemaName)
    const [tenant] = await tx<{ id: number; openRegistration: boolean }[]>`
      select id, open_registration from public.tenants where schema_name = ${schemaName} for update`
    if (!tenant) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
    return tenant
  }

  async function getDomain(tx: Sql | TransactionSql, host: string): Promise<TenantDomain> {
    const [row] = await tx<TenantDomain[]>`
      select ${tx.unsafe(DOMAIN_COLUMNS)} from public.tenant_domains d join public.tenants t on t.id = d.tenant_id where d.host = ${host}`
    if (!row) throw new NotFoundError(`no tenant has the host name ${host}`, 'DOMAIN_NOT_FOUND')
    return row
  }

  /**
   * Gives a tenant a host name (normalised first: see parseHostName). The tenant's first
   * domain is its primary; `primary` makes this one the primary instead of the current one.
   * Adding a host the tenant has already changes nothing (or only makes it primary).
   */
  async function addDomain(schemaName: string, hostName: string, options: { primary?: boolean } = {}): Promise<DomainChange> {
    const host = normaliseHostName(hostName)
    const primary = options.primary ?? false
    const change = await sql.begin(async (tx) => {
      const tenant = await lockTenant(tx, schemaName)
      const inserted = await insertDomain(tx, tenant.id, host, primary)
      if (inserted.changed) {
        await recordAuditEvent(tx, actor, {
          action: 'domain.add',
          tenantId: tenant.id,
          schemaName,
          detail: { host, primary: inserted.isPrimary },
        })
        await notifyRevocation(tx, 'domain', host)
      }
      return { domain: await getDomain(tx, host), changed: inserted.changed }
    })
    if (change.changed) onDomainChanged?.(host)
    return change
  }

  /**
   * Takes a host name away from its tenant: every API process answers it 404 within a second.
   * When it was the primary, the tenant's oldest other domain becomes primary.
   */
  async function removeDomain(hostName: string): Promise<TenantDomain> {
    const host = normaliseHostName(hostName)
    const removed = await sql.begin(async (tx) => {
      const domain = await getDomain(tx, host)
      await lockTenant(tx, domain.schemaName)
      await tx`delete from public.tenant_domains where host = ${host}`
      let promoted: string | null = null
      if (domain.isPrimary) {
        const [next] = await tx<{ host: string }[]>`
          update public.tenant_domains set is_primary = true
          where id = (select id from public.tenant_domains where tenant_id = ${domain.tenantId} order by created_at, id limit 1)
          returning host`
        promoted = next?.host ?? null
      }
      await recordAuditEvent(tx, actor, {
        action: 'domain.remove',
        tenantId: domain.tenantId,
        schemaName: domain.schemaName,
        detail: { host, wasPrimary: domain.isPrimary, ...(promoted && { primaryNow: promoted }) },
      })
      await notifyRevocation(tx, 'domain', host)
      return domain
    })
    onDomainChanged?.(host)
    return removed
  }

  /** Every domain, or one tenant's, primary first, then oldest first. */
  async function listDomains(schemaName?: string): Promise<TenantDomain[]> {
    if (schemaName === undefined) {
      return sql<TenantDomain[]>`
        select ${sql.unsafe(DOMAIN_COLUMNS)} from public.tenant_domains d join public.tenants t on t.id = d.tenant_id
        order by t.schema_name, d.is_primary desc, d.created_at, d.id`
    }
    assertValidSchemaName(schemaName)
    const [tenant] = await sql<{ id: number }[]>`select id from public.tenants where schema_name = ${schemaName}`
    if (!tenant) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
    return sql<TenantDomain[]>`
      select ${sql.unsafe(DOMAIN_COLUMNS)} from public.tenant_domains d join public.tenants t on t.id = d.tenant_id
      where d.tenant_id = ${tenant.id} order by d.is_primary desc, d.created_at, d.id`
  }

  /**
   * Opens or closes registration to callers found by the tenant's host name alone (no api
   * key): off by default. A caller with a write key may always register users.
   */
  async function setOpenRegistration(schemaName: string, open: boolean): Promise<RegistrationChange> {
    if (typeof open !== 'boolean') throw new ValidationError('open registration is on or off', 'VALIDATION_FAILED')
    const change = await sql.begin(async (tx) => {
      const tenant = await lockTenant(tx, schemaName)
      if (tenant.openRegistration === open) return { schemaName, tenantId: tenant.id, openRegistration: open, changed: false }
      await tx`update public.tenants set open_registration = ${open} where id = ${tenant.id}`
      await recordAuditEvent(tx, actor, {
        action: 'tenant.registration',
        tenantId: tenant.id,
        schemaName,
        detail: { openRegistration: open },
      })
      await notifyRevocation(tx, 'tenant', String(tenant.id))
      return { schemaName, tenantId: tenant.id, openRegistration: open, changed: true }
    })
    if (change.changed) onTenantChanged?.(change.tenantId)
    return change
  }

  /** Whether the tenant's open registration is on; {@link NotFoundError} for no such tenant. */
  async function isRegistrationOpen(schemaName: string): Promise<boolean> {
    assertValidSchemaName(schemaName)
    const [tenant] = await sql<
      { openRegistration: boolean }[]
    >`select open_registration from public.tenants where schema_name = ${schemaName}`
    if (!tenant) throw new NotFoundError(`no tenant with schema ${schemaName}`, 'TENANT_NOT_FOUND')
    return tenant.openRegistration
  }

  return { addDomain, removeDomain, listDomains, setOpenRegistration, isRegistrationOpen }
}

export type DomainStore = ReturnType<typeof createDomainStore>
