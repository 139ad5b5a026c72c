import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'
import fp from 'fastify-plugin'

/**
 * Fastify's per-request log lines, with the tenant: the completed line carries the request
 * id (as every line of the request), the tenant id, the user id, the path without its
 * query, the status and the duration. Headers and bodies are never logged.
 */
export class TenantLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, path: pathOf(request) }, 'incoming request')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      tenantId: request.tenant?.id,
      userId: request.userId ?? undefined,
      method: request.method,
      path: pathOf(request),
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    }
    if (error) request.log.error({ ...line, err: error }, 'request errored')
    else request.log.info(line, 'request completed')
  }
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url
}

/** Echoes the request id, so a client can quote it and an operator find its log lines. */
export default fp(
  async function requestId(app: FastifyInstance) {
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id)
    })
  },
  { name: 'request-id' },
)
