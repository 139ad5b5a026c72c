import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** The OpenAPI 3 document at /swagger/json and Swagger UI at /swagger/. */
export default fp(
  async function openApi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'tenantbase API',
          version: '0.1.0',
          description:
            'Schema-per-tenant users and posts. Every route under /api/ needs the `api-key` header of a tenant; ' +
            'user routes also need `Authorization: Bearer <access token>` from /api/users/login/ of the same tenant. ' +
            'Every path answers with and without its trailing slash. Errors are `{statusCode, code, error, message}`.',
        },
        tags: [
          { name: 'users', description: 'registration, login and tokens' },
          { name: 'posts', description: "the tenant's posts" },
          { name: 'health', description: 'liveness and readiness (no api key)' },
        ],
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'api-key', description: "a tenant's api key (tenantctl keys create)" },
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token from /api/users/login/' },
          },
        },
      },
    })
    await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { persistAuthorization: false } })
  },
  { name: 'swagger' },
)
