import type { Services, TenantbaseModule } from '@tenantbase/core'
import type { FastifyPluginAsync } from 'fastify'

/**
 * Routes of a module, mounted at `/api/<prefix>/` behind the same api-key hook as the
 * built-in ones: `request.tenant` is set, `app.requireUser` and `app.services` are there,
 * and their schemas appear in the OpenAPI document. See docs/extending.md.
 */
export interface TenantRoutes {
  readonly prefix: string
  readonly plugin: FastifyPluginAsync
}

/** A module as the API serves it: its service built once, its routes from that service. */
export type ApiModule<Service = unknown> = TenantbaseModule<Service, TenantRoutes>

const PREFIX = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/

/**
 * Builds every module's service and routes, in the deployment's order. A module's routes
 * that are not `{ prefix, plugin }` stop the start with a message naming the module.
 */
export function buildModuleRoutes(modules: readonly TenantbaseModule[], services: Services): TenantRoutes[] {
  const all: TenantRoutes[] = []
  for (const module of modules) {
    if (!module.routes) continue
    const service = module.service?.(services)
    for (const routes of module.routes(service, services)) {
      const candidate = routes as Partial<TenantRoutes> | undefined
      if (typeof candidate?.prefix !== 'string' || !PREFIX.test(candidate.prefix) || typeof candidate.plugin !== 'function') {
        throw new Error(`module ${module.name}: each of its routes must be { prefix: 'name', plugin: async (app) => {...} } (prefix without slashes at its ends)`)
      }
      all.push(candidate as TenantRoutes)
    }
  }
  return all
}
