import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { CoreError, DatabaseUnavailableError } from '@tenantbase/core'
import { TooManyRequestsError } from '../errors.js'
import { API_ERRORS, errorBody, type ApiErrorCode, type ErrorResponse } from '../schemas/errors.js'

/**
 * A core error's entry in the API's one error table: its own code's, or (a code the table
 * does not list, such as a module's own) its class's generic code's. Neither: a 500.
 */
function tableEntryOf(error: CoreError): ApiErrorCode | undefined {
  const { genericCode } = error.constructor as typeof CoreError
  return [error.code, genericCode].find((code): code is ApiErrorCode => code !== undefined && Object.hasOwn(API_ERRORS, code))
}

/**
 * Fastify's own client-error codes, renamed to stable codes of this API, and whether its
 * message is kept (BAD_URL's names the path) or replaced by the code's own (API_ERRORS).
 */
const FASTIFY_CODES: Record<string, [ApiErrorCode, 'keep-message' | 'own-message']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'own-message'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'own-message'],
  FST_ERR_CTP_INVALID_CONTENT_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'own-message'],
  // JSON.parse's message names a position: short and stable is better.
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 'own-message'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'own-message'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['INVALID_CONTENT_LENGTH', 'own-message'],
  FST_ERR_BAD_URL: ['BAD_URL', 'keep-message'],
}

function body(statusCode: number, code: string, message: string): ErrorResponse {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/**
 * The one mapping from any thrown error to the one JSON error shape. Client errors keep
 * their message; server errors are logged in full and shown to no one.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof CoreError) {
    const entry = tableEntryOf(error)
    return entry === undefined || entry === 'INTERNAL_ERROR'
      ? errorBody('INTERNAL_ERROR')
      : body(API_ERRORS[entry].status, error.code, error.message)
  }
  const fastifyError = error as Partial<FastifyError> & { retryAfterSeconds?: number }
  if (fastifyError.validation) return body(400, 'VALIDATION_FAILED', fastifyError.message ?? 'invalid input')
  const status = fastifyError.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const renamed = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code]
    if (renamed === undefined) return body(status, fastifyError.code ?? 'BAD_REQUEST', fastifyError.message ?? 'bad request')
    const [code, message] = renamed
    return message === 'own-message'
      ? errorBody(code)
      : body(API_ERRORS[code].status, code, fastifyError.message ?? API_ERRORS[code].example)
  }
  return errorBody('INTERNAL_ERROR')
}

/** Node's HTTP parser errors, before any request exists, to the API's codes. */
const CLIENT_ERRORS: Record<string, ApiErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
}

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refuses (a NUL byte in a header, a
 * broken request line, conflicting lengths) gets the one error shape too, instead of
 * Fastify's default body without a `code`. Mirrors Fastify's default otherwise.
 */
export function clientErrorHandler(
  this: { log: { trace(obj: object, msg: string): void } },
  error: NodeJS.ErrnoException,
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const response = errorBody(CLIENT_ERRORS[error.code ?? ''] ?? 'MALFORMED_REQUEST')
  const { statusCode } = response
  this.log.trace({ err: error }, 'client error')
  if (socket.writable) {
    const payload = JSON.stringify(response)
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${payload}`,
    )
  }
  socket.destroy(error)
}

/** Seconds a client is asked to wait (`Retry-After`) before it retries a request the database failed. */
const DATABASE_RETRY_AFTER_SECONDS = 1

/**
 * Logs `error` and readies `reply` to answer it: status, `Retry-After` where a retry has a
 * time, the JSON type. Returns the one error shape to send.
 */
export function prepareErrorReply(error: unknown, request: FastifyRequest, reply: FastifyReply): ErrorResponse {
  const response = toErrorResponse(error)
  const tenantId = request.tenant?.id
  if (response.statusCode >= 500) {
    request.log.error({ err: error, tenantId }, 'request failed')
  } else {
    request.log.info({ code: response.code, statusCode: response.statusCode, tenantId }, response.message)
  }
  if (error instanceof TooManyRequestsError) reply.header('retry-after', String(error.retryAfterSeconds))
  if (error instanceof DatabaseUnavailableError) reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
  reply.code(response.statusCode).type('application/json; charset=utf-8')
  return response
}

function handleError(this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply) {
  return reply.send(prepareErrorReply(error, request, reply))
}

/** The methods a route could be asked for; OPTIONS is CORS's own (plugins/cors.ts). */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/**
 * The methods that have a route on `path`. A path with an empty segment (`/api/posts//`)
 * has none: it names no resource, even where a route would take the empty segment as an id.
 */
export function allowedMethods(app: FastifyInstance, path: string): string[] {
  if (path.includes('//')) return []
  return ROUTE_METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
}

/**
 * Unknown path: 404 ROUTE_NOT_FOUND. Known path, other method: 405 METHOD_NOT_ALLOWED with
 * `Allow` (RFC 9110), so a client learns it used the wrong method, not the wrong URL.
 */
function handleNotFound(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0]!
  const allowed = allowedMethods(this, path)
  if (allowed.length > 0) {
    const message = `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`
    return reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send(body(405, 'METHOD_NOT_ALLOWED', message))
  }
  return reply.code(404).send(body(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}`))
}

/** One error handler and one not-found handler for the whole app. */
export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler(handleError)
    app.setNotFoundHandler(handleNotFound)
  },
  { name: 'error-handler' },
)
