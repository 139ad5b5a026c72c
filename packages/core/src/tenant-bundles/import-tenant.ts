import { randomBytes } from 'node:crypto'
import type { Sql, TransactionSql } from '../db/sql.js'
import { recordAuditEvent } from '../audit/audit-log.js'
import { ConflictError, NotFoundError, ValidationError } from '../errors.js'
import type { MigrationSet, MigrationState } from '../migrations/catalog.js'
import { verifyTenantMigrationFiles } from '../migrations/migrator.js'
import { notifyRevocation } from '../revocations/revocation-channel.js'
import { MAX_TENANT_NAME_LENGTH } from '../tenants/tenant-service.js'
import { assertValidSchemaName, MAX_SCHEMA_NAME_BYTES } from '../db/schema-name.js'
import { insertDomain } from '../domains/domain-store.js'
import type { BundleApiKey, BundleDomain, BundleManifest } from './bundle-manifest.js'
import type { BundleProgress } from './export-tenant.js'
import { asBundleError, loadBundle, migrationsOfBundle, openBundle } from './load-bundle.js'

export interface ImportTenantOptions {
  /** The new tenant's schema (default: the bundle's). */
  readonly schemaName?: string
  /** The new tenant's name (default: the bundle's). */
  readonly name?: string
  /** Also import the bundle's api keys (refused when any tenant here holds one of them). */
  readonly withKeys?: boolean
  /** Also give the new tenant the bundle's domains (refused when any tenant here holds one of them). */
  readonly withDomains?: boolean
  readonly onProgress?: (progress: BundleProgress) => void
  /** Called once the import has committed: this process's host cache forgets the hosts that named no tenant. */
  readonly onImported?: (tenantId: number) => void
}

/** What an import made. */
export interface ImportSummary {
  readonly tenantId: number
  readonly name: string
  readonly schemaName: string
  /** The bundle's state, and this deployment's, which the tenant was migrated to. */
  readonly from: MigrationState
  readonly to: MigrationState
  readonly tables: readonly { readonly name: string; readonly rows: number }[]
  readonly rows: number
  readonly apiKeys: number
  /** The domains the tenant was given (empty without `withDomains`). */
  readonly domains: readonly string[]
  /** The bundle's open-registration switch (off when the bundle does not say). */
  readonly openRegistration: boolean
}

/** What a restore did. */
export interface RestoreSummary {
  readonly tenantId: number
  readonly schemaName: string
  readonly from: MigrationState
  readonly to: MigrationState
  readonly tables: readonly { readonly name: string; readonly rows: number }[]
  readonly rows: number
  /** The schema now holding the content the restore replaced; undefined when dropped. */
  readonly previousSchema: string | undefined
  /** Copies kept by earlier restores that `dropPrevious` dropped. */
  readonly droppedPrevious: readonly string[]
}

export interface RestoreTenantOptions {
  /** Drop the replaced content (and copies kept by earlier restores) instead of keeping it. */
  readonly dropPrevious?: boolean
  readonly onProgress?: (progress: BundleProgress) => void
}

/** The longest part of a schema name kept in the names of its restore's schemas. */
const STEM_BYTES = MAX_SCHEMA_NAME_BYTES - '_prev_'.length - 14

/** The name of the schema keeping a tenant's content replaced by a restore at `at`. */
export function previousSchemaName(schema: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  return `${schema.slice(0, STEM_BYTES)}_prev_${stamp}`
}

/** Whether `name` is a copy kept by a restore of the tenant in `schema`. */
export function isPreviousSchemaOf(name: string, schema: string): boolean {
  return new RegExp(`^${schema.slice(0, STEM_BYTES)}_prev_[0-9]{14}$`).test(name)
}

const tableRows = (manifest: BundleManifest) => manifest.tables.map((table) => ({ name: table.name, rows: table.rows }))
const totalRows = (manifest: BundleManifest) => manifest.tables.reduce((sum, table) => sum + table.rows, 0)

