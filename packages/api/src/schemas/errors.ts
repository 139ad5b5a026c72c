import { STATUS_CODES } from 'node:http'
import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** The one shape of every error response. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ description: 'the HTTP status, repeated' }),
    code: Type.String({ description: 'a stable UPPER_SNAKE code (see the README)' }),
    error: Type.String({ description: 'the HTTP reason phrase' }),
    message: Type.String({ description: 'for people; never a stack trace' }),
  },
  { title: 'Error' },
)
export type ErrorResponse = Static<typeof ErrorResponse>

interface ApiError {
  readonly status: number
  /** When it is answered: the README's table and the OpenAPI document say this. */
  readonly when: string
  /** A realistic message, shown as the example in the OpenAPI document. */
  readonly example: string
}

/**
 * Every code the API answers with, core's and its own, and the one place its status is
 * decided: a core error answers with its code's status here, or, for a code this table does
 * not list (a module's own), with the status of its class's generic code (`NOT_FOUND` for a
 * NotFoundError); anything else is a 500. The OpenAPI document's examples are built from
 * this table, and packages/api/README.md's error table is kept equal to it by a
 * test. A new code goes here first, then into the `errorResponses` of the routes that
 * return it.
 */
export const API_ERRORS = {
  VALIDATION_FAILED: {
    status: 400,
    when: 'the body, query or path breaks its schema or a rule: `message` names each field and its problem',
    example: 'body is required; title must be 1 to 200 characters',
  },
  INVALID_JSON: {
    status: 400,
    when: 'the body is not valid JSON (or is empty where a body is expected)',
    example: 'the body is not valid JSON',
  },
  FORBIDDEN_JSON_KEY: {
    status: 400,
    when: 'the body is valid JSON but holds a `__proto__` key or a `constructor` with a `prototype`: refused, as either could alter the prototype of the objects the server builds (prototype poisoning)',
    example:
      'the body holds a "__proto__" key or a "constructor" with a "prototype": refused, as either could alter the prototype of objects on the server',
  },
  INVALID_CURSOR: { status: 400, when: '`cursor` is not one this API returned', example: 'cursor is not one this API returned' },
  INVALID_CONTENT_LENGTH: {
    status: 400,
    when: 'the body is shorter or longer than its `Content-Length`',
    example: 'the body does not match its Content-Length',
  },
  BAD_URL: {
    status: 400,
    when: 'the path is not a valid URL (a broken percent-encoding)',
    example: "'/api/posts/%' is not a valid url component",
  },
  IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    when: 'the `Idempotency-Key` header is not 1 to 255 printable ASCII characters',
    example: 'the Idempotency-Key header must be 1 to 255 printable ASCII characters (a random UUID will do)',
  },
  BAD_REQUEST: { status: 400, when: 'another client error, raised by a library without a code of its own', example: 'bad request' },
  MALFORMED_REQUEST: { status: 400, when: 'the request is not valid HTTP (any path)', example: 'the request is not valid HTTP' },
  UNAUTHENTICATED: {
    status: 401,
    when: "an authentication failure of a module's own, under its own code (the status of core's `AuthenticationError`)",
    example: 'authentication failed',
  },
  MISSING_API_KEY: {
    status: 401,
    when: "no `api-key` header (at a tenant's host name: on a route that needs one, no access token either)",
    example: 'the api-key header is required',
  },
  INVALID_API_KEY: { status: 401, when: 'an unknown, revoked, expired or malformed api key', example: 'invalid api key' },
  MISSING_ACCESS_TOKEN: {
    status: 401,
    when: 'no `Authorization` header on a Bearer route',
    example: 'an Authorization: Bearer <access token> header is required',
  },
  INVALID_ACCESS_TOKEN: {
    status: 401,
    when: 'a bad, expired or forged access token, or its user is gone',
    example: 'invalid or expired access token',
  },
  TOKEN_TENANT_MISMATCH: {
    status: 401,
    when: "a valid access token sent with another tenant's api key, or to another tenant's host name",
    example: "this token belongs to another tenant's login",
  },
  ACCESS_TOKEN_REVOKED: {
    status: 401,
    when: "the access token's login has ended: logged out, or its refresh token was reused",
    example: 'the login of this access token has ended (logged out, or its refresh token was reused): log in again',
  },
  INVALID_CREDENTIALS: {
    status: 401,
    when: 'an unknown email or a wrong password (never says which)',
    example: 'invalid email or password',
  },
  INVALID_REFRESH_TOKEN: {
    status: 401,
    when: 'an unknown, expired, revoked or already used refresh token',
    example: 'invalid or expired refresh token',
  },
  FORBIDDEN: {
    status: 403,
    when: "a refusal of a module's own, under its own code (the status of core's `ForbiddenError`)",
    example: 'you may not do this',
  },
  INSUFFICIENT_SCOPE: {
    status: 403,
    when: 'a `read` api key on a route that writes; the message names the scope needed',
    example: 'this api key has scope read; this request needs scope write',
  },
  TENANT_SUSPENDED: {
    status: 403,
    when: "the key's (or the host name's) tenant is suspended (the reason only if the operator chose to show it)",
    example: 'this tenant is suspended',
  },
  HOST_TENANT_MISMATCH: {
    status: 403,
    when: 'an api key sent to a host name that serves another tenant (with `TENANT_RESOLUTION=api-key,host`)',
    example: 'this api key belongs to another tenant than the one this host name serves',
  },
  REGISTRATION_CLOSED: {
    status: 403,
    when: 'a registration without an api key, at the host name of a tenant whose open registration is off (the default)',
    example: 'registration is not open at this host name: register with an api key of the tenant',
  },
  NOT_POST_AUTHOR: { status: 403, when: 'only the author may change or delete a post', example: 'only the author may change this post' },
  NOT_FOUND: {
    status: 404,
    when: "a missing thing of a module's own, under its own code (the status of core's `NotFoundError`)",
    example: 'comment not found',
  },
  TENANT_NOT_FOUND: {
    status: 404,
    when: 'no api key, and the host name serves no tenant (with `TENANT_RESOLUTION=api-key,host`); nothing is said about other tenants',
    example: "no tenant is served at this host name: send the api-key header, or use a tenant's host name",
  },
  POST_NOT_FOUND: { status: 404, when: 'no such post in this tenant (or an id that is not one)', example: 'post not found' },
  ROUTE_NOT_FOUND: { status: 404, when: 'no such path', example: 'no route GET /api/nowhere/' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    when: 'a known path with another method; `Allow` lists the methods it has',
    example: 'PATCH is not allowed on /api/posts/ (allowed: GET, HEAD, POST)',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    when: 'the request did not arrive within `REQUEST_TIMEOUT_MS` (any path)',
    example: 'the request did not arrive in time',
  },
  CONFLICT: {
    status: 409,
    when: "a collision of a module's own, under its own code (the status of core's `ConflictError`)",
    example: 'a thing with this name already exists',
  },
  EMAIL_TAKEN: { status: 409, when: 'the email is registered in this tenant', example: 'a user with this email already exists' },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    when: 'a request with the same `Idempotency-Key` is still running after `IDEMPOTENCY_WAIT_MS`: nothing was done, retry once it has answered',
    example: 'a request with the Idempotency-Key "4f1c…" is still running: retry once it has answered',
  },
  PAYLOAD_TOO_LARGE: { status: 413, when: 'the body is over `BODY_LIMIT_BYTES`', example: 'the body is larger than the limit' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    when: 'a body that is not `application/json`',
    example: 'the body must be JSON, sent with Content-Type: application/json',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    when: 'the `Idempotency-Key` was already used by this caller for another request (method, path, query or body): nothing was done',
    example: 'the Idempotency-Key "4f1c…" was used for another request (method, path or body): use a new key for a new request',
  },
  TOO_MANY_LOGIN_ATTEMPTS: {
    status: 429,
    when: 'a login limit is reached; see `Retry-After`',
    example: 'too many login attempts, try again later',
  },
  TOO_MANY_REQUESTS: {
    status: 429,
    when: 'the per-key request limit is reached (when `API_KEY_RATE_LIMIT_MAX` is set); see `Retry-After`',
    example: 'too many requests for this api key, try again later',
  },
  HEADERS_TOO_LARGE: { status: 431, when: 'the request headers are too large (any path)', example: 'the request headers are too large' },
  INTERNAL_ERROR: { status: 500, when: 'a bug: nothing more is said, the log has it', example: 'internal server error' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    when: 'PostgreSQL cannot be reached, or the connection was lost before a write was committed: nothing was written; retry after `Retry-After`',
    example: 'the database is unavailable, try again later',
  },
  WRITE_OUTCOME_UNKNOWN: {
    status: 503,
    when: 'the connection to PostgreSQL was lost while the write was being committed: it may have happened; retry with the same `Idempotency-Key` (it then answers as the write did) after `Retry-After`',
    example:
      'the database connection was lost while the write was being committed: it may have happened; retry with the same Idempotency-Key',
  },
  REVOCATIONS_NOT_HEARD: {
    status: 503,
    when: '`/readyz` only: this process does not hear its own NOTIFY (LISTEN behind a transaction-mode pooler: set `DATABASE_LISTEN_URL`)',
    example:
      'this process does not hear its own NOTIFY on tenantbase_revocations, so revoked keys and ended logins may keep working here: ' +
      'LISTEN does not survive a transaction-mode pooler (PgBouncer). Set DATABASE_LISTEN_URL to a direct connection to PostgreSQL (or a session-mode pool)',
  },
} as const satisfies Record<string, ApiError>
export type ApiErrorCode = keyof typeof API_ERRORS

