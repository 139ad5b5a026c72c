import type { FastifyReply, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'

/**
 * Fastify's per-request log lines, with the tenant: the completed line carries the request
 * id (as every line of the request), the tenant id, the user id, the path without its
 * query, the status and the duration. Headers and bodies are never logged.
 */
export class TenantLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (enabled(request, 'debug')) request.log.debug({ method: request.method, path: pathOf(request) }, 'incoming request')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!enabled(request, error ? 'error' : 'info')) return
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

/** pino's isLevelEnabled (Fastify's logger type does not declare it): skip building unused lines. */
function enabled(request: FastifyRequest, level: string): boolean {
  const log = request.log as unknown as { isLevelEnabled?: (level: string) => boolean }
  return log.isLevelEnabled?.(level) ?? true
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url
}