async function insertKeys(tx: TransactionSql, tenantId: number, keys: readonly BundleApiKey[]): Promise<void> {
  if (keys.length === 0) return
  const hashes = keys.map((key) => Buffer.from(key.keyHash, 'hex'))
  const [taken] = await tx<{ prefix: string }[]>`
    select prefix from public.api_keys where prefix in ${tx(keys.map((key) => key.prefix))} or key_hash in ${tx(hashes)} limit 1`
  if (taken) {
    throw new ConflictError(
      `a tenant of this deployment already holds api key ${taken.prefix} of the bundle: import without --with-keys, or delete that tenant first`,
      'KEY_TAKEN',
    )
  }
  for (const [i, key] of keys.entries()) {
    await tx`
      insert into public.api_keys (tenant_id, prefix, key_hash, name, scope, created_at, expires_at, revoked_at, rotated_to, last_used_at)
      values (${tenantId}, ${key.prefix}, ${hashes[i]!}, ${key.name}, ${key.scope}, ${key.createdAt}, ${key.expiresAt}, ${key.revokedAt}, ${key.rotatedTo}, ${key.lastUsedAt})`
  }
}

/** Refuses, before anything is written, domains of the bundle that a tenant here holds. */
async function assertDomainsFree(tx: TransactionSql, domains: readonly BundleDomain[]): Promise<void> {
  if (domains.length === 0) return
  const [taken] = await tx<{ host: string }[]>`
    select host from public.tenant_domains where host in ${tx(domains.map((domain) => domain.host))} order by host limit 1`
  if (taken) {
    throw new ConflictError(
      `a tenant of this deployment already holds domain ${taken.host} of the bundle: import without --with-domains, or remove that domain first`,
      'DOMAIN_TAKEN',
    )
  }
}

/**
 * Makes a new tenant from a bundle in ONE transaction: its registry row (name, address,
 * state, open registration), its api keys and domains if asked, its schema at the bundle's
 * migration state, its rows, then this deployment's newer migrations. A failed, interrupted or killed import leaves nothing.
 * A bundle this deployment cannot take (a newer one, one with modules it lacks, another
 * file at an applied version) is refused before anything is written.
 */
export async function importTenant(
  sql: Sql,
  migrations: MigrationSet,
  file: string,
  options: ImportTenantOptions & { actor: string },
): Promise<ImportSummary> {
  const bundle = await openBundle(file)
  try {
    const { manifest } = bundle
    migrationsOfBundle(manifest, migrations)
    const schemaName = options.schemaName ?? manifest.tenant.schemaName
    assertValidSchemaName(schemaName)
    const name = (options.name ?? manifest.tenant.name).trim()
    if (name.length === 0 || name.length > MAX_TENANT_NAME_LENGTH) {
      throw new ValidationError(`tenant name must be 1 to ${MAX_TENANT_NAME_LENGTH} characters`, 'VALIDATION_FAILED')
    }
    const keys = options.withKeys ? (manifest.apiKeys ?? []) : []
    if (options.withKeys && manifest.apiKeys === undefined) {
      throw new ValidationError('the bundle holds no api keys (it was exported without --with-keys)', 'BUNDLE_WITHOUT_KEYS')
    }
    const domains = options.withDomains ? (manifest.domains ?? []) : []
    if (options.withDomains && manifest.domains === undefined) {
      throw new ValidationError('the bundle holds no domains (it was exported without --with-domains)', 'BUNDLE_WITHOUT_DOMAINS')
    }
    const openRegistration = manifest.tenant.openRegistration ?? false
    try {
      const imported = await sql.begin(async (tx) => {
        const recorded = await verifyTenantMigrationFiles(tx, migrations)
        const { tenant } = manifest
        await assertDomainsFree(tx, domains)
        const [row] = await tx<{ id: number }[]>`
          insert into public.tenants (name, address, schema_name, migrations, created_at, suspended_at, suspension_reason,
            suspension_reason_public, open_registration)
          values (${name}, ${tenant.address}, ${schemaName}, '{}'::jsonb, ${tenant.createdAt}, ${tenant.suspendedAt},
            ${tenant.suspensionReason}, ${tenant.suspensionReasonPublic}, ${openRegistration})
          on conflict do nothing
          returning id`
        if (!row) {
          const [taken] = await tx<{ nameTaken: boolean }[]>`
            select bool_or(name = ${name}) as name_taken from public.tenants where name = ${name} or schema_name = ${schemaName}`
          throw taken?.nameTaken
            ? new ConflictError(`a tenant named "${name}" already exists (import it with --name)`, 'TENANT_NAME_TAKEN')
            : new ConflictError(`schema "${schemaName}" is already taken (import it with --schema)`, 'SCHEMA_TAKEN')
        }
        await insertKeys(tx, row.id, keys)
        // Primary first: a later one asked as primary would take over (insertDomain).
        for (const domain of domains) await insertDomain(tx, row.id, domain.host, domain.primary)
        const state = await loadBundle(tx, schemaName, bundle, migrations, recorded, options.onProgress)
        await tx`update public.tenants set migrations = ${JSON.stringify(state)}::text::jsonb where id = ${row.id}`
        await recordAuditEvent(tx, options.actor, {
          action: 'tenant.import',
          tenantId: row.id,
          schemaName,
          detail: {
            name,
            from: manifest.tenant.schemaName,
            migrations: { from: manifest.migrations.state, to: state },
            rows: totalRows(manifest),
            apiKeys: keys.length,
            withDomains: options.withDomains ?? false,
            ...(domains.length > 0 && { domains: domains.map((domain) => domain.host) }),
            openRegistration,
          },
        })
        // A host cached as naming no tenant (this schema's subdomain, these domains) may name this one now.
        await notifyRevocation(tx, 'domain', '*')
        return {
          tenantId: row.id,
          name,
          schemaName,
          from: manifest.migrations.state,
          to: state,
          tables: tableRows(manifest),
          rows: totalRows(manifest),
          apiKeys: keys.length,
          domains: domains.map((domain) => domain.host),
          openRegistration,
        }
      })
      options.onImported?.(imported.tenantId)
      return imported
    } catch (error) {
      if ((error as { code?: string }).code === '42P06')
        throw new ConflictError(`schema "${schemaName}" is already taken (import it with --schema)`, 'SCHEMA_TAKEN')
      throw asBundleError(error)
    }
  } finally {
    bundle.close()
  }
}

