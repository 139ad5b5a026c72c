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

/** The OpenAPI 3 document at /swagger/json and Swagger UI at /swagger/. */
export default fp(
  async function openApi(app: FastifyInstance) {
    const license = declaredLicense()
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
          },
        },
      },
    })
    await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { persistAuthorization: true } })
  },
  { name: 'swagger' },
)
