import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services, TenantbaseModule } from '@tenantbase/core'
import auth from './plugins/auth.js'
import cors from './plugins/cors.js'
import errorHandler, { clientErrorHandler } from './plugins/error-handler.js'
import idempotency from './plugins/idempotency.js'
import loginRateLimits from './plugins/rate-limit.js'
import services, { type ApiConfig } from './plugins/services.js'
import swagger from './plugins/swagger.js'
import type { ApiMetrics } from './metrics.js'
import { buildModuleRoutes } from './module-routes.js'
import health from './routes/health.js'
import index from './routes/index.js'
import posts from './routes/posts/index.js'
import users from './routes/users/index.js'
import { ForbiddenJsonKeyError, isJson } from './errors.js'
import { TenantLogController } from './request-log-controller.js'
import { AJV_OPTIONS, formatValidationErrors } from './validation.js'
// Also as bare imports, so that the declarations of this module carry the plugins' `declare
// module 'fastify'` (request.tenant, request.userId, app.requireUser) to tenant routes of a
// service built on it.
import './plugins/auth.js'
import './plugins/services.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** True once the server is shutting down: responses then carry `Connection: close`. */
    draining: boolean
    /** The process's metrics, or undefined when they are off (no METRICS_PORT). */
    metrics: ApiMetrics | undefined
  }
}

export { type TenantRoutes, type ApiModule } from './module-routes.js'

export interface AppOptions {
  /** Core's services, built by the caller on its pool (server.ts, or a test's database). */
  readonly services: Services
  readonly config: ApiConfig
  /** The HS256 secret for access tokens (see core's loadOrCreateJwtSecret). */
  readonly jwtSecret: string
  /** pino options (see loggerOptions), or false for no logs. */
  readonly logger?: FastifyServerOptions['logger']
  /** Metrics to record each request in (createApiMetrics); none when omitted. */
  readonly metrics?: ApiMetrics
  /** The deployment's modules (`loadDeployment().modules`): their routes are registered after the built-in ones. */
  readonly modules?: readonly TenantbaseModule[]
  /** The clock access tokens are issued and expired by, in ms since the epoch (default `Date.now`). */
  readonly now?: () => number
}

/**
 * The whole HTTP API as a Fastify instance. It never listens: server.ts does, tests use
 * `inject` or listen on port 0.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { http } = options.config
  const app = Fastify({
    logger: options.logger ?? false,
    // Request lines with the tenant id (request-log-controller.ts).
    logController: new TenantLogController(),
    genReqId: () => randomUUID(),
    requestIdHeader: 'x-request-id',
    // The original failed without the trailing slash: here both forms answer, no redirect.
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: http.bodyLimitBytes,
    requestTimeout: http.requestTimeoutMs,
    trustProxy: http.trustProxy,
    // While shutting down, a request arriving on a kept-alive connection is still served,
    // with `Connection: close` (Fastify adds it), instead of a bare 503 of another shape.
    return503OnClosing: false,
    // Requests Node's parser refuses get the one error shape too.
    clientErrorHandler,
    // Schema problems in plain words, all at once (validation.ts).
    ajv: AJV_OPTIONS,
    schemaErrorFormatter: formatValidationErrors,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Every response echoes its request id, so a client can quote it and an operator find its
  // log lines. Graceful shutdown (server.ts): once draining, every response also asks its
  // client to close the connection, so that no client sends its next request on a
  // connection the server is about to close (it would get a reset, not an answer).
  // One callback hook for both: no promise, and one hook run, per request.
  app.decorate('draining', false)
  app.addHook('preClose', async () => {
    app.draining = true
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    if (app.draining) reply.header('connection', 'close')
    done(null, payload)
  })

  // Metrics off: no hook at all, so they cost nothing.
  app.decorate('metrics', options.metrics)
  if (options.metrics) {
    const metrics = options.metrics
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observeRequest(request, reply)
      done()
    })
  }

  // JSON only: any other content type is 415 (Fastify also parses text/plain by default).
  app.removeContentTypeParser('text/plain')
  // A route that takes no body (GET, DELETE) accepts `Content-Type: application/json` with
  // an empty body, as many HTTP clients send it; where a body is expected, empty is 400.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    if (text === '' && request.routeOptions.schema?.body === undefined) done(null, undefined)
    else
      void parseJson(request, text as string, (error, body) => {
        // Valid JSON refused all the same: it holds a key that could poison prototypes.
        done(error && isJson(text as string) ? new ForbiddenJsonKeyError() : error, body)
      })
  })

  await app.register(services, { services: options.services, config: options.config })
  await app.register(errorHandler)
  await app.register(cors, { origins: options.config.http.corsOrigins })
  await app.register(swagger)
  await app.register(auth, {
    jwtSecret: options.jwtSecret,
    accessTokenTtlSeconds: options.config.auth.accessTokenTtlSeconds,
    ...(options.now && { now: options.now }),
  })
  await app.register(loginRateLimits)
  // Before the routes: its onRoute hook gives every write under /api/ the Idempotency-Key header.
  await app.register(idempotency)

  await app.register(index)
  await app.register(health)
  await app.register(
    async (api) => {
      // Every route under /api/ belongs to the tenant of its api key, resolved once here.
      api.addHook('onRequest', app.requireApiKey)
      // The per-key request limit (API_KEY_RATE_LIMIT_MAX), once the key is known; off by default.
      if (app.apiKeyRateLimit) api.addHook('onRequest', app.apiKeyRateLimit)
      await api.register(users, { prefix: '/users' })
      await api.register(posts, { prefix: '/posts' })
      for (const routes of buildModuleRoutes(options.modules ?? [], options.services)) {
        await api.register(routes.plugin, { prefix: `/${routes.prefix}` })
      }
    },
    { prefix: '/api' },
  )
  return app
}