/** Errors after which taking the live tables is tried again: the attempt's time ran out, or it was a deadlock's victim. */
const LOCK_RETRY_CODES = new Set(['57014', '55P03', '40P01'])

/**
 * Takes every table of the live schema `schema` in ACCESS EXCLUSIVE mode until the
 * transaction ends, so that no query on them is under way when the swap commits: those
 * already running finish first, and those that arrive wait for the commit and then look the
 * tables up by name again, finding the restored ones. One server would not need it (a
 * running query keeps the tables it opened), but on Citus a query planned before the rename
 * reaches the worker naming the replaced table's shard, which is gone from that schema.
 *
 * NOTE: each attempt is bounded to half of deadlock_timeout and rolled back to its savepoint
 * when it runs out, then tried again after a pause: a request that waits for a table taken
 * here gets it before the server's deadlock check could pick that request as the victim.
 */
async function lockLiveTables(tx: TransactionSql, schema: string): Promise<void> {
  const [row] = await tx<{ tables: string | null; bound: number; previous: string }[]>`
    select string_agg(format('%I.%I', n.nspname, c.relname), ', ' order by c.relname) as tables,
      greatest(20, floor(extract(epoch from current_setting('deadlock_timeout')::interval) * 500))::int as bound,
      current_setting('statement_timeout') as previous
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relkind in ('r', 'p')`
  if (!row?.tables) return
  const tables = row.tables
  for (;;) {
    try {
      await tx.savepoint(async (sp) => {
        await sp`select set_config('statement_timeout', ${`${row.bound}ms`}, true)`
        await sp.unsafe(`lock table ${tables} in access exclusive mode`)
      })
      break
    } catch (error) {
      if (!LOCK_RETRY_CODES.has((error as { code?: string }).code ?? '')) throw error
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40))
    }
  }
  await tx`select set_config('statement_timeout', ${row.previous}, true)`
}

