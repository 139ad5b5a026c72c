import Fastify, { type FastifyInstance } from 'fastify'
import type { ApiMetrics } from './metrics.js'

/**
 * The metrics server: `GET /metrics` in Prometheus text format, on METRICS_PORT, apart
 * from the API (never under /api/, never behind the API's nginx). It never listens: server.ts does.
 */
export async function buildMetricsApp(metrics: ApiMetrics): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.addHook('onClose', async () => metrics.close())
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
  return app
}
