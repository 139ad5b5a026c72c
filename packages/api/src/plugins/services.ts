import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config, ResolvedTenant, Services } from '@tenantbase/core'

/** What the app needs of the configuration. */
export type ApiConfig = Pick<Config, 'auth' | 'http' | 'tenantResolution'>

declare module 'fastify' {
  interface FastifyInstance {
    /** Core's services on the app's pool: every rule and every query lives there. */
    services: Services
    apiConfig: ApiConfig
  }
  interface FastifyRequest {
    /** The tenant of the request's api key (or of its host name); set on every /api/ route before its handler. */
    tenant: ResolvedTenant | null
    /** The user of the Bearer token; set on routes that require one. */
    userId: number | null
  }
}

export default fp(
  async function services(app: FastifyInstance, options: { services: Services; config: ApiConfig }) {
    app.decorate('services', options.services)
    app.decorate('apiConfig', options.config)
    app.decorateRequest('tenant', null)
    app.decorateRequest('userId', null)
  },
  { name: 'services' },
)