/**
 * Puts an existing tenant back to a bundle's content while it keeps serving: loads the
 * bundle into a sibling schema, then renames the tenant's schema away and the sibling into
 * its place, keeping the replaced content as {@link previousSchemaName} (or dropping it with
 * `dropPrevious`). Its registry row (open registration included), id, api keys and domains
 * stay: a bundle's keys and domains are never restored.
 *
 * NOTE: the load and the swap are one transaction, so an interrupted restore leaves no
 * sibling behind; the live schema is touched only by the two renames at its end, which
 * commit at once, with the live tables taken (lockLiveTables). Queries already running finish
 * on the content they started on before the swap; queries after it find the restored tables
 * (a schema's rename resets the server's cached plans, so prepared statements re-plan on
 * them).
 */
export async function restoreTenant(
  sql: Sql,
  migrations: MigrationSet,
  file: string,
  schemaName: string,
  options: RestoreTenantOptions & { actor: string },
): Promise<RestoreSummary> {
  assertValidSchemaName(schemaName)
  const [exists] = await sql`select 1 from public.tenants where schema_name = ${schemaName}`
  if (!exists) throw new NotFoundError(`no tenant with schema ${schemaName} (import the bundle to make a new tenant)`, 'TENANT_NOT_FOUND')
  const bundle = await openBundle(file)
  try {
    const { manifest } = bundle
    migrationsOfBundle(manifest, migrations)
    const sibling = `${schemaName.slice(0, STEM_BYTES)}_load_${randomBytes(4).toString('hex')}`
    const result = await sql.begin(async (tx) => {
      const recorded = await verifyTenantMigrationFiles(tx, migrations)
      const state = await loadBundle(tx, sibling, bundle, migrations, recorded, options.onProgress)
      // The swap: from here to the commit, the registry row and the two schemas.
      const [tenant] = await tx<{ id: number; migrations: MigrationState }[]>`
        select id, migrations from public.tenants where schema_name = ${schemaName} for update`
      if (!tenant) throw new NotFoundError(`tenant ${schemaName} was deleted during the restore`, 'TENANT_NOT_FOUND')
      const [now] = await tx<{ now: Date }[]>`select now() as now`
      const previous = previousSchemaName(schemaName, now!.now)
      const earlier = (await tx<{ nspname: string }[]>`select nspname from pg_namespace order by nspname`)
        .map((row) => row.nspname)
        .filter((name) => isPreviousSchemaOf(name, schemaName))
      if (earlier.includes(previous)) throw new ConflictError(`schema ${previous} exists: restore again in a second`, 'SCHEMA_TAKEN')
      await lockLiveTables(tx, schemaName)
      await tx`alter schema ${tx(schemaName)} rename to ${tx(previous)}`
      await tx`alter schema ${tx(sibling)} rename to ${tx(schemaName)}`
      const dropped: string[] = []
      if (options.dropPrevious) {
        for (const name of [...earlier, previous]) {
          await tx`drop schema ${tx(name)} cascade`
          dropped.push(name)
        }
      }
      await tx`update public.tenants set migrations = ${JSON.stringify(state)}::text::jsonb where id = ${tenant.id}`
      const kept = options.dropPrevious ? undefined : previous
      await recordAuditEvent(tx, options.actor, {
        action: 'tenant.restore',
        tenantId: tenant.id,
        schemaName,
        detail: {
          from: manifest.tenant.schemaName,
          migrations: { bundle: manifest.migrations.state, before: tenant.migrations, after: state },
          rows: totalRows(manifest),
          previousSchema: kept ?? null,
          droppedPrevious: dropped,
        },
      })
      // The API's processes forget what they cached of the tenant.
      await notifyRevocation(tx, 'tenant', String(tenant.id))
      return { tenantId: tenant.id, to: state, previousSchema: kept, droppedPrevious: dropped.filter((name) => name !== previous) }
    })
    return {
      tenantId: result.tenantId,
      schemaName,
      from: manifest.migrations.state,
      to: result.to,
      tables: tableRows(manifest),
      rows: totalRows(manifest),
      previousSchema: result.previousSchema,
      droppedPrevious: result.droppedPrevious,
    }
  } catch (error) {
    throw asBundleError(error)
  } finally {
    bundle.close()
  }
}
