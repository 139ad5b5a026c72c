/**
 * The api's own error: too many login attempts. Every other error comes from core
 * (errors.ts there) or from Fastify, and plugins/error-handler.ts maps them all.
 */
export class TooManyRequestsError extends Error {
  readonly statusCode = 429
  readonly code = 'TOO_MANY_LOGIN_ATTEMPTS'
  /** Seconds until the limit resets: sent as the Retry-After header. */
  readonly retryAfterSeconds: number

  constructor(retryAfterSeconds: number, message = 'too many login attempts, try again later') {
    super(message)
    this.name = 'TooManyRequestsError'
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  }
}
