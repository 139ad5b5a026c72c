import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/**
 * The license the package declares (`license` in packages/api/package.json), as OpenAPI
 * names one; none while the project has not chosen one, rather than a guess.
 */
export function declaredLicense(): { name: string; url?: string } | undefined {
  const { license } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { license?: unknown }
  if (typeof license !== 'string' || license === '' || license === 'UNLICENSED') return undefined
  // A single SPDX identifier has a page of its own; an expression (`MIT OR Apache-2.0`) has not.
  return /^[A-Za-z0-9.+-]+$/.test(license) ? { name: license, url: `https://spdx.org/licenses/${license}.html` } : { name: license }
}

type Security = Record<string, unknown>[]

/** The document without the `tenantHost` scheme and the alternatives that use it. */
function withoutTenantHost(documentObject: object): object {
  const document = (documentObject as { openapiObject: unknown }).openapiObject as {
    components?: { securitySchemes?: Record<string, unknown> }
    paths?: Record<string, Record<string, { security?: Security }>>
  }
  delete document.components?.securitySchemes?.tenantHost
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (Array.isArray(operation.security)) operation.security = operation.security.filter((entry) => !('tenantHost' in entry))
    }
  }
  return document
}

/** The OpenAPI 3 document at /swagger/json and Swagger UI at /swagger/. */
export default fp(
  async function openApi(app: FastifyInstance) {
    const license = declaredLicense()
    const byHost = app.apiConfig.tenantResolution.order.includes('host')
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'tenantbase API',
          version: '0.1.0',
          description:
            'Schema-per-tenant users and posts. Every route under /api/ needs the `api-key` header of a tenant; ' +
            'user routes also need `Authorization: Bearer <access token>` from /api/users/login/ of the same tenant. ' +
            'Every path answers with and without its trailing slash. A body field a schema does not name (`id`, `author_id`...) ' +
            'is refused with 400 `VALIDATION_FAILED` naming it, never ignored. Errors are `{statusCode, code, error, message}`; ' +
            'each response lists the codes it can carry, with an example of each.',
          ...(license && { license }),
        },
        // Relative: the document is served by the API it describes, behind whatever host and proxy.
        servers: [{ url: '/', description: 'the server that serves this document' }],
        tags: [
          { name: 'users', description: 'registration, login and tokens' },
          { name: 'posts', description: "the tenant's posts" },
          { name: 'health', description: 'the index (links to these), liveness and readiness (no api key)' },
        ],
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'api-key', description: "a tenant's api key (tenantctl keys create)" },
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token from /api/users/login/' },
            tenantHost: {
              type: 'apiKey',
              in: 'header',
              name: 'Host',
              description:
                "the tenant's host name, sent by the browser (TENANT_RESOLUTION=api-key,host): one of its domains (tenantctl domains add), " +
                'or `<schema>.<TENANT_BASE_DOMAIN>`; `X-Forwarded-Host` only from a proxy TRUST_PROXY trusts. Without an api key it allows ' +
                'logging in, refreshing and logging out, registering while the tenant’s open registration is on, and what a valid access ' +
                'token of its user allows (never more than a write key). An api key sent to another tenant’s host name is 403 ' +
                '`HOST_TENANT_MISMATCH`; a host name that names no tenant is 404 `TENANT_NOT_FOUND`.',
            },
          },
        },
      },
      // Only a deployment that finds tenants by host name documents that way in.
      ...(!byHost && { transformObject: withoutTenantHost }),
    })
    await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { persistAuthorization: true } })
  },
  { name: 'swagger', dependencies: ['services'] },
)
