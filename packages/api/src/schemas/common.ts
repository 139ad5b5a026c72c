import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** The one shape of every error response. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ description: 'the HTTP status, repeated', examples: [401] }),
    code: Type.String({ description: 'a stable UPPER_SNAKE code (see the README)', examples: ['INVALID_API_KEY'] }),
    error: Type.String({ description: 'the HTTP reason phrase', examples: ['Unauthorized'] }),
    message: Type.String({ description: 'for people; never a stack trace', examples: ['invalid api key'] }),
  },
  { title: 'Error' },
)
export type ErrorResponse = Static<typeof ErrorResponse>

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (schema, malformed JSON, bad cursor)',
  401: 'Missing, unknown, revoked or expired api key or token, or a token of another tenant',
  403: 'Only the author may change or delete this post',
  404: 'No such post in this tenant',
  409: 'The email is already registered in this tenant',
  413: 'The body is larger than the limit (1 MiB by default)',
  415: 'The content type is not application/json',
  429: 'Too many login attempts; see the Retry-After header',
  503: 'The database is unreachable',
}

/** Error responses for a route, by status, all of the one error shape. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, { ...ErrorResponse, description: ERROR_DESCRIPTIONS[status] ?? 'Error' }]))
}

const FORBIDDEN_EXAMPLES = {
  insufficientScope: {
    summary: 'INSUFFICIENT_SCOPE: a read key on a route that writes',
    value: { statusCode: 403, code: 'INSUFFICIENT_SCOPE', error: 'Forbidden', message: 'this api key has scope read; this request needs scope write' },
  },
  tenantSuspended: {
    summary: 'TENANT_SUSPENDED: the operator suspended the tenant (the reason only if they chose to show it)',
    value: { statusCode: 403, code: 'TENANT_SUSPENDED', error: 'Forbidden', message: 'this tenant is suspended' },
  },
  notPostAuthor: {
    summary: 'NOT_POST_AUTHOR: only the author may change or delete the post',
    value: { statusCode: 403, code: 'NOT_POST_AUTHOR', error: 'Forbidden', message: 'only the author may change this post' },
  },
}

/**
 * The 403 of an /api/ route, with an example of each reason it can have there: every route
 * refuses a suspended tenant, a writing route (anything but GET) a read-scoped key, and a
 * route that already documented a 403 keeps its own reason. app.ts applies this to every
 * /api/ route as it is added, since plugins/auth.ts enforces both checks on all of them.
 */
export function withForbiddenResponse(method: string | string[], responses: Record<string, unknown>): Record<string, unknown> {
  const writes = (Array.isArray(method) ? method : [method]).some((m) => m !== 'GET' && m !== 'HEAD')
  const examples = {
    ...(writes && { insufficientScope: FORBIDDEN_EXAMPLES.insufficientScope }),
    tenantSuspended: FORBIDDEN_EXAMPLES.tenantSuspended,
    ...(responses[403] !== undefined && { notPostAuthor: FORBIDDEN_EXAMPLES.notPostAuthor }),
  }
  const description = [
    writes && 'the api key has scope read and this route writes (INSUFFICIENT_SCOPE)',
    'the tenant is suspended (TENANT_SUSPENDED)',
    responses[403] !== undefined && 'only the author may change or delete this post (NOT_POST_AUTHOR)',
  ]
    .filter(Boolean)
    .join('; or ')
  return { ...responses, 403: { ...ErrorResponse, description: `Forbidden: ${description}`, 'x-examples': examples } }
}

/** `api-key` alone: routes open to any caller of the tenant. */
export const API_KEY_SECURITY = [{ apiKey: [] }]
/** `api-key` and a Bearer access token of the same tenant, both required. */
export const USER_SECURITY = [{ apiKey: [], bearer: [] }]

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
