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

/** `api-key` alone: routes open to any caller of the tenant. */
export const API_KEY_SECURITY = [{ apiKey: [] }]
/** `api-key` and a Bearer access token of the same tenant, both required. */
export const USER_SECURITY = [{ apiKey: [], bearer: [] }]

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
