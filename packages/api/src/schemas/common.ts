import { Type } from '@sinclair/typebox'

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

/** No authentication at all (health routes): said explicitly, as OpenAPI has no default here. */
export const NO_SECURITY: never[] = []

/** A timestamp in ISO 8601 / RFC 3339 with a timezone. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-27T16:20:00.000Z'] })
