import { fileURLToPath } from 'node:url'
import { readMigrationList, readMigrations, type MigrationSet } from '@tenantbase/core'

/** This service's own tenant migrations, a folder beside core's. */
export const OWN_TENANT_MIGRATIONS = fileURLToPath(new URL('../migrations/tenant/', import.meta.url))

/**
 * Core's migrations, then this service's tenant migrations after them. A schema has one
 * sequence of versions and is migrated past every version up to its own, so our files take
 * the numbers after core's last one; if an upgrade of the base brings a file with one of our
 * numbers (or a later one), this refuses to start until ours are renumbered after it.
 */
export async function loadMigrations(): Promise<MigrationSet> {
  const core = await readMigrations()
  const own = await readMigrationList(OWN_TENANT_MIGRATIONS)
  const coreLatest = core.tenant.at(-1)?.version ?? 0
  const clash = own.find((migration) => migration.version <= coreLatest)
  if (clash) {
    throw new Error(`${clash.file} must be numbered after core's tenant migrations (the last is ${coreLatest}): renumber it`)
  }
  return { shared: core.shared, tenant: [...core.tenant, ...own] }
}
