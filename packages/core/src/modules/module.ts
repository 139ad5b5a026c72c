import type { Services } from '../services.js'

/**
 * A module of a deployment: tables in every tenant schema (and optionally in the shared
 * one), the service that owns their rules, and the API routes that serve them. Core's own
 * users, posts and sessions are the module `core`; a deployment declares the rest in its
 * `tenantbase.config.*` (see {@link defineConfig}).
 */
export interface TenantbaseModule<Service = unknown, Routes = unknown> {
  /** Lower-case letters, digits and `_`, starting with a letter: the namespace of its migrations. */
  readonly name: string
  /**
   * A folder holding `tenant/` and optionally `shared/` lists of SQL files, numbered within
   * the module (`0001_comments.sql`, ...): adding a module never renumbers anything.
   */
  readonly migrations?: string | URL
  /** Builds the module's service once per process from core's services (the API calls it). */
  readonly service?: (services: Services) => Service
  /** The module's HTTP routes, built from its service (for the API: `TenantRoutes` of @tenantbase/api). */
  readonly routes?: (service: Service, services: Services) => readonly Routes[]
}

/** A deployment's declaration: the modules it adds to core, in the order they migrate. */
export interface TenantbaseConfig {
  // A module's Service is both produced (service) and consumed (routes), so no type but
  // `any` admits every module's own Service and Routes here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly modules?: readonly TenantbaseModule<any, any>[]
}

/** Types a module (identity at run time). */
export function defineModule<Service = unknown, Routes = unknown>(
  module: TenantbaseModule<Service, Routes>,
): TenantbaseModule<Service, Routes> {
  return module
}

/** Types a `tenantbase.config.*` file's default export (identity at run time). */
export function defineConfig(config: TenantbaseConfig): TenantbaseConfig {
  return config
}
