import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { normaliseEmail } from '@tenantbase/core'
import { TooManyRequestsError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Route config for login: every attempt counts, per tenant and client address. */
    loginAttemptLimit: { max: number; timeWindow: number; keyGenerator: (request: FastifyRequest) => string }
    /** Login failures per tenant and email: `check` before, `recordFailure` after a failed attempt. */
    loginFailures: {
      check(request: FastifyRequest): Promise<void>
      recordFailure(request: FastifyRequest): Promise<void>
    }
  }
}

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
      errorResponseBuilder: (_request, context) => new TooManyRequestsError(context.ttl / 1000),
    })

    app.decorate('loginAttemptLimit', {
      max: auth.loginMaxAttemptsPerAddress,
      timeWindow: auth.loginAttemptWindowSeconds * 1000,
      keyGenerator: (request: FastifyRequest) => `attempt|${tenantPart(request)}|${request.ip}`,
    })

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
        if (!status.isAllowed && status.remaining <= 0) throw new TooManyRequestsError(status.ttlInSeconds)
      },
      async recordFailure(request: FastifyRequest) {
        await failures(request)
      },
    })
  },
  { name: 'login-rate-limits', dependencies: ['services'] },
)
