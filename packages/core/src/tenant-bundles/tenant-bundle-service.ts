import type { Sql } from '../db/sql.js'
import type { MigrationSet } from '../migrations/catalog.js'
import { exportTenant, type ExportSummary, type ExportTenantOptions } from './export-tenant.js'
import {
  importTenant,
  restoreTenant,
  type ImportSummary,
  type ImportTenantOptions,
  type RestoreSummary,
  type RestoreTenantOptions,
} from './import-tenant.js'
import { openBundle } from './load-bundle.js'
import type { BundleManifest } from './bundle-manifest.js'

export interface TenantBundleServiceOptions {
  readonly sql: Sql
  readonly migrations: MigrationSet
  /** Who acts, for the audit log. */
  readonly actor: string
  /** Called once an import has committed: this process's host cache forgets the hosts that named no tenant. */
  readonly onTenantImported?: (tenantId: number) => void
}

/** One tenant out to a file and back in: export, import as a new tenant, restore in place. */
export function createTenantBundleService({ sql, migrations, actor, onTenantImported }: TenantBundleServiceOptions) {
  return {
    /** Writes tenant `schemaName` to `file`; see {@link exportTenant}. */
    exportTenant: (schemaName: string, file: string, options: ExportTenantOptions = {}): Promise<ExportSummary> =>
      exportTenant(sql, schemaName, file, { ...options, actor }),
    /** Makes a new tenant from `file`; see {@link importTenant}. */
    importTenant: (file: string, options: ImportTenantOptions = {}): Promise<ImportSummary> =>
      importTenant(sql, migrations, file, { onImported: onTenantImported, ...options, actor }),
    /** Puts tenant `schemaName` back to `file`'s content; see {@link restoreTenant}. */
    restoreTenant: (file: string, schemaName: string, options: RestoreTenantOptions = {}): Promise<RestoreSummary> =>
      restoreTenant(sql, migrations, file, schemaName, { ...options, actor }),
    /** A bundle's manifest, checked, without reading its rows. */
    async readBundleManifest(file: string): Promise<BundleManifest> {
      const bundle = await openBundle(file)
      bundle.close()
      return bundle.manifest
    },
  }
}

export type TenantBundleService = ReturnType<typeof createTenantBundleService>
