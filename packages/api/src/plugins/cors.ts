import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyCors from '@fastify/cors'

export interface CorsOptions {
  /** `CORS_ORIGINS`: the origins allowed, `'*'` for any, or none (CORS off). */
  readonly origins: '*' | readonly string[]
}

/**
 * CORS for browser front ends on other origins (@fastify/cors), off unless CORS_ORIGINS
 * is set. Preflights are answered before any api-key check (a browser sends no custom
 * header on one); every other response, errors included, carries the CORS headers.
 * NOTE: never `credentials`: the API reads no cookie, its secrets travel in the `api-key`
 * and `Authorization` headers a script sets itself, so `*` stays safe.
 */
export default fp(
  async function cors(app: FastifyInstance, options: CorsOptions) {
    if (options.origins !== '*' && options.origins.length === 0) return
    await app.register(fastifyCors, {
      origin: options.origins === '*' ? '*' : [...options.origins],
      credentials: false,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['api-key', 'authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['retry-after', 'x-request-id'],
      maxAge: 600,
      // An OPTIONS that is not a preflight gets 204 too, instead of a text/plain 400 outside
      // the API's one error shape.
      strictPreflight: false,
    })
  },
  { name: 'cors' },
)
