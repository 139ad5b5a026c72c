/**
 * The api's own error: a rate limit reached (login attempts, or requests per api key).
 * Every other error comes from core (errors.ts there) or from Fastify, and
 * plugins/error-handler.ts maps them all.
 */
export class TooManyRequestsError extends Error {
  readonly statusCode = 429
  readonly code: string
  /** Seconds until the limit resets: sent as the Retry-After header. */
  readonly retryAfterSeconds: number

  constructor(retryAfterSeconds: number, message = 'too many login attempts, try again later', code = 'TOO_MANY_LOGIN_ATTEMPTS') {
    super(message)
    this.code = code
    this.name = 'TooManyRequestsError'
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  }
}
