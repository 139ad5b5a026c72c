import { API_ERRORS } from './schemas/errors.js'

/**
 * The api's own errors: a rate limit reached (login attempts, or requests per api key), or a
 * JSON body refused for a key it holds.
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

/**
 * A body that is valid JSON but holds `__proto__` (or `constructor.prototype`), which
 * Fastify's parser refuses like broken JSON: the client is told what was refused and why.
 */
export class ForbiddenJsonKeyError extends Error {
  readonly statusCode = 400
  readonly code = 'FORBIDDEN_JSON_KEY'

  constructor() {
    super(API_ERRORS.FORBIDDEN_JSON_KEY.example)
    this.name = 'ForbiddenJsonKeyError'
  }
}

/** Whether `text` parses as JSON (JSON.parse keeps `__proto__` as an own key: nothing is poisoned). */
export function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
