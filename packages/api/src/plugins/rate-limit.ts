import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { normaliseEmail } from '@tenantbase/core'
import { TooManyRequestsError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Route config for login: every attempt counts, per tenant and client address. */
    loginAttemptLimit: { max: number; timeWindow: number; keyGenerator: (request: FastifyRequest) => string }
    /**
     * onRequest hook for /api/, after the api key is resolved: requests per api key per
     * window (API_KEY_RATE_LIMIT_MAX), or undefined when that is 0.
     */
    apiKeyRateLimit: ((request: FastifyRequest) => Promise<void>) | undefined
    /** Login failures per tenant and email: `check` before, `recordFailure` after a failed attempt. */
    loginFailures: {
      check(request: FastifyRequest): Promise<void>
      recordFailure(request: FastifyRequest): Promise<void>
    }
  }
}

/** How long a refusal for a key over its request limit is held at most. */
const MAX_REFUSAL_DELAY_MS = 1000

function tenantPart(request: FastifyRequest): string {
  return String(request.tenant?.id ?? 'none')
}

/**
 * Login rate limits on @fastify/rate-limit's in-memory store (per process: behind a load
 * balancer each instance counts on its own, which multiplies the limits by the instances).
 */
export default fp(
  async function loginRateLimits(app: FastifyInstance) {
    const auth = app.apiConfig.auth
    await app.register(rateLimit, {
      global: false,
      // After the api key is resolved and the body validated: the tenant is part of the key.
      hook: 'preHandler',
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      errorResponseBuilder: (_request, context) => {
        app.metrics?.countRefusal('login_attempts')
        return new TooManyRequestsError(context.ttl / 1000)
      },
    })

    app.decorate('loginAttemptLimit', {
      max: auth.loginMaxAttemptsPerAddress,
      timeWindow: auth.loginAttemptWindowSeconds * 1000,
      keyGenerator: (request: FastifyRequest) => `attempt|${tenantPart(request)}|${request.ip}`,
    })

    // NOTE: one tenant's client must not take the whole process from the others (measured
    // in test/stress/noisy-neighbour.test.ts). Keyed by the key's public
    // prefix, checked before the body is read, so a refused request costs little.
    const { apiKeyRateLimitMax, apiKeyRateLimitWindowMs } = app.apiConfig.http
    const perKey =
      apiKeyRateLimitMax > 0
        ? app.createRateLimit({
            max: apiKeyRateLimitMax,
            timeWindow: apiKeyRateLimitWindowMs,
            // A request found by its host name counts against its tenant's host budget.
            keyGenerator: (request: FastifyRequest) => `key|${request.tenant?.keyPrefix ?? `host:${request.tenant?.id ?? 'none'}`}`,
          })
        : undefined
    app.decorate(
      'apiKeyRateLimit',
      perKey &&
        async function apiKeyRateLimit(request: FastifyRequest) {
          const status = await perKey(request)
          if (!status.isAllowed && status.isExceeded) {
            // NOTE: the refusal is held until the window resets (at most 1 s). An instant 429
            // costs little, but a client that ignores it sends the next one at once: measured
            // (noisy-neighbour stress test), instant 429s kept the process as busy as serving.
            // Held, each of that client's connections costs a timer until the window resets.
            app.metrics?.countRefusal('api_key')
            await new Promise((resolve) => setTimeout(resolve, Math.min(status.ttl, MAX_REFUSAL_DELAY_MS)))
            throw new TooManyRequestsError(status.ttlInSeconds, 'too many requests for this api key, try again later', 'TOO_MANY_REQUESTS')
          }
        },
    )

    const failures = app.createRateLimit({
      max: auth.loginMaxFailuresPerEmail,
      timeWindow: auth.loginFailureWindowSeconds * 1000,
      keyGenerator: (request: FastifyRequest) => {
        const email = (request.body as { email?: unknown } | undefined)?.email
        return `failure|${tenantPart(request)}|${typeof email === 'string' ? normaliseEmail(email) : ''}`
      },
    })
    app.decorate('loginFailures', {
      async check(request: FastifyRequest) {
        const status = await failures(request, { increment: false })
        if (!status.isAllowed && status.remaining <= 0) {
          app.metrics?.countRefusal('login_failures')
          throw new TooManyRequestsError(status.ttlInSeconds)
        }
      },
      async recordFailure(request: FastifyRequest) {
        await failures(request)
      },
    })
  },
  { name: 'login-rate-limits', dependencies: ['services'] },
)
