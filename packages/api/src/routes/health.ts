import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RevocationsNotHeardError } from '@tenantbase/core'
import { NO_SECURITY } from '../schemas/common.js'
import { errorResponses, TRANSPORT_ERRORS } from '../schemas/errors.js'

const Alive = Type.Object({ status: Type.String({ examples: ['ok'] }) })
const Ready = Type.Object({ status: Type.String({ examples: ['ready'] }) })

/** Liveness and readiness, for orchestrators and load balancers; no api key. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['health'],
      operationId: 'checkLiveness',
      summary: 'The process is alive',
      security: NO_SECURITY,
      response: { 200: Alive, ...errorResponses(TRANSPORT_ERRORS, { asRange: true }) },
    },
    handler: async () => ({ status: 'ok' }),
  })
  app.get('/readyz', {
    schema: {
      tags: ['health'],
      operationId: 'checkReadiness',
      summary: 'The database answers a real query, and this process hears revocations',
      description:
        '503 `DATABASE_UNAVAILABLE` within 2 s when the database does not answer; 503 `REVOCATIONS_NOT_HEARD` while this ' +
        'process does not hear its own NOTIFY (LISTEN behind a transaction-mode pooler: set DATABASE_LISTEN_URL).',
      security: NO_SECURITY,
      response: {
        200: Ready,
        ...errorResponses([...TRANSPORT_ERRORS, 'DATABASE_UNAVAILABLE', 'REVOCATIONS_NOT_HEARD'], { asRange: true }),
      },
    },
    handler: async () => {
      await app.services.pingDatabase(2000)
      const revocations = app.services.revocationStatus()
      if (revocations?.state === 'deaf') throw new RevocationsNotHeardError(revocations.problem ?? 'revocations are not heard')
      return { status: 'ready' }
    },
  })
}

export default health
