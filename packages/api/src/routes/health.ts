import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { pingDatabase } from '@tenantbase/core'
import { errorResponses } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String({ examples: ['ok'] }) })

/** Liveness and readiness, for orchestrators and load balancers; no api key. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: { tags: ['health'], summary: 'The process is alive', response: { 200: Status } },
    handler: async () => ({ status: 'ok' }),
  })
  app.get('/readyz', {
    schema: {
      tags: ['health'],
      summary: 'The database answers a real query (503 within 2 s when it does not)',
      response: { 200: Status, ...errorResponses(503) },
    },
    handler: async () => {
      await pingDatabase(app.services.sql, 2000)
      return { status: 'ready' }
    },
  })
}

export default health
