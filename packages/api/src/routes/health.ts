import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { pingDatabase } from '@tenantbase/core'
import { NO_SECURITY } from '../schemas/common.js'
import { errorResponses, TRANSPORT_ERRORS } from '../schemas/errors.js'

const Status = Type.Object({ status: Type.String({ examples: ['ok'] }) })

/** Liveness and readiness, for orchestrators and load balancers; no api key. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['health'],
      operationId: 'checkLiveness',
      summary: 'The process is alive',
      security: NO_SECURITY,
      response: { 200: Status, ...errorResponses(TRANSPORT_ERRORS, { asRange: true }) },
    },
    handler: async () => ({ status: 'ok' }),
  })
  app.get('/readyz', {
    schema: {
      tags: ['health'],
      operationId: 'checkReadiness',
      summary: 'The database answers a real query (503 within 2 s when it does not)',
      security: NO_SECURITY,
      response: { 200: Status, ...errorResponses([...TRANSPORT_ERRORS, 'DATABASE_UNAVAILABLE'], { asRange: true }) },
    },
    handler: async () => {
      await pingDatabase(app.services.sql, 2000)
      return { status: 'ready' }
    },
  })
}

export default health
