import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { NO_SECURITY } from '../schemas/common.js'
import { errorResponses, TRANSPORT_ERRORS } from '../schemas/errors.js'

/** Where to go from `/`: paths relative to the server root, as the proxy serves them. */
export const INDEX = {
  name: 'tenantbase API',
  documentation: '/swagger/',
  openapi: '/swagger/json',
  health: { liveness: '/healthz', readiness: '/readyz' },
  api: '/api/',
} as const

const Index = Type.Object({
  name: Type.String({ examples: [INDEX.name] }),
  documentation: Type.String({ description: 'Swagger UI', examples: [INDEX.documentation] }),
  openapi: Type.String({ description: 'this OpenAPI document', examples: [INDEX.openapi] }),
  health: Type.Object({
    liveness: Type.String({ examples: [INDEX.health.liveness] }),
    readiness: Type.String({ examples: [INDEX.health.readiness] }),
  }),
  api: Type.String({ description: "every route under it needs a tenant's `api-key` header", examples: [INDEX.api] }),
})

/** `GET /`: a first request answers with the way to the documentation and the health routes, not a 404. */
const index: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    schema: {
      tags: ['health'],
      operationId: 'getIndex',
      summary: 'Links to the documentation (Swagger UI, this document) and the health routes',
      security: NO_SECURITY,
      response: { 200: Index, ...errorResponses(TRANSPORT_ERRORS, { asRange: true }) },
    },
    handler: async () => INDEX,
  })
}

export default index