/** What every route under /api/ can answer before its own work: the api key (or host name), its tenant, its limit, the database. */
export const API_KEY_ERRORS = [
  'MISSING_API_KEY',
  'INVALID_API_KEY',
  'TENANT_SUSPENDED',
  'TENANT_NOT_FOUND',
  'HOST_TENANT_MISMATCH',
  'TOO_MANY_REQUESTS',
  'DATABASE_UNAVAILABLE',
] as const satisfies ApiErrorCode[]
/** Routes that write (any method but GET and HEAD): a `read` key is refused before they run. */
export const WRITE_KEY_ERRORS = [...API_KEY_ERRORS, 'INSUFFICIENT_SCOPE'] as const satisfies ApiErrorCode[]
/** Routes that need a user: the api key's errors and the Bearer token's. */
export const USER_ERRORS = [
  ...API_KEY_ERRORS,
  'MISSING_ACCESS_TOKEN',
  'INVALID_ACCESS_TOKEN',
  'TOKEN_TENANT_MISMATCH',
  'ACCESS_TOKEN_REVOKED',
] as const satisfies ApiErrorCode[]
/** Routes that need a user and write. */
export const WRITE_USER_ERRORS = [...USER_ERRORS, 'INSUFFICIENT_SCOPE'] as const satisfies ApiErrorCode[]
/** What the Idempotency-Key header adds to a route that honours it (plugins/idempotency.ts adds them to the document). */
export const IDEMPOTENCY_ERRORS = [
  'IDEMPOTENCY_KEY_INVALID',
  'IDEMPOTENCY_KEY_IN_USE',
  'IDEMPOTENCY_KEY_REUSED',
  'DATABASE_UNAVAILABLE',
  'WRITE_OUTCOME_UNKNOWN',
] as const satisfies ApiErrorCode[]
/** Routes that read a JSON body. */
export const BODY_ERRORS = [
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'FORBIDDEN_JSON_KEY',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
] as const satisfies ApiErrorCode[]
/** What any path can answer when the request itself is broken (documented as `4XX` where nothing else is). */
export const TRANSPORT_ERRORS = ['MALFORMED_REQUEST', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE'] as const satisfies ApiErrorCode[]

/** An error body as the API sends it. */
export function errorBody(code: ApiErrorCode, message: string = API_ERRORS[code].example): ErrorResponse {
  const { status } = API_ERRORS[code]
  return { statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message }
}

/**
 * A route's error responses, one per status, each with an example for every code the route
 * can answer with at that status (the OpenAPI document shows them by code). `asRange` puts
 * the 4xx ones under one `4xx` instead.
 */
export function errorResponses(codes: readonly ApiErrorCode[], { asRange = false } = {}): Record<string, TSchema> {
  const byStatus = new Map<string, ApiErrorCode[]>()
  for (const code of new Set(codes)) {
    const { status } = API_ERRORS[code]
    const key = asRange && status < 500 ? '4xx' : String(status)
    byStatus.set(key, [...(byStatus.get(key) ?? []), code])
  }
  return Object.fromEntries(
    [...byStatus].map(([status, group]) => [
      status,
      {
        ...ErrorResponse,
        'x-response-description': group.map((code) => `\`${code}\`: ${API_ERRORS[code].when}`).join('; '),
        'x-examples': Object.fromEntries(
          group.map((code) => [code, { summary: API_ERRORS[code].when.replaceAll('`', ''), value: errorBody(code) }]),
        ),
      },
    ]),
  )
}
